import FlexCore
import FlexStore
import Foundation
import Logging
import NIOPosix
import PostgresNIO
import Synchronization

/// A database engine a test runs against.
public enum TestEngine: String, Sendable, CaseIterable, CustomStringConvertible {
    case sqlite
    case postgres

    public var description: String { rawValue }

    /// The engines available here: SQLite always, PostgreSQL when `FLEXBRIDGE_TEST_POSTGRES_URL` names a server.
    public static var available: [TestEngine] {
        TestDatabase.postgresServerURL == nil ? [.sqlite] : [.sqlite, .postgres]
    }
}

/// A fresh, empty database for one test, removed afterwards: an SQLite file in a new temporary folder, or a new
/// database on the PostgreSQL server that `FLEXBRIDGE_TEST_POSTGRES_URL` names.
public struct TestDatabase: Sendable {
    public let engine: TestEngine
    public let url: DatabaseURL
    /// A folder of the test's own, for key files and other artefacts; removed afterwards.
    public let folder: URL

    /// The server tests may create databases on, from `FLEXBRIDGE_TEST_POSTGRES_URL`.
    public static var postgresServerURL: URL? {
        ProcessInfo.processInfo.environment["FLEXBRIDGE_TEST_POSTGRES_URL"].flatMap {
            $0.isEmpty ? nil : URL(string: $0)
        }
    }

    /// Runs `body` with a new database of `engine`, then removes it.
    public static func with<T>(
        _ engine: TestEngine,
        _ body: (TestDatabase) async throws -> T
    ) async throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flexbridge-test-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        switch engine {
        case .sqlite:
            let database = TestDatabase(
                engine: engine,
                url: .sqlite(path: folder.appendingPathComponent("test.sqlite").path),
                folder: folder
            )
            return try await body(database)
        case .postgres:
            guard let server = postgresServerURL else {
                throw StoreError(code: .databaseUnavailable, message: "FLEXBRIDGE_TEST_POSTGRES_URL is not set.")
            }
            let name = "flexbridge_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
            try await administer(server, "CREATE DATABASE \(name)")
            var components = URLComponents(url: server, resolvingAgainstBaseURL: false)!
            components.path = "/" + name
            let database = TestDatabase(engine: engine, url: .postgres(components.url!), folder: folder)
            do {
                let result = try await body(database)
                try? await administer(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
                return result
            } catch {
                try? await administer(server, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
                throw error
            }
        }
    }

    private static func administer(_ server: URL, _ statement: String) async throws {
        var configuration = PostgresConnection.Configuration(
            host: server.host ?? "localhost",
            port: server.port ?? 5432,
            username: server.user ?? "postgres",
            password: server.password,
            database: String(server.path.dropFirst()).isEmpty ? "postgres" : String(server.path.dropFirst()),
            tls: .disable
        )
        configuration.options.connectTimeout = .seconds(10)
        let connection = try await PostgresConnection.connect(
            on: MultiThreadedEventLoopGroup.singleton.any(),
            configuration: configuration,
            id: 1,
            logger: Logger(label: "flexbridge.test")
        )
        defer { Task { try? await connection.close() } }
        try await connection.query(PostgresQuery(unsafeSQL: statement), logger: Logger(label: "flexbridge.test"))
    }
}

/// A wall clock that stands still until a test moves it.
public final class TestClock: Sendable {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_790_000_000)) {
        current = Mutex(start)
    }

    /// The time now, as the store sees it.
    public var now: Date { current.withLock { $0 } }

    /// Moves the clock forward.
    public func advance(by duration: Duration) {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    /// The clock as the store takes it.
    public var wallClock: WallClock { WallClock { [self] in now } }
}
