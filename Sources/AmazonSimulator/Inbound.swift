import AmazonInbound
import AmazonInboundV0
import Foundation

/// The schema types of Amazon's Fulfillment Inbound API v0.
typealias IB = AmazonInboundV0.Components.Schemas

/// An inbound shipment to Amazon's fulfilment centres, as Seller Central makes it and Amazon receives it.
struct InboundShipment: Sendable, Codable {
    struct Item: Sendable, Codable {
        var sku: String
        var fnSku: String
        var shipped: Int
        var received: Int
    }

    var id: String
    var name: String
    var merchantID: String
    var marketplaceID: String
    var status: String
    var destination: String
    var needBy: String?
    var items: [Item]
    var createdAt: Date
    var updatedAt: Date
    /// Where it leaves from: the plan's source address for a Send to Amazon shipment; a fixed warehouse otherwise.
    var shipFrom: IB.Address? = nil
}

/// An inbound shipment as the control path makes it ("in Seller Central").
public struct InboundShipmentSpecification: Sendable, Codable {
    public var merchantId: String
    public var marketplaceId: String
    public var name: String?
    /// Units per SKU.
    public var items: [String: Int]
    /// WORKING unless named (SHIPPED, IN_TRANSIT, …).
    public var status: String?
    /// The day Amazon expects it (YYYY-MM-DD).
    public var needBy: String?
    public var destination: String?

    public init(
        merchantId: String,
        marketplaceId: String,
        name: String? = nil,
        items: [String: Int],
        status: String? = nil,
        needBy: String? = nil,
        destination: String? = nil
    ) {
        self.merchantId = merchantId
        self.marketplaceId = marketplaceId
        self.name = name
        self.items = items
        self.status = status
        self.needBy = needBy
        self.destination = destination
    }
}

/// What happens to an inbound shipment at Amazon (`POST /_simulator/inbound-shipments/{id}`): a new status, units
/// received per SKU (added to those received before).
public struct InboundShipmentProgress: Sendable, Codable {
    public var status: String?
    public var received: [String: Int]?

    public init(status: String? = nil, received: [String: Int]? = nil) {
        self.status = status
        self.received = received
    }
}

extension Simulator: AmazonInboundV0.APIProtocol {
    static let inboundStatuses: Set<String> = [
        "WORKING", "READY_TO_SHIP", "SHIPPED", "RECEIVING", "CANCELLED", "DELETED", "CLOSED", "ERROR", "IN_TRANSIT",
        "DELIVERED", "CHECKED_IN",
    ]
    /// Statuses whose units are on their way to Amazon (inbound shipped), and those still being prepared.
    static let inboundInTransit: Set<String> = ["SHIPPED", "IN_TRANSIT", "DELIVERED", "CHECKED_IN", "RECEIVING"]
    static let inboundPageSize = 50

    public func getInboundShipments(
        _ input: AmazonInboundV0.Operations.GetInboundShipments.Input
    ) async throws -> AmazonInboundV0.Operations.GetInboundShipments.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let query = input.query
        let filter: String
        var start = 0
        switch query.queryType.rawValue {
        case "NEXT_TOKEN":
            guard let token = query.nextToken else {
                throw AmazonError.invalidInput("NextToken is required when QueryType is NEXT_TOKEN")
            }
            guard let held = fba.tokens[token], held.expiresAt > now() else {
                throw AmazonError.invalidInput("Invalid input for parameter NextToken: not a token this API issued")
            }
            filter = held.filter
            start = held.position
        case "SHIPMENT":
            guard !(query.shipmentIdList ?? []).isEmpty || !(query.shipmentStatusList ?? []).isEmpty else {
                throw AmazonError.invalidInput("ShipmentStatusList or ShipmentIdList is required")
            }
            filter = Self.inboundFilter(merchantID, query.marketplaceId, query, after: nil, before: nil)
        case "DATE_RANGE":
            guard let after = query.lastUpdatedAfter, let before = query.lastUpdatedBefore else {
                throw AmazonError.invalidInput("LastUpdatedAfter and LastUpdatedBefore are required for DATE_RANGE")
            }
            guard after <= before else { throw AmazonError.invalidInput("LastUpdatedAfter is after LastUpdatedBefore") }
            guard !(query.shipmentIdList ?? []).isEmpty || !(query.shipmentStatusList ?? []).isEmpty else {
                throw AmazonError.invalidInput("ShipmentStatusList or ShipmentIdList is required")
            }
            filter = Self.inboundFilter(merchantID, query.marketplaceId, query, after: after, before: before)
        default:
            throw AmazonError.invalidInput("QueryType must be SHIPMENT, DATE_RANGE or NEXT_TOKEN")
        }
        let found = inboundShipments(matching: filter)
        let page = found.dropFirst(start).prefix(Self.inboundPageSize)
        var next: String?
        if start + Self.inboundPageSize < found.count {
            let token = UUID().uuidString
            fba.tokens[token] = .init(
                filter: filter,
                position: start + Self.inboundPageSize,
                expiresAt: now().addingTimeInterval(600)
            )
            next = token
        }
        return .ok(
            .init(body: .json(.init(payload: .init(shipmentData: page.map(Self.shipmentInfo), nextToken: next))))
        )
    }

    public func getShipmentItemsByShipmentId(
        _ input: AmazonInboundV0.Operations.GetShipmentItemsByShipmentId.Input
    ) async throws -> AmazonInboundV0.Operations.GetShipmentItemsByShipmentId.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        guard let shipment = fba.inbound[input.path.shipmentId], shipment.merchantID == merchantID else {
            throw AmazonError(
                status: 400,
                code: "InvalidInput",
                message: "Shipment \(input.path.shipmentId) is not a shipment of the seller"
            )
        }
        return .ok(
            .init(
                body: .json(
                    .init(
                        payload: .init(
                            itemData: shipment.items.map {
                                IB.InboundShipmentItem(
                                    shipmentId: shipment.id,
                                    sellerSKU: $0.sku,
                                    fulfillmentNetworkSKU: $0.fnSku,
                                    quantityShipped: Int32(clamping: $0.shipped),
                                    quantityReceived: Int32(clamping: $0.received),
                                    quantityInCase: 0
                                )
                            }
                        )
                    )
                )
            )
        )
    }

    /// Box labels as one PDF behind a download URL: a page per box (or four per pallet) naming the shipment, the
    /// box and the destination. A Send to Amazon shipment has labels once its transportation is confirmed; its boxes
    /// are those of its packing information, with Amazon's box ids. A shipment made in Seller Central has
    /// `NumberOfPackages` boxes (one unless named).
    public func getLabels(
        _ input: AmazonInboundV0.Operations.GetLabels.Input
    ) async throws -> AmazonInboundV0.Operations.GetLabels.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let id = input.path.shipmentId
        guard let shipment = fba.inbound[id], shipment.merchantID == merchantID else {
            throw AmazonError.invalidInput("Shipment \(id) is not a shipment of the seller")
        }
        let query = input.query
        var boxes: [(id: String, units: Int)]
        var destination = [shipment.destination]
        if let plan = inboundPlans.plans.values.first(where: { plan in
            plan.merchantID == merchantID && plan.shipments.contains { $0.confirmationID == id }
        }), let planShipment = plan.shipments.first(where: { $0.confirmationID == id }) {
            guard planShipment.selectedTransportationOptionID != nil else {
                throw AmazonError.invalidInput(
                    "Shipment \(id) has no labels yet: its transportation is not confirmed (confirmTransportationOptions)"
                )
            }
            boxes = planShipment.boxes.compactMap { index in
                plan.boxes?[index].boxID.map { ($0, plan.boxes?[index].contents.values.reduce(0, +) ?? 0) }
            }
            let address = planShipment.address
            destination = [
                "\(planShipment.warehouseID)  \(address.name)", address.addressLine1,
                "\(address.city) \(address.stateOrProvinceCode ?? "") \(address.postalCode) \(address.countryCode)",
            ]
        } else {
            let count = query.numberOfPackages ?? 1
            guard (1...999).contains(count) else {
                throw AmazonError.invalidInput("NumberOfPackages must be 1 to 999, got \(count)")
            }
            boxes = (1...count).map { (id + "U" + String(format: "%06d", $0), 0) }
        }
        if let wanted = query.packageLabelsToPrint, !wanted.isEmpty {
            if let unknown = wanted.first(where: { label in !boxes.contains { $0.id == label } }) {
                throw AmazonError(
                    status: 400,
                    code: "IncorrectPackageIdentifier",
                    message: "PackageLabelsToPrint names \(unknown), which is not a box of shipment \(id)"
                )
            }
            boxes = boxes.filter { wanted.contains($0.id) }
        }
        var pages: [[String]]
        if query.labelType.rawValue == "PALLET" {
            let pallets = query.numberOfPallets ?? 1
            guard (1...999).contains(pallets) else {
                throw AmazonError.invalidInput("NumberOfPallets must be 1 to 999, got \(pallets)")
            }
            pages = (1...pallets).flatMap { number in
                Array(repeating: ["FBA \(id)", "Pallet \(number) of \(pallets)", "SHIP TO"] + destination, count: 4)
            }
        } else {
            pages = boxes.enumerated().map { number, box in
                ["FBA \(id)", "Box \(number + 1) of \(boxes.count)  \(box.id)", "SHIP TO"] + destination
                    + [shipment.name] + (box.units > 0 ? ["Units: \(box.units)"] : [])
            }
        }
        if let size = query.pageSize {
            guard (1...1000).contains(size) else { throw AmazonError.invalidInput("PageSize must be 1 to 1000") }
            let start = query.pageStartIndex ?? 0
            guard start >= 0 else { throw AmazonError.invalidInput("PageStartIndex must be 0 or more") }
            pages = Array(pages.dropFirst(start).prefix(size))
        }
        guard !pages.isEmpty else { throw AmazonError.invalidInput("No labels on the page asked for") }
        let documentID = World.uniqueID(prefix: "LBL-", length: 10, using: &random) { self.world.documents[$0] != nil }
        world.documents[documentID] = World.Document(
            contentType: "application/pdf",
            data: PDFDocument(pages: pages, width: 288, height: 432).render()
        )
        return .ok(.init(body: .json(.init(payload: .init(downloadURL: documentURL(documentID))))))
    }

    /// The query as a key: what a NEXT_TOKEN carries on.
    static func inboundFilter(
        _ merchantID: String,
        _ marketplaceID: String,
        _ query: AmazonInboundV0.Operations.GetInboundShipments.Input.Query,
        after: Date?,
        before: Date?
    ) -> String {
        let ids: [String] = query.shipmentIdList ?? []
        let statuses: [String] = (query.shipmentStatusList ?? []).map(\.rawValue)
        let from: String = after.map { "\($0.timeIntervalSince1970)" } ?? ""
        let to: String = before.map { "\($0.timeIntervalSince1970)" } ?? ""
        let parts: [String] = [
            merchantID, marketplaceID, ids.joined(separator: ","), statuses.joined(separator: ","), from, to,
        ]
        return parts.joined(separator: "|")
    }

    func inboundShipments(matching filter: String) -> [InboundShipment] {
        let parts = filter.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        let ids = Set(parts[2].split(separator: ",").map(String.init))
        let statuses = Set(parts[3].split(separator: ",").map(String.init))
        let after = Double(parts[4]).map(Date.init(timeIntervalSince1970:))
        let before = Double(parts[5]).map(Date.init(timeIntervalSince1970:))
        return fba.inbound.values.filter { shipment in
            guard shipment.merchantID == parts[0], shipment.marketplaceID == parts[1] else { return false }
            if !ids.isEmpty, !ids.contains(shipment.id) { return false }
            if !statuses.isEmpty, !statuses.contains(shipment.status) { return false }
            if let after, shipment.updatedAt < after { return false }
            if let before, shipment.updatedAt > before { return false }
            return true
        }
        .sorted { ($0.updatedAt, $0.id) < ($1.updatedAt, $1.id) }
    }

    static func shipmentInfo(_ shipment: InboundShipment) -> IB.InboundShipmentInfo {
        IB.InboundShipmentInfo(
            shipmentId: shipment.id,
            shipmentName: shipment.name,
            shipFromAddress: shipment.shipFrom
                ?? .init(
                    name: "Seller warehouse",
                    addressLine1: "1 Warehouse Road",
                    city: "Bengaluru",
                    stateOrProvinceCode: "KA",
                    countryCode: "IN",
                    postalCode: "560001"
                ),
            destinationFulfillmentCenterId: shipment.destination,
            shipmentStatus: shipment.status,
            labelPrepType: "SELLER_LABEL",
            areCasesRequired: false,
            confirmedNeedByDate: shipment.needBy,
            boxContentsSource: "FEED"
        )
    }

    // MARK: Control path

    /// Makes an inbound shipment as Seller Central would (`POST /_simulator/inbound-shipments`); its units count as
    /// inbound working (WORKING) or shipped at the FBA stock of the marketplace. Returns its id.
    public func createInboundShipment(_ specification: InboundShipmentSpecification) throws(ControlError) -> String {
        guard !specification.merchantId.isEmpty, !specification.marketplaceId.isEmpty else {
            throw ControlError("merchantId and marketplaceId must not be empty")
        }
        guard !specification.items.isEmpty, specification.items.count <= 200,
            specification.items.allSatisfy({ !$0.key.isEmpty && $0.key.count <= 40 && (1...100_000).contains($0.value) }
            )
        else { throw ControlError("items must map 1 to 200 SKUs to 1 to 100000 units each") }
        let status = specification.status ?? "WORKING"
        guard Self.inboundStatuses.contains(status) else { throw ControlError("status \(status) is not Amazon's") }
        let stamp = world.stamp(now())
        let id = "FBA" + String(PageToken.digest("inbound:\(fba.inbound.count):\(stamp)").uppercased().prefix(9))
        let shipment = InboundShipment(
            id: id,
            name: specification.name ?? "FBA (\(Self.timestamp(stamp).prefix(10)))",
            merchantID: specification.merchantId,
            marketplaceID: specification.marketplaceId,
            status: status,
            destination: specification.destination ?? "BLR7",
            needBy: specification.needBy,
            items: specification.items.sorted { $0.key < $1.key }.map {
                .init(
                    sku: $0.key,
                    fnSku: "X00" + String(PageToken.digest("fnsku:" + $0.key).uppercased().prefix(7)),
                    shipped: $0.value,
                    received: 0
                )
            },
            createdAt: stamp,
            updatedAt: stamp
        )
        fba.inbound[id] = shipment
        moveInboundStock(shipment, from: nil)
        return id
    }

    /// Moves an inbound shipment on (`POST /_simulator/inbound-shipments/{id}`): a new status, units received per
    /// SKU (moved from inbound to fulfillable at the FBA stock).
    public func progressInboundShipment(_ id: String, _ progress: InboundShipmentProgress) throws(ControlError) {
        guard var shipment = fba.inbound[id] else { throw ControlError("no inbound shipment \(id)") }
        let before = shipment
        if let status = progress.status {
            guard Self.inboundStatuses.contains(status) else { throw ControlError("status \(status) is not Amazon's") }
            shipment.status = status
        }
        for (sku, units) in progress.received ?? [:] {
            guard let index = shipment.items.firstIndex(where: { $0.sku == sku }), units >= 0 else {
                throw ControlError("\(sku) is not an item of \(id), or a negative number of units")
            }
            shipment.items[index].received += units
        }
        shipment.updatedAt = world.stamp(now())
        fba.inbound[id] = shipment
        moveInboundStock(shipment, from: before)
    }

    /// Keeps the FBA stock's inbound and fulfillable units in step with a shipment's status and receipts.
    func moveInboundStock(_ shipment: InboundShipment, from before: InboundShipment?) {
        func share(_ shipment: InboundShipment?, _ item: InboundShipment.Item?) -> (working: Int, shipped: Int) {
            guard let shipment, let item else { return (0, 0) }
            let open = max(0, item.shipped - item.received)
            if ["CANCELLED", "DELETED", "CLOSED", "ERROR"].contains(shipment.status) { return (0, 0) }
            return Self.inboundInTransit.contains(shipment.status) ? (0, open) : (open, 0)
        }
        var changes: [FBAStockSpecification] = []
        for item in shipment.items {
            let key = FBAWorld.key(shipment.merchantID, shipment.marketplaceID, item.sku)
            let held = fba.stock[key]
            let old = share(before, before?.items.first { $0.sku == item.sku })
            let new = share(shipment, item)
            let received = item.received - (before?.items.first { $0.sku == item.sku }?.received ?? 0)
            changes.append(
                FBAStockSpecification(
                    sku: item.sku,
                    fulfillable: (held?.fulfillable ?? 0) + received,
                    inboundWorking: max(0, (held?.inboundWorking ?? 0) - old.working + new.working),
                    inboundShipped: max(0, (held?.inboundShipped ?? 0) - old.shipped + new.shipped)
                )
            )
        }
        _ = try? putFBAStock(changes, merchantID: shipment.merchantID, marketplaceID: shipment.marketplaceID)
    }
}
