import Algorithms
import FlexCore
import Foundation
import SQLKit

/// What a price write did: how many prices changed, and how many (SKU, marketplace) no listing of the account
/// sells yet — their price is kept and reaches Amazon once a listing names them.
public struct PriceWrite: Sendable, Hashable {
    public var changed: Int
    public var unlisted: Int
}

/// A price as FlexBridge keeps it, with when the WMS last changed it.
public struct StoredPrice: Sendable, Hashable {
    public var warehouseSKU: WarehouseSKU
    public var price: ListingPrice
    public var updatedAt: Date
}

/// A price as one canonical JSON text (amounts as decimal text, times in milliseconds): the store compares texts to
/// tell a change, and a listing item carries the text it sent.
enum OfferText {
    struct Stored: Codable {
        var currency: String
        var amount: String
        var salePrice: String?
        var saleStart: Int64?
        var saleEnd: Int64?
        var minimum: String?
        var maximum: String?
    }

    static func encode(_ price: ListingPrice) -> String {
        let stored = Stored(
            currency: price.currency,
            amount: "\(price.amount)",
            salePrice: price.salePrice.map { "\($0)" },
            saleStart: price.saleStart?.millisecondsSince1970,
            saleEnd: price.saleEnd?.millisecondsSince1970,
            minimum: price.minimum.map { "\($0)" },
            maximum: price.maximum.map { "\($0)" }
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding strings and integers cannot fail.
        return String(decoding: (try? encoder.encode(stored)) ?? Data(), as: UTF8.self)
    }

    static func decode(_ text: String, marketplaceID: MarketplaceID) throws -> ListingPrice {
        let stored = try JSONDecoder().decode(Stored.self, from: Data(text.utf8))
        func decimal(_ text: String?) -> Decimal? { text.flatMap { Decimal(string: $0) } }
        return ListingPrice(
            marketplaceID: marketplaceID,
            currency: stored.currency,
            amount: decimal(stored.amount) ?? 0,
            salePrice: decimal(stored.salePrice),
            saleStart: stored.saleStart.map(Date.init(millisecondsSince1970:)),
            saleEnd: stored.saleEnd.map(Date.init(millisecondsSince1970:)),
            minimum: decimal(stored.minimum),
            maximum: decimal(stored.maximum)
        )
    }
}

extension StoreSession {
    /// The most prices one write takes.
    public static let maximumPricesPerWrite = 100_000

    /// Records the WMS's prices (absolute: a price sent twice changes nothing). Every price is checked first and one
    /// bad price refuses the write, named by its index. The account's connections are woken to send the changes.
    /// `trace`: the traced request the prices came with, kept with each price it changes for its send to continue.
    public func recordPrices(
        _ prices: [SKUPrice],
        account: AccountID,
        trace: TraceContext? = nil
    ) async throws -> PriceWrite {
        guard prices.count <= Self.maximumPricesPerWrite else {
            throw ValidationError(
                field: "items",
                reason: "holds \(prices.count) prices; at most \(Self.maximumPricesPerWrite) per write"
            )
        }
        var latest: [String: (index: Int, price: SKUPrice)] = [:]
        for (index, entry) in prices.enumerated() {
            do throws(ValidationError) {
                if entry.warehouseSKU.rawValue.isEmpty {
                    throw ValidationError(field: "sku", reason: "must not be empty")
                }
                if entry.warehouseSKU.rawValue.count > StockLevel.maximumSKULength {
                    throw ValidationError(
                        field: "sku",
                        reason: "must be at most \(StockLevel.maximumSKULength) characters, got "
                            + "\(entry.warehouseSKU.rawValue.count)"
                    )
                }
                try entry.price.validate()
            } catch {
                throw ValidationError(field: "items[\(index)].\(error.field)", reason: error.reason)
            }
            let key = "\(entry.price.marketplaceID)\u{1F}\(entry.warehouseSKU)"
            if let first = latest[key] {
                throw ValidationError(
                    field: "items[\(index)].sku",
                    reason: "\"\(entry.warehouseSKU)\" is priced already by items[\(first.index)] for "
                        + "\(entry.price.marketplaceID)"
                )
            }
            latest[key] = (index, entry)
        }
        // Rows in one order, whatever order the WMS sent them in: two writes sharing SKUs wait for each other
        // instead of deadlocking on PostgreSQL.
        let sorted = latest.values.map(\.price).sorted {
            ($0.price.marketplaceID.rawValue, $0.warehouseSKU.rawValue)
                < ($1.price.marketplaceID.rawValue, $1.warehouseSKU.rawValue)
        }
        let now = nowMilliseconds
        var changed = 0
        for chunk in sorted.chunks(ofCount: 500) {
            var values: [SQLQueryString] = []
            for entry in chunk {
                values.append(
                    """
                    (\(bind: account.rawValue), \(bind: entry.price.marketplaceID.rawValue), \(bind: entry.warehouseSKU.rawValue),
                        \(bind: OfferText.encode(entry.price)), \(bind: now), \(bind: trace?.stored))
                    """
                )
            }
            changed += try await sql.raw(
                """
                INSERT INTO prices (account_id, marketplace_id, warehouse_sku, offer, updated_at, trace_context)
                VALUES \(values.joined(separator: ", "))
                ON CONFLICT (account_id, marketplace_id, warehouse_sku) DO UPDATE SET offer = excluded.offer,
                    updated_at = excluded.updated_at, trace_context = excluded.trace_context
                WHERE prices.offer <> excluded.offer
                RETURNING warehouse_sku
                """
            ).all().count
        }
        var listed: Set<String> = []
        for chunk in Set(sorted.map(\.warehouseSKU.rawValue)).sorted().chunks(ofCount: 500) {
            let rows = try await sql.raw(
                """
                SELECT DISTINCT l.marketplace_id, l.warehouse_sku FROM listings l
                    JOIN connections c ON c.id = l.connection_id
                WHERE c.account_id = \(bind: account.rawValue) AND l.warehouse_sku IN (\(binds: Array(chunk)))
                """
            ).all()
            for row in rows {
                listed.insert(
                    "\(try row.decode(column: "marketplace_id", as: String.self))\u{1F}"
                        + (try row.decode(column: "warehouse_sku", as: String.self))
                )
            }
        }
        let unlisted = latest.keys.filter { !listed.contains($0) }.count
        if changed > 0 {
            let woken = try await connections(of: account).map(\.id)
            notes.note(.listings, for: woken)
        }
        return PriceWrite(changed: changed, unlisted: unlisted)
    }

    /// The account's prices by SKU and marketplace, after a (SKU, marketplace) when paging; of one SKU when named.
    public func prices(
        account: AccountID,
        sku: WarehouseSKU? = nil,
        after: (sku: WarehouseSKU, marketplaceID: MarketplaceID)? = nil,
        limit: Int = 100
    ) async throws -> [StoredPrice] {
        var query: SQLQueryString = "SELECT * FROM prices WHERE account_id = \(bind: account.rawValue)"
        if let sku { query += " AND warehouse_sku = \(bind: sku.rawValue)" }
        if let after {
            query +=
                """
                 AND (warehouse_sku > \(bind: after.sku.rawValue) OR (warehouse_sku = \(bind: after.sku.rawValue)
                    AND marketplace_id > \(bind: after.marketplaceID.rawValue)))
                """
        }
        query += " ORDER BY warehouse_sku, marketplace_id"
        query += " LIMIT \(literal: Int64(limit))"
        return try await sql.raw(query).all().map { row in
            StoredPrice(
                warehouseSKU: WarehouseSKU(rawValue: try row.decode(column: "warehouse_sku", as: String.self)),
                price: try OfferText.decode(
                    try row.decode(column: "offer", as: String.self),
                    marketplaceID: MarketplaceID(rawValue: try row.decode(column: "marketplace_id", as: String.self))
                ),
                updatedAt: Date(millisecondsSince1970: try row.decode(column: "updated_at", as: Int64.self))
            )
        }
    }
}
