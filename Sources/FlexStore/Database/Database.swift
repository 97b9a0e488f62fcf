import Foundation
import Logging
import SQLKit
import Synchronization

/// An open database, SQLite or PostgreSQL, with FlexBridge's migrations. ``Store`` builds on it; `flexbridge
/// migrate` uses it alone.
public final class Database: Sendable {
    public let url: DatabaseURL
    let driver: any SQLDriver
    private let closed = Mutex(false)

    private init(url: DatabaseURL, driver: any SQLDriver) {
        self.url = url
        self.driver = driver
    }

    /// Opens the database the URL names, failing with a ``StoreError`` that says what to fix when it cannot.
    public static func open(
        _ url: DatabaseURL,
        maximumConnections: Int = 20,
        logger: Logger = Logger(label: "flexbridge.store")
    ) async throws -> Database {
        let driver: any SQLDriver =
            switch url {
            case .sqlite(let path): try await SQLiteDriver.open(path: path, logger: logger)
            case .postgres(let serverURL):
                try await PostgresDriver.open(url: serverURL, maximumConnections: maximumConnections, logger: logger)
            }
        return Database(url: url, driver: driver)
    }

    /// Which engine this is.
    public var kind: DatabaseKind { driver.kind }

    /// Brings the schema up to date. Safe to run twice, and from several processes at once.
    @discardableResult
    public func migrate() async throws -> MigrationReport {
        try await Migrator(migrations: Schema.migrations).migrate(driver)
    }

    /// Brings the schema up to `version` and no further: how tests set up a database an older FlexBridge left.
    @discardableResult
    public func migrate(through version: Int) async throws -> MigrationReport {
        try await Migrator(migrations: Schema.migrations.filter { $0.version <= version }).migrate(driver)
    }

    /// The schema version recorded in the database; 0 before the first migration.
    public func schemaVersion() async throws -> Int {
        try await driver.withSession { database in
            let row = try await database.raw("SELECT MAX(version) AS version FROM schema_migrations").first()
            return try row?.decodeNil(column: "version") == false
                ? try row?.decode(column: "version", as: Int.self) ?? 0 : 0
        }
    }

    /// The migrations this FlexBridge knows.
    public static var knownMigrations: [Migration] { Schema.migrations }

    /// Answers whether the database takes a query now.
    public func ping() async throws {
        try await driver.withSession { database in
            _ = try await database.raw("SELECT 1 AS ok").first()
        }
    }

    /// Runs `body` in one transaction: everything it wrote commits together, or nothing does.
    public func transaction<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await driver.withTransaction(body)
    }

    /// Hands `handle` every notification on `channel` until the task is cancelled (PostgreSQL's LISTEN); returns at
    /// once on SQLite.
    func listen(on channel: String, _ handle: @escaping @Sendable (String) -> Void) async {
        await driver.listen(on: channel, handle)
    }

    /// Holds a session-level advisory lock until the task is cancelled (PostgreSQL); returns at once on SQLite.
    func holdAdvisoryLock(_ namespace: Int32, _ key: Int32, granted: @escaping @Sendable () -> Void) async {
        await driver.holdAdvisoryLock(namespace, key, granted: granted)
    }

    /// Runs `body` outside any transaction, for reads.
    public func session<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await driver.withSession(body)
    }

    /// Closes every connection; later calls do nothing. Closing completes even in a cancelled task, so that a
    /// service group that is torn down still closes its database.
    public func close() async throws {
        let alreadyClosed = closed.withLock { closed in
            defer { closed = true }
            return closed
        }
        guard !alreadyClosed else { return }
        let driver = self.driver
        try await Task { try await driver.close() }.value
    }
}
