import SQLKit

/// How the store reaches one database engine: a session for reads and a session inside a transaction for writes.
///
/// Both engines run the same SQL through SQLKit; the drivers differ only in how connections are had and how a
/// transaction is opened.
protocol SQLDriver: Sendable {
    var kind: DatabaseKind { get }

    /// Runs `body` inside one transaction that commits when it returns and rolls back when it throws, rethrowing the
    /// body's own error.
    func withTransaction<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T

    /// Runs `body` with a session outside any transaction, for reads.
    func withSession<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T

    /// Closes every connection. The driver is unusable afterwards.
    func close() async throws

    /// Hands `handle` every notification on `channel` until the task is cancelled, listening again after a lost
    /// connection; returns at once where the database has no notifications (SQLite).
    func listen(on channel: String, _ handle: @escaping @Sendable (String) -> Void) async

    /// Holds the session-level advisory lock (`namespace`, `key`) on a connection of its own until the task is
    /// cancelled, taking it again after a lost connection, and calls `granted` each time it is held; returns at once
    /// where the database has no such locks (SQLite).
    func holdAdvisoryLock(_ namespace: Int32, _ key: Int32, granted: @escaping @Sendable () -> Void) async
}

extension SQLDriver {
    func listen(on channel: String, _ handle: @escaping @Sendable (String) -> Void) async {}
    func holdAdvisoryLock(_ namespace: Int32, _ key: Int32, granted: @escaping @Sendable () -> Void) async {}
}

extension SQLDriver {
    /// Runs `body` between `begin` and `COMMIT` on one session, rolling back and rethrowing the body's error if it
    /// throws.
    ///
    /// `begin`, `COMMIT` and `ROLLBACK` run shielded from the caller's cancellation: a statement can take effect in
    /// the database and still report `CancellationError` to a cancelled task, and a transaction left open that way
    /// would make every later write on the connection fail ("cannot start a transaction within a transaction").
    static func transaction<T: Sendable>(
        on database: any SQLDatabase,
        begin: String,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (any SQLDatabase) async throws -> T
    ) async throws -> T {
        do {
            try await run(begin, on: database)
        } catch {
            // The BEGIN may have taken effect before its error was reported; a ROLLBACK without a transaction
            // fails harmlessly.
            try? await run("ROLLBACK", on: database)
            throw error
        }
        do {
            let value = try await body(database)
            try await run("COMMIT", on: database)
            return value
        } catch {
            try? await run("ROLLBACK", on: database)
            throw error
        }
    }

    /// Runs one statement in a task of its own, so that the caller's cancellation cannot interrupt it.
    private static func run(_ statement: String, on database: any SQLDatabase) async throws {
        try await Task { try await database.raw(SQLQueryString(statement)).run() }.value
    }
}
