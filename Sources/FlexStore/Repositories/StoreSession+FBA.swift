import Algorithms
import FlexCore
import Foundation
import SQLKit

/// FBA stock as FlexBridge holds it, with the WMS SKUs its listings map it to.
public struct StoredFBAStock: Sendable, Hashable {
    public var connectionID: ConnectionID
    public var stock: FBAStock
    /// The WMS SKUs of the connection's listings of this SKU in this marketplace.
    public var warehouseSKUs: [WarehouseSKU]
    /// When FlexBridge last saw it change.
    public var changedAt: Date
}

/// How far a marketplace's FBA stock has been read.
public struct FBAWatermark: Sendable, Hashable {
    /// Amazon's changes are asked for from here on.
    public var changedSince: Date
    /// The last read of every SKU.
    public var fullAt: Date

    public init(changedSince: Date, fullAt: Date) {
        self.changedSince = changedSince
        self.fullAt = fullAt
    }
}

extension StoreSession {
    /// Records what Amazon reported of a marketplace's FBA stock: each SKU whose units differ from what FlexBridge
    /// held is written, with a `stock.fba_changed` event unless `quietly` (the first read of a marketplace, which
    /// would announce every SKU). Returns the SKUs that changed.
    /// With `onlyNewer` (a notification, which may arrive after a later read), a report older than what FlexBridge
    /// holds is left out.
    @discardableResult
    public func recordFBAStock(
        _ stock: [FBAStock],
        connectionID: ConnectionID,
        quietly: Bool = false,
        onlyNewer: Bool = false
    ) async throws -> [FBAStock] {
        guard !stock.isEmpty else { return [] }
        var changed: [FBAStock] = []
        let now = nowMilliseconds
        for (marketplace, reports) in Dictionary(grouping: stock, by: \.marketplaceID) {
            for chunk in reports.sorted(by: { $0.sku < $1.sku }).chunks(ofCount: 500) {
                let held = try await fbaStock(
                    connectionID: connectionID,
                    marketplaceID: marketplace,
                    skus: chunk.map(\.sku)
                )
                let byKey = Dictionary(held.map { ($0.stock.sku, $0.stock) }, uniquingKeysWith: { first, _ in first })
                let fresh = chunk.filter { report in
                    guard let held = byKey[report.sku] else { return true }
                    if onlyNewer, let heldAt = held.updatedAt, let reportedAt = report.updatedAt, reportedAt < heldAt {
                        return false
                    }
                    return !held.sameUnits(as: report)
                }
                guard !fresh.isEmpty else { continue }
                var values: [SQLQueryString] = []
                for report in fresh {
                    values.append(
                        """
                        (\(bind: connectionID.rawValue), \(bind: marketplace.rawValue), \(bind: report.sku.rawValue),
                            \(bind: report.asin), \(bind: report.fnSku), \(bind: report.productName),
                            \(bind: Int64(report.fulfillable)), \(bind: Int64(report.inboundWorking)),
                            \(bind: Int64(report.inboundShipped)), \(bind: Int64(report.inboundReceiving)),
                            \(bind: Int64(report.reserved)), \(bind: Int64(report.researching)),
                            \(bind: Int64(report.unfulfillable)), \(bind: Int64(report.total)),
                            \(bind: report.updatedAt?.millisecondsSince1970), \(bind: now))
                        """
                    )
                }
                try await sql.raw(
                    """
                    INSERT INTO fba_stock (connection_id, marketplace_id, merchant_sku, asin, fn_sku, product_name,
                        fulfillable, inbound_working, inbound_shipped, inbound_receiving, reserved, researching,
                        unfulfillable, total, amazon_updated_at, updated_at)
                    VALUES \(values.joined(separator: ", "))
                    ON CONFLICT (connection_id, marketplace_id, merchant_sku) DO UPDATE SET asin = excluded.asin,
                        fn_sku = excluded.fn_sku, product_name = excluded.product_name,
                        fulfillable = excluded.fulfillable, inbound_working = excluded.inbound_working,
                        inbound_shipped = excluded.inbound_shipped, inbound_receiving = excluded.inbound_receiving,
                        reserved = excluded.reserved, researching = excluded.researching,
                        unfulfillable = excluded.unfulfillable, total = excluded.total,
                        amazon_updated_at = excluded.amazon_updated_at, updated_at = excluded.updated_at
                    """
                ).run()
                changed += fresh
            }
        }
        if !quietly, !changed.isEmpty {
            let skus = try await warehouseSKUs(connectionID: connectionID, of: changed)
            try await appendEvents(
                try changed.map { report in
                    let warehouse = "fba-\(report.marketplaceID.rawValue)"
                    let payload: [String: JSONValue] = [
                        "warehouseId": .string(warehouse),
                        "marketplaceId": .string(report.marketplaceID.rawValue),
                        "merchantSku": .string(report.sku.rawValue),
                        "warehouseSkus": .array(
                            (skus["\(report.marketplaceID)\u{1F}\(report.sku)"] ?? []).map { .string($0.rawValue) }
                        ),
                        "fulfillable": .number(Double(report.fulfillable)),
                        "inbound": .number(
                            Double(report.inboundWorking + report.inboundShipped + report.inboundReceiving)
                        ),
                        "reserved": .number(Double(report.reserved)),
                        "unfulfillable": .number(Double(report.unfulfillable)),
                        "total": .number(Double(report.total)),
                    ]
                    return NewEvent(
                        type: "stock.fba_changed",
                        connectionID: connectionID,
                        subject: "\(warehouse)/\(report.sku.rawValue)",
                        payload: try Self.json(payload)
                    )
                }
            )
        }
        return changed
    }

    /// Takes an FBA_INVENTORY_AVAILABILITY_CHANGES notification: the SKU's stock in each marketplace it names, for
    /// every active connection of the seller reading FBA stock there (unless FlexBridge holds a newer report).
    /// Returns the connections it changed.
    public func recordFBANotification(
        sellingPartnerID: SellingPartnerID,
        stock: [FBAStock]
    ) async throws
        -> [ConnectionID]
    {
        var changed: [ConnectionID] = []
        for connection in try await connections()
        where connection.sellingPartnerID == sellingPartnerID && connection.status == .active
            && connection.settings.fbaStockSyncEnabled
        {
            let ours = stock.filter { connection.marketplaceIDs.contains($0.marketplaceID) }
            guard !ours.isEmpty else { continue }
            if !(try await recordFBAStock(ours, connectionID: connection.id, onlyNewer: true)).isEmpty {
                changed.append(connection.id)
            }
        }
        return changed
    }

    /// The WMS SKUs the connection's listings map each (marketplace, merchant SKU) of `stock` to.
    func warehouseSKUs(connectionID: ConnectionID, of stock: [FBAStock]) async throws -> [String: [WarehouseSKU]] {
        var found: [String: [WarehouseSKU]] = [:]
        for chunk in Set(stock.map(\.sku.rawValue)).sorted().chunks(ofCount: 500) {
            let rows = try await sql.raw(
                """
                SELECT marketplace_id, merchant_sku, warehouse_sku FROM listings
                WHERE connection_id = \(bind: connectionID.rawValue) AND merchant_sku IN (\(binds: Array(chunk)))
                ORDER BY warehouse_sku
                """
            ).all()
            for row in rows {
                let key =
                    "\(try row.decode(column: "marketplace_id", as: String.self))\u{1F}"
                    + (try row.decode(column: "merchant_sku", as: String.self))
                found[key, default: []].append(
                    WarehouseSKU(rawValue: try row.decode(column: "warehouse_sku", as: String.self))
                )
            }
        }
        return found
    }

    /// The connection's FBA stock in a marketplace: of the SKUs named, or all of them by SKU after `after`.
    public func fbaStock(
        connectionID: ConnectionID,
        marketplaceID: MarketplaceID,
        skus: [MerchantSKU]? = nil,
        after: MerchantSKU? = nil,
        limit: Int = 1000
    ) async throws -> [StoredFBAStock] {
        var query: SQLQueryString = """
            SELECT * FROM fba_stock WHERE connection_id = \(bind: connectionID.rawValue)
                AND marketplace_id = \(bind: marketplaceID.rawValue)
            """
        if let skus {
            guard !skus.isEmpty else { return [] }
            query += " AND merchant_sku IN (\(binds: skus.map(\.rawValue)))"
        }
        if let after { query += " AND merchant_sku > \(bind: after.rawValue)" }
        query += " ORDER BY merchant_sku LIMIT \(literal: Int64(limit))"
        let rows = try await sql.raw(query).all()
        let stock = try rows.map { row -> (FBAStock, Date) in
            func count(_ column: String) throws -> Int { Int(try row.decode(column: column, as: Int64.self)) }
            return (
                FBAStock(
                    marketplaceID: marketplaceID,
                    sku: MerchantSKU(rawValue: try row.decode(column: "merchant_sku", as: String.self)),
                    asin: try row.decode(column: "asin", as: String?.self),
                    fnSku: try row.decode(column: "fn_sku", as: String?.self),
                    productName: try row.decode(column: "product_name", as: String?.self),
                    fulfillable: try count("fulfillable"),
                    inboundWorking: try count("inbound_working"),
                    inboundShipped: try count("inbound_shipped"),
                    inboundReceiving: try count("inbound_receiving"),
                    reserved: try count("reserved"),
                    researching: try count("researching"),
                    unfulfillable: try count("unfulfillable"),
                    total: try count("total"),
                    updatedAt: try row.decode(column: "amazon_updated_at", as: Int64?.self)
                        .map(Date.init(millisecondsSince1970:))
                ),
                Date(millisecondsSince1970: try row.decode(column: "updated_at", as: Int64.self))
            )
        }
        let skus = skus == nil ? try await warehouseSKUs(connectionID: connectionID, of: stock.map(\.0)) : [:]
        return stock.map { entry in
            StoredFBAStock(
                connectionID: connectionID,
                stock: entry.0,
                warehouseSKUs: skus["\(marketplaceID)\u{1F}\(entry.0.sku)"] ?? [],
                changedAt: entry.1
            )
        }
    }

    /// How many SKUs and units of each marketplace's FBA stock the connection holds: (SKUs, fulfillable, total).
    public func fbaStockTotals(connectionID: ConnectionID) async throws -> [MarketplaceID: (Int, Int, Int)] {
        let rows = try await sql.raw(
            """
            SELECT marketplace_id, COUNT(*) AS skus, SUM(fulfillable) AS fulfillable, SUM(total) AS total
            FROM fba_stock WHERE connection_id = \(bind: connectionID.rawValue) GROUP BY marketplace_id
            """
        ).all()
        var totals: [MarketplaceID: (Int, Int, Int)] = [:]
        for row in rows {
            totals[MarketplaceID(rawValue: try row.decode(column: "marketplace_id", as: String.self))] = (
                Int(try row.decode(column: "skus", as: Int64.self)),
                Int(try row.decode(column: "fulfillable", as: Int64?.self) ?? 0),
                Int(try row.decode(column: "total", as: Int64?.self) ?? 0)
            )
        }
        return totals
    }

    /// How far a marketplace's FBA stock has been read; nil before the first read.
    public func fbaWatermark(connectionID: ConnectionID, marketplaceID: MarketplaceID) async throws -> FBAWatermark? {
        try await sql.raw(
            """
            SELECT changed_since, full_at FROM fba_watermarks WHERE connection_id = \(bind: connectionID.rawValue)
                AND marketplace_id = \(bind: marketplaceID.rawValue)
            """
        ).first().map {
            FBAWatermark(
                changedSince: Date(millisecondsSince1970: try $0.decode(column: "changed_since", as: Int64.self)),
                fullAt: Date(millisecondsSince1970: try $0.decode(column: "full_at", as: Int64.self))
            )
        }
    }

    public func recordFBAWatermark(
        _ watermark: FBAWatermark,
        connectionID: ConnectionID,
        marketplaceID: MarketplaceID
    ) async throws {
        try await sql.raw(
            """
            INSERT INTO fba_watermarks (connection_id, marketplace_id, changed_since, full_at)
            VALUES (\(bind: connectionID.rawValue), \(bind: marketplaceID.rawValue),
                \(bind: watermark.changedSince.millisecondsSince1970), \(bind: watermark.fullAt.millisecondsSince1970))
            ON CONFLICT (connection_id, marketplace_id) DO UPDATE SET changed_since = excluded.changed_since,
                full_at = excluded.full_at
            """
        ).run()
    }
}

/// A WMS SKU in the FBM warehouse: its units at each MFN hub and, per merchant-fulfilled listing, what Amazon was
/// last sent.
public struct FBMStock: Sendable, Hashable {
    public struct Listing: Sendable, Hashable {
        public var merchantSKU: MerchantSKU
        public var marketplaceID: MarketplaceID
        public var sentQuantity: Int?
        public var sentAt: Date?
    }

    public var sku: WarehouseSKU
    public var hubs: [HubCode: Int]
    public var listings: [Listing]

    public var total: Int { hubs.values.reduce(0, +) }
}

extension StoreSession {
    /// The FBM warehouse's stock: the WMS SKUs the connection's MFN hubs hold (by the account's levels), in SKU order
    /// after `after`, each with its merchant-fulfilled listings' last sent quantities.
    public func fbmStock(
        connection: Connection,
        after: WarehouseSKU? = nil,
        limit: Int = 100
    ) async throws -> [FBMStock] {
        let hubs = connection.settings.mfnStockHubs.map(\.rawValue)
        guard !hubs.isEmpty else { return [] }
        var query: SQLQueryString = """
            SELECT DISTINCT warehouse_sku FROM stock_levels WHERE account_id = \(bind: connection.accountID.rawValue)
                AND hub IN (\(binds: hubs))
            """
        if let after { query += " AND warehouse_sku > \(bind: after.rawValue)" }
        query += " ORDER BY warehouse_sku LIMIT \(literal: Int64(limit))"
        let skus = try await sql.raw(query).all().map { try $0.decode(column: "warehouse_sku", as: String.self) }
        guard !skus.isEmpty else { return [] }
        var stock = Dictionary(
            uniqueKeysWithValues: skus.map { ($0, FBMStock(sku: WarehouseSKU(rawValue: $0), hubs: [:], listings: [])) }
        )
        for row in try await sql.raw(
            """
            SELECT warehouse_sku, hub, quantity FROM stock_levels
            WHERE account_id = \(bind: connection.accountID.rawValue) AND hub IN (\(binds: hubs))
                AND warehouse_sku IN (\(binds: skus))
            """
        ).all() {
            let sku = try row.decode(column: "warehouse_sku", as: String.self)
            stock[sku]?.hubs[HubCode(rawValue: try row.decode(column: "hub", as: String.self))] =
                Int(try row.decode(column: "quantity", as: Int64.self))
        }
        for row in try await sql.raw(
            """
            SELECT l.warehouse_sku, l.merchant_sku, l.marketplace_id, i.sent_quantity, i.sent_at FROM listings l
            LEFT JOIN listing_items i ON i.connection_id = l.connection_id AND i.marketplace_id = l.marketplace_id
                AND i.merchant_sku = l.merchant_sku AND i.facet = 'quantity'
            WHERE l.connection_id = \(bind: connection.id.rawValue) AND l.fulfilled_by = 'MERCHANT'
                AND l.warehouse_sku IN (\(binds: skus))
            ORDER BY l.marketplace_id, l.merchant_sku
            """
        ).all() {
            let sku = try row.decode(column: "warehouse_sku", as: String.self)
            stock[sku]?.listings.append(
                FBMStock.Listing(
                    merchantSKU: MerchantSKU(rawValue: try row.decode(column: "merchant_sku", as: String.self)),
                    marketplaceID: MarketplaceID(rawValue: try row.decode(column: "marketplace_id", as: String.self)),
                    sentQuantity: try row.decode(column: "sent_quantity", as: Int64?.self).map(Int.init),
                    sentAt: try row.decode(column: "sent_at", as: Int64?.self).map(Date.init(millisecondsSince1970:))
                )
            )
        }
        return skus.compactMap { stock[$0] }
    }
}
