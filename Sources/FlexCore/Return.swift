import Foundation

/// Where a return stands in Amazon's lifecycle: on its way from the customer to the seller's return location, then
/// graded there.
public enum ReturnStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case created = "CREATED"
    case carrierNotifiedToPickUp = "CARRIER_NOTIFIED_TO_PICK_UP_FROM_CUSTOMER"
    case carrierOutForPickUp = "CARRIER_OUT_FOR_PICK_UP_FROM_CUSTOMER"
    case customerCancelledPickUp = "CUSTOMER_CANCELLED_PICK_UP"
    case customerRescheduledPickUp = "CUSTOMER_RESCHEDULED_PICK_UP"
    case pickedFromCustomer = "PICKED_FROM_CUSTOMER"
    case customerDroppedOff = "CUSTOMER_DROPPED_OFF"
    case inTransit = "IN_TRANSIT"
    case replanned = "REPLANNED"
    case outForDelivery = "OUT_FOR_DELIVERY"
    case delivered = "DELIVERED"
    case rejected = "REJECTED"
    case cancelled = "CANCELLED"
    case partiallyProcessed = "PARTIALLY_PROCESSED"
    case processed = "PROCESSED"

    /// The statuses in which nothing is coming back: the customer or Amazon called the return off.
    public static func isCancelled(_ status: String) -> Bool {
        status == cancelled.rawValue || status == customerCancelledPickUp.rawValue
    }

    /// The statuses in which no parcel is on its way to the warehouse any more.
    public static func isCalledOff(_ status: String) -> Bool {
        isCancelled(status) || status == rejected.rawValue
    }
}

/// A parcel's carrier and tracking id.
public struct Tracking: Sendable, Hashable, Codable {
    public var carrierName: String?
    public var trackingID: String

    public init(carrierName: String?, trackingID: String) {
        self.carrierName = carrierName
        self.trackingID = trackingID
    }
}

/// What Amazon says about a return, in FlexBridge's words: one SKU of a shipment coming back to a return location,
/// linked to its forward order. Several returns of one shipment share an RMA id.
public struct ReturnFacts: Sendable, Hashable, Codable {
    public var id: ReturnID
    /// Where the parcel comes back to.
    public var returnLocationID: LocationID
    /// The location that shipped the order.
    public var fulfillmentLocationID: LocationID?
    public var merchantSKU: MerchantSKU
    public var units: Int
    /// Amazon's status (``ReturnStatus``'s raw value, or one this version does not know).
    public var status: String
    /// CUSTOMER (the customer sends it back) or REJECT (refused at delivery).
    public var returnType: String
    /// NORMAL, REPLACEMENT or EXCHANGE: the forward order's kind.
    public var returnSubType: String?
    public var reason: String
    public var rmaID: String?
    /// The forward shipment (FlexBridge's order id) and the customer's order id.
    public var shipmentID: ShipmentID?
    public var orderID: String?
    public var exchangeOrderID: String?
    public var invoiceID: String?
    public var marketplace: String?
    public var forwardTracking: Tracking?
    public var reverseTracking: Tracking?
    public var pickedUpAt: Date?
    public var deliveredAt: Date?
    /// WITH_OTP or WITHOUT_OTP: whether the carrier hands the parcel over against a one-time password.
    public var packageDeliveryMode: String?
    public var otp: String?
    public var otpValidUntil: Date?
    /// Amazon's `creationDateTime` (its `lastUpdatedDateTime` when it gives none).
    public var createdAt: Date
    /// Amazon's `lastUpdatedDateTime`: copies are weighed by it.
    public var updatedAt: Date

    public init(
        id: ReturnID,
        returnLocationID: LocationID,
        fulfillmentLocationID: LocationID?,
        merchantSKU: MerchantSKU,
        units: Int,
        status: String,
        returnType: String,
        returnSubType: String?,
        reason: String,
        rmaID: String?,
        shipmentID: ShipmentID?,
        orderID: String?,
        exchangeOrderID: String? = nil,
        invoiceID: String? = nil,
        marketplace: String? = nil,
        forwardTracking: Tracking? = nil,
        reverseTracking: Tracking? = nil,
        pickedUpAt: Date? = nil,
        deliveredAt: Date? = nil,
        packageDeliveryMode: String? = nil,
        otp: String? = nil,
        otpValidUntil: Date? = nil,
        createdAt: Date,
        updatedAt: Date
    ) {
        self.id = id
        self.returnLocationID = returnLocationID
        self.fulfillmentLocationID = fulfillmentLocationID
        self.merchantSKU = merchantSKU
        self.units = units
        self.status = status
        self.returnType = returnType
        self.returnSubType = returnSubType
        self.reason = reason
        self.rmaID = rmaID
        self.shipmentID = shipmentID
        self.orderID = orderID
        self.exchangeOrderID = exchangeOrderID
        self.invoiceID = invoiceID
        self.marketplace = marketplace
        self.forwardTracking = forwardTracking
        self.reverseTracking = reverseTracking
        self.pickedUpAt = pickedUpAt
        self.deliveredAt = deliveredAt
        self.packageDeliveryMode = packageDeliveryMode
        self.otp = otp
        self.otpValidUntil = otpValidUntil
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A return as SellingPartner hands it over: the facts, and Amazon's document as Amazon gave it (JSON).
public struct AmazonReturn: Sendable, Hashable {
    public var facts: ReturnFacts
    public var document: String

    public init(facts: ReturnFacts, document: String) {
        self.facts = facts
        self.document = document
    }
}

/// One page of Amazon's return list.
public struct ReturnPage: Sendable, Hashable {
    public var returns: [AmazonReturn]
    /// The token of the next page; nil on the last.
    public var nextToken: String?

    public init(returns: [AmazonReturn], nextToken: String?) {
        self.returns = returns
        self.nextToken = nextToken
    }
}

/// A return as FlexBridge mirrors it, with what the warehouse recorded when the parcel arrived.
public struct Return: Sendable, Hashable {
    public var connectionID: ConnectionID
    public var facts: ReturnFacts
    /// Amazon's return document, as JSON.
    public var document: String
    public var firstSeenAt: Date
    public var updatedAt: Date
    public var receipt: ReturnReceipt?

    public init(
        connectionID: ConnectionID,
        facts: ReturnFacts,
        document: String,
        firstSeenAt: Date,
        updatedAt: Date,
        receipt: ReturnReceipt? = nil
    ) {
        self.connectionID = connectionID
        self.facts = facts
        self.document = document
        self.firstSeenAt = firstSeenAt
        self.updatedAt = updatedAt
        self.receipt = receipt
    }

    public var id: ReturnID { facts.id }
}

/// What a returned unit was found to be when it arrived.
public enum ReturnGrade: String, Sendable, Hashable, Codable, CaseIterable {
    /// Fit to sell again: may go back into a hub's stock.
    case sellable
    case defective
    case customerDamaged = "customer_damaged"
    case carrierDamaged = "carrier_damaged"
    case wrongItem = "wrong_item"
    /// Announced but not in the parcel.
    case missing
}

/// What the warehouse recorded when a return arrived: its units by grade, and the sellable units put back on sale.
public struct ReturnReceipt: Sendable, Hashable, Codable {
    public struct Item: Sendable, Hashable, Codable {
        public var grade: ReturnGrade
        public var quantity: Int

        public init(grade: ReturnGrade, quantity: Int) {
            self.grade = grade
            self.quantity = quantity
        }
    }

    public var receivedAt: Date
    /// Who recorded it (an API key's or operator's name).
    public var receivedBy: String
    public var items: [Item]
    /// The hub whose stock the sellable units went back into, and how many; nil and 0 when none did.
    public var restockedHub: HubCode?
    public var restockedUnits: Int
    public var note: String?
    /// The request's idempotency key and fingerprint: the same request again is answered with this receipt.
    public var idempotencyKey: String
    public var fingerprint: String

    public init(
        receivedAt: Date,
        receivedBy: String,
        items: [Item],
        restockedHub: HubCode?,
        restockedUnits: Int,
        note: String?,
        idempotencyKey: String,
        fingerprint: String
    ) {
        self.receivedAt = receivedAt
        self.receivedBy = receivedBy
        self.items = items
        self.restockedHub = restockedHub
        self.restockedUnits = restockedUnits
        self.note = note
        self.idempotencyKey = idempotencyKey
        self.fingerprint = fingerprint
    }

    /// Units graded sellable.
    public var sellableUnits: Int { items.filter { $0.grade == .sellable }.reduce(0) { $0 + $1.quantity } }
}

/// What storing a copy of Amazon's return did.
public enum ReturnChange: Sendable, Hashable {
    /// New, or in another status than the one held: a line of its history.
    case statusChanged
    /// Newer than the one held, in the same status.
    case updated
    /// The same or an older copy than the one held: nothing changed, nothing was said.
    case unchanged
}

/// The rules for returns: whether a copy of Amazon's return replaces the one held and what the WMS is told, and
/// what a receipt must say. Pure: the caller loads, asks and carries out in one transaction.
public enum ReturnMachine {
    /// The copy the store holds: its status and Amazon's time, as for an order.
    public typealias Held = OrderMachine.Held

    public struct Decision: Sendable, Hashable {
        public var event: EventType
        public var payload: [String: JSONValue]
        /// Whether the status changed (or the return is new): a line of the return's history.
        public var statusChanged: Bool
    }

    /// Weighs a copy against the one held: it replaces it only when Amazon's clock says it is newer, so a return
    /// read twice (overlapping polls, a created and an updated poll) is `return.created` exactly once and each
    /// status change is said once. Nil: the same or an older copy — nothing changes.
    public static func receive(_ copy: ReturnFacts, held: Held?) -> Decision? {
        if let held, copy.updatedAt.millisecondsSince1970 <= held.amazonUpdatedAt.millisecondsSince1970 {
            return nil
        }
        let event: EventType
        if let held {
            let cancelledNow = ReturnStatus.isCancelled(copy.status) && !ReturnStatus.isCancelled(held.status)
            event = cancelledNow ? .returnCancelled : .returnUpdated
        } else {
            event = .returnCreated
        }
        var payload: [String: JSONValue] = [
            "returnId": .string(copy.id.rawValue), "status": .string(copy.status),
            "returnLocationId": .string(copy.returnLocationID.rawValue),
            "merchantSku": .string(copy.merchantSKU.rawValue), "units": .number(Double(copy.units)),
            "returnType": .string(copy.returnType),
        ]
        if let shipmentID = copy.shipmentID { payload["shipmentId"] = .string(shipmentID.rawValue) }
        if let rmaID = copy.rmaID { payload["rmaId"] = .string(rmaID) }
        if let subType = copy.returnSubType { payload["returnSubType"] = .string(subType) }
        if let held { payload["previousStatus"] = .string(held.status) }
        return Decision(event: event, payload: payload, statusChanged: held?.status != copy.status)
    }

    /// The most grade lines a receipt may have.
    public static let maximumReceiptItems = 20

    /// Checks a receipt against the return: known grades once each, whole positive quantities, adding up to the
    /// units Amazon announced (`missing` accounts for those not in the parcel). Names the field at fault.
    public static func checkReceipt(_ items: [ReturnReceipt.Item], units: Int) throws(ValidationError) {
        guard !items.isEmpty else {
            throw ValidationError(field: "items", reason: "must hold at least one grade with its quantity")
        }
        guard items.count <= maximumReceiptItems else {
            throw ValidationError(field: "items", reason: "must hold at most \(maximumReceiptItems) lines")
        }
        var seen: Set<ReturnGrade> = []
        var total = 0
        for (index, item) in items.enumerated() {
            guard seen.insert(item.grade).inserted else {
                throw ValidationError(
                    field: "items[\(index)].grade",
                    reason: "names \(item.grade.rawValue) a second time; give each grade once with its total"
                )
            }
            guard item.quantity >= 1, item.quantity <= StockLevel.maximumQuantity else {
                throw ValidationError(
                    field: "items[\(index)].quantity",
                    reason: "must be 1 to \(StockLevel.maximumQuantity), got \(item.quantity)"
                )
            }
            total += item.quantity
        }
        guard total == units else {
            throw ValidationError(
                field: "items",
                reason:
                    "quantities add up to \(total), but the return is of \(units) unit\(units == 1 ? "" : "s"); grade every unit (missing for those not in the parcel)"
            )
        }
    }

    /// Why a return cannot be received now, or nil: received already, or called off at Amazon.
    public static func refusal(toReceive status: String, receipt: ReturnReceipt?) -> String? {
        if let receipt {
            return "was received already, at \(receipt.receivedAt.formatted(.iso8601)) by \(receipt.receivedBy)"
        }
        if ReturnStatus.isCalledOff(status) {
            return "is \(status) at Amazon: no parcel is coming back"
        }
        return nil
    }
}
