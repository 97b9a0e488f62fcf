import Algorithms
import FlexCore
import Foundation
import SQLKit

/// One facet of a listing as FlexBridge keeps it in line at Amazon: a merchant-fulfilled listing's stock (the MFN
/// hubs' summed units) or any listing's price, with what reached Amazon.
public struct ListingItem: Sendable, Hashable {
    public var connectionID: ConnectionID
    public var marketplaceID: MarketplaceID
    public var merchantSKU: MerchantSKU
    public var facet: ListingFacet
    public var warehouseSKU: WarehouseSKU
    /// The MFN hubs' units of the SKU, summed (0 for a price).
    public var freeQuantity: Int
    /// The price to offer (a price item).
    public var price: ListingPrice?
    public var version: Int64
    public var syncedVersion: Int64
    public var failedVersion: Int64
    public var changedAt: Date
    public var sentQuantity: Int?
    public var sentPrice: ListingPrice?
    public var sentAt: Date?
    /// `patch` or `feed`.
    public var sentRoute: String?
    /// Amazon's submission id (patch) or feed id (feed).
    public var sentReference: String?
    /// The feed carrying the item now, FlexBridge's id.
    public var feedID: String?
    /// The last reconciliation: when, what Amazon showed, and the drift it found (kept after the repair).
    public var reconciledAt: Date?
    public var amazonQuantity: Int?
    public var drift: String?
    public var error: ListingIssue?
    /// The trace of the stock or price write that made the item's last change, for its send to continue.
    public var trace: TraceContext?

    /// A change still has to reach Amazon (and is not refused for good).
    public var pending: Bool { version > syncedVersion && version > failedVersion }
}

/// A JSON listings feed FlexBridge made: preparing (written, not yet known to be at Amazon), submitted, done or
/// fatal.
public struct ListingFeedRecord: Sendable, Hashable {
    public var id: String
    public var connectionID: ConnectionID
    public var marketplaceID: MarketplaceID
    public var amazonFeedID: String?
    public var status: String
    public var items: Int
    public var createdAt: Date
    public var submittedAt: Date?
    public var checkedAt: Date?
    /// The processing status Amazon last gave the feed, when it was one this version does not know.
    public var unknownAmazonStatus: String?
}

/// One item as a feed carries it: its message number, the quantity or price sent and the item's version then.
public struct ListingFeedItem: Sendable, Hashable {
    public var merchantSKU: MerchantSKU
    public var facet: ListingFacet
    public var message: Int
    public var quantity: Int?
    public var price: ListingPrice?
    public var version: Int64
}

extension StoreSession {
    /// Brings the connection's listing items in line with its listings, MFN hubs, marketplaces and the account's
    /// prices: each merchant-fulfilled listing in an MFN marketplace that no Seller Flex location serves gets the
    /// MFN hubs' units summed (`quantities`), each listing with a price for its SKU and marketplace that price —
    /// each item's version bumped when its value changes; items no longer so are dropped unless a feed carries
    /// them. Returns how many items changed. With `changedSince`, only listings, stock and prices changed from
    /// then on are read again, and none is dropped: the cheap refresh of a busy connection between full ones.
    /// Without `quantities` (stock sync paused) the quantity items are left as they are.
    @discardableResult
    public func refreshListingItems(
        connectionID: ConnectionID,
        changedSince: Date? = nil,
        quantities: Bool = true
    ) async throws -> Int {
        guard let connection = try await connection(connectionID) else { return 0 }
        let prices = try await refreshPriceItems(connection, changedSince: changedSince)
        guard quantities else { return prices }
        let marketplaces = connection.mfnStockMarketplaceIDs.map(\.rawValue)
        guard !marketplaces.isEmpty else {
            try await sql.raw(
                """
                DELETE FROM listing_items WHERE connection_id = \(bind: connectionID.rawValue) AND feed_id IS NULL
                    AND facet = 'quantity'
                """
            ).run()
            return prices
        }
        let hubs = connection.settings.mfnStockHubs.map(\.rawValue)
        let now = nowMilliseconds
        var keep =
            """
            FROM listings l
            WHERE l.connection_id = \(bind: connectionID.rawValue) AND l.marketplace_id IN (\(binds: marketplaces))
                AND l.fulfilled_by = 'MERCHANT' AND NOT EXISTS (SELECT 1 FROM inventory_items i WHERE i.connection_id = l.connection_id
                    AND i.merchant_sku = l.merchant_sku)
            """ as SQLQueryString
        if let changedSince {
            let since = changedSince.millisecondsSince1970
            keep +=
                """
                 AND (l.updated_at >= \(bind: since) OR l.warehouse_sku IN (SELECT s.warehouse_sku FROM stock_levels s
                    WHERE s.account_id = \(bind: connection.accountID.rawValue) AND s.hub IN (\(binds: hubs))
                    AND s.updated_at >= \(bind: since)))
                """
        }
        let binary = kind == .postgres ? #" COLLATE "C""# : ""
        let changed = try await sql.raw(
            """
            INSERT INTO listing_items (connection_id, marketplace_id, merchant_sku, facet, warehouse_sku,
                free_quantity, version, changed_at, trace_context)
            SELECT l.connection_id, l.marketplace_id, l.merchant_sku, 'quantity', l.warehouse_sku,
                COALESCE((SELECT SUM(s.quantity) FROM stock_levels s WHERE s.warehouse_sku = l.warehouse_sku
                    AND s.account_id = \(bind: connection.accountID.rawValue) AND s.hub IN (\(binds: hubs))), 0),
                1, \(bind: now),
                (SELECT s.trace_context FROM stock_levels s WHERE s.warehouse_sku = l.warehouse_sku
                    AND s.account_id = \(bind: connection.accountID.rawValue) AND s.hub IN (\(binds: hubs))
                    ORDER BY s.updated_at DESC LIMIT 1)
            \(keep)
            ORDER BY l.marketplace_id\(unsafeRaw: binary), l.merchant_sku\(unsafeRaw: binary)
            ON CONFLICT (connection_id, marketplace_id, merchant_sku, facet) DO UPDATE SET
                free_quantity = excluded.free_quantity, warehouse_sku = excluded.warehouse_sku,
                version = listing_items.version + 1, changed_at = excluded.changed_at,
                trace_context = excluded.trace_context
            WHERE listing_items.free_quantity <> excluded.free_quantity
                OR listing_items.warehouse_sku <> excluded.warehouse_sku
            RETURNING merchant_sku
            """
        ).all().count
        guard changedSince == nil else { return changed + prices }
        try await sql.raw(
            """
            DELETE FROM listing_items WHERE connection_id = \(bind: connectionID.rawValue) AND feed_id IS NULL
                AND facet = 'quantity' AND NOT EXISTS (SELECT 1 FROM listings l WHERE l.connection_id = listing_items.connection_id
                    AND l.marketplace_id = listing_items.marketplace_id AND l.merchant_sku = listing_items.merchant_sku
                    AND l.marketplace_id IN (\(binds: marketplaces)) AND l.fulfilled_by = 'MERCHANT'
                    AND NOT EXISTS (SELECT 1 FROM inventory_items i WHERE i.connection_id = l.connection_id
                        AND i.merchant_sku = l.merchant_sku))
            """
        ).run()
        return changed + prices
    }

    /// The price half of `refreshListingItems`: every listing of the connection whose SKU the account prices in
    /// its marketplace, whatever fulfils it.
    func refreshPriceItems(_ connection: Connection, changedSince: Date?) async throws -> Int {
        // Most accounts price nothing through FlexBridge: one look (by the key's prefix) spares every round the join.
        // Prices are never removed, so an account without any holds no price items either.
        guard
            try await sql.raw(
                "SELECT 1 AS n FROM prices WHERE account_id = \(bind: connection.accountID.rawValue) LIMIT 1"
            ).first() != nil
        else { return 0 }
        let now = nowMilliseconds
        var since: SQLQueryString = ""
        if let changedSince {
            let at = changedSince.millisecondsSince1970
            since = " AND (l.updated_at >= \(bind: at) OR p.updated_at >= \(bind: at))"
        }
        let binary = kind == .postgres ? #" COLLATE "C""# : ""
        let changed = try await sql.raw(
            """
            INSERT INTO listing_items (connection_id, marketplace_id, merchant_sku, facet, warehouse_sku,
                free_quantity, price, version, changed_at, trace_context)
            SELECT l.connection_id, l.marketplace_id, l.merchant_sku, 'price', l.warehouse_sku, 0, p.offer, 1,
                \(bind: now), p.trace_context
            FROM listings l JOIN prices p ON p.account_id = \(bind: connection.accountID.rawValue)
                AND p.marketplace_id = l.marketplace_id AND p.warehouse_sku = l.warehouse_sku
            WHERE l.connection_id = \(bind: connection.id.rawValue)\(since)
            ORDER BY l.marketplace_id\(unsafeRaw: binary), l.merchant_sku\(unsafeRaw: binary)
            ON CONFLICT (connection_id, marketplace_id, merchant_sku, facet) DO UPDATE SET
                price = excluded.price, warehouse_sku = excluded.warehouse_sku,
                version = listing_items.version + 1, changed_at = excluded.changed_at,
                trace_context = excluded.trace_context
            WHERE listing_items.price <> excluded.price OR listing_items.warehouse_sku <> excluded.warehouse_sku
            RETURNING merchant_sku
            """
        ).all().count
        guard changedSince == nil else { return changed }
        try await sql.raw(
            """
            DELETE FROM listing_items WHERE connection_id = \(bind: connection.id.rawValue) AND feed_id IS NULL
                AND facet = 'price' AND NOT EXISTS (SELECT 1 FROM listings l JOIN prices p
                    ON p.account_id = \(bind: connection.accountID.rawValue) AND p.marketplace_id = l.marketplace_id
                    AND p.warehouse_sku = l.warehouse_sku
                WHERE l.connection_id = listing_items.connection_id AND l.marketplace_id = listing_items.marketplace_id
                    AND l.merchant_sku = listing_items.merchant_sku)
            """
        ).run()
        return changed
    }

    /// Makes every MFN quantity item of the connection pending again (its buffers, cap or handling time changed): a
    /// change no stock write made, so no write's trace goes with it.
    public func markListingItemsPending(connectionID: ConnectionID) async throws {
        try await lockListingItems("connection_id = \(bind: connectionID.rawValue) AND facet = 'quantity'")
        try await sql.raw(
            """
            UPDATE listing_items SET version = version + 1, changed_at = \(bind: nowMilliseconds), trace_context = NULL
            WHERE connection_id = \(bind: connectionID.rawValue) AND facet = 'quantity'
            """
        ).run()
        notes.note(.listings, for: [connectionID])
    }

    /// On PostgreSQL, locks the items `filter` selects in key order — the order the worker's writes take them in —
    /// so that a settings change and a feed's end wait for each other instead of deadlocking. SQLite writes one
    /// transaction at a time.
    func lockListingItems(_ filter: SQLQueryString) async throws {
        guard kind == .postgres else { return }
        try await sql.raw(
            """
            SELECT 1 FROM listing_items WHERE \(filter)
            ORDER BY marketplace_id COLLATE "C", merchant_sku COLLATE "C", facet COLLATE "C" FOR UPDATE
            """
        ).run()
    }

    static let pendingListing: SQLQueryString =
        "version > synced_version AND version > failed_version AND feed_id IS NULL"

    /// How many items of the connection wait to be sent (not in a feed, not waiting to retry), of the facets named.
    public func pendingListingCount(
        connectionID: ConnectionID,
        facets: Set<ListingFacet> = Set(ListingFacet.allCases)
    ) async throws -> Int {
        guard !facets.isEmpty else { return 0 }
        let row = try await sql.raw(
            """
            SELECT COUNT(*) AS n FROM listing_items WHERE connection_id = \(bind: connectionID.rawValue)
                AND \(Self.pendingListing) AND retry_at <= \(bind: nowMilliseconds)
                AND facet IN (\(binds: facets.map(\.rawValue).sorted()))
            """
        ).first()
        return Int(try row?.decode(column: "n", as: Int64.self) ?? 0)
    }

    /// The oldest pending items of the connection (of one marketplace, when named), oldest change first, of the
    /// facets named.
    public func pendingListingItems(
        connectionID: ConnectionID,
        marketplaceID: MarketplaceID? = nil,
        facets: Set<ListingFacet> = Set(ListingFacet.allCases),
        limit: Int
    ) async throws -> [ListingItem] {
        guard !facets.isEmpty else { return [] }
        var query: SQLQueryString = """
            SELECT * FROM listing_items WHERE connection_id = \(bind: connectionID.rawValue)
                AND \(Self.pendingListing) AND retry_at <= \(bind: nowMilliseconds)
                AND facet IN (\(binds: facets.map(\.rawValue).sorted()))
            """
        if let marketplaceID { query += " AND marketplace_id = \(bind: marketplaceID.rawValue)" }
        query += " ORDER BY changed_at, marketplace_id, merchant_sku LIMIT \(literal: Int64(limit))"
        return try await sql.raw(query).all().map(Self.listingItem)
    }

    /// Where a page of listing items ends: the last item's SKU, marketplace and facet.
    public struct ListingItemCursor: Sendable, Hashable {
        public var merchantSKU: MerchantSKU
        public var marketplaceID: MarketplaceID
        public var facet: ListingFacet

        public init(merchantSKU: MerchantSKU, marketplaceID: MarketplaceID, facet: ListingFacet) {
            self.merchantSKU = merchantSKU
            self.marketplaceID = marketplaceID
            self.facet = facet
        }
    }

    /// Every listing item of the connection, by SKU, marketplace and facet; after a cursor when paging.
    public func listingItems(
        connectionID: ConnectionID,
        after: ListingItemCursor? = nil,
        limit: Int = 1000
    ) async throws
        -> [ListingItem]
    {
        var query: SQLQueryString = "SELECT * FROM listing_items WHERE connection_id = \(bind: connectionID.rawValue)"
        if let after {
            let sku = after.merchantSKU.rawValue
            let marketplace = after.marketplaceID.rawValue
            query +=
                """
                 AND (merchant_sku > \(bind: sku) OR (merchant_sku = \(bind: sku) AND (marketplace_id > \(bind: marketplace)
                    OR (marketplace_id = \(bind: marketplace) AND facet > \(bind: after.facet.rawValue)))))
                """
        }
        query += " ORDER BY merchant_sku, marketplace_id, facet LIMIT \(literal: Int64(limit))"
        return try await sql.raw(query).all().map(Self.listingItem)
    }

    /// Amazon took version `version` of the item by patch: the quantity (a quantity item) or the item's price.
    public func recordListingSent(
        _ item: ListingItem,
        version: Int64,
        quantity: Int?,
        route: String,
        reference: String?
    ) async throws {
        try await sql.raw(
            """
            UPDATE listing_items SET synced_version = \(bind: version), sent_quantity = \(bind: quantity.map(Int64.init)),
                sent_price = \(bind: item.price.map(OfferText.encode)),
                sent_at = \(bind: nowMilliseconds), sent_route = \(bind: route), sent_reference = \(bind: reference),
                error_code = NULL, error_message = NULL, error_at = NULL, retry_at = 0
            WHERE \(Self.listingKey(item)) AND synced_version < \(bind: version)
            """
        ).run()
    }

    /// Amazon refused version `version` of the item: it is not sent again until its quantity changes.
    public func recordListingRefused(_ item: ListingItem, version: Int64, issue: ListingIssue) async throws {
        try await sql.raw(
            """
            UPDATE listing_items SET failed_version = \(bind: version), error_code = \(bind: issue.code),
                error_message = \(bind: issue.attribute.map { "\($0): \(issue.message)" } ?? issue.message),
                error_at = \(bind: nowMilliseconds)
            WHERE \(Self.listingKey(item)) AND failed_version < \(bind: version)
            """
        ).run()
    }

    /// Amazon could not be asked (throttled, unavailable): the item waits until `at`, its reason recorded.
    /// Amazon answered the item's change with a status this version does not know: neither taken nor refused, the
    /// change goes again at `at`, the item saying why. Returns whether the item came into that status now (it did not
    /// already say it): the moment to say the value.
    public func recordListingUnknownStatus(_ item: ListingItem, status: String, at: Date) async throws -> Bool {
        let message =
            "Amazon answered the change with the status \(status), which this version of FlexBridge does not know; it is sent again."
        let held = try await sql.raw(
            "SELECT error_code, error_message FROM listing_items WHERE \(Self.listingKey(item))"
        ).first()
        let said =
            try held?.decode(column: "error_code", as: String?.self) == Self.unknownStatusCode
            && held?.decode(column: "error_message", as: String?.self) == message
        try await sql.raw(
            """
            UPDATE listing_items SET retry_at = \(bind: at.millisecondsSince1970), error_code = \(bind: Self.unknownStatusCode),
                error_message = \(bind: message), error_at = \(bind: nowMilliseconds)
            WHERE \(Self.listingKey(item))
            """
        ).run()
        return !said
    }

    /// The error code of an item whose change Amazon answered with a status this version does not know.
    public static let unknownStatusCode = "AMAZON_UNKNOWN_STATUS"

    public func recordListingRetry(_ item: ListingItem, at: Date, reason: String) async throws {
        try await sql.raw(
            """
            UPDATE listing_items SET retry_at = \(bind: at.millisecondsSince1970), error_code = 'AMAZON_UNAVAILABLE',
                error_message = \(bind: String(reason.prefix(500))), error_at = \(bind: nowMilliseconds)
            WHERE \(Self.listingKey(item))
            """
        ).run()
    }

    /// Writes a feed (preparing) carrying `items` with the quantities to send (prices as the items hold them),
    /// numbered from 1 in the order given; the items are the feed's until it finishes. Returns the feed's id.
    public func prepareListingFeed(
        connectionID: ConnectionID,
        marketplaceID: MarketplaceID,
        items: [(item: ListingItem, quantity: Int?)]
    ) async throws -> String {
        let id = UUID().uuidString.lowercased()
        try await sql.raw(
            """
            INSERT INTO listing_feeds (id, connection_id, marketplace_id, sequence, status, items, created_at)
            SELECT \(bind: id), \(bind: connectionID.rawValue), \(bind: marketplaceID.rawValue),
                COALESCE(MAX(sequence), 0) + 1, 'preparing', \(bind: Int64(items.count)), \(bind: nowMilliseconds)
            FROM listing_feeds WHERE connection_id = \(bind: connectionID.rawValue)
            """
        ).run()
        // One statement per 500 items of a facet, found by key; each item's quantity and message number by a CASE on
        // its SKU. A price goes as the item holds it.
        try await lockListingItems(
            """
            connection_id = \(bind: connectionID.rawValue) AND marketplace_id = \(bind: marketplaceID.rawValue)
                AND merchant_sku IN (\(binds: Array(Set(items.map(\.item.merchantSKU.rawValue)))))
            """
        )
        let numbered = items.enumerated().map {
            (message: $0.offset + 1, item: $0.element.item, quantity: $0.element.quantity)
        }
        for facet in ListingFacet.allCases {
            let entries = numbered.filter { $0.item.facet == facet }
            for chunk in entries.chunks(ofCount: 500) {
                var quantities: SQLQueryString = "CASE merchant_sku"
                var messages: SQLQueryString = "CASE merchant_sku"
                for entry in chunk {
                    let sku = entry.item.merchantSKU.rawValue
                    quantities += " WHEN \(bind: sku) THEN \(bind: entry.quantity.map(Int64.init))"
                    messages += " WHEN \(bind: sku) THEN \(bind: Int64(entry.message))"
                }
                quantities += " END"
                messages += " END"
                try await sql.raw(
                    """
                    UPDATE listing_items SET feed_id = \(bind: id), feed_version = version, feed_quantity = \(quantities),
                        feed_price = price, feed_message = \(messages)
                    WHERE connection_id = \(bind: connectionID.rawValue) AND marketplace_id = \(bind: marketplaceID.rawValue)
                        AND facet = \(bind: facet.rawValue)
                        AND merchant_sku IN (\(binds: chunk.map(\.item.merchantSKU.rawValue))) AND feed_id IS NULL
                    """
                ).run()
            }
        }
        return id
    }

    /// The items a feed carries, by message number.
    public func listingFeedItems(feedID: String) async throws -> [ListingFeedItem] {
        try await sql.raw(
            """
            SELECT marketplace_id, merchant_sku, facet, feed_message, feed_quantity, feed_price, feed_version
            FROM listing_items WHERE feed_id = \(bind: feedID) ORDER BY feed_message
            """
        ).all().map { row in
            let marketplace = MarketplaceID(rawValue: try row.decode(column: "marketplace_id", as: String.self))
            return ListingFeedItem(
                merchantSKU: MerchantSKU(rawValue: try row.decode(column: "merchant_sku", as: String.self)),
                facet: ListingFacet(rawValue: try row.decode(column: "facet", as: String.self)) ?? .quantity,
                message: Int(try row.decode(column: "feed_message", as: Int64.self)),
                quantity: try row.decode(column: "feed_quantity", as: Int64?.self).map(Int.init),
                price: try row.decode(column: "feed_price", as: String?.self).map {
                    try OfferText.decode($0, marketplaceID: marketplace)
                },
                version: try row.decode(column: "feed_version", as: Int64.self)
            )
        }
    }

    /// The connection's feeds still open (preparing or submitted), oldest first.
    public func openListingFeeds(connectionID: ConnectionID) async throws -> [ListingFeedRecord] {
        try await sql.raw(
            """
            SELECT * FROM listing_feeds WHERE connection_id = \(bind: connectionID.rawValue)
                AND status IN ('preparing', 'submitted') ORDER BY sequence
            """
        ).all().map(Self.listingFeed)
    }

    /// The connection's feeds, newest first.
    public func listingFeeds(connectionID: ConnectionID, limit: Int = 100) async throws -> [ListingFeedRecord] {
        try await sql.raw(
            """
            SELECT * FROM listing_feeds WHERE connection_id = \(bind: connectionID.rawValue)
            ORDER BY sequence DESC LIMIT \(literal: Int64(limit))
            """
        ).all().map(Self.listingFeed)
    }

    /// How many feeds of the connection were written from `since` on: Amazon's budget counts feeds submitted.
    public func listingFeedCount(connectionID: ConnectionID, since: Date) async throws -> Int {
        let row = try await sql.raw(
            """
            SELECT COUNT(*) AS n FROM listing_feeds WHERE connection_id = \(bind: connectionID.rawValue)
                AND created_at >= \(bind: since.millisecondsSince1970)
            """
        ).first()
        return Int(try row?.decode(column: "n", as: Int64.self) ?? 0)
    }

    /// Amazon's ids of the connection's feeds, to tell a feed FlexBridge made from one it does not know.
    public func amazonListingFeedIDs(connectionID: ConnectionID) async throws -> Set<String> {
        Set(
            try await sql.raw(
                """
                SELECT amazon_feed_id FROM listing_feeds WHERE connection_id = \(bind: connectionID.rawValue)
                    AND amazon_feed_id IS NOT NULL
                """
            ).all().map { try $0.decode(column: "amazon_feed_id", as: String.self) }
        )
    }

    /// Amazon holds the feed under `amazonFeedID`.
    public func recordListingFeedSubmitted(_ feedID: String, amazonFeedID: String) async throws {
        try await sql.raw(
            """
            UPDATE listing_feeds SET status = 'submitted', amazon_feed_id = \(bind: amazonFeedID),
                submitted_at = \(bind: nowMilliseconds), checked_at = \(bind: nowMilliseconds)
            WHERE id = \(bind: feedID)
            """
        ).run()
    }

    /// Notes that Amazon was asked how the feed stands, and the status it gave when this version does not know it.
    public func recordListingFeedChecked(_ feedID: String, unknownAmazonStatus: String? = nil) async throws {
        try await sql.raw(
            """
            UPDATE listing_feeds SET checked_at = \(bind: nowMilliseconds), unknown_amazon_status = \(bind: unknownAmazonStatus)
            WHERE id = \(bind: feedID)
            """
        ).run()
    }

    /// Ends a feed: each item's message accepted (Amazon holds its quantity) or refused with its issues; a FATAL
    /// or cancelled feed (`report` nil) gives its items back to be sent again — but a FATAL feed of one item
    /// refuses that item, with the feed's error, so that it is not sent again until its quantity changes.
    @discardableResult
    public func finishListingFeed(
        _ feed: ListingFeedRecord,
        status: String,
        report: ListingsFeedReport?,
        error: String? = nil
    ) async throws -> Int {
        try await lockListingItems("feed_id = \(bind: feed.id)")
        let items = try await listingFeedItems(feedID: feed.id)
        var accepted = 0
        var refused = 0
        let now = nowMilliseconds
        if let report, report.feedIssues.isEmpty {
            // Most messages apply cleanly: those the report names are handled one by one below, the rest at once.
            let named = Set(report.issues.compactMap(\.messageId))
            for item in items where !named.contains(item.message) { accepted += 1 }
            try await sql.raw(
                """
                UPDATE listing_items SET synced_version = CASE WHEN synced_version < feed_version THEN feed_version
                        ELSE synced_version END,
                    sent_quantity = feed_quantity, sent_price = feed_price, sent_at = \(bind: now),
                    sent_route = 'feed', sent_reference = \(bind: feed.amazonFeedID), error_code = NULL,
                    error_message = NULL, error_at = NULL, feed_id = NULL
                WHERE feed_id = \(bind: feed.id)
                    AND feed_message NOT IN (\(binds: named.isEmpty ? [Int64(-1)] : named.sorted().map { Int64($0) }))
                """
            ).run()
        }
        for item in items
        where report == nil || !(report?.feedIssues.isEmpty ?? true)
            || !(report?.issues(ofMessage: item.message).isEmpty ?? true)
        {
            let key: SQLQueryString = """
                connection_id = \(bind: feed.connectionID.rawValue) AND marketplace_id = \(bind: feed.marketplaceID.rawValue)
                    AND merchant_sku = \(bind: item.merchantSKU.rawValue) AND facet = \(bind: item.facet.rawValue)
                """
            let issues = report?.issues(ofMessage: item.message) ?? []
            if report != nil, let issue = issues.first(where: \.isError) {
                refused += 1
                try await sql.raw(
                    """
                    UPDATE listing_items SET failed_version = CASE WHEN failed_version < \(bind: item.version) THEN \(bind: item.version)
                            ELSE failed_version END,
                        error_code = \(bind: issue.code),
                        error_message = \(bind: issue.attribute.map { "\($0): \(issue.message)" } ?? issue.message),
                        error_at = \(bind: now), feed_id = NULL
                    WHERE \(key)
                    """
                ).run()
            } else if report != nil {
                accepted += 1
                try await sql.raw(
                    """
                    UPDATE listing_items SET synced_version = CASE WHEN synced_version < \(bind: item.version) THEN \(bind: item.version)
                            ELSE synced_version END,
                        sent_quantity = feed_quantity, sent_price = feed_price, sent_at = \(bind: now), sent_route = 'feed',
                        sent_reference = \(bind: feed.amazonFeedID), error_code = NULL, error_message = NULL,
                        error_at = NULL, feed_id = NULL
                    WHERE \(key)
                    """
                ).run()
            } else if status == "fatal", items.count == 1 {
                refused += 1
                try await sql.raw(
                    """
                    UPDATE listing_items SET failed_version = CASE WHEN failed_version < \(bind: item.version)
                            THEN \(bind: item.version) ELSE failed_version END,
                        error_code = 'FEED_FATAL', error_message = \(bind: error ?? "Amazon could not process the feed"),
                        error_at = \(bind: now), feed_id = NULL
                    WHERE \(key)
                    """
                ).run()
            } else {
                try await sql.raw("UPDATE listing_items SET feed_id = NULL WHERE \(key)").run()
            }
        }
        try await sql.raw(
            """
            UPDATE listing_feeds SET status = \(bind: status), finished_at = \(bind: now),
                accepted = \(bind: Int64(accepted)), refused = \(bind: Int64(refused)), error = \(bind: error)
            WHERE id = \(bind: feed.id)
            """
        ).run()
        notes.note(.listings, for: [feed.connectionID])
        return accepted
    }

    // MARK: Reconciliation

    /// Up to `limit` quantity items of one marketplace to hold against Amazon's numbers: sent (nothing pending, in no
    /// feed, not refused) before `sentBefore`, the longest unchecked first.
    public func listingItemsToReconcile(
        connectionID: ConnectionID,
        sentBefore: Date,
        limit: Int
    ) async throws -> [ListingItem] {
        let settled: SQLQueryString = """
            connection_id = \(bind: connectionID.rawValue) AND facet = 'quantity' AND feed_id IS NULL
                AND version = synced_version AND sent_at <= \(bind: sentBefore.millisecondsSince1970)
            """
        guard
            let first = try await sql.raw(
                "SELECT marketplace_id FROM listing_items WHERE \(settled) ORDER BY reconciled_at LIMIT 1"
            ).first()
        else { return [] }
        let marketplace = try first.decode(column: "marketplace_id", as: String.self)
        return try await sql.raw(
            """
            SELECT * FROM listing_items WHERE \(settled) AND marketplace_id = \(bind: marketplace)
            ORDER BY reconciled_at, merchant_sku LIMIT \(literal: Int64(limit))
            """
        ).all().map(Self.listingItem)
    }

    /// The units of the connection's MFN orders of a marketplace placed from `since` on, per SKU and time placed:
    /// what Amazon took from the listings' quantities since.
    public func merchantOrderedUnits(
        connectionID: ConnectionID,
        marketplaceID: MarketplaceID,
        since: Date
    ) async throws -> [(sku: MerchantSKU, at: Date, units: Int)] {
        let rows = try await sql.raw(
            """
            SELECT amazon_created_at, shipment FROM orders WHERE connection_id = \(bind: connectionID.rawValue)
                AND source = \(bind: OrderSource.mfn.rawValue) AND marketplace_id = \(bind: marketplaceID.rawValue)
                AND amazon_created_at >= \(bind: since.millisecondsSince1970)
            """
        ).all()
        var units: [(sku: MerchantSKU, at: Date, units: Int)] = []
        for row in rows {
            let at = Date(millisecondsSince1970: try row.decode(column: "amazon_created_at", as: Int64.self))
            guard let facts = try? MerchantOrderFacts(document: try row.decode(column: "shipment", as: String.self))
            else { continue }
            for item in facts.items {
                if let sku = item.sellerSKU { units.append((sku, at, item.quantityOrdered)) }
            }
        }
        return units
    }

    /// Records a look at Amazon's number for the item; with `repair`, the item is made pending so that the
    /// warehouse's number goes again. A drift found is kept (with its time) until another is found.
    public func recordListingReconciled(
        _ item: ListingItem,
        amazonQuantity: Int?,
        drift: String?,
        repair: Bool
    ) async throws {
        let now = nowMilliseconds
        let stamp = Date(millisecondsSince1970: now).formatted(.iso8601)
        try await sql.raw(
            """
            UPDATE listing_items SET reconciled_at = \(bind: now), amazon_quantity = \(bind: amazonQuantity.map(Int64.init)),
                drift = COALESCE(\(bind: drift.map { "\(stamp): \($0)" }), drift)
                \(unsafeRaw: repair ? ", version = version + 1, changed_at = \(now)" : "")
            WHERE \(Self.listingKey(item)) AND version = \(bind: item.version)
            """
        ).run()
        if repair { notes.note(.listings, for: [item.connectionID]) }
    }

    static func listingKey(_ item: ListingItem) -> SQLQueryString {
        """
        connection_id = \(bind: item.connectionID.rawValue) AND marketplace_id = \(bind: item.marketplaceID.rawValue)
            AND merchant_sku = \(bind: item.merchantSKU.rawValue) AND facet = \(bind: item.facet.rawValue)
        """
    }

    static func listingItem(_ row: any SQLRow) throws -> ListingItem {
        func optionalInt(_ column: String) throws -> Int? {
            try row.decode(column: column, as: Int64?.self).map(Int.init)
        }
        let code = try row.decode(column: "error_code", as: String?.self)
        let marketplace = MarketplaceID(rawValue: try row.decode(column: "marketplace_id", as: String.self))
        func price(_ column: String) throws -> ListingPrice? {
            try row.decode(column: column, as: String?.self).map {
                try OfferText.decode($0, marketplaceID: marketplace)
            }
        }
        return ListingItem(
            connectionID: ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self)),
            marketplaceID: marketplace,
            merchantSKU: MerchantSKU(rawValue: try row.decode(column: "merchant_sku", as: String.self)),
            facet: ListingFacet(rawValue: try row.decode(column: "facet", as: String.self)) ?? .quantity,
            warehouseSKU: WarehouseSKU(rawValue: try row.decode(column: "warehouse_sku", as: String.self)),
            freeQuantity: Int(try row.decode(column: "free_quantity", as: Int64.self)),
            price: try price("price"),
            version: try row.decode(column: "version", as: Int64.self),
            syncedVersion: try row.decode(column: "synced_version", as: Int64.self),
            failedVersion: try row.decode(column: "failed_version", as: Int64.self),
            changedAt: Date(millisecondsSince1970: try row.decode(column: "changed_at", as: Int64.self)),
            sentQuantity: try optionalInt("sent_quantity"),
            sentPrice: try price("sent_price"),
            sentAt: try row.decode(column: "sent_at", as: Int64?.self).map(Date.init(millisecondsSince1970:)),
            sentRoute: try row.decode(column: "sent_route", as: String?.self),
            sentReference: try row.decode(column: "sent_reference", as: String?.self),
            feedID: try row.decode(column: "feed_id", as: String?.self),
            reconciledAt: try row.decode(column: "reconciled_at", as: Int64.self) > 0
                ? Date(millisecondsSince1970: try row.decode(column: "reconciled_at", as: Int64.self)) : nil,
            amazonQuantity: try optionalInt("amazon_quantity"),
            drift: try row.decode(column: "drift", as: String?.self),
            error: try code.map {
                ListingIssue(
                    code: $0,
                    message: try row.decode(column: "error_message", as: String?.self) ?? "",
                    severity: "ERROR",
                    attribute: nil
                )
            },
            trace: TraceContext(stored: try row.decode(column: "trace_context", as: String?.self))
        )
    }

    static func listingFeed(_ row: any SQLRow) throws -> ListingFeedRecord {
        ListingFeedRecord(
            id: try row.decode(column: "id", as: String.self),
            connectionID: ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self)),
            marketplaceID: MarketplaceID(rawValue: try row.decode(column: "marketplace_id", as: String.self)),
            amazonFeedID: try row.decode(column: "amazon_feed_id", as: String?.self),
            status: try row.decode(column: "status", as: String.self),
            items: Int(try row.decode(column: "items", as: Int64.self)),
            createdAt: Date(millisecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
            submittedAt: try row.decode(column: "submitted_at", as: Int64?.self).map(Date.init(millisecondsSince1970:)),
            checkedAt: try row.decode(column: "checked_at", as: Int64?.self).map(Date.init(millisecondsSince1970:)),
            unknownAmazonStatus: try row.decode(column: "unknown_amazon_status", as: String?.self)
        )
    }
}
