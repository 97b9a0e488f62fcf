import Foundation

/// How far a Seller Flex location is in Amazon's go-live process, or in handing it over to another connector.
public enum LocationMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// Going live: only the pilot SKUs are offered, each at most its cap; every other item is offered 0, while test
    /// orders prove the flow (a shipped order, a seller's and a customer's cancellation).
    case pilot
    /// The whole catalogue is offered.
    case live
    /// Being handed over to another connector: every item is offered 0, open orders are still worked.
    case outgoing
    /// Handed over: FlexBridge offers 0 everywhere, polls nothing and runs no command at the location.
    case handedOver = "handed_over"
}

/// A SKU offered while a location is in pilot, and the most units offered of it.
public struct PilotSKU: Sendable, Hashable, Codable {
    public var merchantSKU: MerchantSKU
    public var maximumQuantity: Int

    public init(merchantSKU: MerchantSKU, maximumQuantity: Int) {
        self.merchantSKU = merchantSKU
        self.maximumQuantity = maximumQuantity
    }
}

/// What a test order proved during a location's pilot: the shipment that showed each step of Amazon's go-live test.
public struct GoLiveChecklist: Sendable, Hashable, Codable {
    /// An order shipped (or delivered) from the location.
    public var shippedOrder: ShipmentID?
    /// An order the seller rejected.
    public var sellerCancellation: ShipmentID?
    /// An order the customer (or the marketplace) cancelled.
    public var customerCancellation: ShipmentID?

    public init(
        shippedOrder: ShipmentID? = nil,
        sellerCancellation: ShipmentID? = nil,
        customerCancellation: ShipmentID? = nil
    ) {
        self.shippedOrder = shippedOrder
        self.sellerCancellation = sellerCancellation
        self.customerCancellation = customerCancellation
    }

    /// What is still to prove, in the issue's words.
    public var missing: [String] {
        var missing: [String] = []
        if shippedOrder == nil { missing.append("a shipped test order") }
        if sellerCancellation == nil { missing.append("a seller cancellation (a rejected test order)") }
        if customerCancellation == nil { missing.append("a customer cancellation") }
        return missing
    }

    public var isComplete: Bool { missing.isEmpty }
}

/// What still ties an outgoing location to FlexBridge: orders not yet final, items Amazon has not acknowledged at 0.
public struct HandoverReport: Sendable, Hashable, Codable {
    public var openOrders: [ShipmentID]
    /// Items of the location (SKU and channel) not yet acknowledged by Amazon at 0.
    public var itemsNotAtZero: Int
    public var items: Int

    public init(openOrders: [ShipmentID], itemsNotAtZero: Int, items: Int) {
        self.openOrders = openOrders
        self.itemsNotAtZero = itemsNotAtZero
        self.items = items
    }

    /// No open orders and every item at 0 at Amazon: the other connector can take over.
    public var isClean: Bool { openOrders.isEmpty && itemsNotAtZero == 0 }

    /// What is still open, for a refusal.
    public var missing: [String] {
        var missing: [String] = []
        if !openOrders.isEmpty {
            let shown = openOrders.prefix(5).map(\.rawValue).joined(separator: ", ")
            missing.append(
                "\(openOrders.count) open order\(openOrders.count == 1 ? "" : "s") (\(shown)\(openOrders.count > 5 ? ", …" : ""))"
            )
        }
        if itemsNotAtZero > 0 {
            missing.append(
                "\(itemsNotAtZero) item\(itemsNotAtZero == 1 ? "" : "s") not yet acknowledged by Amazon at 0"
            )
        }
        return missing
    }
}

/// A location's mode and what goes with it. A location never set is live.
public struct LocationState: Sendable, Hashable, Codable {
    public var connectionID: ConnectionID
    public var locationID: LocationID
    public var mode: LocationMode
    public var pilotSKUs: [PilotSKU]
    /// When the mode was set; nil for a location never set (live from the start).
    public var modeSince: Date?
    public var changedBy: String?
    /// What the pilot had proved when the location went live (forced go-lives keep what was missing).
    public var wentLiveWith: GoLiveChecklist?

    public init(
        connectionID: ConnectionID,
        locationID: LocationID,
        mode: LocationMode = .live,
        pilotSKUs: [PilotSKU] = [],
        modeSince: Date? = nil,
        changedBy: String? = nil,
        wentLiveWith: GoLiveChecklist? = nil
    ) {
        self.connectionID = connectionID
        self.locationID = locationID
        self.mode = mode
        self.pilotSKUs = pilotSKUs
        self.modeSince = modeSince
        self.changedBy = changedBy
        self.wentLiveWith = wentLiveWith
    }

    /// What the location offers of a SKU: everything, at most a cap, or nothing.
    public func offer(_ sku: MerchantSKU) -> Offer {
        switch mode {
        case .live: .everything
        case .outgoing, .handedOver: .nothing
        case .pilot: pilotSKUs.first { $0.merchantSKU == sku }.map { .atMost($0.maximumQuantity) } ?? .nothing
        }
    }

    /// What a location offers of one SKU.
    public enum Offer: Sendable, Hashable {
        case everything
        case atMost(Int)
        case nothing
    }

    /// Whether FlexBridge still works the location's orders and returns.
    public var isWorked: Bool { mode != .handedOver }
}

/// A requested change of a location's mode.
public struct LocationModeChange: Sendable, Hashable {
    public var mode: LocationMode
    public var pilotSKUs: [PilotSKU]
    /// Go live without a complete checklist; needs a reason, which goes to the change log.
    public var force: Bool
    public var reason: String?

    public init(mode: LocationMode, pilotSKUs: [PilotSKU] = [], force: Bool = false, reason: String? = nil) {
        self.mode = mode
        self.pilotSKUs = pilotSKUs
        self.force = force
        self.reason = reason
    }
}

/// The rules of Amazon's go-live and hand-over process for a location's mode.
public enum LocationRules {
    /// The most pilot SKUs: a pilot is a few test SKUs, not a catalogue.
    public static let maximumPilotSKUs = 50
    public static let maximumReasonLength = 500

    /// Why a mode change is refused, in words that say what is missing.
    public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Checks the request's shape, naming the field at fault.
    public static func validate(_ change: LocationModeChange) throws(ValidationError) {
        if change.mode == .pilot {
            guard !change.pilotSKUs.isEmpty else {
                throw ValidationError(field: "pilotSkus", reason: "must name at least one SKU for a pilot")
            }
            guard change.pilotSKUs.count <= maximumPilotSKUs else {
                throw ValidationError(
                    field: "pilotSkus",
                    reason: "must name at most \(maximumPilotSKUs) SKUs, got \(change.pilotSKUs.count)"
                )
            }
            var seen: Set<MerchantSKU> = []
            for (index, sku) in change.pilotSKUs.enumerated() {
                if sku.merchantSKU.rawValue.isEmpty || sku.merchantSKU.rawValue.count > 40 {
                    throw ValidationError(
                        field: "pilotSkus[\(index)].merchantSku",
                        reason: "must be 1 to 40 characters"
                    )
                }
                guard seen.insert(sku.merchantSKU).inserted else {
                    throw ValidationError(
                        field: "pilotSkus[\(index)].merchantSku",
                        reason: "names \(sku.merchantSKU) a second time"
                    )
                }
                guard (1...StockLevel.maximumQuantity).contains(sku.maximumQuantity) else {
                    throw ValidationError(
                        field: "pilotSkus[\(index)].maximumQuantity",
                        reason: "must be 1 to \(StockLevel.maximumQuantity), got \(sku.maximumQuantity)"
                    )
                }
            }
        } else if !change.pilotSKUs.isEmpty {
            throw ValidationError(field: "pilotSkus", reason: "are for mode pilot only")
        }
        if let reason = change.reason, reason.count > maximumReasonLength {
            throw ValidationError(field: "reason", reason: "must be at most \(maximumReasonLength) characters")
        }
        if change.force {
            guard change.mode == .live else {
                throw ValidationError(field: "force", reason: "is for going live without a complete checklist only")
            }
            guard let reason = change.reason, !reason.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw ValidationError(field: "reason", reason: "must say why the checklist is skipped when forcing")
            }
        }
    }

    /// Whether Amazon's process allows the change: live only once the pilot proved the flow (or forced, with a
    /// reason); handed over only from outgoing, once the location is clean. Pilot and outgoing are always allowed —
    /// a live location can go back to a pilot, and a hand-over can be called off by going live again.
    public static func check(
        _ change: LocationModeChange,
        from state: LocationState,
        checklist: GoLiveChecklist,
        handover: HandoverReport
    ) throws(Refusal) {
        switch change.mode {
        case .live:
            let needsChecklist = state.mode == .pilot || state.mode == .handedOver
            if needsChecklist, !checklist.isComplete, !change.force {
                throw Refusal(
                    message:
                        "Location \(state.locationID) cannot go live yet: its pilot has not shown \(checklist.missing.joined(separator: ", ")). Process those test orders, or force with a reason."
                )
            }
        case .handedOver:
            guard state.mode == .outgoing else {
                throw Refusal(
                    message:
                        "Location \(state.locationID) is \(state.mode.rawValue); set it outgoing first, so that it offers 0 and its open orders are finished."
                )
            }
            guard handover.isClean else {
                throw Refusal(
                    message:
                        "Location \(state.locationID) is not clean yet: \(handover.missing.joined(separator: "; "))."
                )
            }
        case .pilot, .outgoing:
            break
        }
    }
}
