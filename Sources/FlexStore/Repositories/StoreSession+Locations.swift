import FlexCore
import Foundation
import SQLKit

extension StoreSession {
    /// The modes set for the connection's locations; a location absent is live.
    public func locationStates(connectionID: ConnectionID) async throws -> [LocationID: LocationState] {
        let rows = try await sql.raw(
            "SELECT * FROM location_states WHERE connection_id = \(bind: connectionID.rawValue)"
        ).all()
        var states: [LocationID: LocationState] = [:]
        for row in rows {
            let state = try Self.decodeLocationState(row)
            states[state.locationID] = state
        }
        return states
    }

    /// The location's state, live when never set.
    public func locationState(connectionID: ConnectionID, locationID: LocationID) async throws -> LocationState {
        try await sql.raw(
            """
            SELECT * FROM location_states WHERE connection_id = \(bind: connectionID.rawValue)
                AND location_id = \(bind: locationID.rawValue)
            \(unsafeRaw: kind == .postgres ? "FOR UPDATE" : "")
            """
        ).first().map(Self.decodeLocationState)
            ?? LocationState(connectionID: connectionID, locationID: locationID)
    }

    public func saveLocationState(_ state: LocationState) async throws {
        try await sql.raw(
            """
            INSERT INTO location_states (connection_id, location_id, mode, pilot_skus, mode_since, changed_by, went_live_with)
            VALUES (\(bind: state.connectionID.rawValue), \(bind: state.locationID.rawValue), \(bind: state.mode.rawValue),
                \(bind: try JSONText.encode(state.pilotSKUs)), \(bind: (state.modeSince ?? Date()).millisecondsSince1970),
                \(bind: state.changedBy), \(bind: try state.wentLiveWith.map { try JSONText.encode($0) }))
            ON CONFLICT (connection_id, location_id) DO UPDATE SET mode = excluded.mode, pilot_skus = excluded.pilot_skus,
                mode_since = excluded.mode_since, changed_by = excluded.changed_by, went_live_with = excluded.went_live_with
            """
        ).run()
    }

    /// The locations of the connection: those mapped to a hub and those with a mode set.
    public func knownLocations(connectionID: ConnectionID) async throws -> [LocationID] {
        try await sql.raw(
            """
            SELECT location_id FROM location_mappings WHERE connection_id = \(bind: connectionID.rawValue)
            UNION SELECT location_id FROM location_states WHERE connection_id = \(bind: connectionID.rawValue)
            """
        ).all().map { LocationID(rawValue: try $0.decode(column: "location_id", as: String.self)) }.sorted()
    }

    /// What the location's orders proved of Amazon's go-live test since `since`: the first order that became
    /// shipped, rejected by the seller, and cancelled by the customer (or the marketplace) after that moment.
    public func goLiveChecklist(
        connectionID: ConnectionID,
        locationID: LocationID,
        since: Date?
    ) async throws
        -> GoLiveChecklist
    {
        func first(statuses: [String], states: [FulfilmentState]) async throws -> ShipmentID? {
            try await sql.raw(
                """
                SELECT o.shipment_id FROM orders o JOIN order_history h
                    ON h.connection_id = o.connection_id AND h.shipment_id = o.shipment_id
                WHERE o.connection_id = \(bind: connectionID.rawValue) AND o.location_id = \(bind: locationID.rawValue)
                    AND o.state IN (\(binds: states.map(\.rawValue))) AND h.status IN (\(binds: statuses))
                    AND h.recorded_at >= \(bind: since?.millisecondsSince1970 ?? 0)
                ORDER BY h.recorded_at, o.shipment_id LIMIT 1
                """
            ).first().map { try $0.decode(column: "shipment_id", as: ShipmentID.self) }
        }
        return GoLiveChecklist(
            shippedOrder: try await first(statuses: ["SHIPPED", "DELIVERED"], states: [.shipped, .delivered]),
            sellerCancellation: try await first(statuses: ["CANCELLED"], states: [.rejected]),
            customerCancellation: try await first(statuses: ["CANCELLED"], states: [.cancelled])
        )
    }

    /// What still ties the location to FlexBridge: its orders not final, its items not acknowledged by Amazon at 0.
    public func handoverReport(connectionID: ConnectionID, locationID: LocationID) async throws -> HandoverReport {
        let open = try await sql.raw(
            """
            SELECT shipment_id FROM orders WHERE connection_id = \(bind: connectionID.rawValue)
                AND location_id = \(bind: locationID.rawValue)
                AND state NOT IN (\(binds: FulfilmentState.allCases.filter(\.isFinal).map(\.rawValue)))
            ORDER BY expected_ship_at, shipment_id
            """
        ).all().map { try $0.decode(column: "shipment_id", as: ShipmentID.self) }
        let row = try await sql.raw(
            """
            SELECT COUNT(*) AS items,
                COALESCE(SUM(CASE WHEN sent_quantity = 0 AND version <= synced_version AND sequence IS NOT NULL
                    AND amazon_sequence = sequence AND error_code IS NULL THEN 0 ELSE 1 END), 0) AS not_at_zero
            FROM inventory_items WHERE connection_id = \(bind: connectionID.rawValue) AND location_id = \(bind: locationID.rawValue)
            """
        ).first()
        return HandoverReport(
            openOrders: open,
            itemsNotAtZero: Int(try row?.decode(column: "not_at_zero", as: Int64.self) ?? 0),
            items: Int(try row?.decode(column: "items", as: Int64.self) ?? 0)
        )
    }

    /// Makes every item of the location pending: what it offers changed (its mode, its pilot SKUs).
    @discardableResult
    public func markLocationPending(connectionID: ConnectionID, locationID: LocationID) async throws -> Int {
        let count = try await sql.raw(
            """
            UPDATE inventory_items SET version = version + 1, changed_at = \(bind: nowMilliseconds), retry_at = 0
            WHERE connection_id = \(bind: connectionID.rawValue) AND location_id = \(bind: locationID.rawValue)
            RETURNING merchant_sku
            """
        ).all().count
        if count > 0 { notes.noteInventoryChanged(connectionID) }
        return count
    }

    static func decodeLocationState(_ row: any SQLRow) throws -> LocationState {
        LocationState(
            connectionID: ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self)),
            locationID: LocationID(rawValue: try row.decode(column: "location_id", as: String.self)),
            mode: LocationMode(rawValue: try row.decode(column: "mode", as: String.self)) ?? .live,
            pilotSKUs: try JSONDecoder().decode(
                [PilotSKU].self,
                from: Data(try row.decode(column: "pilot_skus", as: String.self).utf8)
            ),
            modeSince: Date(millisecondsSince1970: try row.decode(column: "mode_since", as: Int64.self)),
            changedBy: try row.decode(column: "changed_by", as: String?.self),
            wentLiveWith: try row.decode(column: "went_live_with", as: String?.self).map {
                try JSONDecoder().decode(GoLiveChecklist.self, from: Data($0.utf8))
            }
        )
    }
}
