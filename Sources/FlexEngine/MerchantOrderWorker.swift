import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import Logging
import SellingPartner
import Tracing

/// Mirrors one connection's merchant-fulfilled orders. Notifications carry the latency: an ORDER_CHANGE filed by
/// the notification route is fetched at once with getOrder (0.5/s, burst 30). searchOrders by `lastUpdatedAfter`
/// is the safety net: at 0.0056 calls/s (one every three minutes once the burst of 20 is spent) it runs every three
/// minutes, from its watermark minus an overlap, following every page, and moves the watermark to the bound Amazon
/// says it searched up to. Every copy is stored by ``MerchantOrderMachine`` with its event in one transaction, so
/// an order read by a notification and a poll is `order.created` once. Runs only while the connection's
/// `mfnOrderSyncEnabled` is on, for the marketplaces its `mfnMarketplaceIds` name.
public struct MerchantOrderWorker: Sendable {
    public struct Configuration: Sendable {
        /// How often searchOrders runs: Amazon's rate allows one call every 179 seconds.
        public var pollInterval: Duration
        /// How far before the watermark a poll starts again, for changes Amazon made visible late.
        public var overlap: TimeInterval
        /// How far back the first poll reaches.
        public var firstPollLookBack: TimeInterval
        /// Orders per page (Amazon's maximum is 100).
        public var pageSize: Int

        public init(
            pollInterval: Duration = .seconds(180),
            overlap: TimeInterval = 300,
            firstPollLookBack: TimeInterval = 86_400,
            pageSize: Int = 100
        ) {
            self.pollInterval = pollInterval
            self.overlap = overlap
            self.firstPollLookBack = firstPollLookBack
            self.pageSize = min(100, max(1, pageSize))
        }
    }

    public let connectionID: ConnectionID
    public let lease: Lease?
    let store: Store
    let amazon: any MerchantFulfilledOrders
    let configuration: Configuration
    let logger: Logger

    public init(
        connectionID: ConnectionID,
        store: Store,
        client amazon: any MerchantFulfilledOrders,
        configuration: Configuration = .init(),
        lease: Lease? = nil,
        logger: Logger
    ) {
        self.connectionID = connectionID
        self.lease = lease
        self.store = store
        self.amazon = amazon
        self.configuration = configuration
        self.logger = logger
    }

    /// The watermark's key among the order watermarks.
    static let watermarkKey = "mfn"

    /// The worker's two kinds of round, side by side: a notified order is fetched at once even while a poll runs.
    public var workers: [any ConnectionWorker] { [NotifiedFetching(worker: self), Polling(worker: self)] }

    public struct NotifiedFetching: ConnectionWorker {
        let worker: MerchantOrderWorker
        public var name: String { "MFN order fetch" }
        public var wakeUp: WakeUp? { worker.store.wakeUps.signal(for: worker.connectionID, .merchantOrders) }

        public func round() async throws -> NextRound {
            // Off, no notification is filed for the connection: a longer wait costs nothing, and filing wakes it.
            guard try await worker.marketplaces() != nil else { return .within(.seconds(30)) }
            try await worker.fetchNotified()
            // Filing a notification wakes it (on PostgreSQL, filed on any node); the wait is a safety net.
            return .within(.seconds(30))
        }
    }

    public struct Polling: ConnectionWorker {
        let worker: MerchantOrderWorker
        public var name: String { "MFN order poll" }
        public var wakeUp: WakeUp? { nil }

        public func round() async throws -> NextRound {
            // Off: looked at again soon, so that switching the setting on takes effect without a restart.
            guard try await worker.marketplaces() != nil else { return .paced(.seconds(15)) }
            try await worker.poll()
            return .spread(worker.configuration.pollInterval)
        }
    }

    /// The marketplaces to sync; nil while the connection is not active or syncs MFN orders in none.
    func marketplaces() async throws -> [MarketplaceID]? {
        try await settings()?.marketplaces
    }

    /// The marketplaces to sync and the earliest order day of the first download; nil while there is nothing to
    /// sync.
    func settings() async throws -> (marketplaces: [MarketplaceID], earliest: Date?)? {
        try await store.read { [connectionID] session in
            guard let connection = try await session.connection(connectionID), connection.status == .active,
                !connection.mfnMarketplaceIDs.isEmpty
            else { return nil }
            return (connection.mfnMarketplaceIDs, connection.settings.mfnEarliestOrderTime)
        }
    }

    /// Fetches every MFN order Amazon notified about. Returns how many orders changed.
    @discardableResult
    public func fetchNotified() async throws -> Int {
        guard let (_, earliest) = try await settings() else { return 0 }
        var changed = 0
        while true {
            let notified = try await store.read { [connectionID] in
                try await $0.merchantOrderFetches(connectionID: connectionID, limit: 20)
            }
            guard !notified.isEmpty else { return changed }
            for order in notified {
                if try await fetch(order, earliest: earliest) { changed += 1 }
            }
        }
    }

    /// Reads a notified order from Amazon and stores it, in a span of the trace of what asked for the read (a new
    /// trace when it was not traced). Returns whether the stored order changed.
    private func fetch(_ notified: NotifiedMerchantOrder, earliest: Date?) async throws -> Bool {
        try await withRedactedSpan("mfn_order.fetch", context: notified.trace.instrumentationContext) { span in
            span.attributes["flexbridge.connection"] = connectionID.rawValue
            span.attributes["flexbridge.order"] = notified.orderID
            let readSince = store.clock.now()
            let order = try await callAmazon(store: store, connectionID: connectionID, lease: lease) {
                try await amazon.merchantOrder(notified.orderID)
            }
            let (change, unknown) = try await store.transaction(fencedBy: lease) { [connectionID] session in
                let stored: (OrderChange, UnknownAmazonValue?) =
                    Self.isBefore(earliest, order)
                    ? (.unchanged, nil)
                    : try await Self.store(order, in: session, connectionID: connectionID, source: "notification")
                try await session.completeMerchantOrderFetch(
                    connectionID: connectionID,
                    orderID: notified.orderID,
                    readSince: readSince
                )
                return stored
            }
            unknown?.report(logger, connectionID: connectionID)
            span.attributes["flexbridge.changed"] = change != .unchanged
            return change != .unchanged
        }
    }

    /// Stores an order as Amazon gave it, with its event; an order that came into a status this version does not
    /// know is also said (an `amazon.unknown_value` event in the same transaction; the metric and warning are the
    /// caller's, once it committed).
    static func store(
        _ order: AmazonMerchantOrder,
        in session: StoreSession,
        connectionID: ConnectionID,
        source: String
    ) async throws -> (OrderChange, UnknownAmazonValue?) {
        let change = try await session.upsertMerchantOrder(order, connectionID: connectionID, source: source)
        guard UnknownAmazonValue.isEntered(order.facts.status, by: change),
            !MerchantOrderFacts.knownStatuses.contains(order.facts.status)
        else {
            return (change, nil)
        }
        let unknown = UnknownAmazonValue(
            field: "mfn_order.status",
            value: order.facts.status,
            subjectKey: "orderId",
            subject: order.facts.orderID
        )
        try await session.appendEvents([try unknown.event(connectionID: connectionID)])
        return (change, unknown)
    }

    /// Whether the order was placed before the earliest order day the settings name: not FlexBridge's to work.
    static func isBefore(_ earliest: Date?, _ order: AmazonMerchantOrder) -> Bool {
        earliest.map { order.facts.createdAt < $0 } ?? false
    }

    /// One search of the orders updated since the watermark (less the overlap), every page. Returns how many
    /// orders changed.
    @discardableResult
    public func poll() async throws -> Int {
        guard let (marketplaces, earliest) = try await settings() else { return 0 }
        // A trace of its own, as a shipment poll's: what it finds goes on in it.
        return try await withRedactedSpan("mfn_order.poll", context: .topLevel) { span in
            span.attributes["flexbridge.connection"] = connectionID.rawValue
            let changed = try await poll(marketplaces: marketplaces, earliest: earliest)
            span.attributes["flexbridge.changed"] = changed
            return changed
        }
    }

    private func poll(marketplaces: [MarketplaceID], earliest: Date?) async throws -> Int {
        let watermark = try await store.read { [connectionID] in
            try await $0.orderWatermark(connectionID: connectionID, locationID: Self.watermarkKey, status: "")
        }
        // The first download reaches back to the earliest order day when one is set, else a day.
        let since =
            watermark?.addingTimeInterval(-configuration.overlap)
            ?? earliest ?? store.clock.now().addingTimeInterval(-configuration.firstPollLookBack)
        var token: String?
        var until: Date?
        var changed = 0
        repeat {
            let pageToken = token
            let page = try await callAmazon(store: store, connectionID: connectionID, lease: lease) {
                try await amazon.merchantOrders(
                    since: since,
                    byCreation: false,
                    marketplaceIDs: marketplaces,
                    pageSize: configuration.pageSize,
                    nextToken: pageToken
                )
            }
            let (stored, unknowns) = try await store.transaction(fencedBy: lease) { [connectionID] session in
                var stored = 0
                var unknowns: [UnknownAmazonValue] = []
                for order in page.orders.filter({ !Self.isBefore(earliest, $0) }) {
                    let (change, unknown) = try await Self.store(
                        order,
                        in: session,
                        connectionID: connectionID,
                        source: "poll"
                    )
                    if change != .unchanged { stored += 1 }
                    if let unknown { unknowns.append(unknown) }
                }
                return (stored, unknowns)
            }
            for unknown in unknowns { unknown.report(logger, connectionID: connectionID) }
            changed += stored
            until = page.searchedUntil ?? until
            token = page.nextToken
        } while token != nil
        // Amazon's own bound when it gave one: nothing before it is missed by the next search (less the overlap).
        let mark = until ?? store.clock.now()
        try await store.transaction(fencedBy: lease) { [connectionID] in
            try await $0.setOrderWatermark(mark, connectionID: connectionID, locationID: Self.watermarkKey, status: "")
        }
        store.activity.record(.orderPoll, for: connectionID, at: store.clock.now())
        return changed
    }
}
