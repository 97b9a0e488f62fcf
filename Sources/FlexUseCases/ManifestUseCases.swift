import FlexCore
import FlexStore

/// Manifests: labelled orders gathered for a carrier's pick-up, and their hand-over.
public struct ManifestUseCases: Sendable {
    let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// A new manifest of a location's labelled orders (see ``ManifestRules``), or — under an idempotency key used
    /// before for the same request — the one made then (`created` false).
    public func create(
        connectionID: ConnectionID,
        locationID: LocationID,
        carrierName: String?,
        shipmentIDs: [ShipmentID]?,
        idempotencyKey: String?,
        by principal: Principal = .node()
    ) async throws -> (manifest: Manifest, created: Bool) {
        try AccessUseCases.require(.workOrders, of: principal)
        return try await store.transaction {
            try await $0.createManifest(
                connectionID: connectionID,
                locationID: locationID,
                carrierName: carrierName,
                shipmentIDs: shipmentIDs,
                idempotencyKey: idempotencyKey,
                createdBy: principal.actor
            )
        }
    }

    /// Hands the manifest over to the carrier, in one transaction: each of its orders not yet final gets a `ship`
    /// command (under a key of the manifest and the order, so a second hand-over queues nothing twice), and an open
    /// manifest becomes handed over, with its event. Throws not found for an unknown manifest.
    public func handOver(_ id: ManifestID, by principal: Principal = .node()) async throws -> Manifest {
        try AccessUseCases.require(.workOrders, of: principal)
        return try await store.transaction { session in
            guard let manifest = try await session.manifest(id) else { throw StoreError.notFound("Manifest \(id)") }
            for entry in manifest.entries {
                guard let order = try await session.order(entry.shipmentID, connectionID: manifest.connectionID),
                    !order.state.isFinal
                else { continue }
                _ = try await session.submitCommand(
                    CommandRequest(type: .ship),
                    fingerprint: "manifest-handover",
                    for: order,
                    idempotencyKey: "manifest:\(id):\(entry.shipmentID)",
                    requestedBy: principal.actor
                )
            }
            if manifest.status == .open {
                try await session.markHandedOver(id, by: principal.actor)
                try await session.appendEvents([
                    NewEvent(
                        .manifestHandedOver,
                        connectionID: manifest.connectionID,
                        subject: id.rawValue,
                        payload: try JSONText.encode(["manifestId": id])
                    )
                ])
            }
            guard let updated = try await session.manifest(id) else { throw StoreError.notFound("Manifest \(id)") }
            return updated
        }
    }
}
