import FlexCore
import Foundation
import SQLKit

extension StoreSession {
    /// Puts labelled orders of one location and carrier, not yet in a manifest, into a new manifest: the orders
    /// named, or every eligible one up to 100. The carrier is the label's; without one named, the carrier of the
    /// oldest eligible order.
    public func createManifest(
        connectionID: ConnectionID, locationID: LocationID, carrierName: String?, shipmentIDs: [String]?
    ) async throws -> Manifest {
        let rows = try await sql.raw(
            """
            SELECT o.shipment_id, o.amazon_created_at, MIN(d.carrier_name) AS carrier_name FROM orders o
            JOIN documents d ON d.connection_id = o.connection_id AND d.shipment_id = o.shipment_id AND d.kind = 'label'
                AND d.superseded_at IS NULL
            WHERE o.connection_id = \(bind: connectionID.rawValue) AND o.location_id = \(bind: locationID.rawValue)
                AND o.state = 'ready_to_ship'
                AND NOT EXISTS (SELECT 1 FROM manifest_orders m WHERE m.connection_id = o.connection_id AND m.shipment_id = o.shipment_id)
            GROUP BY o.shipment_id, o.amazon_created_at
            ORDER BY o.amazon_created_at, o.shipment_id
            """
        ).all()
        var eligible: [(shipmentID: String, carrier: String)] = try rows.map {
            (try $0.decode(column: "shipment_id", as: String.self), try $0.decode(column: "carrier_name", as: String?.self) ?? "")
        }
        if let shipmentIDs {
            guard shipmentIDs.count <= Manifest.maximumOrders else {
                throw ValidationError(field: "shipmentIds", reason: "must name at most \(Manifest.maximumOrders) orders, got \(shipmentIDs.count)")
            }
            for (index, id) in shipmentIDs.enumerated() where !eligible.contains(where: { $0.shipmentID == id }) {
                throw ValidationError(
                    field: "shipmentIds[\(index)]",
                    reason: "names \(id), which is not a labelled order of location \(locationID) outside every manifest")
            }
            eligible = eligible.filter { shipmentIDs.contains($0.shipmentID) }
        }
        guard let carrier = carrierName ?? eligible.first?.carrier else {
            throw StoreError(code: .conflict, message: "Location \(locationID) has no labelled order outside a manifest.")
        }
        if shipmentIDs != nil, let other = eligible.first(where: { $0.carrier != carrier }) {
            throw ValidationError(field: "shipmentIds", reason: "mix carriers: \(other.shipmentID) goes with \(other.carrier), not \(carrier)")
        }
        let chosen = eligible.filter { $0.carrier == carrier }.prefix(Manifest.maximumOrders)
        guard !chosen.isEmpty else {
            throw StoreError(code: .conflict, message: "Location \(locationID) has no labelled \(carrier) order outside a manifest.")
        }
        let id = "MAN-\(UUID().uuidString.prefix(8).lowercased())"
        try await sql.raw(
            """
            INSERT INTO manifests (id, connection_id, location_id, carrier_name, status, created_at)
            VALUES (\(bind: id), \(bind: connectionID.rawValue), \(bind: locationID.rawValue), \(bind: carrier), 'open', \(bind: nowMilliseconds))
            """
        ).run()
        for order in chosen {
            try await sql.raw(
                """
                INSERT INTO manifest_orders (manifest_id, connection_id, shipment_id)
                VALUES (\(bind: id), \(bind: connectionID.rawValue), \(bind: order.shipmentID))
                """
            ).run()
        }
        try await appendEvents([
            NewEvent(
                type: "manifest.created", connectionID: connectionID, subject: id,
                payload: try Self.json(["manifestId": JSONValue.string(id), "orders": .number(Double(chosen.count)), "carrierName": .string(carrier)]))
        ])
        guard let manifest = try await manifest(id) else { throw StoreError.notFound("Manifest \(id)") }
        return manifest
    }

    public func manifest(_ id: String) async throws -> Manifest? {
        guard let row = try await sql.raw("SELECT * FROM manifests WHERE id = \(bind: id)").first() else { return nil }
        return try await decodeManifest(row)
    }

    public func manifests(connectionID: ConnectionID?, limit: Int) async throws -> [Manifest] {
        var query: SQLQueryString = "SELECT * FROM manifests WHERE 1 = 1"
        if let connectionID { query += " AND connection_id = \(bind: connectionID.rawValue)" }
        query += " ORDER BY created_at DESC, id LIMIT \(bind: Int64(limit))"
        var manifests: [Manifest] = []
        for row in try await sql.raw(query).all() { manifests.append(try await decodeManifest(row)) }
        return manifests
    }

    /// The manifest an order is in, if any.
    public func manifestID(shipmentID: String, connectionID: ConnectionID) async throws -> String? {
        try await sql.raw(
            "SELECT manifest_id FROM manifest_orders WHERE connection_id = \(bind: connectionID.rawValue) AND shipment_id = \(bind: shipmentID)"
        ).first()?.decode(column: "manifest_id", as: String.self)
    }

    /// Hands a manifest over: a ship command for every order in it (keyed by the manifest, so repeating stores none
    /// twice), and the manifest marked handed over.
    public func handOverManifest(_ id: String) async throws -> Manifest {
        guard let manifest = try await manifest(id) else { throw StoreError.notFound("Manifest \(id)") }
        for entry in manifest.entries {
            guard let order = try await order(entry.shipmentID, connectionID: manifest.connectionID), !order.state.isFinal else { continue }
            _ = try await submitCommand(
                CommandRequest(type: .ship), fingerprint: "manifest-handover", for: order, idempotencyKey: "manifest:\(id):\(entry.shipmentID)")
        }
        if manifest.status == .open {
            try await sql.raw(
                "UPDATE manifests SET status = 'handed_over', handed_over_at = \(bind: nowMilliseconds) WHERE id = \(bind: id)"
            ).run()
            try await appendEvents([
                NewEvent(type: "manifest.handed_over", connectionID: manifest.connectionID, subject: id, payload: try Self.json(["manifestId": id]))
            ])
        }
        guard let updated = try await self.manifest(id) else { throw StoreError.notFound("Manifest \(id)") }
        return updated
    }

    private func decodeManifest(_ row: any SQLRow) async throws -> Manifest {
        let id = try row.decode(column: "id", as: String.self)
        let connectionID = ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self))
        let orderRows = try await sql.raw(
            """
            SELECT m.shipment_id, o.state FROM manifest_orders m
            JOIN orders o ON o.connection_id = m.connection_id AND o.shipment_id = m.shipment_id
            WHERE m.manifest_id = \(bind: id) ORDER BY o.amazon_created_at, m.shipment_id
            """
        ).all()
        var entries: [Manifest.Entry] = []
        for orderRow in orderRows {
            let shipmentID = try orderRow.decode(column: "shipment_id", as: String.self)
            let labels = try await sql.raw(
                """
                SELECT package_id, tracking_id FROM documents
                WHERE connection_id = \(bind: connectionID.rawValue) AND shipment_id = \(bind: shipmentID) AND kind = 'label'
                    AND superseded_at IS NULL
                ORDER BY package_id
                """
            ).all()
            entries.append(
                Manifest.Entry(
                    shipmentID: shipmentID,
                    state: FulfilmentState(rawValue: try orderRow.decode(column: "state", as: String.self)) ?? .readyToShip,
                    packages: try labels.map {
                        .init(packageID: try $0.decode(column: "package_id", as: String?.self) ?? "", trackingID: try $0.decode(column: "tracking_id", as: String?.self))
                    }))
        }
        return Manifest(
            id: id, connectionID: connectionID, locationID: LocationID(rawValue: try row.decode(column: "location_id", as: String.self)),
            carrierName: try row.decode(column: "carrier_name", as: String.self),
            status: Manifest.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .open,
            createdAt: Date(millisecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
            handedOverAt: try row.decode(column: "handed_over_at", as: Int64?.self).map(Date.init(millisecondsSince1970:)),
            entries: entries)
    }
}
