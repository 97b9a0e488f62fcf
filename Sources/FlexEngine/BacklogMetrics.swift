import FlexCore
import FlexStore
import Foundation
import Logging
import Metrics
import ServiceLifecycle

/// Publishes, for each connection this node holds, what waits to reach Amazon: stock items not yet applied, order
/// commands queued or running, notified shipments not yet fetched, and how long the oldest of each has waited. Gauges
/// labelled by connection (as many series as the node holds connections); a connection the node no longer holds is
/// set to 0, so that a sum over every node counts each connection once.
public actor BacklogMetrics: Service {
    private let store: Store
    private let leases: LeaseKeeper
    private let interval: Duration
    private let logger: Logger
    private var reported: Set<ConnectionID> = []

    public init(store: Store, leases: LeaseKeeper, interval: Duration = .seconds(15), logger: Logger) {
        self.store = store
        self.leases = leases
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await WorkerRuntime(clock: ContinuousClock(), logger: self.logger).run(self)
        }
    }

    /// Reads every backlog once and sets the gauges of the connections held; returns what it set.
    @discardableResult
    public func publish() async throws -> [ConnectionID: ConnectionBacklog] {
        let held = Set(await leases.leases.keys)
        let all = try await store.read { try await $0.backlogs() }
        let now = store.clock.now()
        var published: [ConnectionID: ConnectionBacklog] = [:]
        for id in held.union(reported) {
            let backlog = held.contains(id) ? all[id] ?? ConnectionBacklog() : ConnectionBacklog()
            let dimensions = [("connection", id.rawValue)]
            Gauge(label: "flexbridge_connection_stock_backlog", dimensions: dimensions).record(backlog.stockItems)
            Gauge(label: "flexbridge_connection_stock_backlog_age_seconds", dimensions: dimensions).record(
                backlog.oldestStockChange.map { max(0, now.timeIntervalSince($0)) } ?? 0
            )
            Gauge(label: "flexbridge_connection_command_backlog", dimensions: dimensions).record(backlog.commands)
            Gauge(label: "flexbridge_connection_command_backlog_age_seconds", dimensions: dimensions).record(
                backlog.oldestCommand.map { max(0, now.timeIntervalSince($0)) } ?? 0
            )
            Gauge(label: "flexbridge_connection_shipment_fetch_backlog", dimensions: dimensions).record(
                backlog.shipmentFetches
            )
            Gauge(label: "flexbridge_connection_shipment_fetch_backlog_age_seconds", dimensions: dimensions).record(
                backlog.oldestShipmentFetch.map { max(0, now.timeIntervalSince($0)) } ?? 0
            )
            if held.contains(id) { published[id] = backlog }
        }
        reported = held
        return published
    }
}

extension BacklogMetrics: ConnectionWorker {
    public nonisolated var name: String { "backlog metrics" }
    public nonisolated var wakeUp: WakeUp? { nil }

    public func round() async throws -> NextRound {
        try await publish()
        return .paced(interval)
    }
}
