import Foundation

/// The rules for a copy of a merchant-fulfilled order that reaches FlexBridge (a poll, a notification, a step the
/// worker recorded): whether it is work for the warehouse yet, whether it replaces the copy held, which state the
/// order is in, and what the WMS is told. Pure, as ``OrderMachine`` is for shipments.
public enum MerchantOrderMachine {
    /// The copy the store holds.
    public typealias Held = OrderMachine.Held

    /// FlexBridge's state of an order in Amazon's status; nil while it is not the warehouse's yet (PENDING: the
    /// payment is not authorised, as Extensiv holds such orders back). A status Amazon adds later is work to see,
    /// not something to drop: it counts as to ship, with Amazon's status shown as it is.
    public static func state(of facts: MerchantOrderFacts) -> FulfilmentState? {
        switch facts.status {
        case "PENDING", "PENDING_AVAILABILITY": nil
        case "SHIPPED": .shipped
        case "CANCELLED", "UNFULFILLABLE": .cancelled
        default: .confirmed
        }
    }

    /// What to do with a copy that replaces the held one (or is the first).
    public struct Decision: Sendable, Hashable {
        public var change: OrderChange
        public var state: FulfilmentState
        public var event: EventType
        public var payload: [String: JSONValue]
        /// Commands still queued for the order are cancelled: Amazon cancelled it.
        public var cancelsOpenCommands: Bool
    }

    /// Weighs a copy against the one held. Nil when nothing changes and nothing is said: an older or the same copy
    /// (read twice by a poll and a notification), an order not yet payable, or one that never was the warehouse's
    /// (first seen already shipped or cancelled: shipped outside FlexBridge, or cancelled before it was payable).
    public static func receive(_ copy: MerchantOrderFacts, held: Held?) -> Decision? {
        if let held {
            guard copy.updatedAt.millisecondsSince1970 > held.amazonUpdatedAt.millisecondsSince1970 else { return nil }
        }
        guard copy.isMerchantFulfilled, let state = state(of: copy) else { return nil }
        if held == nil, state == .shipped || state == .cancelled { return nil }
        let cancelled =
            state == .cancelled
            && held.map { $0.status != "CANCELLED" && $0.status != "UNFULFILLABLE" }
                == true
        let event: EventType = held == nil ? .orderCreated : cancelled ? .orderCancelled : .orderUpdated
        var payload: [String: JSONValue] = [
            "shipmentId": .string(copy.orderID), "orderId": .string(copy.orderID), "source": .string("mfn"),
            "status": .string(copy.status), "state": .string(state.rawValue),
            "marketplaceId": .string(copy.marketplaceID.rawValue),
        ]
        if let level = copy.serviceLevel { payload["serviceLevel"] = .string(level) }
        if copy.items.contains(where: \.buyerRequestedCancel) { payload["buyerRequestedCancel"] = .bool(true) }
        if let held {
            payload["previousStatus"] = .string(held.status)
            if cancelled { payload["putBack"] = putBack(copy) }
        }
        return Decision(
            change: held.map { .updated(previousStatus: $0.status) } ?? .created,
            state: state,
            event: event,
            payload: payload,
            cancelsOpenCommands: cancelled
        )
    }

    /// What the warehouse should put back when Amazon cancels an order it was working on: every unit not shipped
    /// (Amazon's cancelled copy counts none as left to ship, so the units are those ordered less those shipped).
    public static func putBack(_ facts: MerchantOrderFacts) -> JSONValue {
        let items: [JSONValue] = facts.items.compactMap { item in
            let count = item.quantityOrdered - MerchantShipRules.shipped(item, in: facts)
            guard count > 0 else { return nil }
            return .object([
                "orderItemId": .string(item.orderItemID),
                "merchantSku": item.sellerSKU.map { .string($0.rawValue) } ?? .null,
                "quantity": .number(Double(count)),
            ])
        }
        return .object(["stage": .string("unshipped"), "items": .array(items)])
    }
}

/// A shipment of an MFN order as the WMS asks for it: one package, with the lines and units in it, the carrier and
/// its tracking id.
public struct MerchantShipRequest: Sendable, Hashable, Codable {
    public struct Item: Sendable, Hashable, Codable {
        public var lineItemId: String
        public var quantity: Int

        public init(lineItemId: String, quantity: Int) {
            self.lineItemId = lineItemId
            self.quantity = quantity
        }
    }

    /// The package's id, unique within the order; FlexBridge numbers the packages when absent.
    public var packageReferenceId: String?
    /// Amazon's carrier code (UPS, USPS, FedEx, DHL, …, or Other with `carrierName`).
    public var carrierCode: String
    public var carrierName: String?
    public var shippingMethod: String?
    public var trackingId: String
    public var shipDate: Date?
    /// The lines and units in this package; every unit not yet shipped when absent.
    public var items: [Item]?

    public init(
        packageReferenceId: String? = nil,
        carrierCode: String,
        carrierName: String? = nil,
        shippingMethod: String? = nil,
        trackingId: String,
        shipDate: Date? = nil,
        items: [Item]? = nil
    ) {
        self.packageReferenceId = packageReferenceId
        self.carrierCode = carrierCode
        self.carrierName = carrierName
        self.shippingMethod = shippingMethod
        self.trackingId = trackingId
        self.shipDate = shipDate
        self.items = items
    }
}

extension MerchantShipRequest {
    /// The shipment a ship command of an MFN order asks for.
    public init(_ request: CommandRequest) {
        self.init(
            packageReferenceId: request.packageReferenceId,
            carrierCode: request.carrierCode ?? "",
            carrierName: request.carrierName,
            shippingMethod: request.shippingMethod,
            trackingId: request.trackingId ?? "",
            shipDate: request.shipDate,
            items: request.items
        )
    }
}

/// Checks a shipment of an MFN order before anything is stored or sent, naming the field at fault, and completes
/// it into what confirmShipment takes.
public enum MerchantShipRules {
    /// Units of the item not yet shipped: Amazon's count when it gives one, else the units ordered less those in
    /// the packages Amazon holds.
    public static func remaining(_ item: MerchantOrderFacts.Item, in facts: MerchantOrderFacts) -> Int {
        if item.cancelledBy != nil { return 0 }
        if let unshipped = item.quantityUnshipped { return max(0, unshipped) }
        return max(0, item.quantityOrdered - shipped(item, in: facts))
    }

    /// Units of the item shipped: Amazon's count when it gives one, else those in the packages Amazon holds.
    public static func shipped(_ item: MerchantOrderFacts.Item, in facts: MerchantOrderFacts) -> Int {
        item.quantityShipped ?? facts.packages.reduce(0) { $0 + ($1.items[item.orderItemID] ?? 0) }
    }

    /// The confirmation to send for `request`, checked against the order: it must still be open, name only its
    /// items, ship at least one and no more units than are left of each, and carry a carrier and a tracking id.
    public static func confirmation(
        for request: MerchantShipRequest,
        facts: MerchantOrderFacts,
        now: Date
    ) throws(ValidationError) -> MerchantShipmentConfirmation {
        guard facts.status == "UNSHIPPED" || facts.status == "PARTIALLY_SHIPPED" else {
            throw ValidationError(
                field: "type",
                reason:
                    "ship: order \(facts.orderID) is \(facts.status) at Amazon; only UNSHIPPED or PARTIALLY_SHIPPED orders ship"
            )
        }
        let carrier = request.carrierCode.trimmingCharacters(in: .whitespaces)
        guard !carrier.isEmpty, carrier.count <= 64 else {
            throw ValidationError(
                field: "carrierCode",
                reason: "is required: Amazon's carrier code, 1 to 64 characters"
            )
        }
        let name = request.carrierName?.trimmingCharacters(in: .whitespaces)
        if carrier.caseInsensitiveCompare("Other") == .orderedSame, name?.isEmpty ?? true {
            throw ValidationError(field: "carrierName", reason: "is required with carrierCode Other")
        }
        let tracking = request.trackingId.trimmingCharacters(in: .whitespaces)
        guard !tracking.isEmpty, tracking.count <= 100 else {
            throw ValidationError(field: "trackingId", reason: "is required: 1 to 100 characters")
        }
        if let reference = request.packageReferenceId {
            guard !reference.isEmpty, reference.count <= 40 else {
                throw ValidationError(field: "packageReferenceId", reason: "must be 1 to 40 characters")
            }
            guard !facts.packages.contains(where: { $0.referenceID == reference }) else {
                throw ValidationError(
                    field: "packageReferenceId",
                    reason: "\(reference) names a package of order \(facts.orderID) that shipped already"
                )
            }
        }
        var units: [String: Int] = [:]
        var order: [String] = []
        if let items = request.items {
            guard !items.isEmpty else {
                throw ValidationError(
                    field: "items",
                    reason: "must hold at least one line; leave it out to ship every unit left"
                )
            }
            for (index, item) in items.enumerated() {
                guard let line = facts.items.first(where: { $0.orderItemID == item.lineItemId }) else {
                    throw ValidationError(
                        field: "items[\(index)].lineItemId",
                        reason: "names \(item.lineItemId), which is not an item of order \(facts.orderID)"
                    )
                }
                let left = remaining(line, in: facts) - units[item.lineItemId, default: 0]
                guard item.quantity >= 1 else {
                    throw ValidationError(
                        field: "items[\(index)].quantity",
                        reason: "must be at least 1, got \(item.quantity)"
                    )
                }
                guard item.quantity <= left else {
                    throw ValidationError(
                        field: "items[\(index)].quantity",
                        reason:
                            "is \(item.quantity), but \(left) unit(s) of item \(item.lineItemId) (\(line.sellerSKU?.rawValue ?? "no SKU")) are left to ship"
                    )
                }
                if units[item.lineItemId] == nil { order.append(item.lineItemId) }
                units[item.lineItemId, default: 0] += item.quantity
            }
        } else {
            for line in facts.items where remaining(line, in: facts) > 0 {
                order.append(line.orderItemID)
                units[line.orderItemID] = remaining(line, in: facts)
            }
            guard !order.isEmpty else {
                throw ValidationError(field: "items", reason: "order \(facts.orderID) has no unit left to ship")
            }
        }
        let reference = request.packageReferenceId ?? String(facts.packages.count + 1)
        return MerchantShipmentConfirmation(
            marketplaceID: facts.marketplaceID,
            packageReferenceID: reference,
            carrierCode: carrier,
            carrierName: name?.isEmpty == false ? name : nil,
            shippingMethod: request.shippingMethod?.trimmingCharacters(in: .whitespaces),
            trackingNumber: tracking,
            shipDate: request.shipDate ?? now,
            items: order.map { .init(orderItemID: $0, quantity: units[$0] ?? 0) }
        )
    }

    /// A ship command for an MFN order, completed and checked when it is taken, so that every attempt sends the
    /// same thing: Amazon's carrier from the WMS's carrier and method, or from the order's ship-service level, by
    /// the connection's ship-method table when the command names none; the ship date (now when absent); the
    /// package's reference (`reference` when absent). Refuses what only Seller Flex commands take, a ship date in
    /// the future, and everything ``confirmation(for:facts:now:)`` refuses, naming the field.
    public static func resolve(
        _ request: CommandRequest,
        facts: MerchantOrderFacts,
        table: [ShipMethodMapping],
        now: Date,
        reference: String
    ) throws(ValidationError) -> CommandRequest {
        var request = request
        for (field, present) in [
            ("reason", request.reason != nil), ("lineItemIds", request.lineItemIds != nil),
            ("packages", request.packages != nil), ("shippingOptionId", request.shippingOptionId != nil),
        ] where present {
            throw ValidationError(
                field: field,
                reason:
                    "is for Seller Flex commands; order \(facts.orderID) is a merchant-fulfilled (MFN) order, whose ship takes items, carrier and trackingId"
            )
        }
        if request.carrierCode == nil {
            let row: ShipMethodMapping
            if request.wmsCarrier != nil || request.wmsMethod != nil {
                guard let carrier = request.wmsCarrier, let method = request.wmsMethod else {
                    throw ValidationError(
                        field: request.wmsCarrier == nil ? "wmsCarrier" : "wmsMethod",
                        reason:
                            "is required with the other: the WMS's carrier and method, as the ship-method table names them"
                    )
                }
                guard
                    let found = ShipMethodRules.mapping(
                        forCarrier: carrier,
                        method: method,
                        marketplace: facts.marketplaceID,
                        in: table
                    )
                else {
                    throw ValidationError(
                        field: "wmsCarrier",
                        reason:
                            "\(carrier) / \(method) is not in the connection's ship-method table for \(facts.marketplaceID); add it, or give carrierCode"
                    )
                }
                row = found
            } else {
                guard
                    let found = ShipMethodRules.mapping(
                        for: facts.serviceLevel,
                        marketplace: facts.marketplaceID,
                        in: table
                    )
                else {
                    throw ValidationError(
                        field: "carrierCode",
                        reason:
                            "is required: the order's ship-service level \(facts.serviceLevel ?? "(none)") is not in the connection's ship-method table"
                    )
                }
                row = found
            }
            request.carrierCode = row.carrierCode
            request.carrierName = request.carrierName ?? row.carrierName
            request.shippingMethod = request.shippingMethod ?? row.shippingMethod
        }
        if let shipDate = request.shipDate, shipDate > now.addingTimeInterval(3600) {
            throw ValidationError(
                field: "shipDate",
                reason: "is \(shipDate.formatted(.iso8601)), in the future; give the time the package left"
            )
        }
        request.shipDate = request.shipDate ?? now
        request.packageReferenceId = request.packageReferenceId ?? reference
        _ = try confirmation(for: MerchantShipRequest(request), facts: facts, now: now)
        return request
    }

    /// The package Amazon holds under the request's reference, if it is there: the ship was applied (by an earlier
    /// attempt whose answer was lost, or it names a package confirmed by other means).
    public static func applied(
        _ request: MerchantShipRequest,
        in facts: MerchantOrderFacts
    ) -> MerchantOrderFacts
        .Package?
    {
        guard let reference = request.packageReferenceId else { return nil }
        return facts.packages.first { $0.referenceID == reference }
    }

    /// Whether Amazon's copy shows the confirmation applied: a package with its reference holding its units — what
    /// the worker reads before sending again after an answer it did not get.
    public static func isApplied(_ confirmation: MerchantShipmentConfirmation, in facts: MerchantOrderFacts) -> Bool {
        guard let package = facts.packages.first(where: { $0.referenceID == confirmation.packageReferenceID }) else {
            return false
        }
        let sent = Dictionary(confirmation.items.map { ($0.orderItemID, $0.quantity) }, uniquingKeysWith: +)
        return package.items == sent
    }
}

/// One row of a connection's ship-method table: Amazon's ship-service level (in one marketplace, or in any) to the
/// WMS's carrier and method, and back to the carrier code, carrier name and shipping method confirmShipment takes.
public struct ShipMethodMapping: Sendable, Hashable, Codable {
    /// The marketplace the row is for; any marketplace when nil (a marketplace's own row wins).
    public var marketplaceId: MarketplaceID?
    /// Amazon's ship-service level, as Amazon names it (Standard, Expedited, SecondDay, NextDay, or the
    /// marketplace's own).
    public var serviceLevel: String
    public var wmsCarrier: String
    public var wmsMethod: String
    /// What Amazon is told: its carrier code (or Other, with `carrierName`), and the shipping method.
    public var carrierCode: String
    public var carrierName: String?
    public var shippingMethod: String?

    public init(
        marketplaceId: MarketplaceID? = nil,
        serviceLevel: String,
        wmsCarrier: String,
        wmsMethod: String,
        carrierCode: String,
        carrierName: String? = nil,
        shippingMethod: String? = nil
    ) {
        self.marketplaceId = marketplaceId
        self.serviceLevel = serviceLevel
        self.wmsCarrier = wmsCarrier
        self.wmsMethod = wmsMethod
        self.carrierCode = carrierCode
        self.carrierName = carrierName
        self.shippingMethod = shippingMethod
    }
}

/// The ship-method table's rules.
public enum ShipMethodRules {
    /// The row for an order: its marketplace's own row for its level, else the row for any marketplace; nil when
    /// the level is unmapped (the order is flagged for the WMS, never dropped).
    public static func mapping(
        for serviceLevel: String?,
        marketplace: MarketplaceID,
        in table: [ShipMethodMapping]
    ) -> ShipMethodMapping? {
        guard let serviceLevel else { return nil }
        let rows = table.filter { $0.serviceLevel.caseInsensitiveCompare(serviceLevel) == .orderedSame }
        return rows.first { $0.marketplaceId == marketplace } ?? rows.first { $0.marketplaceId == nil }
    }

    /// The row a WMS's carrier and method stand for, to tell Amazon the carrier; the order's marketplace first.
    public static func mapping(
        forCarrier carrier: String,
        method: String,
        marketplace: MarketplaceID,
        in table: [ShipMethodMapping]
    ) -> ShipMethodMapping? {
        let rows = table.filter {
            $0.wmsCarrier.caseInsensitiveCompare(carrier) == .orderedSame
                && $0.wmsMethod.caseInsensitiveCompare(method) == .orderedSame
        }
        return rows.first { $0.marketplaceId == marketplace } ?? rows.first { $0.marketplaceId == nil }
    }

    /// Checks a whole table before it replaces the stored one: every field, and no two rows for the same level in
    /// the same marketplace.
    public static func validate(_ table: [ShipMethodMapping]) throws(ValidationError) {
        guard table.count <= 500 else {
            throw ValidationError(field: "shipMethods", reason: "holds \(table.count) rows; at most 500")
        }
        var seen: Set<String> = []
        for (index, row) in table.enumerated() {
            let field = "shipMethods[\(index)]"
            for (name, value) in [
                ("serviceLevel", row.serviceLevel), ("wmsCarrier", row.wmsCarrier), ("wmsMethod", row.wmsMethod),
                ("carrierCode", row.carrierCode),
            ] where value.trimmingCharacters(in: .whitespaces).isEmpty || value.count > 100 {
                throw ValidationError(field: "\(field).\(name)", reason: "must be 1 to 100 characters")
            }
            if row.carrierCode.caseInsensitiveCompare("Other") == .orderedSame,
                row.carrierName?.trimmingCharacters(in: .whitespaces).isEmpty ?? true
            {
                throw ValidationError(field: "\(field).carrierName", reason: "is required with carrierCode Other")
            }
            let key = "\(row.marketplaceId?.rawValue ?? "*")|\(row.serviceLevel.lowercased())"
            guard seen.insert(key).inserted else {
                throw ValidationError(
                    field: "\(field).serviceLevel",
                    reason:
                        "maps \(row.serviceLevel) in \(row.marketplaceId?.rawValue ?? "every marketplace") a second time"
                )
            }
        }
    }
}
