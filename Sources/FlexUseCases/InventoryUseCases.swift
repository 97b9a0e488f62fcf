import Algorithms
import FlexCore
import FlexStore

/// What a WMS (through the API) or an operator (through `flexbridge import`) does to listings and stock, one
/// transaction each: the same path whichever door it came in by.
public struct InventoryUseCases: Sendable {
    let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// What a listings import did.
    public struct ListingsImport: Sendable, Hashable {
        /// Listings written.
        public var imported: Int
        /// The connection's listings now.
        public var total: Int
        /// Amazon items (location × merchant SKU × channel) made pending by it.
        public var pendingItems: Int
        /// Listings given by their ASIN only, whose SKU FlexBridge looks up at Amazon.
        public var awaitingSKU: Int = 0
    }

    /// Writes a connection's listings in one transaction, 5,000 at a time (`progress` gets rows written and rows in
    /// all), then makes the stock already recorded for them pending once. A listing that is not valid refuses them
    /// all, with nothing written.
    public func importListings(
        _ listings: [Listing],
        connectionID: ConnectionID,
        progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws -> ListingsImport {
        if let stray = listings.first(where: { $0.connectionID != connectionID }) {
            throw ValidationError(
                field: "listings",
                reason: "holds a listing of connection \(stray.connectionID), not of \(connectionID)"
            )
        }
        return try await store.transaction { session in
            guard try await session.connection(connectionID) != nil else {
                throw StoreError.notFound("Connection \(connectionID)")
            }
            let byASIN = listings.filter(\.awaitsSKU)
            let listings = listings.filter { !$0.awaitsSKU }
            try await session.recordASINListings(byASIN)
            var written = 0
            progress(0, listings.count)
            for chunk in listings.chunks(ofCount: 5_000) {
                try await session.upsertListings(Array(chunk), refreshInventory: false)
                written += chunk.count
                progress(written, listings.count)
            }
            let pending = try await session.refreshInventoryItems(connectionID: connectionID)
            return ListingsImport(
                imported: listings.count,
                total: try await session.listingCount(for: connectionID),
                pendingItems: pending,
                awaitingSKU: byASIN.count
            )
        }
    }

    /// Records the account's stock levels; the items of its connections whose free quantity changed become pending,
    /// with the trace of the request that wrote them.
    public func recordStock(_ levels: [StockLevel], account: AccountID) async throws -> StockWrite {
        let trace = TraceContext.current
        return try await store.transaction { session in
            try await session.recordStock(levels, account: account, trace: trace)
        }
    }

    /// Records the WMS's prices: each change reaches every listing of its SKU in its marketplace, with the trace of
    /// the request that wrote it.
    public func recordPrices(_ prices: [SKUPrice], account: AccountID) async throws -> PriceWrite {
        let trace = TraceContext.current
        return try await store.transaction { session in
            try await session.recordPrices(prices, account: account, trace: trace)
        }
    }

    /// Sends every item of the connection again, even those Amazon holds at FlexBridge's number; logged as a change
    /// by `actor`. Returns how many items became pending.
    public func resync(connectionID: ConnectionID, actor: String) async throws -> Int {
        try await store.transaction { session in
            let items = try await session.markInventoryPending(connectionID: connectionID, resend: true)
            try await session.recordChanges(
                [SettingChange(setting: "inventory.resync", oldValue: nil, newValue: "\(items)")],
                connectionID: connectionID,
                actor: actor
            )
            return items
        }
    }

    /// Raises the sequence numbers FlexBridge sends from to the floors another connector reached (taking a location
    /// over); logged as a change by `actor`. Returns how many items took a floor.
    public func importSequenceNumbers(
        _ floors: [(InventoryKey, Int64)],
        connectionID: ConnectionID,
        actor: String
    ) async throws -> Int {
        try await store.transaction { session in
            let imported = try await session.importSequenceNumbers(floors)
            try await session.recordChanges(
                [SettingChange(setting: "inventory.sequenceNumbersImported", oldValue: nil, newValue: "\(imported)")],
                connectionID: connectionID,
                actor: actor
            )
            return imported
        }
    }
}
