import FlexStore
import Foundation
import Hummingbird
import Logging
import Prometheus
import Synchronization

/// The endpoints that operations tooling calls: `/health` for load balancers and orchestrators, `/metrics` for
/// Prometheus. They sit outside the versioned API and need no API key.
public struct OperationsRoutes<Context: RequestContext>: Sendable {
    let store: Store
    let registry: PrometheusCollectorRegistry

    public init(store: Store, registry: PrometheusCollectorRegistry) {
        self.store = store
        self.registry = registry
    }

    /// Adds `GET /health` and `GET /metrics` to the router.
    public func register(on router: Router<Context>) {
        router.get("/health") { _, _ in try await health() }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: registry.emitToString()))
            )
        }
    }

    /// How long `/health` waits for the database: load balancers expect an answer within a second or two.
    static var databaseDeadline: Duration { .seconds(1) }

    /// The health answer: 200 when the database answers a query within ``databaseDeadline``, 503 naming the
    /// dependency and the reason when it does not.
    func health() async throws -> Response {
        var report = HealthReport(status: "ok", database: store.database.kind.rawValue, schemaVersion: nil, error: nil)
        var status = HTTPResponse.Status.ok
        let database = store.database
        let answer = await Self.within(Self.databaseDeadline) { try await database.schemaVersion() }
        switch answer {
        case .success(let version):
            report.schemaVersion = version
        case .failure(let error):
            report.status = "unavailable"
            report.unavailable = ["database"]
            report.error = "the database does not answer: \(error)"
            status = .serviceUnavailable
        case nil:
            report.status = "unavailable"
            report.unavailable = ["database"]
            report.error = "the database did not answer within \(Self.databaseDeadline)"
            status = .serviceUnavailable
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Response(
            status: status,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(report)))
        )
    }
}

extension OperationsRoutes {
    /// `work`'s result, or nil when it has not finished within `deadline`. Returns at the deadline even when `work`
    /// ignores cancellation (a connection pool waiting for a server that is gone): the work is cancelled and left to
    /// end on its own.
    static func within<T: Sendable>(
        _ deadline: Duration,
        _ work: @escaping @Sendable () async throws -> T
    ) async -> Result<T, any Error>? {
        let answer = FirstAnswer<Result<T, any Error>?>()
        return await withCheckedContinuation { continuation in
            answer.wait(with: continuation)
            let worker = Task {
                do { answer.give(.success(try await work())) } catch { answer.give(.failure(error)) }
            }
            Task {
                try? await Task.sleep(for: deadline)
                // Nil first: the cancelled work may end at once with a "cancelled" error, which is not its answer.
                answer.give(nil)
                worker.cancel()
            }
        }
    }
}

/// Resumes a continuation with the first value given; later ones are dropped.
private final class FirstAnswer<Value: Sendable>: Sendable {
    private let continuation = Mutex<CheckedContinuation<Value, Never>?>(nil)

    func wait(with continuation: CheckedContinuation<Value, Never>) {
        self.continuation.withLock { $0 = continuation }
    }

    func give(_ value: Value) {
        continuation.withLock { $0.take() }?.resume(returning: value)
    }
}

/// What `/health` answers.
public struct HealthReport: Codable, Sendable, Hashable {
    /// `ok`, or `unavailable` when the database does not answer.
    public var status: String
    /// The database engine: `sqlite` or `postgres`.
    public var database: String
    /// The schema version the database is at.
    public var schemaVersion: Int?
    /// Why the node is unavailable.
    public var error: String?
    /// The dependencies that do not answer (`database`); absent when all do.
    public var unavailable: [String]?
}
