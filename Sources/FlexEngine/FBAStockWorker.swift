import FlexCore
import FlexStore
import Foundation
import Logging
import SellingPartner
import Tracing

/// Keeps one connection's FBA stock (Amazon's warehouses seen as warehouses, one per marketplace) in line with
/// Amazon's: getInventorySummaries per marketplace, first every SKU Amazon holds units of, then every
/// `pollInterval` only what changed since the last read (its `startDateTime`, reaching back by `overlap`), and every
/// SKU again each `fullInterval` — Amazon's changes-only read does not see the inbound quantities move, and a SKU a
/// full read no longer lists holds nothing any more. Each SKU whose units
/// changed is written with a `stock.fba_changed` event (not on a marketplace's first read, which would announce
/// every SKU). Where each marketplace was read up to is stored, so a restart carries on from there.
public struct FBAStockWorker: ConnectionWorker {
    public struct Configuration: Sendable {
        public var pollInterval: TimeInterval
        public var fullInterval: TimeInterval
        public var overlap: TimeInterval

        public init(pollInterval: TimeInterval = 60, fullInterval: TimeInterval = 3600, overlap: TimeInterval = 120) {
            self.pollInterval = pollInterval
            self.fullInterval = fullInterval
            self.overlap = overlap
        }
    }

    public let connectionID: ConnectionID
    public let lease: Lease?
    let store: Store
    let amazon: any FBAInventory
    let configuration: Configuration
    let logger: Logger

    public init(
        connectionID: ConnectionID,
        store: Store,
        client amazon: any FBAInventory,
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

    public var name: String { "FBA stock" }
    /// Woken when the connection's FBA setting changes, so that the first read follows at once.
    public var wakeUp: WakeUp? { store.wakeUps.signal(for: connectionID, .fba) }

    public func round() async throws -> NextRound {
        guard
            let connection = try await MarketplaceRounds.connection(
                connectionID,
                in: store,
                enabled: \.fbaStockSyncEnabled
            )
        else { return .within(.seconds(15)) }
        return try await MarketplaceRounds.round(connection, interval: configuration.pollInterval) {
            try await read($0)
        }
    }

    /// Reads a marketplace when due. Returns the seconds until it is due again.
    @discardableResult
    public func read(_ marketplace: MarketplaceID) async throws -> TimeInterval {
        let now = store.clock.now()
        let watermark = try await store.read { [connectionID] in
            try await $0.fbaWatermark(connectionID: connectionID, marketplaceID: marketplace)
        }
        if let wait = MarketplaceRounds.wait(
            readAt: watermark?.changedSince.addingTimeInterval(configuration.overlap),
            now: now,
            interval: configuration.pollInterval
        ) {
            return wait
        }
        return try await withRedactedSpan("fba_stock.read", context: .topLevel) { span in
            span.attributes["flexbridge.connection"] = connectionID.rawValue
            span.attributes["amazon.marketplace"] = marketplace.rawValue
            return try await read(marketplace, watermark: watermark, now: now)
        }
    }

    /// Reads the marketplace's stock, changed since the watermark or in full.
    private func read(_ marketplace: MarketplaceID, watermark: FBAWatermark?, now: Date) async throws -> TimeInterval {
        let full = watermark.map { now.timeIntervalSince($0.fullAt) >= configuration.fullInterval } ?? true
        let stock = try await amazon.fbaStock(
            marketplaceID: marketplace,
            changedSince: full ? nil : watermark?.changedSince
        )
        let changed = try await store.transaction(fencedBy: lease) { [connectionID] session in
            var reports = stock
            if full {
                // A full read lists the SKUs Amazon holds units of: one held here and no longer listed holds none.
                let listed = Set(stock.map(\.sku))
                var after: MerchantSKU?
                while true {
                    let held = try await session.fbaStock(
                        connectionID: connectionID,
                        marketplaceID: marketplace,
                        after: after,
                        limit: 5000
                    )
                    guard let last = held.last else { break }
                    reports += held.filter { !listed.contains($0.stock.sku) && $0.stock.total > 0 }.map {
                        FBAStock(
                            marketplaceID: marketplace,
                            sku: $0.stock.sku,
                            asin: $0.stock.asin,
                            fnSku: $0.stock.fnSku,
                            productName: $0.stock.productName,
                            updatedAt: now
                        )
                    }
                    after = last.stock.sku
                }
            }
            let changed = try await session.recordFBAStock(
                reports,
                connectionID: connectionID,
                quietly: watermark == nil
            )
            try await session.recordFBAWatermark(
                FBAWatermark(
                    changedSince: now.addingTimeInterval(-configuration.overlap),
                    fullAt: full ? now : watermark?.fullAt ?? now
                ),
                connectionID: connectionID,
                marketplaceID: marketplace
            )
            return changed.count
        }
        if changed > 0 {
            logger.info(
                "FBA stock changed",
                metadata: [
                    "connection": "\(connectionID)", "marketplace": "\(marketplace)", "skus": "\(changed)",
                    "read": "\(full ? "full" : "changes")",
                ]
            )
        }
        return configuration.pollInterval
    }
}
