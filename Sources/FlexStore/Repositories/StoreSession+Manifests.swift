import FlexCore
import Foundation
import SQLKit

extension StoreSession {
    /// Puts labelled orders of one location and carrier, not yet in a manifest, into a new manifest: the orders
    /// named, or every eligible one up to 100. The carrier is the label's; without one named, the carrier of the
    /// oldest eligible order. Under an `idempotencyKey` used before, the manifest created then is returned (with
    /// `created` false) if it was asked for the same location, carrier and orders; otherwise a conflict.
    public func createManifest(
        connectionID: ConnectionID,
        locationID: LocationID,
        carrierName: String?,
        shipmentIDs: [ShipmentID]?,
        idempotencyKey: String? = nil,
        createdBy: String? = nil
    ) async throws -> (manifest: Manifest, created: Bool) {
        if let idempotencyKey,
            let earlier = try await manifest(idempotencyKey: idempotencyKey, connectionID: connectionID)
        {
            return (
                try Self.replay(earlier, locationID: locationID, carrierName: carrierName, shipmentIDs: shipmentIDs),
                false
            )
        }
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
        let candidates = try rows.map {
            ManifestRules.Candidate(
                shipmentID: try $0.decode(column: "shipment_id", as: ShipmentID.self),
                carrier: try $0.decode(column: "carrier_name", as: String?.self) ?? ""
            )
        }
        let (carrier, chosen): (String, [ShipmentID])
        do {
            (carrier, chosen) = try ManifestRules.choose(
                from: candidates,
                named: shipmentIDs,
                carrierName: carrierName,
                locationID: locationID
            )
        } catch let nothing as ManifestRules.NothingToManifest {
            throw StoreError(code: .conflict, message: nothing.message)
        }
        let id = ManifestID.generate()
        // The same key sent twice at once inserts once: the second insert waits for the first (PostgreSQL), does
        // nothing, and the first manifest is returned.
        let inserted = try await sql.raw(
            """
            INSERT INTO manifests (id, connection_id, location_id, carrier_name, status, created_at, idempotency_key, created_by)
            VALUES (\(bind: id), \(bind: connectionID.rawValue), \(bind: locationID.rawValue), \(bind: carrier), 'open', \(bind: nowMilliseconds),
                \(bind: idempotencyKey), \(bind: createdBy))
            ON CONFLICT (connection_id, idempotency_key) DO NOTHING
            RETURNING id
            """
        ).first()
        if inserted == nil {
            guard let idempotencyKey,
                let earlier = try await manifest(idempotencyKey: idempotencyKey, connectionID: connectionID)
            else {
                throw StoreError(
                    code: .conflict,
                    message: "The manifest's idempotency key is taken; send the request again."
                )
            }
            return (
                try Self.replay(earlier, locationID: locationID, carrierName: carrierName, shipmentIDs: shipmentIDs),
                false
            )
        }
        for shipmentID in chosen {
            // Another manifest made at the same moment (PostgreSQL) may have taken the order: this one is refused
            // whole, as a conflict, and nothing of it stays.
            let added = try await sql.raw(
                """
                INSERT INTO manifest_orders (manifest_id, connection_id, shipment_id)
                VALUES (\(bind: id), \(bind: connectionID.rawValue), \(bind: shipmentID))
                ON CONFLICT (connection_id, shipment_id) DO NOTHING
                RETURNING shipment_id
                """
            ).first()
            guard added != nil else {
                throw StoreError(
                    code: .conflict,
                    message: "Order \(shipmentID) went into another manifest meanwhile; ask again."
                )
            }
        }
        try await appendEvents([
            NewEvent(
                .manifestCreated,
                connectionID: connectionID,
                subject: id.rawValue,
                payload: try Self.json([
                    "manifestId": JSONValue.string(id.rawValue), "orders": .number(Double(chosen.count)),
                    "carrierName": .string(carrier),
                ])
            )
        ])
        guard let manifest = try await manifest(id) else { throw StoreError.notFound("Manifest \(id)") }
        return (manifest, true)
    }

    /// The manifest created before under the same key, if the request is the same one.
    static func replay(
        _ earlier: Manifest,
        locationID: LocationID,
        carrierName: String?,
        shipmentIDs: [ShipmentID]?
    ) throws -> Manifest {
        guard
            ManifestRules.isRepeat(
                of: earlier,
                locationID: locationID,
                carrierName: carrierName,
                shipmentIDs: shipmentIDs
            )
        else {
            throw StoreError(
                code: .conflict,
                message:
                    "Idempotency key \(earlier.idempotencyKey ?? "") was used for manifest \(earlier.id) of location \(earlier.locationID) and carrier \(earlier.carrierName) with other orders; use a new key for a new manifest."
            )
        }
        return earlier
    }

    public func manifest(_ id: ManifestID) async throws -> Manifest? {
        guard let row = try await sql.raw("SELECT * FROM manifests WHERE id = \(bind: id)").first() else { return nil }
        return try await decodeManifest(row)
    }

    func manifest(idempotencyKey: String, connectionID: ConnectionID) async throws -> Manifest? {
        guard
            let row = try await sql.raw(
                """
                SELECT * FROM manifests
                WHERE connection_id = \(bind: connectionID.rawValue) AND idempotency_key = \(bind: idempotencyKey)
                """
            ).first()
        else { return nil }
        return try await decodeManifest(row)
    }

    /// How many labelled orders wait for a manifest, per connection and location (the panel's manifests page).
    public func labelledOrderCounts(
        within: [ConnectionID]
    ) async throws -> [(connectionID: ConnectionID, locationID: LocationID, count: Int)] {
        guard !within.isEmpty else { return [] }
        return try await sql.raw(
            """
            SELECT o.connection_id, o.location_id, COUNT(*) AS n FROM orders o
            WHERE \(Self.within("o.connection_id", within)) AND o.state = \(bind: FulfilmentState.readyToShip.rawValue)
                AND NOT EXISTS (SELECT 1 FROM manifest_orders m
                    WHERE m.connection_id = o.connection_id AND m.shipment_id = o.shipment_id)
            GROUP BY o.connection_id, o.location_id ORDER BY o.connection_id, o.location_id
            """
        ).all().map { row in
            (
                ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self)),
                LocationID(rawValue: try row.decode(column: "location_id", as: String.self)),
                Int(try row.decode(column: "n", as: Int64.self))
            )
        }
    }

    /// Manifests, newest first, optionally of one connection, location and status; `before` is the last id of the
    /// previous page.
    public func manifests(
        connectionID: ConnectionID?,
        within: [ConnectionID]? = nil,
        locationID: LocationID? = nil,
        status: Manifest.Status? = nil,
        before: ManifestID? = nil,
        limit: Int
    ) async throws -> [Manifest] {
        var query: SQLQueryString = "SELECT * FROM manifests WHERE 1 = 1"
        if let connectionID { query += " AND connection_id = \(bind: connectionID.rawValue)" }
        if let within { query += " AND \(Self.within("connection_id", within))" }
        if let locationID { query += " AND location_id = \(bind: locationID.rawValue)" }
        if let status { query += " AND status = \(bind: status.rawValue)" }
        if let before {
            guard
                let last = try await sql.raw("SELECT created_at FROM manifests WHERE id = \(bind: before)").first()?
                    .decode(column: "created_at", as: Int64.self)
            else {
                throw ValidationError(field: "before", reason: "names \(before), which is not a manifest")
            }
            query += " AND (created_at < \(bind: last) OR (created_at = \(bind: last) AND id > \(bind: before)))"
        }
        query += " ORDER BY created_at DESC, id LIMIT \(literal: Int64(limit))"
        var manifests: [Manifest] = []
        for row in try await sql.raw(query).all() { manifests.append(try await decodeManifest(row)) }
        return manifests
    }

    /// The manifest an order is in, if any.
    public func manifestID(shipmentID: ShipmentID, connectionID: ConnectionID) async throws -> ManifestID? {
        try await sql.raw(
            "SELECT manifest_id FROM manifest_orders WHERE connection_id = \(bind: connectionID.rawValue) AND shipment_id = \(bind: shipmentID)"
        ).first()?.decode(column: "manifest_id", as: ManifestID.self)
    }

    /// Marks the manifest handed over now, and wakes the connection's fulfilment worker for the `ship` commands
    /// queued with it.
    public func markHandedOver(_ id: ManifestID, by actor: String? = nil) async throws {
        guard
            let row = try await sql.raw(
                """
                UPDATE manifests SET status = 'handed_over', handed_over_at = \(bind: nowMilliseconds),
                    handed_over_by = \(bind: actor)
                WHERE id = \(bind: id) RETURNING connection_id
                """
            ).first()
        else { throw StoreError.notFound("Manifest \(id)") }
        notes.note(.fulfilment, for: [try row.decode(column: "connection_id", as: ConnectionID.self)])
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
                    shipmentID: ShipmentID(rawValue: shipmentID),
                    state: FulfilmentState(rawValue: try orderRow.decode(column: "state", as: String.self))
                        ?? .readyToShip,
                    packages: try labels.map {
                        .init(
                            packageID: try $0.decode(column: "package_id", as: PackageID?.self) ?? "",
                            trackingID: try $0.decode(column: "tracking_id", as: String?.self)
                        )
                    }
                )
            )
        }
        return Manifest(
            id: ManifestID(rawValue: id),
            connectionID: connectionID,
            locationID: LocationID(rawValue: try row.decode(column: "location_id", as: String.self)),
            carrierName: try row.decode(column: "carrier_name", as: String.self),
            status: Manifest.Status(rawValue: try row.decode(column: "status", as: String.self)) ?? .open,
            createdAt: Date(millisecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
            handedOverAt: try row.decode(column: "handed_over_at", as: Int64?.self).map(
                Date.init(millisecondsSince1970:)
            ),
            entries: entries,
            idempotencyKey: try row.decode(column: "idempotency_key", as: String?.self),
            createdBy: try row.decode(column: "created_by", as: String?.self),
            handedOverBy: try row.decode(column: "handed_over_by", as: String?.self)
        )
    }
}
