import FlexCore
import Foundation
import SQLKit

/// A filter of `GET /api/v1/returns`.
public struct ReturnFilter: Sendable, Hashable {
    public var connectionID: ConnectionID?
    public var within: [ConnectionID]?
    public var status: String?
    public var shipmentID: ShipmentID?
    public var orderID: String?
    public var rmaID: String?
    public var updatedAfter: Date?
    /// The last return id of the previous page.
    public var after: String?

    public init(
        connectionID: ConnectionID? = nil,
        within: [ConnectionID]? = nil,
        status: String? = nil,
        shipmentID: ShipmentID? = nil,
        orderID: String? = nil,
        rmaID: String? = nil,
        updatedAfter: Date? = nil,
        after: String? = nil
    ) {
        self.connectionID = connectionID
        self.within = within
        self.status = status
        self.shipmentID = shipmentID
        self.orderID = orderID
        self.rmaID = rmaID
        self.updatedAfter = updatedAfter
        self.after = after
    }
}

extension StoreSession {
    /// Stores a copy of an Amazon return as ``ReturnMachine`` decides — if it is new, or newer than the one held —
    /// with its history line and event in the same transaction. Returns what changed.
    @discardableResult
    public func upsertReturn(
        _ copy: AmazonReturn,
        connectionID: ConnectionID,
        source: String
    ) async throws -> ReturnChange {
        let facts = copy.facts
        let held = try await sql.raw(
            """
            SELECT status, amazon_updated_at FROM returns
            WHERE connection_id = \(bind: connectionID.rawValue) AND return_id = \(bind: facts.id.rawValue)
            \(unsafeRaw: kind == .postgres ? "FOR UPDATE" : "")
            """
        ).first().map {
            ReturnMachine.Held(
                status: try $0.decode(column: "status", as: String.self),
                amazonUpdatedAt: Date(millisecondsSince1970: try $0.decode(column: "amazon_updated_at", as: Int64.self))
            )
        }
        guard let decision = ReturnMachine.receive(facts, held: held) else { return .unchanged }
        let now = nowMilliseconds
        let factsJSON = try JSONText.encode(facts)
        if held != nil {
            try await sql.raw(
                """
                UPDATE returns SET return_location_id = \(bind: facts.returnLocationID.rawValue), status = \(bind: facts.status),
                    rma_id = \(bind: facts.rmaID), shipment_id = \(bind: facts.shipmentID), order_id = \(bind: facts.orderID),
                    merchant_sku = \(bind: facts.merchantSKU.rawValue), facts = \(bind: factsJSON), document = \(bind: copy.document),
                    amazon_updated_at = \(bind: facts.updatedAt.millisecondsSince1970), updated_at = \(bind: now)
                WHERE connection_id = \(bind: connectionID.rawValue) AND return_id = \(bind: facts.id.rawValue)
                """
            ).run()
        } else {
            // A return read by two polls at once: the second insert does nothing (on PostgreSQL it waits for the
            // first to commit), and the copy is then weighed against the stored one.
            let inserted = try await sql.raw(
                """
                INSERT INTO returns (connection_id, return_id, return_location_id, status, rma_id, shipment_id, order_id,
                    merchant_sku, facts, document, amazon_updated_at, first_seen_at, updated_at)
                VALUES (\(bind: connectionID.rawValue), \(bind: facts.id.rawValue), \(bind: facts.returnLocationID.rawValue),
                    \(bind: facts.status), \(bind: facts.rmaID), \(bind: facts.shipmentID), \(bind: facts.orderID),
                    \(bind: facts.merchantSKU.rawValue), \(bind: factsJSON), \(bind: copy.document),
                    \(bind: facts.updatedAt.millisecondsSince1970), \(bind: now), \(bind: now))
                ON CONFLICT (connection_id, return_id) DO NOTHING
                RETURNING return_id
                """
            ).first()
            guard inserted != nil else {
                return try await upsertReturn(copy, connectionID: connectionID, source: source)
            }
        }
        if decision.statusChanged {
            try await sql.raw(
                """
                INSERT INTO return_history (connection_id, return_id, status, amazon_updated_at, source, recorded_at)
                VALUES (\(bind: connectionID.rawValue), \(bind: facts.id.rawValue), \(bind: facts.status),
                    \(bind: facts.updatedAt.millisecondsSince1970), \(bind: source), \(bind: now))
                """
            ).run()
        }
        try await appendEvents([
            NewEvent(
                decision.event,
                connectionID: connectionID,
                subject: facts.id.rawValue,
                payload: try Self.json(decision.payload)
            )
        ])
        return decision.statusChanged ? .statusChanged : .updated
    }

    /// One return, by connection and id; or by id alone (the first seen).
    public func returnRecord(_ id: ReturnID, connectionID: ConnectionID? = nil) async throws -> Return? {
        var query: SQLQueryString = "SELECT * FROM returns WHERE return_id = \(bind: id.rawValue)"
        if let connectionID { query += " AND connection_id = \(bind: connectionID.rawValue)" }
        query += " ORDER BY first_seen_at LIMIT 1"
        return try await sql.raw(query).first().map(Self.decodeReturn)
    }

    /// Returns by id, as the filter says, at most `limit`.
    public func returns(_ filter: ReturnFilter, limit: Int) async throws -> [Return] {
        var query: SQLQueryString = "SELECT * FROM returns WHERE 1 = 1"
        if let connectionID = filter.connectionID {
            query += " AND connection_id = \(bind: connectionID.rawValue)"
        }
        if let within = filter.within { query += " AND \(Self.within("connection_id", within))" }
        if let status = filter.status { query += " AND status = \(bind: status)" }
        if let shipmentID = filter.shipmentID { query += " AND shipment_id = \(bind: shipmentID.rawValue)" }
        if let orderID = filter.orderID { query += " AND order_id = \(bind: orderID)" }
        if let rmaID = filter.rmaID { query += " AND rma_id = \(bind: rmaID)" }
        if let updatedAfter = filter.updatedAfter {
            query += " AND updated_at > \(bind: updatedAfter.millisecondsSince1970)"
        }
        if let after = filter.after { query += " AND return_id > \(bind: after)" }
        query += " ORDER BY return_id, connection_id LIMIT \(literal: Int64(limit))"
        return try await sql.raw(query).all().map(Self.decodeReturn)
    }

    /// The statuses a return went through, oldest first, with where FlexBridge learnt each.
    public func returnHistory(
        _ id: ReturnID,
        connectionID: ConnectionID
    ) async throws -> [(status: String, amazonUpdatedAt: Date, source: String)] {
        try await sql.raw(
            """
            SELECT * FROM return_history WHERE connection_id = \(bind: connectionID.rawValue) AND return_id = \(bind: id.rawValue)
            ORDER BY id
            """
        ).all().map { row in
            (
                try row.decode(column: "status", as: String.self),
                Date(millisecondsSince1970: try row.decode(column: "amazon_updated_at", as: Int64.self)),
                try row.decode(column: "source", as: String.self)
            )
        }
    }

    /// The return, locked for the rest of the transaction on PostgreSQL (SQLite's transactions are serial).
    public func lockReturn(_ id: ReturnID, connectionID: ConnectionID) async throws -> Return? {
        try await sql.raw(
            """
            SELECT * FROM returns WHERE connection_id = \(bind: connectionID.rawValue) AND return_id = \(bind: id.rawValue)
            \(unsafeRaw: kind == .postgres ? "FOR UPDATE" : "")
            """
        ).first().map(Self.decodeReturn)
    }

    /// Stores the warehouse's receipt of a return.
    public func recordReceipt(_ receipt: ReturnReceipt, of id: ReturnID, connectionID: ConnectionID) async throws {
        try await sql.raw(
            """
            UPDATE returns SET receipt = \(bind: try JSONText.encode(receipt)), updated_at = \(bind: nowMilliseconds)
            WHERE connection_id = \(bind: connectionID.rawValue) AND return_id = \(bind: id.rawValue)
            """
        ).run()
    }

    /// Adds units to a hub's stock (a sellable return put back), as a stock write of the new level would: the items
    /// it feeds become pending. Returns the new level.
    public func addStock(
        _ units: Int,
        hub: HubCode,
        sku: WarehouseSKU,
        account: AccountID
    ) async throws -> Int {
        let held = try await sql.raw(
            """
            SELECT quantity FROM stock_levels WHERE account_id = \(bind: account.rawValue) AND hub = \(bind: hub.rawValue)
                AND warehouse_sku = \(bind: sku.rawValue)
            \(unsafeRaw: kind == .postgres ? "FOR UPDATE" : "")
            """
        ).first().map { Int(try $0.decode(column: "quantity", as: Int64.self)) }
        let level = min(StockLevel.maximumQuantity, (held ?? 0) + units)
        _ = try await recordStock([StockLevel(hub: hub, warehouseSKU: sku, quantity: level)], account: account)
        return level
    }

    /// The newest Amazon time polled for a location and kind of return poll (`created`, or a status).
    public func returnWatermark(connectionID: ConnectionID, locationID: LocationID, poll: String) async throws -> Date?
    {
        try await orderWatermark(connectionID: connectionID, locationID: locationID.rawValue, status: "return:\(poll)")
    }

    public func setReturnWatermark(
        _ watermark: Date,
        connectionID: ConnectionID,
        locationID: LocationID,
        poll: String
    ) async throws {
        try await setOrderWatermark(
            watermark,
            connectionID: connectionID,
            locationID: locationID.rawValue,
            status: "return:\(poll)"
        )
    }

    static func decodeReturn(_ row: any SQLRow) throws -> Return {
        let facts = try JSONDecoder().decode(
            ReturnFacts.self,
            from: Data(try row.decode(column: "facts", as: String.self).utf8)
        )
        return Return(
            connectionID: ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self)),
            facts: facts,
            document: try row.decode(column: "document", as: String.self),
            firstSeenAt: Date(millisecondsSince1970: try row.decode(column: "first_seen_at", as: Int64.self)),
            updatedAt: Date(millisecondsSince1970: try row.decode(column: "updated_at", as: Int64.self)),
            receipt: try row.decode(column: "receipt", as: String?.self).map {
                try JSONDecoder().decode(ReturnReceipt.self, from: Data($0.utf8))
            }
        )
    }
}

extension StoreSession {
    /// The WMS SKU the connection's listings give a merchant SKU (the first by marketplace when several do).
    public func warehouseSKU(for merchantSKU: MerchantSKU, connectionID: ConnectionID) async throws -> WarehouseSKU? {
        try await sql.raw(
            """
            SELECT warehouse_sku FROM listings WHERE connection_id = \(bind: connectionID.rawValue)
                AND merchant_sku = \(bind: merchantSKU.rawValue)
            ORDER BY marketplace_id LIMIT 1
            """
        ).first().map { WarehouseSKU(rawValue: try $0.decode(column: "warehouse_sku", as: String.self)) }
    }
}
