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
}

extension SQLDriver {
    /// Runs `body` between `begin` and `COMMIT` on one session, rolling back and rethrowing the body's error if it
    /// throws.
    static func transaction<T: Sendable>(
        on database: any SQLDatabase,
        begin: String,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (any SQLDatabase) async throws -> T
    ) async throws -> T {
        try await database.raw(SQLQueryString(begin)).run()
        do {
            let value = try await body(database)
            try await database.raw("COMMIT").run()
            return value
        } catch {
            try? await database.raw("ROLLBACK").run()
            throw error
        }
    }
}
