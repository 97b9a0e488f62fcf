import FlexCore
import FlexStore
import Foundation
import Logging
import SellingPartner
import Tracing

/// Keeps one connection's stock orders in line with its inbound shipments to Amazon's fulfilment centres: every
/// `pollInterval`, per marketplace, the shipments Amazon changed since the last read (getShipments by date range,
/// reaching back by `overlap`; the first read reaches back `firstReadDays`), each with its items, become purchase or
/// transfer orders by the settings, with `stock_order.*` events. Open orders not received the set number of days
/// after their expected day are marked ignored every round, without asking Amazon.
public struct FBAInboundWorker: ConnectionWorker {
    public struct Configuration: Sendable {
        public var pollInterval: TimeInterval
        public var overlap: TimeInterval
        public var firstReadDays: Int

        public init(pollInterval: TimeInterval = 300, overlap: TimeInterval = 300, firstReadDays: Int = 30) {
            self.pollInterval = pollInterval
            self.overlap = overlap
            self.firstReadDays = firstReadDays
        }
    }

    public let connectionID: ConnectionID
    public let lease: Lease?
    let store: Store
    let amazon: any FBAInbound
    let configuration: Configuration
    let logger: Logger

    public init(
        connectionID: ConnectionID,
        store: Store,
        client amazon: any FBAInbound,
        configuration: Configuration = .init(),
        lease: Lease? = nil,
        logger: Logger
    ) {
        self.connectionID = connectionID
        self.store = store
        self.amazon = amazon
        self.configuration = configuration
        self.lease = lease
        self.logger = logger
    }

    public var name: String { "FBA inbound shipments" }
    /// Woken when the connection's FBA settings change.
    public var wakeUp: WakeUp? { store.wakeUps.signal(for: connectionID, .fba) }

    public func round() async throws -> NextRound {
        guard
            let connection = try await MarketplaceRounds.connection(
                connectionID,
                in: store,
                enabled: \.fbaInboundSyncEnabled
            )
        else { return .within(.seconds(15)) }
        if let days = connection.settings.ignoreUnreceivedAfterDays {
            try await store.transaction(fencedBy: lease) { [connectionID] in
                try await $0.ignoreOverdueStockOrders(connectionID: connectionID, afterDays: days)
            }
        }
        return try await MarketplaceRounds.round(connection, interval: configuration.pollInterval) {
            try await read($0, connection)
        }
    }

    /// Reads a marketplace's changed shipments when due. Returns the seconds until it is due again.
    @discardableResult
    public func read(_ marketplace: MarketplaceID, _ connection: Connection) async throws -> TimeInterval {
        let now = store.clock.now()
        let watermark = try await store.read { [connectionID] in
            try await $0.inboundWatermark(connectionID: connectionID, marketplaceID: marketplace)
        }
        if let wait = MarketplaceRounds.wait(
            readAt: watermark?.addingTimeInterval(configuration.overlap),
            now: now,
            interval: configuration.pollInterval
        ) {
            return wait
        }
        return try await withRedactedSpan("fba_inbound.read", context: .topLevel) { span in
            span.attributes["flexbridge.connection"] = connectionID.rawValue
            span.attributes["amazon.marketplace"] = marketplace.rawValue
            return try await read(marketplace, connection, watermark: watermark, now: now)
        }
    }

    /// Reads the marketplace's shipments updated since the watermark.
    private func read(
        _ marketplace: MarketplaceID,
        _ connection: Connection,
        watermark: Date?,
        now: Date
    ) async throws -> TimeInterval {
        let after = watermark ?? now.addingTimeInterval(-Double(configuration.firstReadDays) * 86_400)
        let shipments = try await amazon.inboundShipments(
            marketplaceID: marketplace,
            updatedAfter: after,
            updatedBefore: now
        )
        let events = try await store.transaction(fencedBy: lease) { [connectionID] session in
            var events: [String] = []
            for shipment in shipments {
                if let event = try await session.recordInboundShipment(shipment, connection: connection) {
                    events.append(event)
                }
            }
            try await session.recordInboundWatermark(
                now.addingTimeInterval(-configuration.overlap),
                connectionID: connectionID,
                marketplaceID: marketplace
            )
            return events
        }
        if !events.isEmpty {
            logger.info(
                "FBA inbound shipments changed",
                metadata: [
                    "connection": "\(connectionID)", "marketplace": "\(marketplace)", "orders": "\(events.count)",
                ]
            )
        }
        return configuration.pollInterval
    }
}
