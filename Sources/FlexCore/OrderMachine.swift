import Foundation

/// The rules for a copy of Amazon's shipment that reaches FlexBridge (by a poll, a notification, or a step the
/// fulfilment worker recorded): whether it replaces the copy held, which state the order is in, what the WMS is told,
/// and what else follows — queued commands cancelled, units put back, the reservation released, an automatic
/// confirmation. Pure: the caller loads what it needs, asks, and carries the decision out in one transaction.
public enum OrderMachine {
    /// The copy the store holds.
    public struct Held: Sendable, Hashable {
        public var status: String
        public var amazonUpdatedAt: Date

        public init(status: String, amazonUpdatedAt: Date) {
            self.status = status
            self.amazonUpdatedAt = amazonUpdatedAt
        }
    }

    /// What to do with a copy that replaces the held one (or is the first).
    public struct Decision: Sendable, Hashable {
        public var change: OrderChange
        /// FlexBridge's state of the order with this copy.
        public var state: FulfilmentState
        public var event: EventType
        /// The event's data; ``cancelsOpenCommands`` adds `cancelledCommandIds` once they are cancelled.
        public var payload: [String: JSONValue]
        /// Commands still queued for the order are cancelled: it was cancelled or rejected.
        public var cancelsOpenCommands: Bool
        /// The units of the order's lines stop being reserved: it left the warehouse, or was cancelled.
        public var releasesReservation: Bool
        /// A confirmation is queued: a new order to confirm, on a connection that confirms automatically.
        public var confirmsAutomatically: Bool
    }

    /// FlexBridge's state for a copy: Amazon's status, told apart into the seller's rejection and the marketplace's
    /// cancellation by the reason; labelled but not ready to ship while FlexBridge does not hold the labels (the
    /// answer was lost, the node was killed mid-label, they were made in Seller Central) — the order becomes ready to
    /// ship, and says so, when they are stored.
    public static func state(of copy: Order, facts: ShipmentFacts?, labelsHeld: Bool) -> FulfilmentState {
        let state = FulfilmentState(amazonStatus: copy.status, cancellationReason: facts?.reason)
        return state == .readyToShip && !labelsHeld ? .packed : state
    }

    /// Whether the state of the copy depends on the labels held (``state(of:facts:labelsHeld:)``).
    public static func needsLabels(_ copy: Order, facts: ShipmentFacts?) -> Bool {
        FulfilmentState(amazonStatus: copy.status, cancellationReason: facts?.reason) == .readyToShip
    }

    /// Whether a copy replaces the one held: newer by Amazon's clock (to the millisecond, the store's precision) or,
    /// at the same time, further on in the shipment's life. A copy that does not is the same or an older one.
    public static func supersedes(_ copy: Order, _ held: Held) -> Bool {
        let copyTime = copy.amazonUpdatedAt.millisecondsSince1970
        let heldTime = held.amazonUpdatedAt.millisecondsSince1970
        return copyTime > heldTime
            || (copyTime == heldTime && ShipmentStatus.rank(of: copy.status) > ShipmentStatus.rank(of: held.status))
    }

    /// Weighs a copy against the one held. A copy replaces it when it is newer by Amazon's clock or, at the same
    /// time, further on in the shipment's life (what FlexBridge recorded of a call Amazon accepted, before Amazon's
    /// own copy of the change arrives). Nil: the same or an older copy — nothing changes and nothing is said, so a
    /// copy read twice (a polling overlap, a notification and a poll) is `order.created` exactly once.
    public static func receive(
        _ copy: Order,
        facts: ShipmentFacts?,
        held: Held?,
        labelsHeld: Bool,
        autoConfirm: Bool
    ) -> Decision? {
        if let held, !supersedes(copy, held) { return nil }
        let state = state(of: copy, facts: facts, labelsHeld: labelsHeld)
        let change: OrderChange = held.map { .updated(previousStatus: $0.status) } ?? .created
        let event: EventType =
            switch change {
            case .created: .orderCreated
            // The seller's own rejection is not the marketplace's cancellation: a WMS acts differently on each.
            case .updated(let previous)
            where copy.status == ShipmentStatus.cancelled.rawValue && previous != ShipmentStatus.cancelled.rawValue:
                state == .rejected ? .orderRejected : .orderCancelled
            default: .orderUpdated
            }
        var payload: [String: JSONValue] = [
            "shipmentId": .string(copy.shipmentID.rawValue), "status": .string(copy.status),
            "state": .string(state.rawValue),
            "locationId": .string(copy.locationID.rawValue), "program": .string(copy.program.rawValue),
        ]
        // A replacement or exchange names the order it replaces, so that the WMS links the two from the first event.
        if let original = copy.originalShipmentID { payload["originalShipmentId"] = .string(original.rawValue) }
        if let type = copy.shipmentType, type != "NEW" { payload["shipmentType"] = .string(type) }
        let ending = event == .orderCancelled || event == .orderRejected
        if let held {
            payload["previousStatus"] = .string(held.status)
            if ending {
                if let reason = facts?.reason { payload["reason"] = .string(reason) }
                payload["putBack"] = putBack(previousStatus: held.status, facts: facts)
            }
        }
        return Decision(
            change: change,
            state: state,
            event: event,
            payload: payload,
            cancelsOpenCommands: ending,
            releasesReservation: held.map {
                facts != nil && releases(copy.status) && !releases($0.status)
            } ?? false,
            confirmsAutomatically: held == nil && state == .awaitingConfirmation && autoConfirm
        )
    }

    private static func releases(_ status: String) -> Bool {
        ShipmentStatus(rawValue: status)?.releasesReservation ?? false
    }

    /// What the warehouse should put back when an order it worked on is cancelled: nothing before confirmation,
    /// the picked units after it, the packed units (with their packages) once packed.
    public static func putBack(previousStatus: String, facts: ShipmentFacts?) -> JSONValue {
        let stage: String
        switch FulfilmentState(amazonStatus: previousStatus) {
        case .confirmed: stage = "picked"
        case .packed, .readyToShip: stage = "packed"
        default: return .null
        }
        let items: [JSONValue] = (facts?.lineItems ?? []).map {
            .object([
                "lineItemId": .string($0.shipmentLineItemId), "merchantSku": .string($0.merchantSku),
                "quantity": .number(Double($0.numberOfUnits)),
            ])
        }
        var putBack: [String: JSONValue] = ["stage": .string(stage), "items": .array(items)]
        if stage == "packed" { putBack["packageIds"] = .array((facts?.packages ?? []).map { .string($0.id.rawValue) }) }
        return .object(putBack)
    }
}
