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

/// A `Clock` whose time moves only when a test moves it: every sleep on it waits for ``advance(by:)`` to reach its
/// deadline (or for its task to be cancelled), so waits of minutes are tested in microseconds.
public final class ManualClock: Clock, Sendable {
    public struct Instant: InstantProtocol {
        public var offset: Duration
        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private struct Sleeper {
        var id: Int
        var deadline: Instant
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var sleepers: [Sleeper] = []
        var nextID = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var now: Instant { state.withLock { $0.now } }
    public var minimumResolution: Duration { .zero }

    /// How many sleeps wait on the clock now.
    public var sleeping: Int { state.withLock { $0.sleepers.count } }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let result: Result<Void, any Error>? = state.withLock { state in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return nil
                }
                if let result { continuation.resume(with: result) }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves the time forward, waking every sleep whose deadline it reaches.
    public func advance(by duration: Duration) {
        let due = state.withLock { state in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let due = state.sleepers.filter { $0.deadline <= now }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Waits (in real time, at most `limit`) until `count` sleeps wait on the clock: what a test does before moving
    /// it, so that the code under test has reached its wait.
    public func waitForSleepers(_ count: Int, limit: Duration = .seconds(10)) async throws {
        let deadline = ContinuousClock.now + limit
        while sleeping < count {
            guard ContinuousClock.now < deadline else {
                throw ManualClockTimeout(expected: count, sleeping: sleeping)
            }
            try await Task.sleep(for: .milliseconds(1))
        }
    }
}

/// The code under test did not reach its waits.
public struct ManualClockTimeout: Error, CustomStringConvertible {
    public var expected: Int
    public var sleeping: Int
    public var description: String { "expected \(expected) sleeps on the manual clock, \(sleeping) after the limit" }
}

extension TestDatabase {
    /// Runs `body` with a store opened on a fresh database of `engine` (under `masterKey`, stamping with `clock`, its
    /// events keeping `currentTrace`'s trace), and closes the store afterwards, also when `body` throws.
    public static func withStore(
        _ engine: TestEngine,
        masterKey: String = MasterKey.generate(),
        clock: WallClock = .system,
        currentTrace: @escaping @Sendable () -> TraceContext? = { nil },
        _ body: (Store, TestDatabase) async throws -> Void
    ) async throws {
        try await with(engine) { database in
            let store = try await Store.open(
                Store.Configuration(databaseURL: database.url, masterKey: .value(masterKey)),
                clock: clock,
                currentTrace: currentTrace
            )
            do {
                try await body(store, database)
                try await store.close()
            } catch {
                try? await store.close()
                throw error
            }
        }
    }
}
