import Algorithms
import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import Logging
import SellingPartner
import Tracing

/// Sends one connection's merchant-fulfilled (MFN) stock and its listings' prices to Amazon's listings, as fast as Amazon's two routes
/// allow together: a few changes by patchListingsItem within seconds (5 a second), a backlog by JSON listings feeds
/// of up to 25,000 (five per five minutes, processed in minutes), the rest patched meanwhile.
///
/// Each round sums the MFN hubs into the listing items, follows the feeds in flight (their processing report read
/// message by message), then sends what is pending. An item in a feed is sent again only after the feed ended, so
/// a newer quantity never arrives before an older one. A feed is written with its items before Amazon is asked;
/// a node killed while submitting finds it on its next round and adopts the feed Amazon made of it (one created
/// since, that FlexBridge does not know), or submits it then — the same changes never go in two feeds.
public struct ListingsWorker: ConnectionWorker {
    public struct Configuration: Sendable {
        /// How often a feed in flight is looked at (getFeed allows 2 a second).
        public var feedCheckInterval: TimeInterval
        /// How long a feed written but not known to be at Amazon is looked for in Amazon's list before it is
        /// submitted again: a feed just created may take a moment to be listed.
        public var resubmitAfter: TimeInterval
        /// The longest an item waits before being retried after Amazon failed.
        public var maximumRetryDelay: TimeInterval
        /// Feeds FlexBridge submits per five minutes (Amazon's JSON listings feed budget), and at once.
        public var feedsPerFiveMinutes: Int
        public var feedBurst: Int
        /// How long an ASIN Amazon listed no single SKU for waits before it is looked up again.
        public var asinRecheckInterval: TimeInterval
        /// How often a sample of MFN quantities is held against Amazon's numbers (0: never), how many at a time
        /// (one searchListingsItems call takes 20), and how long a quantity (and Amazon's listing, for a number
        /// below the expected) must have been still before it is judged.
        public var reconcileInterval: TimeInterval
        public var reconcileSample: Int
        public var reconcileSettle: TimeInterval

        public init(
            feedCheckInterval: TimeInterval = 10,
            resubmitAfter: TimeInterval = 30,
            maximumRetryDelay: TimeInterval = 60,
            feedsPerFiveMinutes: Int = 5,
            feedBurst: Int = 4,
            asinRecheckInterval: TimeInterval = 3600,
            reconcileInterval: TimeInterval = 60,
            reconcileSample: Int = 20,
            reconcileSettle: TimeInterval = 900
        ) {
            self.reconcileInterval = reconcileInterval
            self.reconcileSample = reconcileSample
            self.reconcileSettle = reconcileSettle
            self.asinRecheckInterval = asinRecheckInterval
            self.feedBurst = feedBurst
            self.feedCheckInterval = feedCheckInterval
            self.resubmitAfter = resubmitAfter
            self.maximumRetryDelay = maximumRetryDelay
            self.feedsPerFiveMinutes = feedsPerFiveMinutes
        }
    }

    public let connectionID: ConnectionID
    public let lease: Lease?
    let store: Store
    let amazon: any MerchantListings
    let configuration: Configuration
    let logger: Logger
    /// When the last refresh began and with which settings: the next sums only what changed since (a full refresh
    /// when the settings changed, and every five minutes, drops what no longer belongs).
    let refreshed = Guarded<(full: Date, since: Date, settings: ConnectionSettings)?>(nil)
    /// When the last reconciliation ran.
    let reconciled = Guarded<Date?>(nil)

    /// How far before a refresh's start the next incremental one reaches, for stock written by transactions still
    /// open when it began.
    static let refreshOverlap: TimeInterval = 10

    public init(
        connectionID: ConnectionID,
        store: Store,
        client amazon: any MerchantListings,
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

    public var name: String { "MFN listings" }
    public var wakeUp: WakeUp? { store.wakeUps.signal(for: connectionID, .listings) }

    public func round() async throws -> NextRound {
        guard let connection = try await syncing() else {
            refreshed.withLock { $0 = nil }
            return .within(.seconds(15))
        }
        let facets = Self.facets(connection)
        try await resolveASINs(connection)
        try await refresh(connection, quantities: facets.contains(.quantity))
        let open = try await followFeeds(connection)
        let sent = try await send(connection, facets: facets)
        if sent > 0 { return .now }
        if facets.contains(.quantity) { try await reconcile(connection) }
        return open > 0 ? .within(.seconds(max(1, configuration.feedCheckInterval))) : .within(.seconds(30))
    }

    /// Sums the MFN hubs into the listing items: only what changed since the last refresh, or everything when the
    /// settings changed or five minutes passed.
    func refresh(_ connection: Connection, quantities: Bool) async throws {
        let now = store.clock.now()
        let last = refreshed.withLock { $0 }
        let incremental =
            last.flatMap { last in
                last.settings == connection.settings && now.timeIntervalSince(last.full) < 300 ? last.since : nil
            }
        try await store.transaction(fencedBy: lease) { [connectionID] in
            _ = try await $0.refreshListingItems(
                connectionID: connectionID,
                changedSince: incremental,
                quantities: quantities
            )
        }
        let since = now.addingTimeInterval(-Self.refreshOverlap)
        refreshed.withLock {
            $0 = (incremental == nil ? now : (last?.full ?? now), since, connection.settings)
        }
    }

    /// The connection while it is active: its prices are sent whenever the account has some.
    func syncing() async throws -> Connection? {
        try await store.read { [connectionID] session in
            guard let connection = try await session.connection(connectionID), connection.status == .active
            else { return nil }
            return connection
        }
    }

    /// What the connection sends: prices always, MFN quantities while stock sync is on and an MFN marketplace named.
    static func facets(_ connection: Connection) -> Set<ListingFacet> {
        connection.settings.inventorySyncEnabled && !connection.mfnStockMarketplaceIDs.isEmpty
            ? [.quantity, .price] : [.price]
    }

    // MARK: Reconciliation

    /// Every `reconcileInterval`, when nothing is pending and the connection reconciles at all (its
    /// `reconciliationIntervalMinutes` above 0), reads Amazon's numbers for a sample of MFN quantities
    /// sent at least `reconcileSettle` ago (the longest unchecked first) and holds each against what was sent less
    /// the units of MFN orders read since (``ListingReconciliation``): a drift is recorded on the item and repaired
    /// by sending the warehouse's number again.
    func reconcile(_ connection: Connection) async throws {
        guard configuration.reconcileInterval > 0, connection.settings.reconciliationInterval > 0 else { return }
        let now = store.clock.now()
        guard
            reconciled.withLock({ last in
                last.map { now.timeIntervalSince($0) >= configuration.reconcileInterval } ?? true
            })
        else { return }
        reconciled.withLock { $0 = now }
        let settle = configuration.reconcileSettle
        let items = try await store.read { [connectionID, configuration] in
            try await $0.listingItemsToReconcile(
                connectionID: connectionID,
                sentBefore: now.addingTimeInterval(-settle),
                limit: min(20, max(1, configuration.reconcileSample))
            )
        }
        guard let marketplace = items.first?.marketplaceID else { return }
        let found: [AmazonListing]
        do {
            found = try await amazon.listings(
                skus: items.map(\.merchantSKU),
                sellerID: connection.sellingPartnerID,
                marketplaceID: marketplace
            )
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            logger.info(
                "Could not read Amazon's listings to reconcile; trying again later",
                metadata: ["connection": "\(connectionID)", "error": "\(error.sellingPartnerError ?? error)"]
            )
            return
        }
        let atAmazon = Dictionary(found.map { ($0.sku, $0) }, uniquingKeysWith: { first, _ in first })
        let since = items.compactMap(\.sentAt).min() ?? now
        var repaired = 0
        try await store.transaction(fencedBy: lease) { [connectionID] session in
            let ordered = try await session.merchantOrderedUnits(
                connectionID: connectionID,
                marketplaceID: marketplace,
                since: since
            )
            for item in items {
                guard let listing = atAmazon[item.merchantSKU], listing.isMerchantFulfilled,
                    let quantity = listing.quantity, let sent = item.sentQuantity, let sentAt = item.sentAt
                else {
                    try await session.recordListingReconciled(item, amazonQuantity: nil, drift: nil, repair: false)
                    continue
                }
                let units = ordered.filter { $0.sku == item.merchantSKU && $0.at >= sentAt }.reduce(0) { $0 + $1.units }
                switch ListingReconciliation.verdict(
                    sent: sent,
                    orderedSince: units,
                    amazon: quantity,
                    amazonUpdatedAt: listing.updatedAt,
                    now: now,
                    settle: settle
                ) {
                case .inLine:
                    try await session.recordListingReconciled(item, amazonQuantity: quantity, drift: nil, repair: false)
                case .repair(let drift):
                    repaired += 1
                    try await session.recordListingReconciled(
                        item,
                        amazonQuantity: quantity,
                        drift: drift,
                        repair: true
                    )
                case .wait(let drift):
                    try await session.recordListingReconciled(
                        item,
                        amazonQuantity: quantity,
                        drift: drift,
                        repair: false
                    )
                }
            }
        }
        if repaired > 0 {
            logger.notice(
                "MFN quantities drifted at Amazon; the warehouse's numbers are sent again",
                metadata: ["connection": "\(connectionID)", "items": "\(repaired)", "checked": "\(items.count)"]
            )
        }
    }

    // MARK: Listings given by ASIN

    /// The ASINs looked up per round: five calls of 20, a second of searchListingsItems' rate.
    static let asinsPerRound = 100

    /// Finds the seller's SKU of listings given by their ASIN only (searchListingsItems, 20 ASINs a call): one SKU
    /// fulfilled as the listing says makes the listing; none or several is said on the ASIN listing and looked at
    /// again after `asinRecheckInterval`. Amazon unavailable leaves them for the next round.
    func resolveASINs(_ connection: Connection) async throws {
        let due = try await store.read { [connectionID, configuration] in
            try await $0.dueASINListings(
                connectionID: connectionID,
                recheckAfter: configuration.asinRecheckInterval,
                limit: Self.asinsPerRound
            )
        }
        for (marketplace, listings) in Dictionary(grouping: due, by: \.marketplaceID) {
            for chunk in listings.chunks(ofCount: 20) {
                let found: [AmazonListing]
                do {
                    found = try await amazon.listings(
                        asins: chunk.map(\.asin.rawValue),
                        sellerID: connection.sellingPartnerID,
                        marketplaceID: marketplace
                    )
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    let underlying = error.sellingPartnerError ?? error
                    guard let refusal = underlying as? AmazonAPIError, !refusal.isTransient else {
                        logger.warning(
                            "Could not look ASINs up at Amazon; trying again next round",
                            metadata: ["connection": "\(connectionID)", "error": "\(underlying)"]
                        )
                        return
                    }
                    try await store.transaction(fencedBy: lease) { session in
                        for listing in chunk {
                            try await session.recordASINListingFailed(
                                listing,
                                message: refusal.message ?? "Amazon answered \(refusal.status)"
                            )
                        }
                    }
                    continue
                }
                try await store.transaction(fencedBy: lease) { session in
                    for listing in chunk {
                        try await session.resolveASINListing(
                            listing,
                            as: ASINResolution.resolve(
                                asin: listing.asin,
                                fulfilledBy: listing.fulfilledBy,
                                found: found
                            )
                        )
                    }
                }
            }
        }
    }

    // MARK: Sending

    /// Sends what is pending by the route the backlog calls for. Returns how many items it sent or put in a feed.
    func send(_ connection: Connection, facets: Set<ListingFacet>) async throws -> Int {
        let now = store.clock.now()
        let (pending, feeds, preparing) = try await store.read { [connectionID] session in
            (
                try await session.pendingListingCount(connectionID: connectionID, facets: facets),
                try await session.listingFeeds(connectionID: connectionID, limit: 20),
                try await session.openListingFeeds(connectionID: connectionID).contains { $0.status == "preparing" }
            )
        }
        let recentFeeds = feeds.filter { now.timeIntervalSince($0.createdAt) < 300 }.map(\.createdAt)
        // After a feed Amazon could not process as a whole, the next is half its size, down to one item.
        let largest =
            feeds.first { ["done", "fatal"].contains($0.status) }.map {
                $0.status == "fatal" ? max(1, $0.items / 2) : ListingRules.messagesPerFeed
            } ?? ListingRules.messagesPerFeed
        // Only when the client would send it at once: a round never waits on the feed budget.
        let feedAllowed =
            !preparing
            && ListingRoutePlanner.feedAllowed(
                submitted: recentFeeds,
                now: now,
                perFiveMinutes: configuration.feedsPerFiveMinutes,
                burst: configuration.feedBurst
            )
        switch ListingRoutePlanner.route(pending: pending, feedAllowed: feedAllowed) {
        case .idle:
            return 0
        case .feed(let count):
            let fed = try await submitFeed(connection, count: min(count, largest), facets: facets)
            return fed + (try await patch(connection, count: ListingRoutePlanner.patchBacklog, facets: facets))
        case .patch(let count):
            return try await patch(connection, count: count, facets: facets)
        }
    }

    /// The quantity an item offers: the MFN hubs' units less the buffers, at most the cap.
    func quantity(_ item: ListingItem, _ settings: ConnectionSettings) -> Int {
        InventoryRules.sellable(
            free: item.freeQuantity,
            hub: HubCode(rawValue: ""),
            sku: item.warehouseSKU,
            settings: settings
        )
    }

    /// The change an item makes: its quantity with the handling time, or its price.
    static func update(
        sku: MerchantSKU,
        facet: ListingFacet,
        quantity: Int?,
        price: ListingPrice?,
        _ settings: ConnectionSettings
    ) -> ListingUpdate {
        switch facet {
        case .quantity: ListingUpdate(sku: sku, quantity: quantity, handlingTime: settings.mfnHandlingTime)
        case .price: ListingUpdate(sku: sku, price: price)
        }
    }

    /// Patches up to `count` pending items, one call each (the client keeps Amazon's pace).
    func patch(_ connection: Connection, count: Int, facets: Set<ListingFacet>) async throws -> Int {
        let items = try await store.read { [connectionID] in
            try await $0.pendingListingItems(connectionID: connectionID, facets: facets, limit: count)
        }
        var taken = 0
        for item in items {
            if try await patch(item, connection) { taken += 1 }
        }
        if taken > 0 { store.activity.record(.skusSent(taken), for: connectionID, at: store.clock.now()) }
        return items.count
    }

    /// Patches one item in a span of the trace of the write that changed it (a new trace when it was not traced);
    /// whether Amazon took the change.
    private func patch(_ item: ListingItem, _ connection: Connection) async throws -> Bool {
        try await withRedactedSpan("listings.patch", context: item.trace.instrumentationContext) { span in
            span.attributes["flexbridge.connection"] = connectionID.rawValue
            span.attributes["flexbridge.sku"] = item.merchantSKU.rawValue
            span.attributes["flexbridge.facet"] = item.facet.rawValue
            span.attributes["amazon.marketplace"] = item.marketplaceID.rawValue
            let quantity = item.facet == .quantity ? quantity(item, connection.settings) : nil
            do {
                let answer = try await amazon.patchListing(
                    Self.update(
                        sku: item.merchantSKU,
                        facet: item.facet,
                        quantity: quantity,
                        price: item.price,
                        connection.settings
                    ),
                    sellerID: connection.sellingPartnerID,
                    marketplaceIDs: [item.marketplaceID]
                )
                if let status = answer.unknownStatus {
                    try await retryUnknown(item, status: status)
                    span.attributes["flexbridge.outcome"] = "retry"
                    return false
                }
                try await store.transaction(fencedBy: lease) { session in
                    if answer.accepted {
                        try await session.recordListingSent(
                            item,
                            version: item.version,
                            quantity: quantity,
                            route: "patch",
                            reference: answer.submissionID
                        )
                    } else {
                        let issue =
                            answer.issues.first(where: \.isError)
                            ?? ListingIssue(
                                code: "INVALID",
                                message: "Amazon refused the change",
                                severity: "ERROR",
                                attribute: nil
                            )
                        try await session.recordListingRefused(item, version: item.version, issue: issue)
                    }
                }
                span.attributes["flexbridge.outcome"] = answer.accepted ? "sent" : "refused"
                return answer.accepted
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                let underlying = error.sellingPartnerError ?? error
                if let amazonError = underlying as? AmazonAPIError, !amazonError.isTransient {
                    try await store.transaction(fencedBy: lease) {
                        try await $0.recordListingRefused(
                            item,
                            version: item.version,
                            issue: ListingIssue(
                                code: amazonError.code ?? "HTTP_\(amazonError.status)",
                                message: amazonError.message ?? "Amazon answered \(amazonError.status)",
                                severity: "ERROR",
                                attribute: nil
                            )
                        )
                    }
                    span.attributes["flexbridge.outcome"] = "refused"
                } else {
                    let at = store.clock.now().addingTimeInterval(
                        Double.random(in: 2...configuration.maximumRetryDelay)
                    )
                    try await store.transaction(fencedBy: lease) {
                        try await $0.recordListingRetry(item, at: at, reason: "\(underlying)")
                    }
                    span.attributes["flexbridge.outcome"] = "retry"
                }
                return false
            }
        }
    }

    /// An item whose change Amazon answered with a status this version does not know: sent again later (a PATCH of a
    /// quantity or price is the same change however often it goes), the value said when the item comes into it.
    private func retryUnknown(_ item: ListingItem, status: String) async throws {
        let at = store.clock.now().addingTimeInterval(Double.random(in: 2...configuration.maximumRetryDelay))
        let unknown = UnknownAmazonValue(
            field: "listing_submission.status",
            value: status,
            subjectKey: "sku",
            subject: item.merchantSKU.rawValue
        )
        let entered = try await store.transaction(fencedBy: lease) { [connectionID] session in
            guard try await session.recordListingUnknownStatus(item, status: status, at: at) else { return false }
            try await session.appendEvents([try unknown.event(connectionID: connectionID)])
            return true
        }
        if entered { unknown.report(logger, connectionID: connectionID) }
    }

    /// Puts up to `count` pending items of one marketplace (the oldest change's) in a feed and submits it.
    func submitFeed(_ connection: Connection, count: Int, facets: Set<ListingFacet>) async throws -> Int {
        let prepared = try await store.transaction(fencedBy: lease) {
            [connectionID] session -> (feed: ListingFeedRecord, traces: [TraceContext])? in
            guard
                let oldest = try await session.pendingListingItems(
                    connectionID: connectionID,
                    facets: facets,
                    limit: 1
                ).first
            else { return nil }
            let items = try await session.pendingListingItems(
                connectionID: connectionID,
                marketplaceID: oldest.marketplaceID,
                facets: facets,
                limit: count
            )
            let id = try await session.prepareListingFeed(
                connectionID: connectionID,
                marketplaceID: oldest.marketplaceID,
                items: items.map { ($0, $0.facet == .quantity ? quantity($0, connection.settings) : nil) }
            )
            guard
                let feed = try await session.openListingFeeds(connectionID: connectionID).first(where: { $0.id == id })
            else { return nil }
            return (feed, Array(items.compactMap(\.trace).uniqued()))
        }
        guard let (feed, traces) = prepared else { return 0 }
        // In the trace of the first traced write among the feed's items (a new trace when none was), linked to the
        // others' — the first hundred: a feed carries up to 25,000 items.
        try await withRedactedSpan("listings.feed", context: traces.first.instrumentationContext) { span in
            span.attributes["flexbridge.connection"] = connectionID.rawValue
            span.attributes["flexbridge.items"] = feed.items
            span.attributes["amazon.marketplace"] = feed.marketplaceID.rawValue
            for other in traces.dropFirst().prefix(Self.feedLinks) {
                span.addLink(SpanLink(context: other.instrumentationContext, attributes: [:]))
            }
            try await submit(feed, connection)
        }
        return feed.items
    }

    /// The most other writes' traces a feed's span links to.
    static let feedLinks = 100

    /// Builds a prepared feed's document from its items and submits it; records Amazon's feed id.
    func submit(_ feed: ListingFeedRecord, _ connection: Connection) async throws {
        let items = try await store.read { try await $0.listingFeedItems(feedID: feed.id) }
        guard !items.isEmpty else {
            try await store.transaction(fencedBy: lease) {
                try await $0.finishListingFeed(feed, status: "cancelled", report: nil, error: "no items left")
            }
            return
        }
        let document = try ListingRules.feed(
            sellerID: connection.sellingPartnerID,
            updates: items.map {
                Self.update(
                    sku: $0.merchantSKU,
                    facet: $0.facet,
                    quantity: $0.quantity,
                    price: $0.price,
                    connection.settings
                )
            }
        )
        let amazonID = try await amazon.submitListingsFeed(document, marketplaceIDs: [feed.marketplaceID])
        try await store.transaction(fencedBy: lease) {
            try await $0.recordListingFeedSubmitted(feed.id, amazonFeedID: amazonID)
        }
        logger.info(
            "MFN listings feed submitted",
            metadata: ["connection": "\(connectionID)", "feed": "\(amazonID)", "items": "\(items.count)"]
        )
    }

    // MARK: Feeds in flight

    /// Moves the open feeds on: a prepared one is adopted or submitted, a submitted one looked at when due and,
    /// once finished, its report applied. Returns how many stay open.
    func followFeeds(_ connection: Connection) async throws -> Int {
        let feeds = try await store.read { [connectionID] in try await $0.openListingFeeds(connectionID: connectionID) }
        var open = 0
        for feed in feeds {
            if feed.status == "preparing" {
                try await recover(feed, connection)
                open += 1
                continue
            }
            guard let amazonID = feed.amazonFeedID else { continue }
            let now = store.clock.now()
            if let checked = feed.checkedAt, configuration.feedCheckInterval > 0,
                now.timeIntervalSince(checked) < configuration.feedCheckInterval
            {
                open += 1
                continue
            }
            let status = try await amazon.feed(amazonID)
            guard status.isFinished else {
                // A status Amazon added later: the feed is waited on, and the status said when the feed comes into it.
                let known = FeedStatus.knownStatuses.contains(status.status)
                let unknownStatus = known ? nil : status.status
                let unknown = UnknownAmazonValue.entered(
                    status.status,
                    known: known,
                    held: feed.unknownAmazonStatus,
                    field: "feed.processingStatus",
                    subjectKey: "feedId",
                    subject: amazonID
                )
                try await store.transaction(fencedBy: lease) { [connectionID] session in
                    try await session.recordListingFeedChecked(feed.id, unknownAmazonStatus: unknownStatus)
                    if let unknown { try await session.appendEvents([try unknown.event(connectionID: connectionID)]) }
                }
                unknown?.report(logger, connectionID: connectionID)
                open += 1
                continue
            }
            var report: ListingsFeedReport?
            if status.status == "DONE", let document = status.resultDocumentID {
                report = try await amazon.feedReport(documentID: document)
            }
            // A feed Amazon could not process as a whole, or whose report says so, is sent again item by item:
            // its items go back to pending, and the next route decides.
            let whole = report?.feedIssues.first(where: \.isError)
            let outcome = whole == nil && report != nil ? status.status.lowercased() : "fatal"
            let accepted = try await store.transaction(fencedBy: lease) {
                try await $0.finishListingFeed(
                    feed,
                    status: outcome,
                    report: whole == nil ? report : nil,
                    error: whole?.message ?? (report == nil ? "Amazon ended the feed \(status.status)" : nil)
                )
            }
            if accepted > 0 { store.activity.record(.skusSent(accepted), for: connectionID, at: store.clock.now()) }
            if outcome == "fatal" {
                logger.warning(
                    "MFN listings feed failed as a whole; its items are sent again",
                    metadata: ["connection": "\(connectionID)", "feed": "\(amazonID)", "status": "\(status.status)"]
                )
            }
        }
        return open
    }

    /// A feed written but not known to be at Amazon (the node stopped while submitting): a feed Amazon made since
    /// that FlexBridge does not know is taken as this one; when Amazon lists none for `resubmitAfter`, it is
    /// submitted again.
    func recover(_ feed: ListingFeedRecord, _ connection: Connection) async throws {
        let since = feed.createdAt.addingTimeInterval(-5)
        let known = try await store.read { [connectionID] in
            try await $0.amazonListingFeedIDs(connectionID: connectionID)
        }
        let unknown = try await amazon.listingsFeeds(since: since).filter { !known.contains($0.feedID) }
            .sorted { $0.createdAt < $1.createdAt }
        if let adopted = unknown.first {
            try await store.transaction(fencedBy: lease) {
                try await $0.recordListingFeedSubmitted(feed.id, amazonFeedID: adopted.feedID)
            }
            logger.info(
                "MFN listings feed found at Amazon after an interrupted submission",
                metadata: ["connection": "\(connectionID)", "feed": "\(adopted.feedID)"]
            )
            return
        }
        if configuration.resubmitAfter > 0,
            store.clock.now().timeIntervalSince(feed.createdAt) < configuration.resubmitAfter
        {
            return
        }
        try await submit(feed, connection)
    }
}
