/// Amazon's status of an External Fulfillment shipment, in the order of the shipment's life — defined here once:
/// the order machine weighs copies by it, the order worker polls each, the fulfilment worker reads from it whether a
/// command's step is done. A cancellation ends the life, so it ranks last.
public enum ShipmentStatus: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    case created = "CREATED"
    case accepted = "ACCEPTED"
    case confirmed = "CONFIRMED"
    case packageCreated = "PACKAGE_CREATED"
    case pickupSlotRetrieved = "PICKUP_SLOT_RETRIEVED"
    case invoiceGenerated = "INVOICE_GENERATED"
    case shiplabelGenerated = "SHIPLABEL_GENERATED"
    case shipped = "SHIPPED"
    case delivered = "DELIVERED"
    case cancelled = "CANCELLED"

    /// Where the status stands in the shipment's life.
    public var rank: Int { Self.allCases.firstIndex(of: self)! }

    /// Where a status Amazon sent stands; -1 for one this version does not know, which ranks before every other.
    public static func rank(of status: String) -> Int { ShipmentStatus(rawValue: status)?.rank ?? -1 }

    public static func < (lhs: ShipmentStatus, rhs: ShipmentStatus) -> Bool { lhs.rank < rhs.rank }

    /// Whether a shipment in this status no longer holds a reservation of its units (shipped, delivered,
    /// cancelled — a seller's rejection included).
    public var releasesReservation: Bool { self == .shipped || self == .delivered || self == .cancelled }

    /// Whether Amazon's shipment holds its packages in this status.
    public var holdsPackages: Bool { self >= .packageCreated && self != .cancelled }

    /// Whether the shipment has come, on its way forward, at least as far as `step` (a cancellation is not on the
    /// way: it has come nowhere).
    public func hasReached(_ step: ShipmentStatus) -> Bool { self != .cancelled && self >= step }
}
