import FlexCore
import Foundation
import SQLKit

extension StoreSession {
    /// Stores a copy of an Amazon shipment as ``OrderMachine`` decides — if it is new, or newer than the one held —
    /// and carries the decision out in the same transaction: the row, the history line, the event, the commands
    /// cancelled, the reservation released, the automatic confirmation. Says what changed.
    /// `trace`: the work that brought the copy (a notified fetch), which a command queued on its own (auto-confirm)
    /// goes on in.
    public func upsertOrder(_ order: Order, source: String, trace: TraceContext? = nil) async throws -> OrderChange {
        let now = nowMilliseconds
        let facts = try? ShipmentFacts(json: order.shipment)
        // The row is locked (PostgreSQL) before the labels are read, so that a label stored at the same time is seen
        // by one of the two: by this copy's labelsHeld, or by that document's promoteIfLabelled.
        let held = try await sql.raw(
            """
            SELECT status, amazon_updated_at FROM orders
            WHERE connection_id = \(bind: order.connectionID.rawValue) AND shipment_id = \(bind: order.shipmentID)
            \(unsafeRaw: kind == .postgres ? "FOR UPDATE" : "")
            """
        ).first().map(Self.decodeHeld)
        let labelsHeld =
            try await OrderMachine.needsLabels(order, facts: facts)
            ? labelsHeld(
                connectionID: order.connectionID,
                shipmentID: order.shipmentID,
                packageIDs: facts?.packages?.map(\.id) ?? []
            ) : false
        // A handed-over location's new orders are the other connector's to confirm.
        var autoConfirm = false
        if held == nil, try await connection(order.connectionID)?.settings.autoConfirm == true {
            autoConfirm = try await locationState(connectionID: order.connectionID, locationID: order.locationID)
                .isWorked
        }
        guard
            let decision = OrderMachine.receive(
                order,
                facts: facts,
                held: held,
                labelsHeld: labelsHeld,
                autoConfirm: autoConfirm
            )
        else { return .unchanged }
        if held != nil {
            try await sql.raw(
                """
                UPDATE orders SET location_id = \(bind: order.locationID.rawValue), status = \(bind: order.status), state = \(bind: decision.state.rawValue),
                    amazon_updated_at = \(bind: order.amazonUpdatedAt.millisecondsSince1970), expected_ship_at = \(bind: order.expectedShipAt?.millisecondsSince1970),
                    shipment = \(bind: order.shipment), updated_at = \(bind: now)
                WHERE connection_id = \(bind: order.connectionID.rawValue) AND shipment_id = \(bind: order.shipmentID)
                """
            ).run()
        } else {
            // Two fetches of a new shipment at once (a notification and a poll): the second insert does nothing (on
            // PostgreSQL it waits for the first to commit), and the copy is then weighed against the stored one.
            let inserted = try await sql.raw(
                """
                INSERT INTO orders (connection_id, shipment_id, location_id, marketplace_id, channel, program, shipment_type,
                    original_shipment_id, status, state, amazon_created_at, amazon_updated_at, expected_ship_at, shipment,
                    first_seen_at, updated_at)
                VALUES (\(bind: order.connectionID.rawValue), \(bind: order.shipmentID), \(bind: order.locationID.rawValue),
                    \(bind: order.marketplaceID.rawValue), \(bind: order.channel), \(bind: order.program.rawValue),
                    \(bind: order.shipmentType), \(bind: order.originalShipmentID), \(bind: order.status), \(bind: decision.state.rawValue),
                    \(bind: order.amazonCreatedAt.millisecondsSince1970), \(bind: order.amazonUpdatedAt.millisecondsSince1970),
                    \(bind: order.expectedShipAt?.millisecondsSince1970), \(bind: order.shipment), \(bind: now), \(bind: now))
                ON CONFLICT (connection_id, shipment_id) DO NOTHING
                RETURNING shipment_id
                """
            ).first()
            guard inserted != nil else { return try await upsertOrder(order, source: source, trace: trace) }
        }
        try await sql.raw(
            """
            INSERT INTO order_history (connection_id, shipment_id, status, amazon_updated_at, source, recorded_at)
            VALUES (\(bind: order.connectionID.rawValue), \(bind: order.shipmentID), \(bind: order.status),
                \(bind: order.amazonUpdatedAt.millisecondsSince1970), \(bind: source), \(bind: now))
            """
        ).run()
        var payload = decision.payload
        if decision.cancelsOpenCommands {
            let cancelled = try await cancelOpenCommands(connectionID: order.connectionID, shipmentID: order.shipmentID)
            payload["cancelledCommandIds"] = .array(cancelled.map { .string($0.id.rawValue) })
        }
        try await appendEvents([
            NewEvent(
                decision.event,
                connectionID: order.connectionID,
                subject: order.shipmentID.rawValue,
                payload: try Self.json(payload)
            )
        ])
        if decision.releasesReservation, let facts {
            try await releaseReservation(of: order, lines: facts.lineItems.map { ($0.merchantSku, $0.numberOfUnits) })
        }
        if decision.confirmsAutomatically {
            var stored = order
            stored.state = decision.state
            _ = try await submitCommand(
                CommandRequest(type: .confirm),
                fingerprint: "auto-confirm",
                for: stored,
                idempotencyKey: "auto-confirm:\(order.shipmentID)",
                requestedBy: "auto-confirm",
                trace: trace
            )
        }
        return decision.change
    }

    /// Stores a copy of a merchant-fulfilled order as ``MerchantOrderMachine`` decides — when it is the warehouse's
    /// and new, or newer than the one held — with its history line and event, and the commands still queued
    /// cancelled when Amazon cancelled it, in the same transaction. Says what changed.
    public func upsertMerchantOrder(
        _ amazon: AmazonMerchantOrder,
        connectionID: ConnectionID,
        source: String
    ) async throws -> OrderChange {
        let now = nowMilliseconds
        let order = Order(amazon, connectionID: connectionID, seenAt: Date(millisecondsSince1970: now))
        let held = try await sql.raw(
            """
            SELECT status, amazon_updated_at, source FROM orders
            WHERE connection_id = \(bind: connectionID.rawValue) AND shipment_id = \(bind: order.shipmentID)
            \(unsafeRaw: kind == .postgres ? "FOR UPDATE" : "")
            """
        ).first()
        if let held, try held.decode(column: "source", as: String.self) != OrderSource.mfn.rawValue {
            throw StoreError(
                code: .conflict,
                message: "Order \(order.shipmentID) of connection \(connectionID) is a shipment, not an MFN order."
            )
        }
        let copy = try held.map {
            MerchantOrderMachine.Held(
                status: try $0.decode(column: "status", as: String.self),
                amazonUpdatedAt: Date(millisecondsSince1970: try $0.decode(column: "amazon_updated_at", as: Int64.self))
            )
        }
        guard let decision = MerchantOrderMachine.receive(amazon.facts, held: copy) else { return .unchanged }
        if copy != nil {
            try await sql.raw(
                """
                UPDATE orders SET status = \(bind: order.status), state = \(bind: decision.state.rawValue),
                    amazon_updated_at = \(bind: order.amazonUpdatedAt.millisecondsSince1970),
                    expected_ship_at = \(bind: order.expectedShipAt?.millisecondsSince1970),
                    shipment = \(bind: order.shipment), updated_at = \(bind: now)
                WHERE connection_id = \(bind: connectionID.rawValue) AND shipment_id = \(bind: order.shipmentID)
                """
            ).run()
        } else {
            let inserted = try await sql.raw(
                """
                INSERT INTO orders (connection_id, shipment_id, location_id, marketplace_id, channel, program, shipment_type,
                    original_shipment_id, status, state, amazon_created_at, amazon_updated_at, expected_ship_at, shipment,
                    first_seen_at, updated_at, source)
                VALUES (\(bind: connectionID.rawValue), \(bind: order.shipmentID), \(bind: order.locationID.rawValue),
                    \(bind: order.marketplaceID.rawValue), \(bind: order.channel), \(bind: order.program.rawValue),
                    NULL, NULL, \(bind: order.status), \(bind: decision.state.rawValue),
                    \(bind: order.amazonCreatedAt.millisecondsSince1970), \(bind: order.amazonUpdatedAt.millisecondsSince1970),
                    \(bind: order.expectedShipAt?.millisecondsSince1970), \(bind: order.shipment), \(bind: now), \(bind: now),
                    \(bind: OrderSource.mfn.rawValue))
                ON CONFLICT (connection_id, shipment_id) DO NOTHING
                RETURNING shipment_id
                """
            ).first()
            // A notification and a poll at once: the second copy is weighed against the first one's row.
            guard inserted != nil else {
                return try await upsertMerchantOrder(amazon, connectionID: connectionID, source: source)
            }
        }
        try await sql.raw(
            """
            INSERT INTO order_history (connection_id, shipment_id, status, amazon_updated_at, source, recorded_at)
            VALUES (\(bind: connectionID.rawValue), \(bind: order.shipmentID), \(bind: order.status),
                \(bind: order.amazonUpdatedAt.millisecondsSince1970), \(bind: source), \(bind: now))
            """
        ).run()
        var payload = decision.payload
        if decision.cancelsOpenCommands {
            let cancelled = try await cancelOpenCommands(connectionID: connectionID, shipmentID: order.shipmentID)
            payload["cancelledCommandIds"] = .array(cancelled.map { .string($0.id.rawValue) })
        }
        try await appendEvents([
            NewEvent(
                decision.event,
                connectionID: connectionID,
                subject: order.shipmentID.rawValue,
                payload: try Self.json(payload)
            )
        ])
        return decision.change
    }

    /// Whether a current label of every package is stored; of any package, when the copy names none.
    func labelsHeld(connectionID: ConnectionID, shipmentID: ShipmentID, packageIDs: [PackageID]) async throws -> Bool {
        let held = try await sql.raw(
            """
            SELECT package_id FROM documents
            WHERE connection_id = \(bind: connectionID.rawValue) AND shipment_id = \(bind: shipmentID) AND kind = 'label'
                AND superseded_at IS NULL
            """
        ).all().compactMap { try $0.decode(column: "package_id", as: PackageID?.self) }
        return packageIDs.isEmpty ? !held.isEmpty : Set(held).isSuperset(of: packageIDs)
    }

    /// A labelled order held back as `packed` for want of its labels becomes `ready_to_ship`, with its event, once
    /// the last of them is stored. Called where a label is stored, and by the label command when Amazon already
    /// shows the order labelled and its files are held.
    public func promoteIfLabelled(connectionID: ConnectionID, shipmentID: ShipmentID) async throws {
        guard
            let row = try await sql.raw(
                """
                SELECT status, state, shipment, location_id, program FROM orders
                WHERE connection_id = \(bind: connectionID.rawValue) AND shipment_id = \(bind: shipmentID)
                \(unsafeRaw: kind == .postgres ? "FOR UPDATE" : "")
                """
            ).first(),
            try row.decode(column: "status", as: String.self) == "SHIPLABEL_GENERATED",
            try row.decode(column: "state", as: String.self) == FulfilmentState.packed.rawValue,
            let facts = try? ShipmentFacts(json: try row.decode(column: "shipment", as: String.self)),
            try await labelsHeld(
                connectionID: connectionID,
                shipmentID: shipmentID,
                packageIDs: facts.packages?.map(\.id) ?? []
            )
        else { return }
        let state = FulfilmentState.readyToShip
        try await sql.raw(
            """
            UPDATE orders SET state = \(bind: state.rawValue), updated_at = \(bind: nowMilliseconds)
            WHERE connection_id = \(bind: connectionID.rawValue) AND shipment_id = \(bind: shipmentID)
            """
        ).run()
        let payload: [String: JSONValue] = [
            "shipmentId": .string(shipmentID.rawValue), "status": .string("SHIPLABEL_GENERATED"),
            "state": .string(state.rawValue),
            "locationId": .string(try row.decode(column: "location_id", as: String.self)),
            "program": .string(try row.decode(column: "program", as: String.self)),
            "previousStatus": .string("SHIPLABEL_GENERATED"),
        ]
        try await appendEvents([
            NewEvent(
                .orderUpdated,
                connectionID: connectionID,
                subject: shipmentID.rawValue,
                payload: try Self.json(payload)
            )
        ])
    }

    /// An order that shipped or was cancelled no longer holds Amazon's reservation of its units, so the quantity
    /// FlexBridge sent (the WMS's free units plus that reservation) would now let Amazon sell them again. Each of its
    /// items takes the reservation less the order's units and becomes pending at once, so that Amazon's sellable
    /// number is the WMS's free number again without waiting for the next stock change or reconciliation.
    /// Amazon's answer to that update carries its real reservation; if it differs, the item is sent once more.
    func releaseReservation(of order: Order, lines: [(merchantSKU: String, units: Int)]) async throws {
        var units: [String: Int] = [:]
        for line in lines { units[line.merchantSKU, default: 0] += min(max(0, line.units), StockLevel.maximumQuantity) }
        for (sku, released) in units.sorted(by: { $0.key < $1.key }) {
            try await sql.raw(
                """
                UPDATE inventory_items SET
                    amazon_reserved = CASE WHEN amazon_reserved > \(bind: Int64(released)) THEN amazon_reserved - \(bind: Int64(released)) ELSE 0 END,
                    version = version + 1, changed_at = \(bind: nowMilliseconds), retry_at = 0
                WHERE connection_id = \(bind: order.connectionID.rawValue) AND location_id = \(bind: order.locationID.rawValue)
                    AND merchant_sku = \(bind: sku) AND channel = \(bind: order.channel) AND amazon_reserved IS NOT NULL
                """
            ).run()
        }
        if !units.isEmpty { notes.noteInventoryChanged(order.connectionID) }
    }

    /// One order, by connection and shipment id; or by shipment id alone (Amazon's ids are unique).
    public func order(_ shipmentID: ShipmentID, connectionID: ConnectionID? = nil) async throws -> Order? {
        let rows =
            if let connectionID {
                try await sql.raw(
                    "\(Self.orderColumns) WHERE o.connection_id = \(bind: connectionID.rawValue) AND o.shipment_id = \(bind: shipmentID)"
                ).all()
            } else {
                try await sql.raw(
                    "\(Self.orderColumns) WHERE o.shipment_id = \(bind: shipmentID) ORDER BY o.first_seen_at"
                )
                .all()
            }
        return try rows.first.map(Self.decodeOrder)
    }

    /// An order's columns with the manifest it is in: `SELECT … FROM orders o`, to be followed by `WHERE`.
    static let orderColumns: SQLQueryString = """
        SELECT o.*, (SELECT m.manifest_id FROM manifest_orders m
            WHERE m.connection_id = o.connection_id AND m.shipment_id = o.shipment_id) AS manifest_id
        FROM orders o
        """

    /// Orders by shipment id, optionally of one connection, source, status, state, location and manifest
    /// (`inManifest`: in one, or in none); `after` is the last shipment id of the previous page.
    public func orders(
        connectionID: ConnectionID?,
        within: [ConnectionID]? = nil,
        source: OrderSource? = nil,
        status: String?,
        state: FulfilmentState? = nil,
        locationID: LocationID? = nil,
        inManifest: Bool? = nil,
        search: String? = nil,
        atRiskBefore: Date? = nil,
        after: String?,
        limit: Int
    ) async throws -> [Order] {
        var query: SQLQueryString = "\(Self.orderColumns) WHERE 1 = 1"
        if let connectionID { query += " AND o.connection_id = \(bind: connectionID.rawValue)" }
        if let within { query += " AND \(Self.within("o.connection_id", within))" }
        if let source { query += " AND o.source = \(bind: source.rawValue)" }
        if let status { query += " AND o.status = \(bind: status)" }
        if let state { query += " AND o.state = \(bind: state.rawValue)" }
        if let locationID { query += " AND o.location_id = \(bind: locationID.rawValue)" }
        if let inManifest {
            query += " AND \(unsafeRaw: inManifest ? "" : "NOT ")EXISTS (SELECT 1 FROM manifest_orders m"
            query += " WHERE m.connection_id = o.connection_id AND m.shipment_id = o.shipment_id)"
        }
        if let search, !search.isEmpty {
            // The shipment id, or any text of Amazon's document (a merchant SKU, a tracking id), ignoring case.
            // As the document may hold it: as typed, or JSON-escaped (JSONEncoder writes "/" as "\/"); each then
            // escaped for LIKE.
            func pattern(_ text: String) -> String {
                "%"
                    + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
                    .replacingOccurrences(of: "_", with: "\\_") + "%"
            }
            let term = search.lowercased()
            let json = (try? JSONText.encode(term)).map { String($0.dropFirst().dropLast()) } ?? term
            query += " AND (o.shipment_id = \(bind: search)"
            query += " OR LOWER(o.shipment) LIKE \(bind: pattern(term)) ESCAPE '\\'"
            if json != term { query += " OR LOWER(o.shipment) LIKE \(bind: pattern(json)) ESCAPE '\\'" }
            query += ")"
        }
        if let atRiskBefore { query += " AND \(Self.atRisk("o", before: atRiskBefore))" }
        if let after { query += " AND o.shipment_id > \(bind: after)" }
        query += " ORDER BY o.shipment_id LIMIT \(literal: Int64(limit))"
        return try await sql.raw(query).all().map(Self.decodeOrder)
    }

    /// The replacements and exchanges Amazon made of an order, oldest first.
    public func replacements(of shipmentID: ShipmentID, connectionID: ConnectionID) async throws -> [ShipmentID] {
        try await sql.raw(
            """
            SELECT shipment_id FROM orders WHERE connection_id = \(bind: connectionID.rawValue)
                AND original_shipment_id = \(bind: shipmentID)
            ORDER BY amazon_created_at, shipment_id
            """
        ).all().map { try $0.decode(column: "shipment_id", as: ShipmentID.self) }
    }

    /// The statuses an order went through, oldest first, with where FlexBridge learnt each.
    public func orderHistory(
        _ shipmentID: ShipmentID,
        connectionID: ConnectionID
    ) async throws -> [(status: String, amazonUpdatedAt: Date, source: String)] {
        try await sql.raw(
            """
            SELECT * FROM order_history WHERE connection_id = \(bind: connectionID.rawValue) AND shipment_id = \(bind: shipmentID)
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

    /// The newest `lastUpdatedDateTime` polled for a location ("" for the whole seller) and status.
    public func orderWatermark(connectionID: ConnectionID, locationID: String, status: String) async throws -> Date? {
        try await sql.raw(
            """
            SELECT watermark FROM order_watermarks WHERE connection_id = \(bind: connectionID.rawValue)
                AND location_id = \(bind: locationID) AND status = \(bind: status)
            """
        ).first().map { Date(millisecondsSince1970: try $0.decode(column: "watermark", as: Int64.self)) }
    }

    public func setOrderWatermark(
        _ watermark: Date,
        connectionID: ConnectionID,
        locationID: String,
        status: String
    ) async throws {
        try await sql.raw(
            """
            INSERT INTO order_watermarks (connection_id, location_id, status, watermark)
            VALUES (\(bind: connectionID.rawValue), \(bind: locationID), \(bind: status), \(bind: watermark.millisecondsSince1970))
            ON CONFLICT (connection_id, location_id, status) DO UPDATE SET watermark = excluded.watermark
            """
        ).run()
    }

    /// Records that Amazon notified a change of a shipment of the seller, with the status notified, under the
    /// connection ``NotificationRouting`` picks from the seller's connections by the notified location and the region
    /// the notification came from; returns the connections it was filed under, none when no connection has that
    /// seller. A notification of a status FlexBridge already holds (the echo of a change FlexBridge made) needs no
    /// fetch; polling still brings Amazon's copy of it.
    public func requestShipmentFetch(
        sellingPartnerID: String,
        shipmentID: ShipmentID,
        status: String? = nil,
        locationID: String? = nil,
        region: Region? = nil,
        trace: TraceContext? = nil
    ) async throws -> [ConnectionID] {
        var candidates: [NotificationRouting.Candidate] = []
        for row in try await sql.raw(
            """
            SELECT c.id, c.region,
                (SELECT COUNT(*) FROM orders o WHERE o.connection_id = c.id AND o.shipment_id = \(bind: shipmentID)) AS holds
            FROM connections c WHERE c.selling_partner_id = \(bind: sellingPartnerID) ORDER BY c.created_at, c.id
            """
        ).all() {
            let id = ConnectionID(rawValue: try row.decode(column: "id", as: String.self))
            guard let region = Region(rawValue: try row.decode(column: "region", as: String.self)) else { continue }
            let locations = try await sql.raw(
                "SELECT location_id FROM location_mappings WHERE connection_id = \(bind: id.rawValue)"
            ).all().map { try $0.decode(column: "location_id", as: String.self) }
            candidates.append(
                NotificationRouting.Candidate(
                    connectionID: id,
                    region: region,
                    locationIDs: Set(locations),
                    holdsShipment: try row.decode(column: "holds", as: Int64.self) > 0
                )
            )
        }
        let chosen = NotificationRouting.route(candidates, locationID: locationID, region: region)
        for connectionID in chosen {
            if let status, try await holds(status, shipmentID: shipmentID, connectionID: connectionID) { continue }
            try await sql.raw(
                """
                INSERT INTO shipment_fetches (connection_id, shipment_id, requested_at, status, notifications, trace_context)
                VALUES (\(bind: connectionID.rawValue), \(bind: shipmentID), \(bind: nowMilliseconds), \(bind: status), 1,
                    \(bind: trace?.stored))
                ON CONFLICT (connection_id, shipment_id) DO UPDATE SET status = excluded.status,
                    notifications = shipment_fetches.notifications + 1,
                    trace_context = COALESCE(excluded.trace_context, shipment_fetches.trace_context)
                """
            ).run()
        }
        notes.note(.orders, for: chosen)
        return chosen
    }

    /// Shipments to fetch because Amazon notified about them, oldest first.
    public func shipmentFetches(connectionID: ConnectionID, limit: Int) async throws -> [ShipmentID] {
        try await notifiedShipments(connectionID: connectionID, limit: limit).map(\.shipmentID)
    }

    /// Shipments to fetch because Amazon notified about them, with the status notified last, how many notifications
    /// were filed (what ``completeShipmentFetch(connectionID:shipmentID:notifications:)`` takes) and the trace of the
    /// last traced one, oldest first.
    public func notifiedShipments(
        connectionID: ConnectionID,
        limit: Int
    ) async throws -> [NotifiedShipment] {
        try await sql.raw(
            """
            SELECT shipment_id, status, notifications, trace_context FROM shipment_fetches
            WHERE connection_id = \(bind: connectionID.rawValue)
            ORDER BY requested_at, shipment_id LIMIT \(literal: Int64(limit))
            """
        ).all().map {
            NotifiedShipment(
                shipmentID: try $0.decode(column: "shipment_id", as: ShipmentID.self),
                status: try $0.decode(column: "status", as: String?.self),
                notifications: try $0.decode(column: "notifications", as: Int64.self),
                trace: TraceContext(stored: try $0.decode(column: "trace_context", as: String?.self))
            )
        }
    }

    /// Whether the order's copy already has `status`, or a status further on.
    public func holds(_ status: String, shipmentID: ShipmentID, connectionID: ConnectionID) async throws -> Bool {
        guard let held = try await order(shipmentID, connectionID: connectionID)?.status else { return false }
        return ShipmentStatus.rank(of: held) >= ShipmentStatus.rank(of: status) && ShipmentStatus.rank(of: status) >= 0
    }

    /// The status and Amazon time of the copy of a shipment held, or nil: what ``OrderMachine`` weighs a new copy
    /// against.
    public func heldOrder(_ shipmentID: ShipmentID, connectionID: ConnectionID) async throws -> OrderMachine.Held? {
        try await sql.raw(
            """
            SELECT status, amazon_updated_at FROM orders
            WHERE connection_id = \(bind: connectionID.rawValue) AND shipment_id = \(bind: shipmentID)
            """
        ).first().map(Self.decodeHeld)
    }

    /// Ends a notified fetch that read the shipment after `notifications` notifications were filed for it; one filed
    /// since (Amazon changed the shipment again while it was read) keeps the fetch, to be read again.
    public func completeShipmentFetch(
        connectionID: ConnectionID,
        shipmentID: ShipmentID,
        notifications: Int64
    ) async throws {
        try await sql.raw(
            """
            DELETE FROM shipment_fetches WHERE connection_id = \(bind: connectionID.rawValue)
                AND shipment_id = \(bind: shipmentID) AND notifications = \(bind: notifications)
            """
        ).run()
    }

    private static func decodeHeld(_ row: any SQLRow) throws -> OrderMachine.Held {
        OrderMachine.Held(
            status: try row.decode(column: "status", as: String.self),
            amazonUpdatedAt: Date(millisecondsSince1970: try row.decode(column: "amazon_updated_at", as: Int64.self))
        )
    }

    static func decodeOrder(_ row: any SQLRow) throws -> Order {
        let errorCode = try row.decode(column: "error_code", as: String?.self)
        let state = FulfilmentState(rawValue: try row.decode(column: "state", as: String.self))
        return Order(
            connectionID: ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self)),
            shipmentID: try row.decode(column: "shipment_id", as: ShipmentID.self),
            locationID: LocationID(rawValue: try row.decode(column: "location_id", as: String.self)),
            marketplaceID: MarketplaceID(rawValue: try row.decode(column: "marketplace_id", as: String.self)),
            channel: try row.decode(column: "channel", as: String.self),
            program: Order.Program(rawValue: try row.decode(column: "program", as: String.self)) ?? .easyShip,
            shipmentType: try row.decode(column: "shipment_type", as: String?.self),
            originalShipmentID: try row.decode(column: "original_shipment_id", as: ShipmentID?.self),
            status: try row.decode(column: "status", as: String.self),
            amazonCreatedAt: Date(millisecondsSince1970: try row.decode(column: "amazon_created_at", as: Int64.self)),
            amazonUpdatedAt: Date(millisecondsSince1970: try row.decode(column: "amazon_updated_at", as: Int64.self)),
            expectedShipAt: try row.decode(column: "expected_ship_at", as: Int64?.self).map(
                Date.init(millisecondsSince1970:)
            ),
            shipment: try row.decode(column: "shipment", as: String.self),
            firstSeenAt: Date(millisecondsSince1970: try row.decode(column: "first_seen_at", as: Int64.self)),
            updatedAt: Date(millisecondsSince1970: try row.decode(column: "updated_at", as: Int64.self)),
            state: state,
            error: try errorCode.map {
                OrderError(
                    code: $0,
                    message: try row.decode(column: "error_message", as: String?.self) ?? "",
                    at: Date(millisecondsSince1970: try row.decode(column: "error_at", as: Int64?.self) ?? 0),
                    commandID: try row.decode(column: "error_command_id", as: CommandID?.self)
                )
            },
            manifestID: try row.decode(column: "manifest_id", as: ManifestID?.self),
            source: OrderSource(rawValue: try row.decode(column: "source", as: String.self)) ?? .externalFulfillment
        )
    }
}

/// A shipment Amazon notified a change of, waiting to be fetched.
public struct NotifiedShipment: Sendable, Hashable {
    public var shipmentID: ShipmentID
    /// The status the last notification said, if it said one.
    public var status: String?
    /// How many notifications were filed for it so far.
    public var notifications: Int64
    /// The trace of the last traced notification.
    public var trace: TraceContext?

    public init(shipmentID: ShipmentID, status: String?, notifications: Int64, trace: TraceContext? = nil) {
        self.shipmentID = shipmentID
        self.status = status
        self.notifications = notifications
        self.trace = trace
    }
}
