import FlexCore
import Foundation
import SQLKit

/// A merchant-fulfilled listing's stock as FlexBridge keeps it: the MFN hubs' summed units and what reached Amazon.
public struct ListingItem: Sendable, Hashable {
    public var connectionID: ConnectionID
    public var marketplaceID: MarketplaceID
    public var merchantSKU: MerchantSKU
    public var warehouseSKU: WarehouseSKU
    /// The MFN hubs' units of the SKU, summed.
    public var freeQuantity: Int
    public var version: Int64
    public var syncedVersion: Int64
    public var failedVersion: Int64
    public var changedAt: Date
    public var sentQuantity: Int?
    public var sentAt: Date?
    /// `patch` or `feed`.
    public var sentRoute: String?
    /// Amazon's submission id (patch) or feed id (feed).
    public var sentReference: String?
    /// The feed carrying the item now, FlexBridge's id.
    public var feedID: String?
    public var error: ListingIssue?

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
}

/// One item as a feed carries it: its message number, the quantity sent and the item's version then.
public struct ListingFeedItem: Sendable, Hashable {
    public var merchantSKU: MerchantSKU
    public var message: Int
    public var quantity: Int
    public var version: Int64
}

extension StoreSession {
    /// Brings the connection's MFN listing items in line with its listings, MFN hubs and marketplaces: each
    /// merchant-fulfilled listing in an MFN marketplace that no Seller Flex location serves gets the MFN hubs' units summed (its
    /// version bumped when they change); items no longer so are dropped unless a feed carries them. Returns how
    /// many items changed. With `changedSince`, only listings changed or whose stock changed from then on are
    /// summed again, and none is dropped: the cheap refresh of a busy connection between full ones.
    @discardableResult
    public func refreshListingItems(connectionID: ConnectionID, changedSince: Date? = nil) async throws -> Int {
        guard let connection = try await connection(connectionID) else { return 0 }
        let marketplaces = connection.mfnStockMarketplaceIDs.map(\.rawValue)
        guard !marketplaces.isEmpty else {
            try await sql.raw(
                "DELETE FROM listing_items WHERE connection_id = \(bind: connectionID.rawValue) AND feed_id IS NULL"
            ).run()
            return 0
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
            INSERT INTO listing_items (connection_id, marketplace_id, merchant_sku, warehouse_sku, free_quantity,
                version, changed_at)
            SELECT l.connection_id, l.marketplace_id, l.merchant_sku, l.warehouse_sku,
                COALESCE((SELECT SUM(s.quantity) FROM stock_levels s WHERE s.warehouse_sku = l.warehouse_sku
                    AND s.account_id = \(bind: connection.accountID.rawValue) AND s.hub IN (\(binds: hubs))), 0),
                1, \(bind: now)
            \(keep)
            ORDER BY l.marketplace_id\(unsafeRaw: binary), l.merchant_sku\(unsafeRaw: binary)
            ON CONFLICT (connection_id, marketplace_id, merchant_sku) DO UPDATE SET
                free_quantity = excluded.free_quantity, warehouse_sku = excluded.warehouse_sku,
                version = listing_items.version + 1, changed_at = excluded.changed_at
            WHERE listing_items.free_quantity <> excluded.free_quantity
                OR listing_items.warehouse_sku <> excluded.warehouse_sku
            RETURNING merchant_sku
            """
        ).all().count
        guard changedSince == nil else { return changed }
        try await sql.raw(
            """
            DELETE FROM listing_items WHERE connection_id = \(bind: connectionID.rawValue) AND feed_id IS NULL
                AND NOT EXISTS (SELECT 1 FROM listings l WHERE l.connection_id = listing_items.connection_id
                    AND l.marketplace_id = listing_items.marketplace_id AND l.merchant_sku = listing_items.merchant_sku
                    AND l.marketplace_id IN (\(binds: marketplaces)) AND l.fulfilled_by = 'MERCHANT'
                    AND NOT EXISTS (SELECT 1 FROM inventory_items i WHERE i.connection_id = l.connection_id
                        AND i.merchant_sku = l.merchant_sku))
            """
        ).run()
        return changed
    }

    /// Makes every MFN listing item of the connection pending again (its buffers, cap or handling time changed).
    public func markListingItemsPending(connectionID: ConnectionID) async throws {
        try await lockListingItems("connection_id = \(bind: connectionID.rawValue)")
        try await sql.raw(
            """
            UPDATE listing_items SET version = version + 1, changed_at = \(bind: nowMilliseconds)
            WHERE connection_id = \(bind: connectionID.rawValue)
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
            ORDER BY marketplace_id COLLATE "C", merchant_sku COLLATE "C" FOR UPDATE
            """
        ).run()
    }

    static let pendingListing: SQLQueryString =
        "version > synced_version AND version > failed_version AND feed_id IS NULL"

    /// How many items of the connection wait to be sent (not in a feed, not waiting to retry).
    public func pendingListingCount(connectionID: ConnectionID) async throws -> Int {
        let row = try await sql.raw(
            """
            SELECT COUNT(*) AS n FROM listing_items WHERE connection_id = \(bind: connectionID.rawValue)
                AND \(Self.pendingListing) AND retry_at <= \(bind: nowMilliseconds)
            """
        ).first()
        return Int(try row?.decode(column: "n", as: Int64.self) ?? 0)
    }

    /// The oldest pending items of the connection (of one marketplace, when named), oldest change first.
    public func pendingListingItems(
        connectionID: ConnectionID,
        marketplaceID: MarketplaceID? = nil,
        limit: Int
    ) async throws -> [ListingItem] {
        var query: SQLQueryString = """
            SELECT * FROM listing_items WHERE connection_id = \(bind: connectionID.rawValue)
                AND \(Self.pendingListing) AND retry_at <= \(bind: nowMilliseconds)
            """
        if let marketplaceID { query += " AND marketplace_id = \(bind: marketplaceID.rawValue)" }
        query += " ORDER BY changed_at, marketplace_id, merchant_sku LIMIT \(bind: Int64(limit))"
        return try await sql.raw(query).all().map(Self.listingItem)
    }

    /// Every MFN listing item of the connection, by marketplace and SKU.
    public func listingItems(
        connectionID: ConnectionID,
        after: MerchantSKU? = nil,
        limit: Int = 1000
    ) async throws
        -> [ListingItem]
    {
        var query: SQLQueryString = "SELECT * FROM listing_items WHERE connection_id = \(bind: connectionID.rawValue)"
        if let after { query += " AND merchant_sku > \(bind: after.rawValue)" }
        query += " ORDER BY merchant_sku, marketplace_id LIMIT \(bind: Int64(limit))"
        return try await sql.raw(query).all().map(Self.listingItem)
    }

    /// Amazon took the quantity of version `version` by patch.
    public func recordListingSent(
        _ item: ListingItem,
        version: Int64,
        quantity: Int,
        route: String,
        reference: String?
    ) async throws {
        try await sql.raw(
            """
            UPDATE listing_items SET synced_version = \(bind: version), sent_quantity = \(bind: Int64(quantity)),
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
    public func recordListingRetry(_ item: ListingItem, at: Date, reason: String) async throws {
        try await sql.raw(
            """
            UPDATE listing_items SET retry_at = \(bind: at.millisecondsSince1970), error_code = 'AMAZON_UNAVAILABLE',
                error_message = \(bind: String(reason.prefix(500))), error_at = \(bind: nowMilliseconds)
            WHERE \(Self.listingKey(item))
            """
        ).run()
    }

    /// Writes a feed (preparing) carrying `items` with the quantities to send, numbered from 1 in the order given;
    /// the items are the feed's until it finishes. Returns the feed's id.
    public func prepareListingFeed(
        connectionID: ConnectionID,
        marketplaceID: MarketplaceID,
        items: [(item: ListingItem, quantity: Int)]
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
        // One statement per 500 items, found by key; each item's quantity and message number by a CASE on its SKU.
        try await lockListingItems(
            """
            connection_id = \(bind: connectionID.rawValue) AND marketplace_id = \(bind: marketplaceID.rawValue)
                AND merchant_sku IN (\(binds: items.map(\.item.merchantSKU.rawValue)))
            """
        )
        for start in stride(from: 0, to: items.count, by: 500) {
            let chunk = Array(items[start..<min(items.count, start + 500)])
            var quantities: SQLQueryString = "CASE merchant_sku"
            var messages: SQLQueryString = "CASE merchant_sku"
            for (offset, entry) in chunk.enumerated() {
                let sku = entry.item.merchantSKU.rawValue
                quantities += " WHEN \(bind: sku) THEN \(bind: Int64(entry.quantity))"
                messages += " WHEN \(bind: sku) THEN \(bind: Int64(start + offset + 1))"
            }
            quantities += " END"
            messages += " END"
            try await sql.raw(
                """
                UPDATE listing_items SET feed_id = \(bind: id), feed_version = version, feed_quantity = \(quantities),
                    feed_message = \(messages)
                WHERE connection_id = \(bind: connectionID.rawValue) AND marketplace_id = \(bind: marketplaceID.rawValue)
                    AND merchant_sku IN (\(binds: chunk.map(\.item.merchantSKU.rawValue))) AND feed_id IS NULL
                """
            ).run()
        }
        return id
    }

    /// The items a feed carries, by message number.
    public func listingFeedItems(feedID: String) async throws -> [ListingFeedItem] {
        try await sql.raw(
            """
            SELECT merchant_sku, feed_message, feed_quantity, feed_version FROM listing_items
            WHERE feed_id = \(bind: feedID) ORDER BY feed_message
            """
        ).all().map {
            ListingFeedItem(
                merchantSKU: MerchantSKU(rawValue: try $0.decode(column: "merchant_sku", as: String.self)),
                message: Int(try $0.decode(column: "feed_message", as: Int64.self)),
                quantity: Int(try $0.decode(column: "feed_quantity", as: Int64.self)),
                version: try $0.decode(column: "feed_version", as: Int64.self)
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
            ORDER BY sequence DESC LIMIT \(bind: Int64(limit))
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

    /// The feed was looked at and is still being processed.
    public func recordListingFeedChecked(_ feedID: String) async throws {
        try await sql.raw(
            "UPDATE listing_feeds SET checked_at = \(bind: nowMilliseconds) WHERE id = \(bind: feedID)"
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
                    sent_quantity = feed_quantity, sent_at = \(bind: now), sent_route = 'feed',
                    sent_reference = \(bind: feed.amazonFeedID), error_code = NULL, error_message = NULL,
                    error_at = NULL, feed_id = NULL
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
                    AND merchant_sku = \(bind: item.merchantSKU.rawValue)
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
                        sent_quantity = \(bind: Int64(item.quantity)), sent_at = \(bind: now), sent_route = 'feed',
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

    static func listingKey(_ item: ListingItem) -> SQLQueryString {
        """
        connection_id = \(bind: item.connectionID.rawValue) AND marketplace_id = \(bind: item.marketplaceID.rawValue)
            AND merchant_sku = \(bind: item.merchantSKU.rawValue)
        """
    }

    static func listingItem(_ row: any SQLRow) throws -> ListingItem {
        func optionalInt(_ column: String) throws -> Int? {
            try row.decode(column: column, as: Int64?.self).map(Int.init)
        }
        let code = try row.decode(column: "error_code", as: String?.self)
        return ListingItem(
            connectionID: ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self)),
            marketplaceID: MarketplaceID(rawValue: try row.decode(column: "marketplace_id", as: String.self)),
            merchantSKU: MerchantSKU(rawValue: try row.decode(column: "merchant_sku", as: String.self)),
            warehouseSKU: WarehouseSKU(rawValue: try row.decode(column: "warehouse_sku", as: String.self)),
            freeQuantity: Int(try row.decode(column: "free_quantity", as: Int64.self)),
            version: try row.decode(column: "version", as: Int64.self),
            syncedVersion: try row.decode(column: "synced_version", as: Int64.self),
            failedVersion: try row.decode(column: "failed_version", as: Int64.self),
            changedAt: Date(millisecondsSince1970: try row.decode(column: "changed_at", as: Int64.self)),
            sentQuantity: try optionalInt("sent_quantity"),
            sentAt: try row.decode(column: "sent_at", as: Int64?.self).map(Date.init(millisecondsSince1970:)),
            sentRoute: try row.decode(column: "sent_route", as: String?.self),
            sentReference: try row.decode(column: "sent_reference", as: String?.self),
            feedID: try row.decode(column: "feed_id", as: String?.self),
            error: try code.map {
                ListingIssue(
                    code: $0,
                    message: try row.decode(column: "error_message", as: String?.self) ?? "",
                    severity: "ERROR",
                    attribute: nil
                )
            }
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
            checkedAt: try row.decode(column: "checked_at", as: Int64?.self).map(Date.init(millisecondsSince1970:))
        )
    }
}
