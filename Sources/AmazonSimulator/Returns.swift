import AmazonEFReturns
import AmazonEFShipments
import Foundation

typealias ReturnSchemas = AmazonEFReturns.Components.Schemas

/// Amazon's Returns API (reads only, as Amazon offers), and the control operations that create returns and move
/// them along, which Amazon's sandbox lacks.
extension Simulator: AmazonEFReturns.APIProtocol {
    public func listReturns(
        _ input: AmazonEFReturns.Operations.ListReturns.Input
    ) async throws -> AmazonEFReturns.Operations.ListReturns.Output {
        let merchantID = try RequestScope.merchant()
        let query = input.query
        let maxResults = query.maxResults.map(Int.init) ?? 10
        guard (1...100).contains(maxResults) else {
            throw AmazonError.invalidInput("Invalid input \(maxResults) for parameter maxResults: must be 1 to 100")
        }
        if query.lastUpdatedSince != nil || query.lastUpdatedUntil != nil {
            guard query.returnLocationId != nil, query.status != nil else {
                throw AmazonError.invalidInput("lastUpdatedSince and lastUpdatedUntil need returnLocationId and status")
            }
        }
        let createdSince = query.createdSince ?? query.lastUpdatedAfter
        let createdUntil = query.createdUntil ?? query.lastUpdatedBefore
        if let since = createdSince, let until = createdUntil, since > until {
            throw AmazonError.invalidInput("createdSince must not be later than createdUntil")
        }
        let filter = [
            query.returnLocationId ?? "", query.rmaId ?? "", query.status?.rawValue ?? "",
            query.reverseTrackingId ?? "",
            createdSince.map { Self.timestamp($0) } ?? "", createdUntil.map { Self.timestamp($0) } ?? "",
            query.lastUpdatedSince.map { Self.timestamp($0) } ?? "",
            query.lastUpdatedUntil.map { Self.timestamp($0) } ?? "",
        ].joined(separator: "|")
        let position =
            try query.nextToken.map { token throws(AmazonError) in
                try PageToken.decode(token, filter: filter, parameter: "nextToken")
            } ?? 0
        let matching = world.returns.values
            .filter { record in
                let item = record.item
                guard record.merchantID == merchantID, record.sequence > position else { return false }
                if let location = query.returnLocationId, item.returnLocationId != location { return false }
                if let rma = query.rmaId, item.returnMetadata.rmaId != rma { return false }
                if let status = query.status, item.status != status.rawValue { return false }
                if let tracking = query.reverseTrackingId,
                    item.returnShippingInfo.reverseTrackingInfo?.trackingId != tracking
                {
                    return false
                }
                let created = Self.date(item.creationDateTime ?? item.lastUpdatedDateTime)
                if let since = createdSince, created < since { return false }
                if let until = createdUntil, created > until { return false }
                let updated = Self.date(item.lastUpdatedDateTime)
                if let since = query.lastUpdatedSince, updated < since { return false }
                if let until = query.lastUpdatedUntil, updated > until { return false }
                return true
            }
        let (page, next) = PageToken.page(Array(matching), sequence: \.sequence, limit: maxResults, filter: filter)
        return .ok(.init(body: .json(.init(returns: page.map(\.item), nextToken: next))))
    }

    public func getReturn(
        _ input: AmazonEFReturns.Operations.GetReturn.Input
    ) async throws -> AmazonEFReturns.Operations.GetReturn.Output {
        let merchantID = try RequestScope.merchant()
        guard let record = world.returns[input.path.returnId] else {
            throw AmazonError.notFound("returnId", input.path.returnId)
        }
        guard record.merchantID == merchantID else {
            throw AmazonError.unauthorized("Return \(input.path.returnId) belongs to another seller.")
        }
        return .ok(.init(body: .json(record.item)))
    }

    // MARK: Control

    /// A customer returns a shipped order: one return per line item (or the one named), sharing one RMA id.
    public func createReturns(
        _ request: ReturnRequest
    ) throws(ControlError) -> [AmazonEFReturns.Components.Schemas.Return] {
        guard let record = world.shipments[request.shipmentId] else {
            throw ControlError("No shipment with id \(request.shipmentId)")
        }
        let shipment = record.shipment
        guard shipment.status == .shipped || shipment.status == .delivered else {
            throw ControlError(
                "Shipment \(shipment.id) is \(shipment.status); only SHIPPED or DELIVERED shipments can be returned"
            )
        }
        var lines = shipment.lineItems
        if let lineID = request.lineItemId {
            lines = lines.filter { $0.shipmentLineItemId == lineID }
            guard !lines.isEmpty else { throw ControlError("Shipment \(shipment.id) has no line item \(lineID)") }
        }
        if let quantity = request.quantity {
            guard lines.count == 1, (1...lines[0].numberOfUnits).contains(quantity) else {
                throw ControlError(
                    "quantity needs one line item (lineItemId) and must be 1 to its \(lines.first?.numberOfUnits ?? 0) units"
                )
            }
        }
        let type = request.returnType ?? "CUSTOMER"
        guard type == "CUSTOMER" || type == "REJECT" else {
            throw ControlError("returnType must be CUSTOMER or REJECT")
        }
        let rmaID = World.uniqueID(prefix: "RMA", length: 10, alphabet: "0123456789", using: &random) { _ in false }
        let stamp = Self.timestamp(world.stamp(now()))
        let trackingID = record.labels.values.first?.trackingID
        let subType =
            switch shipment.shipmentInfo.shipmentType {
            case .replacement: "REPLACEMENT"
            case .exchange: "EXCHANGE"
            default: "NORMAL"
            }
        var created: [ReturnItem] = []
        for line in lines {
            let id = World.uniqueID(length: 10, using: &random) { self.world.returns[$0] != nil }
            let item = ReturnItem(
                id: id,
                returnLocationId: shipment.locationId,
                merchantSku: line.merchantSku,
                returnType: type,
                returnSubType: subType,
                numberOfUnits: Int32(request.quantity ?? line.numberOfUnits),
                status: "CREATED",
                fulfillmentLocationId: shipment.locationId,
                creationDateTime: stamp,
                lastUpdatedDateTime: stamp,
                returnMetadata: .init(
                    returnReason: request.reason ?? (type == "REJECT" ? "REJECTED_AT_DELIVERY" : "CR-DEFECTIVE"),
                    rmaId: rmaID,
                    fulfillmentOrderId: shipment.shipmentInfo.buyerOrderId,
                    invoiceInformation: record.invoiceDocumentID.map { .init(id: $0) }
                ),
                returnShippingInfo: .init(
                    forwardTrackingInfo: trackingID.map {
                        .init(carrierName: record.labels.values.first!.carrierName, trackingId: $0)
                    },
                    reverseTrackingInfo: .init(
                        carrierName: "ATS",
                        trackingId: World.uniqueID(prefix: "RT", length: 11, alphabet: "0123456789", using: &random) {
                            _ in false
                        }
                    )
                ),
                marketplaceChannelDetails: .init(
                    marketplaceChannel: .init(
                        marketplaceName: Self.marketplaceName(shipment.marketplaceAttributes.marketplaceId),
                        channelName: shipment.marketplaceAttributes.channelName
                    ),
                    merchantId: record.merchantID,
                    shipmentId: shipment.id,
                    customerOrderId: shipment.shipmentInfo.buyerOrderId,
                    returnLocationId: shipment.locationId,
                    channelSku: line.merchantSku,
                    exchangeOrderId: shipment.shipmentInfo.shipmentType == .exchange
                        ? shipment.shipmentInfo.buyerOrderId : nil
                ),
                packageDeliveryMode: "WITHOUT_OTP"
            )
            world.returnCount += 1
            world.returns[id] = World.ReturnRecord(
                item: item,
                merchantID: record.merchantID,
                sequence: world.returnCount,
                history: [.init(status: item.status, at: stamp)]
            )
            created.append(item)
        }
        return created
    }

    /// A replacement (or exchange) of a shipped order, as Amazon creates when a customer's item is replaced: a new
    /// zero-value shipment of the same lines at the same location, naming the original.
    public func replaceShipment(id: String, type: String?) throws(ControlError) -> String {
        guard let record = world.shipments[id] else { throw ControlError("No shipment with id \(id)") }
        guard record.shipment.status == .shipped || record.shipment.status == .delivered else {
            throw ControlError(
                "Shipment \(id) is \(record.shipment.status); only SHIPPED or DELIVERED shipments are replaced"
            )
        }
        let kind: ShipmentSpecification.OrderType
        switch type ?? "REPLACEMENT" {
        case "REPLACEMENT": kind = .replacement
        case "EXCHANGE": kind = .exchange
        default: throw ControlError("type must be REPLACEMENT or EXCHANGE, got \(type ?? "")")
        }
        guard let location = world.locations[record.shipment.locationId] else {
            throw ControlError("Shipment \(id)'s location \(record.shipment.locationId) no longer exists")
        }
        let spec = ShipmentSpecification(
            location: location,
            merchantID: record.merchantID,
            marketplaceID: record.shipment.marketplaceAttributes.marketplaceId,
            channel: record.shipment.marketplaceAttributes.channelName,
            carriage: record.carriage,
            orderTypes: [kind],
            skus: record.shipment.lineItems.map(\.merchantSku)
        )
        return createShipment(spec, original: record.shipment).id
    }

    /// Moves a return to `status` along Amazon's return lifecycle.
    public func advanceReturn(
        id: String,
        to status: String,
        force: Bool = false
    ) throws(ControlError) -> AmazonEFReturns.Components.Schemas.Return {
        guard var record = world.returns[id] else { throw ControlError("No return with id \(id)") }
        let next = status
        let current = record.item.status
        // A status Amazon's model does not have yet (`force`, for tests of what Amazon may add) goes anywhere.
        guard force || Self.returnTransitions[current, default: []].contains(next) else {
            throw ControlError(
                Self.returnTransitions[next] == nil && !Self.returnTransitions.values.contains { $0.contains(next) }
                    ? "Unknown return status \(status)" : "A return in \(current) cannot move to \(next)"
            )
        }
        let stamp = Self.timestamp(world.stamp(now()))
        record.item.status = next
        record.item.lastUpdatedDateTime = stamp
        if next == "PICKED_FROM_CUSTOMER" || next == "CUSTOMER_DROPPED_OFF" {
            record.item.returnShippingInfo.pickupDateTime = stamp
        }
        if next == "DELIVERED" { record.item.returnShippingInfo.deliveryDateTime = stamp }
        record.history.append(.init(status: next, at: stamp))
        world.returns[id] = record
        return record.item
    }

    /// The return lifecycle: the main path to the seller and its side branches.
    static let returnTransitions: [String: Set<String>] = [
        "CREATED": ["CARRIER_NOTIFIED_TO_PICK_UP_FROM_CUSTOMER", "CUSTOMER_DROPPED_OFF", "CANCELLED", "REJECTED"],
        "CARRIER_NOTIFIED_TO_PICK_UP_FROM_CUSTOMER": [
            "CARRIER_OUT_FOR_PICK_UP_FROM_CUSTOMER", "CUSTOMER_CANCELLED_PICK_UP", "CUSTOMER_RESCHEDULED_PICK_UP",
            "CANCELLED",
        ],
        "CARRIER_OUT_FOR_PICK_UP_FROM_CUSTOMER": [
            "PICKED_FROM_CUSTOMER", "CUSTOMER_CANCELLED_PICK_UP", "CUSTOMER_RESCHEDULED_PICK_UP", "REJECTED",
        ],
        "CUSTOMER_RESCHEDULED_PICK_UP": [
            "CARRIER_OUT_FOR_PICK_UP_FROM_CUSTOMER", "CUSTOMER_CANCELLED_PICK_UP", "CANCELLED",
        ],
        "CUSTOMER_DROPPED_OFF": ["IN_TRANSIT"],
        "PICKED_FROM_CUSTOMER": ["IN_TRANSIT"],
        "IN_TRANSIT": ["OUT_FOR_DELIVERY", "REPLANNED"],
        "REPLANNED": ["IN_TRANSIT", "OUT_FOR_DELIVERY"],
        "OUT_FOR_DELIVERY": ["DELIVERED", "REPLANNED"],
        "DELIVERED": ["PROCESSED", "PARTIALLY_PROCESSED"],
        "PARTIALLY_PROCESSED": ["PROCESSED"],
    ]

    static func marketplaceName(_ id: String) -> String {
        switch id {
        case "A21TJRUUN4KGV": "AMAZON_IN"
        case "ATVPDKIKX0DER": "AMAZON_US"
        case "A1F83G8C2ARO7P": "AMAZON_UK"
        case "A1PA6795UKMFR9": "AMAZON_DE"
        default: "AMAZON"
        }
    }
}

/// What `POST /_simulator/returns` takes.
public struct ReturnRequest: Sendable, Codable {
    public var shipmentId: String
    public var lineItemId: String?
    public var quantity: Int?
    public var returnType: String?
    public var reason: String?

    public init(
        shipmentId: String,
        lineItemId: String? = nil,
        quantity: Int? = nil,
        returnType: String? = nil,
        reason: String? = nil
    ) {
        self.shipmentId = shipmentId
        self.lineItemId = lineItemId
        self.quantity = quantity
        self.returnType = returnType
        self.reason = reason
    }
}
