import FlexCore
import FlexStore
import Foundation

/// Returns: what the warehouse records when a parcel comes back, and the sellable units it puts back on sale.
public struct ReturnUseCases: Sendable {
    let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// Why a receipt was not taken.
    public enum Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        case returnNotFound(ReturnID)
        /// The return cannot take it now (received already, called off), or the units have nowhere to go back to.
        case conflict(String)

        public var description: String {
            switch self {
            case .returnNotFound(let id): "No return \(id)."
            case .conflict(let reason): reason
            }
        }
    }

    /// What the warehouse found in the parcel.
    public struct Receipt: Sendable, Hashable, Encodable {
        public var items: [ReturnReceipt.Item]
        /// Put the sellable units back into a hub's stock.
        public var restock: Bool
        /// The hub to put them back into; by default the one mapped to the return's location.
        public var hub: HubCode?
        public var note: String?

        public init(items: [ReturnReceipt.Item], restock: Bool, hub: HubCode? = nil, note: String? = nil) {
            self.items = items
            self.restock = restock
            self.hub = hub
            self.note = note
        }
    }

    public static let maximumNoteLength = 1000

    /// Records the receipt of a return once: the grades must add up to the units Amazon announced, the return must
    /// not be called off or received before. Sellable units put back raise the hub's stock in the same transaction,
    /// and the inventory sync carries it to Amazon. The same request under the same idempotency key answers the
    /// first receipt again (`recorded` false).
    public func receive(
        _ id: ReturnID,
        of connectionID: ConnectionID,
        _ receipt: Receipt,
        idempotencyKey key: String,
        by principal: Principal = .node()
    ) async throws -> (return: Return, recorded: Bool) {
        try AccessUseCases.require(.workOrders, of: principal)
        if let note = receipt.note, note.count > Self.maximumNoteLength {
            throw ValidationError(field: "note", reason: "must be at most \(Self.maximumNoteLength) characters")
        }
        let fingerprint = try JSONText.encode(receipt)
        return try await store.transaction { session in
            guard let held = try await session.lockReturn(id, connectionID: connectionID) else {
                throw Refusal.returnNotFound(id)
            }
            if let earlier = held.receipt, earlier.idempotencyKey == key, earlier.fingerprint == fingerprint {
                return (held, false)
            }
            if let refusal = ReturnMachine.refusal(toReceive: held.facts.status, receipt: held.receipt) {
                throw Refusal.conflict("Return \(id) \(refusal).")
            }
            try ReturnMachine.checkReceipt(receipt.items, units: held.facts.units)
            let sellable = receipt.items.filter { $0.grade == .sellable }.reduce(0) { $0 + $1.quantity }
            var restockedHub: HubCode?
            var restocked = 0
            if receipt.restock, sellable > 0 {
                let hub = try await Self.restockHub(receipt.hub, for: held, in: session)
                guard let sku = try await session.warehouseSKU(for: held.facts.merchantSKU, connectionID: connectionID)
                else {
                    throw Refusal.conflict(
                        "No listing of the connection has merchant SKU \(held.facts.merchantSKU), so FlexBridge does not know which WMS SKU to put back; import the listing, or receive without restock."
                    )
                }
                guard let connection = try await session.connection(connectionID) else {
                    throw Refusal.returnNotFound(id)
                }
                _ = try await session.addStock(sellable, hub: hub, sku: sku, account: connection.accountID)
                restockedHub = hub
                restocked = sellable
            }
            let recorded = ReturnReceipt(
                receivedAt: store.clock.now(),
                receivedBy: principal.actor,
                items: receipt.items,
                restockedHub: restockedHub,
                restockedUnits: restocked,
                note: receipt.note,
                idempotencyKey: key,
                fingerprint: fingerprint
            )
            try await session.recordReceipt(recorded, of: id, connectionID: connectionID)
            var payload: [String: JSONValue] = [
                "returnId": .string(id.rawValue), "status": .string(held.facts.status),
                "merchantSku": .string(held.facts.merchantSKU.rawValue),
                "items": .array(
                    receipt.items.map {
                        .object(["grade": .string($0.grade.rawValue), "quantity": .number(Double($0.quantity))])
                    }
                ),
                "restockedUnits": .number(Double(restocked)),
            ]
            if let restockedHub { payload["restockedHub"] = .string(restockedHub.rawValue) }
            if let shipmentID = held.facts.shipmentID { payload["shipmentId"] = .string(shipmentID.rawValue) }
            try await session.appendEvents([
                NewEvent(
                    .returnReceived,
                    connectionID: connectionID,
                    subject: id.rawValue,
                    payload: try JSONText.encode(payload)
                )
            ])
            var updated = held
            updated.receipt = recorded
            return (updated, true)
        }
    }

    /// The hub sellable units go back into: the one named (which must feed one of the connection's locations), or
    /// the one mapped to the return's location.
    static func restockHub(_ named: HubCode?, for held: Return, in session: StoreSession) async throws -> HubCode {
        let mappings = try await session.locationMappings(for: held.connectionID)
        if let named {
            guard mappings.contains(where: { $0.hub == named }) else {
                throw ValidationError(
                    field: "hub",
                    reason: "\(named) is not mapped to any location of the return's connection"
                )
            }
            return named
        }
        let hubs = Set(mappings.filter { $0.locationID == held.facts.returnLocationID }.map(\.hub)).sorted()
        guard let hub = hubs.first else {
            throw Refusal.conflict(
                "No hub is mapped to the return location \(held.facts.returnLocationID); name the hub to put the units back into, or map one."
            )
        }
        guard hubs.count == 1 else {
            throw ValidationError(
                field: "hub",
                reason:
                    "must name the hub to put the units back into: \(hubs.map(\.rawValue).joined(separator: ", ")) all map the return location \(held.facts.returnLocationID)"
            )
        }
        return hub
    }
}
