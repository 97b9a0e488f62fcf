import FlexCore
import Foundation
import SQLKit

extension StoreSession {
    /// Takes an inbound shipment as Amazon reports it into the connection's stock order: its type and source from
    /// the settings when new (kept after), its lines mapped to the WMS SKUs through the listings, its state by
    /// ``StockOrderRules``, with a `stock_order.*` event when the WMS sees a change. Returns the event's type.
    @discardableResult
    public func recordInboundShipment(
        _ facts: InboundShipmentFacts,
        connection: Connection
    ) async throws -> String? {
        let held = try await stockOrder(connectionID: connection.id, shipmentID: facts.shipmentID)
        let now = Date(millisecondsSince1970: nowMilliseconds)
        let stock = facts.items.map { FBAStock(marketplaceID: facts.marketplaceID, sku: $0.sku) }
        let skus = try await warehouseSKUs(connectionID: connection.id, of: stock)
        let sent = try await inboundPlanShipment(connectionID: connection.id, confirmationID: facts.shipmentID)
        let expectedAt = sent?.expectedAt ?? facts.needBy.flatMap(ConnectionSettings.day)
        let type = held?.type ?? StockOrderRules.type(for: facts.marketplaceID, settings: connection.settings)
        let order = StockOrder(
            connectionID: connection.id,
            shipmentID: facts.shipmentID,
            name: facts.name,
            marketplaceID: facts.marketplaceID,
            type: type,
            sourceWarehouse: held?.sourceWarehouse
                ?? (type == .transfer ? connection.settings.transferSourceWarehouse : nil),
            destinationWarehouse: "fba-\(facts.marketplaceID.rawValue)",
            fulfillmentCenter: facts.destination,
            amazonStatus: facts.status,
            state: StockOrderRules.state(
                of: facts,
                expectedAt: expectedAt,
                held: held?.state,
                now: now,
                ignoreAfterDays: connection.settings.ignoreUnreceivedAfterDays
            ),
            expectedAt: expectedAt,
            lines: facts.items.map {
                StockOrderLine(
                    merchantSKU: $0.sku,
                    warehouseSKUs: skus["\(facts.marketplaceID)\u{1F}\($0.sku)"] ?? [],
                    shipped: $0.shipped,
                    received: $0.received
                )
            },
            createdAt: held?.createdAt ?? now,
            updatedAt: now,
            inboundPlanID: sent?.planID,
            carrierFees: connection.settings.partneredCarrierFees ? sent?.carrierFees : nil
        )
        guard let event = StockOrderRules.event(from: held, to: order) else { return nil }
        try await writeStockOrder(order, event: event)
        return event
    }

    /// Marks the connection's open stock orders not received `days` days after their expected day as ignored, each
    /// with its event. Returns how many.
    @discardableResult
    public func ignoreOverdueStockOrders(connectionID: ConnectionID, afterDays days: Int) async throws -> Int {
        let cutoff = nowMilliseconds - Int64(days) * 86_400_000
        let rows = try await sql.raw(
            """
            SELECT * FROM stock_orders WHERE connection_id = \(bind: connectionID.rawValue) AND state = 'open'
                AND expected_at IS NOT NULL AND expected_at <= \(bind: cutoff)
            """
        ).all()
        for row in rows {
            var order = try Self.stockOrder(row)
            order.state = .ignored
            order.updatedAt = Date(millisecondsSince1970: nowMilliseconds)
            try await writeStockOrder(order, event: "stock_order.ignored")
        }
        return rows.count
    }

    func writeStockOrder(_ order: StockOrder, event: String) async throws {
        let lines = try Self.json(order.lines)
        try await sql.raw(
            """
            INSERT INTO stock_orders (connection_id, shipment_id, name, marketplace_id, type, source_warehouse,
                destination_warehouse, fulfillment_center, amazon_status, state, expected_at, lines, created_at,
                updated_at, inbound_plan_id, carrier_fees)
            VALUES (\(bind: order.connectionID.rawValue), \(bind: order.shipmentID), \(bind: order.name),
                \(bind: order.marketplaceID.rawValue), \(bind: order.type.rawValue), \(bind: order.sourceWarehouse),
                \(bind: order.destinationWarehouse), \(bind: order.fulfillmentCenter), \(bind: order.amazonStatus),
                \(bind: order.state.rawValue), \(bind: order.expectedAt?.millisecondsSince1970), \(bind: lines),
                \(bind: order.createdAt.millisecondsSince1970), \(bind: order.updatedAt.millisecondsSince1970),
                \(bind: order.inboundPlanID), \(bind: try order.carrierFees.map(Self.json)))
            ON CONFLICT (connection_id, shipment_id) DO UPDATE SET name = excluded.name,
                inbound_plan_id = excluded.inbound_plan_id, carrier_fees = excluded.carrier_fees,
                fulfillment_center = excluded.fulfillment_center, amazon_status = excluded.amazon_status,
                state = excluded.state, expected_at = excluded.expected_at, lines = excluded.lines,
                updated_at = excluded.updated_at
            """
        ).run()
        let payload: [String: JSONValue] = [
            "shipmentId": .string(order.shipmentID), "type": .string(order.type.rawValue),
            "state": .string(order.state.rawValue), "amazonStatus": .string(order.amazonStatus),
            "destinationWarehouse": .string(order.destinationWarehouse),
            "sourceWarehouse": order.sourceWarehouse.map(JSONValue.string) ?? .null,
            "unitsShipped": .number(Double(order.unitsShipped)), "unitsReceived": .number(Double(order.unitsReceived)),
        ]
        try await appendEvents([
            NewEvent(
                type: event,
                connectionID: order.connectionID,
                subject: order.shipmentID,
                payload: try Self.json(payload)
            )
        ])
    }

    /// A stock order of the connection.
    public func stockOrder(connectionID: ConnectionID, shipmentID: String) async throws -> StockOrder? {
        try await sql.raw(
            """
            SELECT * FROM stock_orders WHERE connection_id = \(bind: connectionID.rawValue)
                AND shipment_id = \(bind: shipmentID)
            """
        ).first().map(Self.stockOrder)
    }

    /// Stock orders of these connections, the latest change first; of one state when named; after a (time, id)
    /// when paging.
    public func stockOrders(
        of connections: [ConnectionID],
        state: StockOrderState? = nil,
        after: (updatedAt: Date, shipmentID: String)? = nil,
        limit: Int = 100
    ) async throws -> [StockOrder] {
        guard !connections.isEmpty else { return [] }
        var query: SQLQueryString = """
            SELECT * FROM stock_orders WHERE connection_id IN (\(binds: connections.map(\.rawValue)))
            """
        if let state { query += " AND state = \(bind: state.rawValue)" }
        if let after {
            let at = after.updatedAt.millisecondsSince1970
            query +=
                " AND (updated_at < \(bind: at) OR (updated_at = \(bind: at) AND shipment_id < \(bind: after.shipmentID)))"
        }
        query += " ORDER BY updated_at DESC, shipment_id DESC LIMIT \(literal: Int64(limit))"
        return try await sql.raw(query).all().map(Self.stockOrder)
    }

    /// Where a marketplace's inbound shipments were read up to; nil before the first read.
    public func inboundWatermark(connectionID: ConnectionID, marketplaceID: MarketplaceID) async throws -> Date? {
        try await sql.raw(
            """
            SELECT updated_after FROM fba_inbound_watermarks WHERE connection_id = \(bind: connectionID.rawValue)
                AND marketplace_id = \(bind: marketplaceID.rawValue)
            """
        ).first().map { Date(millisecondsSince1970: try $0.decode(column: "updated_after", as: Int64.self)) }
    }

    public func recordInboundWatermark(
        _ at: Date,
        connectionID: ConnectionID,
        marketplaceID: MarketplaceID
    ) async throws {
        try await sql.raw(
            """
            INSERT INTO fba_inbound_watermarks (connection_id, marketplace_id, updated_after)
            VALUES (\(bind: connectionID.rawValue), \(bind: marketplaceID.rawValue), \(bind: at.millisecondsSince1970))
            ON CONFLICT (connection_id, marketplace_id) DO UPDATE SET updated_after = excluded.updated_after
            """
        ).run()
    }

    static func stockOrder(_ row: any SQLRow) throws -> StockOrder {
        StockOrder(
            connectionID: ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self)),
            shipmentID: try row.decode(column: "shipment_id", as: String.self),
            name: try row.decode(column: "name", as: String?.self),
            marketplaceID: MarketplaceID(rawValue: try row.decode(column: "marketplace_id", as: String.self)),
            type: StockOrderType(rawValue: try row.decode(column: "type", as: String.self)) ?? .purchase,
            sourceWarehouse: try row.decode(column: "source_warehouse", as: String?.self),
            destinationWarehouse: try row.decode(column: "destination_warehouse", as: String.self),
            fulfillmentCenter: try row.decode(column: "fulfillment_center", as: String?.self),
            amazonStatus: try row.decode(column: "amazon_status", as: String.self),
            state: StockOrderState(rawValue: try row.decode(column: "state", as: String.self)) ?? .open,
            expectedAt: try row.decode(column: "expected_at", as: Int64?.self).map(Date.init(millisecondsSince1970:)),
            lines: try JSONDecoder().decode(
                [StockOrderLine].self,
                from: Data(try row.decode(column: "lines", as: String.self).utf8)
            ),
            createdAt: Date(millisecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Date(millisecondsSince1970: try row.decode(column: "updated_at", as: Int64.self)),
            inboundPlanID: try row.decode(column: "inbound_plan_id", as: String?.self),
            carrierFees: try row.decode(column: "carrier_fees", as: String?.self).map {
                try JSONDecoder().decode(InboundMoney.self, from: Data($0.utf8))
            }
        )
    }
}
