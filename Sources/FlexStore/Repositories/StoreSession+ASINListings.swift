import Algorithms
import FlexCore
import Foundation
import SQLKit

/// A listing given by its ASIN only, and what Amazon's listings of the seller said of its SKU.
public struct ASINListing: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, CaseIterable {
        /// Not looked up yet.
        case pending
        /// One SKU found: the listing is made with it.
        case resolved
        /// Amazon lists no SKU of the seller for it (as fulfilled): looked at again later.
        case none
        /// Amazon lists several: none is chosen (looked at again later).
        case several
        /// Amazon refused the search (looked at again later).
        case failed
    }

    public var connectionID: ConnectionID
    public var marketplaceID: MarketplaceID
    public var asin: ASIN
    public var warehouseSKU: WarehouseSKU
    public var fulfilledBy: Listing.FulfilledBy
    public var status: Status
    /// The SKUs Amazon named: the one chosen, or those found when several.
    public var merchantSKUs: [MerchantSKU]
    public var message: String?
    public var checkedAt: Date?
}

extension StoreSession {
    /// Records listings given by their ASIN only, each to be looked up (again) at Amazon.
    public func recordASINListings(_ listings: [Listing]) async throws {
        // One row per ASIN and marketplace: of the same one twice, the later stands.
        var latest: [String: Listing] = [:]
        for listing in listings {
            latest["\(listing.connectionID)\u{1F}\(listing.marketplaceID)\u{1F}\(listing.asin)"] = listing
        }
        let listings = latest.keys.sorted().compactMap { latest[$0] }
        let now = nowMilliseconds
        notes.note(.listings, for: Set(listings.map(\.connectionID)))
        for chunk in listings.chunks(ofCount: 500) {
            let insert = sql.insert(into: "asin_listings")
                .columns(
                    "connection_id",
                    "marketplace_id",
                    "asin",
                    "warehouse_sku",
                    "fulfilled_by",
                    "status",
                    "created_at"
                )
            for listing in chunk {
                insert.values(
                    SQLBind(listing.connectionID.rawValue),
                    SQLBind(listing.marketplaceID.rawValue),
                    SQLBind(listing.asin.rawValue),
                    SQLBind(listing.warehouseSKU.rawValue),
                    SQLBind(listing.fulfilledBy.rawValue),
                    SQLBind(ASINListing.Status.pending.rawValue),
                    SQLBind(now)
                )
            }
            insert.onConflict(with: ["connection_id", "marketplace_id", "asin"]) { update in
                update.set(excludedValueOf: "warehouse_sku").set(excludedValueOf: "fulfilled_by")
                    .set(excludedValueOf: "status").set("message", to: SQLLiteral.null)
            }
            try await insert.run()
        }
    }

    /// The connection's ASIN listings to look up now: those pending, and those not found (none, several, failed)
    /// last looked at `recheckAfter` ago or more; oldest first.
    public func dueASINListings(
        connectionID: ConnectionID,
        recheckAfter: TimeInterval,
        limit: Int
    ) async throws -> [ASINListing] {
        let before = nowMilliseconds - Int64(recheckAfter * 1000)
        return try await sql.raw(
            """
            SELECT * FROM asin_listings WHERE connection_id = \(bind: connectionID.rawValue)
                AND (status = 'pending' OR (status IN ('none', 'several', 'failed')
                    AND checked_at <= \(bind: before)))
            ORDER BY marketplace_id, COALESCE(checked_at, 0), asin LIMIT \(literal: Int64(limit))
            """
        ).all().map(Self.asinListing)
    }

    /// Records what Amazon said of an ASIN listing; with one SKU, the listing is made (or updated) with it.
    public func resolveASINListing(_ listing: ASINListing, as resolution: ASINResolution) async throws {
        let status: ASINListing.Status
        let skus: [MerchantSKU]
        let message: String?
        switch resolution {
        case .sku(let sku):
            try await upsertListings(
                [
                    Listing(
                        connectionID: listing.connectionID,
                        marketplaceID: listing.marketplaceID,
                        warehouseSKU: listing.warehouseSKU,
                        merchantSKU: sku,
                        asin: listing.asin,
                        updatedAt: Date(millisecondsSince1970: nowMilliseconds),
                        fulfilledBy: listing.fulfilledBy
                    )
                ],
                keepingASINListings: true
            )
            (status, skus, message) = (.resolved, [sku], nil)
        case .none(let reason):
            (status, skus, message) = (.none, [], reason)
        case .several(let found, let reason):
            (status, skus, message) = (.several, found, reason)
        }
        try await recordASINListingStatus(listing, status: status, skus: skus, message: message)
    }

    /// Amazon refused to look the ASIN up: said, and looked at again later.
    public func recordASINListingFailed(_ listing: ASINListing, message: String) async throws {
        try await recordASINListingStatus(listing, status: .failed, skus: [], message: String(message.prefix(500)))
    }

    func recordASINListingStatus(
        _ listing: ASINListing,
        status: ASINListing.Status,
        skus: [MerchantSKU],
        message: String?
    ) async throws {
        try await sql.raw(
            """
            UPDATE asin_listings SET status = \(bind: status.rawValue),
                merchant_skus = \(bind: skus.map(\.rawValue).joined(separator: "\n")), message = \(bind: message),
                checked_at = \(bind: nowMilliseconds)
            WHERE connection_id = \(bind: listing.connectionID.rawValue)
                AND marketplace_id = \(bind: listing.marketplaceID.rawValue) AND asin = \(bind: listing.asin.rawValue)
                AND warehouse_sku = \(bind: listing.warehouseSKU.rawValue)
            """
        ).run()
    }

    /// The connection's ASIN listings, by marketplace and ASIN; of one status when named; after a key when paging.
    public func asinListings(
        connectionID: ConnectionID,
        status: ASINListing.Status? = nil,
        after: (marketplaceID: MarketplaceID, asin: ASIN)? = nil,
        limit: Int = 100
    ) async throws -> [ASINListing] {
        var query: SQLQueryString = "SELECT * FROM asin_listings WHERE connection_id = \(bind: connectionID.rawValue)"
        if let status { query += " AND status = \(bind: status.rawValue)" }
        if let after {
            let marketplace = after.marketplaceID.rawValue
            query +=
                """
                 AND (marketplace_id > \(bind: marketplace) OR (marketplace_id = \(bind: marketplace)
                    AND asin > \(bind: after.asin.rawValue)))
                """
        }
        query += " ORDER BY marketplace_id, asin LIMIT \(literal: Int64(limit))"
        return try await sql.raw(query).all().map(Self.asinListing)
    }

    /// Forgets the ASIN listings that these listings name by SKU now.
    func dropASINListings(namedBy listings: [Listing]) async throws {
        for (connection, ofConnection) in Dictionary(grouping: listings, by: \.connectionID) {
            // Most connections have none: one look spares a large import its deletes.
            guard
                try await sql.raw(
                    "SELECT 1 AS n FROM asin_listings WHERE connection_id = \(bind: connection.rawValue) LIMIT 1"
                ).first() != nil
            else { continue }
            for chunk in ofConnection.chunks(ofCount: 500) {
                var keys: [SQLQueryString] = []
                for listing in chunk {
                    keys.append(
                        "(marketplace_id = \(bind: listing.marketplaceID.rawValue) AND asin = \(bind: listing.asin.rawValue))"
                    )
                }
                try await sql.raw(
                    """
                    DELETE FROM asin_listings WHERE connection_id = \(bind: connection.rawValue)
                        AND (\(keys.joined(separator: " OR ")))
                    """
                ).run()
            }
        }
    }

    static func asinListing(_ row: any SQLRow) throws -> ASINListing {
        ASINListing(
            connectionID: ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self)),
            marketplaceID: MarketplaceID(rawValue: try row.decode(column: "marketplace_id", as: String.self)),
            asin: ASIN(rawValue: try row.decode(column: "asin", as: String.self)),
            warehouseSKU: WarehouseSKU(rawValue: try row.decode(column: "warehouse_sku", as: String.self)),
            fulfilledBy: Listing.FulfilledBy(rawValue: try row.decode(column: "fulfilled_by", as: String.self))
                ?? .amazon,
            status: ASINListing.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .pending,
            merchantSKUs: (try row.decode(column: "merchant_skus", as: String?.self) ?? "")
                .split(separator: "\n").map { MerchantSKU(rawValue: String($0)) },
            message: try row.decode(column: "message", as: String?.self),
            checkedAt: try row.decode(column: "checked_at", as: Int64?.self).map(Date.init(millisecondsSince1970:))
        )
    }
}
