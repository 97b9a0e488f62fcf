import FlexStore
import Foundation
import Hummingbird
import Logging
import Prometheus

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

    /// The health answer: 200 when the database answers a query, 503 with the reason when it does not.
    func health() async throws -> Response {
        var report = HealthReport(status: "ok", database: store.database.kind.rawValue, schemaVersion: nil, error: nil)
        var status = HTTPResponse.Status.ok
        do {
            report.schemaVersion = try await store.database.schemaVersion()
        } catch {
            report.status = "unavailable"
            report.error = "the database does not answer: \(error)"
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
}
