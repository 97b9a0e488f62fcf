import AmazonInbound
import Foundation

/// The schema types of Amazon's Fulfillment Inbound API 2024-03-20 ("Send to Amazon").
typealias IP = AmazonInbound.Components.Schemas

/// Send to Amazon as Amazon keeps it: a seller's inbound plans, each with the packing, placement, transportation and
/// delivery-window options offered and the ones confirmed, and the asynchronous operations that make and confirm
/// them. An operation takes effect when it completes, `operationSeconds` after it was asked for; the confirm calls
/// each plan received are counted, so that a test can tell a connector that confirmed twice after a crash.
struct InboundPlansWorld: Sendable, Codable {
    /// A SKU of a plan: what the seller sent, and the FNSKU and ASIN Amazon adds once the plan is made.
    struct Item: Sendable, Codable, Hashable {
        var msku: String
        var quantity: Int
        var labelOwner: String
        var prepOwner: String
        var expiration: String?
        var manufacturingLotCode: String?
        var asin = ""
        var fnsku = ""
    }

    /// A set of SKUs that may be packed into the same boxes.
    struct PackingGroup: Sendable, Codable, Hashable {
        var id: String
        var mskus: [String]
    }

    struct PackingOption: Sendable, Codable {
        var id: String
        var groups: [PackingGroup]
        /// OFFERED, ACCEPTED or EXPIRED (an OFFERED option whose expiration passed is shown EXPIRED).
        var status: String
        var expiration: Date
    }

    /// One physical box: a `BoxInput` of quantity n makes n of these.
    struct Box: Sendable, Codable {
        var packingGroupID: String
        /// Where the seller described it (`packageGroupings[0].boxes[1]`), for the problems that name it.
        var origin: String
        var contentSource: String
        var dimensions: IP.Dimensions
        var weight: IP.Weight
        /// Units per SKU in the box.
        var contents: [String: Int]
        /// Amazon's box id (the shipment confirmation id, `U` and a six-digit number) once its shipment is confirmed.
        var boxID: String?
    }

    struct PlacementOption: Sendable, Codable {
        var id: String
        var shipmentIDs: [String]
        var status: String
        var expiration: Date
        /// The placement fee in the marketplace's currency; 0 for an Amazon-optimized split.
        var fee: Double
    }

    /// A shipment of a placement option: from its confirmation on, also an inbound shipment of v0.
    struct Shipment: Sendable, Codable {
        var id: String
        var placementOptionID: String
        var name: String
        var warehouseID: String
        var address: IP.Address
        /// Indices into the plan's boxes.
        var boxes: [Int]
        var status = "UNCONFIRMED"
        var confirmationID: String?
        var amazonReferenceID: String?
        var readyToShip: Date?
        var contact: IP.ContactInformation?
        var freight: IP.FreightInformation?
        var transportationOptions: [IP.TransportationOption] = []
        var selectedTransportationOptionID: String?
        var deliveryWindowOptions: [IP.DeliveryWindowOption] = []
        var selectedDeliveryWindow: IP.SelectedDeliveryWindow?
        /// confirmDeliveryWindowOptions calls that named this shipment, accepted or refused.
        var deliveryWindowConfirmCalls = 0
    }

    /// Confirm calls that named the plan, accepted or refused.
    struct ConfirmCalls: Sendable, Codable, Hashable {
        var packing = 0
        var placement = 0
        var transportation = 0
    }

    struct Plan: Sendable, Codable {
        var id: String
        var merchantID: String
        var marketplaceID: String
        var name: String
        /// ACTIVE, or ERRORED when its creation failed.
        var status: String
        var sourceAddress: IP.Address
        var items: [Item]
        var createdAt: Date
        var updatedAt: Date
        var sequence: Int
        var packingOptions: [PackingOption] = []
        /// The packing information: nil until setPackingInformation succeeded.
        var boxes: [Box]?
        var placementOptions: [PlacementOption] = []
        var shipments: [Shipment] = []
        var confirmCalls = ConfirmCalls()

        var confirmedPacking: PackingOption? { packingOptions.first { $0.status == "ACCEPTED" } }
        var confirmedPlacement: PlacementOption? { placementOptions.first { $0.status == "ACCEPTED" } }

        /// The shipments a caller sees: the confirmed placement option's, or every offered option's before one is.
        var visibleShipments: [Shipment] {
            guard let confirmed = confirmedPlacement else { return shipments }
            return shipments.filter { $0.placementOptionID == confirmed.id }
        }

        /// Whether transportation was confirmed for the confirmed placement option's shipments.
        var transportationConfirmed: Bool {
            confirmedPlacement != nil && visibleShipments.contains { $0.selectedTransportationOptionID != nil }
        }

        func item(_ msku: String) -> Item? { items.first { $0.msku == msku } }

        /// Units per SKU in a shipment's boxes.
        func units(of shipment: Shipment) -> [String: Int] {
            var units: [String: Int] = [:]
            for index in shipment.boxes {
                for (msku, count) in boxes?[index].contents ?? [:] { units[msku, default: 0] += count }
            }
            return units
        }

        func shipmentIndex(_ id: String) -> Int? { shipments.firstIndex { $0.id == id } }
    }

    /// What an operation does to its plan when it completes.
    enum Action: Sendable, Codable {
        case createPlan
        case generatePackingOptions
        case confirmPackingOption(String)
        case setPackingInformation([Box])
        case generatePlacementOptions
        case confirmPlacementOption(String)
        case generateTransportationOptions(String, [IP.ShipmentTransportationConfiguration])
        case confirmTransportationOptions([IP.TransportationSelection])
        case generateDeliveryWindowOptions(String)
        case confirmDeliveryWindowOptions(shipment: String, option: String)

        /// The operation's name, as getInboundOperationStatus reports it.
        var name: String {
            switch self {
            case .createPlan: "createInboundPlan"
            case .generatePackingOptions: "generatePackingOptions"
            case .confirmPackingOption: "confirmPackingOption"
            case .setPackingInformation: "setPackingInformation"
            case .generatePlacementOptions: "generatePlacementOptions"
            case .confirmPlacementOption: "confirmPlacementOption"
            case .generateTransportationOptions: "generateTransportationOptions"
            case .confirmTransportationOptions: "confirmTransportationOptions"
            case .generateDeliveryWindowOptions: "generateDeliveryWindowOptions"
            case .confirmDeliveryWindowOptions: "confirmDeliveryWindowOptions"
            }
        }
    }

    struct Operation: Sendable, Codable {
        var id: String
        var planID: String
        var merchantID: String
        var action: Action
        var dueAt: Date
        /// IN_PROGRESS, then SUCCESS or FAILED.
        var status = "IN_PROGRESS"
        var problems: [IP.OperationProblem] = []
        var sequence: Int
    }

    var plans: [String: Plan] = [:]
    var operations: [String: Operation] = [:]
    /// createInboundPlan calls per seller and plan name, accepted or refused.
    var createCalls: [String: Int] = [:]
    /// How long an operation stays IN_PROGRESS (`PUT /_simulator/inbound-operations`).
    var operationSeconds = 1.0
    var planCount = 0
    var operationCount = 0

    static func nameKey(_ merchantID: String, _ name: String) -> String { "\(merchantID)|\(name)" }

    /// Whether an operation of this kind is still running for the plan.
    func inProgress(_ planID: String, _ matches: (Action) -> Bool) -> Bool {
        operations.values.contains { $0.planID == planID && $0.status == "IN_PROGRESS" && matches($0.action) }
    }
}

/// An Amazon fulfilment centre a shipment may be sent to.
struct FulfillmentCenter: Sendable {
    var id: String
    var address: IP.Address

    /// A few of Amazon's fulfilment centres per marketplace; elsewhere two plausible ones in the seller's country.
    static func centers(marketplaceID: String, country: String) -> [FulfillmentCenter] {
        func center(
            _ id: String,
            _ name: String,
            _ line: String,
            _ city: String,
            _ state: String?,
            _ postalCode: String,
            _ country: String
        ) -> FulfillmentCenter {
            FulfillmentCenter(
                id: id,
                address: IP.Address(
                    addressLine1: line,
                    city: city,
                    countryCode: country,
                    name: name,
                    postalCode: postalCode,
                    stateOrProvinceCode: state
                )
            )
        }
        switch marketplaceID {
        case "ATVPDKIKX0DER":
            let name = "Amazon.com Services LLC"
            return [
                center("ABE2", name, "705 Boulder Drive", "Breinigsville", "PA", "18031", "US"),
                center("PHX7", name, "800 N 75th Avenue", "Phoenix", "AZ", "85043", "US"),
                center("SBD1", name, "1910 E Central Avenue", "San Bernardino", "CA", "92408", "US"),
                center("ONT8", name, "24300 Nandina Avenue", "Moreno Valley", "CA", "92551", "US"),
            ]
        case "A1PA6795UKMFR9":
            let name = "Amazon EU S.a.r.l."
            return [
                center("DTM2", name, "Kaltbandstrasse 4", "Dortmund", nil, "44145", "DE"),
                center("LEJ1", name, "Amazonstrasse 1", "Leipzig", nil, "04347", "DE"),
                center("FRA7", name, "Am Roemig 16", "Frankenthal", nil, "67227", "DE"),
            ]
        case "A1F83G8C2ARO7P":
            let name = "Amazon UK Services Ltd"
            return [
                center("LBA4", name, "Unit 1 iPort Avenue", "Doncaster", nil, "DN11 0BG", "GB"),
                center("BHX4", name, "Plot 1 Lyons Park, Sayer Drive", "Coventry", nil, "CV5 9PF", "GB"),
            ]
        case "A21TJRUUN4KGV":
            let name = "Amazon Seller Services Pvt Ltd"
            return [
                center("BLR7", name, "Vittalapura Village, Kasaba Hobli", "Hoskote", "KA", "562114", "IN"),
                center("BOM7", name, "Village Vashere, Bhiwandi", "Thane", "MH", "421302", "IN"),
                center("DEL4", name, "Khasra 18/21, Village Jamalpur", "Gurugram", "HR", "122503", "IN"),
            ]
        case "A2EUQ1WTGCTBG2":
            let name = "Amazon.com.ca ULC"
            return [
                center("YYZ4", name, "8050 Heritage Road", "Brampton", "ON", "L6Y 0C9", "CA"),
                center("YVR2", name, "450 Derwent Place", "Delta", "BC", "V3M 5Y9", "CA"),
            ]
        default:
            let name = "Amazon Fulfilment Centre"
            return [
                center("XFC1", name, "1 Fulfilment Way", "Logistics Park", nil, "10001", country),
                center("XFC2", name, "2 Fulfilment Way", "Logistics Park", nil, "10002", country),
            ]
        }
    }
}

extension Simulator: AmazonInbound.APIProtocol {
    /// How long a quote, an offered option or a delivery window stays good.
    static let inboundOptionLifetime: TimeInterval = 24 * 3600
    /// Amazon's limits for a small-parcel box: 23 kg (50 lb), 63.5 cm (25 in) a side.
    static let boxWeightLimits: [String: Double] = ["KG": 23, "LB": 50]
    static let boxSideLimits: [String: Double] = ["CM": 63.5, "IN": 25]
    static let owners: Set<String> = ["AMAZON", "SELLER", "NONE"]
    static let boxContentSources: Set<String> = ["BOX_CONTENT_PROVIDED", "MANUAL_PROCESS", "BARCODE_2D"]
    /// The most boxes a plan's packing information may describe.
    static let maximumBoxes = 10_000

    // MARK: Inbound plans

    public func listInboundPlans(
        _ input: AmazonInbound.Operations.ListInboundPlans.Input
    ) async throws -> AmazonInbound.Operations.ListInboundPlans.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let query = input.query
        let sortBy = query.sortBy?.rawValue ?? "CREATION_TIME"
        let descending = (query.sortOrder?.rawValue ?? "DESC") == "DESC"
        let wanted = query.status?.rawValue
        let plans = inboundPlans.plans.values.filter { plan in
            plan.merchantID == merchantID && (wanted == nil || plan.status == wanted)
        }
        .sorted { left, right in
            let (a, b) = descending ? (right, left) : (left, right)
            let keys =
                sortBy == "LAST_UPDATED_TIME" ? (a.updatedAt, b.updatedAt) : (a.createdAt, b.createdAt)
            return (keys.0, a.sequence) < (keys.1, b.sequence)
        }
        let filter = [merchantID, query.status?.rawValue ?? "", sortBy, descending ? "DESC" : "ASC"].joined(
            separator: "|"
        )
        let (page, next) = try Self.inboundPage(
            plans,
            size: query.pageSize,
            maximum: 30,
            token: query.paginationToken,
            filter: filter
        )
        return .ok(
            .init(
                body: .json(
                    .init(
                        inboundPlans: page.map {
                            IP.InboundPlanSummary(
                                createdAt: $0.createdAt,
                                inboundPlanId: $0.id,
                                lastUpdatedAt: $0.updatedAt,
                                marketplaceIds: [$0.marketplaceID],
                                name: $0.name,
                                sourceAddress: $0.sourceAddress,
                                status: $0.status
                            )
                        },
                        pagination: next
                    )
                )
            )
        )
    }

    public func createInboundPlan(
        _ input: AmazonInbound.Operations.CreateInboundPlan.Input
    ) async throws -> AmazonInbound.Operations.CreateInboundPlan.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        guard case .json(let body) = input.body else { throw AmazonError.invalidInput("A JSON body is required") }
        let stamp = world.stamp(now())
        let name = body.name ?? "Plan \(Self.timestamp(stamp).prefix(16).replacingOccurrences(of: "T", with: " "))"
        inboundPlans.createCalls[InboundPlansWorld.nameKey(merchantID, name), default: 0] += 1
        try Self.checkPlanRequest(body)
        let marketplaceID = body.destinationMarketplaces[0]
        inboundPlans.planCount += 1
        let id = Self.inboundID("wf")
        let source = body.sourceAddress
        inboundPlans.plans[id] = InboundPlansWorld.Plan(
            id: id,
            merchantID: merchantID,
            marketplaceID: marketplaceID,
            name: name,
            status: "ACTIVE",
            sourceAddress: IP.Address(
                addressLine1: source.addressLine1,
                addressLine2: source.addressLine2,
                city: source.city,
                companyName: source.companyName,
                countryCode: source.countryCode,
                districtOrCounty: source.districtOrCounty,
                email: source.email,
                name: source.name,
                phoneNumber: source.phoneNumber,
                postalCode: source.postalCode,
                stateOrProvinceCode: source.stateOrProvinceCode
            ),
            items: body.items.map {
                .init(
                    msku: $0.msku,
                    quantity: $0.quantity,
                    labelOwner: $0.labelOwner,
                    prepOwner: $0.prepOwner,
                    expiration: $0.expiration,
                    manufacturingLotCode: $0.manufacturingLotCode
                )
            },
            createdAt: stamp,
            updatedAt: stamp,
            sequence: inboundPlans.planCount
        )
        let operation = startInboundOperation(.createPlan, planID: id, merchantID: merchantID)
        return .accepted(.init(body: .json(.init(inboundPlanId: id, operationId: operation))))
    }

    /// What createInboundPlan refuses at once, in Amazon's words: each message names the field.
    static func checkPlanRequest(_ body: IP.CreateInboundPlanRequest) throws(AmazonError) {
        guard body.destinationMarketplaces.count == 1 else {
            throw AmazonError.invalidInput(
                "destinationMarketplaces must name exactly one marketplace, got \(body.destinationMarketplaces.count)"
            )
        }
        let marketplace = body.destinationMarketplaces[0]
        guard ListingRules.currencies[marketplace] != nil else {
            throw AmazonError.invalidInput("destinationMarketplaces: \(marketplace) is not an Amazon marketplace")
        }
        if let name = body.name, !(1...40).contains(name.count) {
            throw AmazonError.invalidInput("name must be 1 to 40 characters")
        }
        guard (1...2000).contains(body.items.count) else {
            throw AmazonError.invalidInput("items must hold 1 to 2000 items, got \(body.items.count)")
        }
        var seen: Set<String> = []
        for (index, item) in body.items.enumerated() {
            let field = "items[\(index)]"
            guard !item.msku.trimmingCharacters(in: .whitespaces).isEmpty, item.msku.count <= 255 else {
                throw AmazonError.invalidInput("\(field).msku must be 1 to 255 characters")
            }
            guard seen.insert(item.msku).inserted else {
                throw AmazonError.invalidInput("\(field).msku \(item.msku) is repeated: each MSKU may appear once")
            }
            guard (1...10_000).contains(item.quantity) else {
                throw AmazonError.invalidInput("\(field).quantity must be 1 to 10000, got \(item.quantity)")
            }
            guard owners.contains(item.labelOwner) else {
                throw AmazonError.invalidInput("\(field).labelOwner must be AMAZON, SELLER or NONE")
            }
            guard owners.contains(item.prepOwner) else {
                throw AmazonError.invalidInput("\(field).prepOwner must be AMAZON, SELLER or NONE")
            }
        }
        let address = body.sourceAddress
        let required = [
            ("name", address.name), ("addressLine1", address.addressLine1), ("city", address.city),
            ("postalCode", address.postalCode), ("countryCode", address.countryCode),
            ("phoneNumber", address.phoneNumber),
        ]
        for (field, value) in required where value.trimmingCharacters(in: .whitespaces).isEmpty {
            throw AmazonError.invalidInput("sourceAddress.\(field) is required")
        }
        guard address.countryCode.wholeMatch(of: /[A-Z]{2}/) != nil else {
            throw AmazonError.invalidInput(
                "sourceAddress.countryCode must be two capital letters (ISO 3166-1), got \(address.countryCode)"
            )
        }
    }

    public func getInboundPlan(
        _ input: AmazonInbound.Operations.GetInboundPlan.Input
    ) async throws -> AmazonInbound.Operations.GetInboundPlan.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let plan = try ownPlan(input.path.inboundPlanId, merchantID)
        let now = now()
        let placements = plan.confirmedPlacement.map { [$0] } ?? plan.placementOptions
        return .ok(
            .init(
                body: .json(
                    IP.InboundPlan(
                        createdAt: plan.createdAt,
                        inboundPlanId: plan.id,
                        lastUpdatedAt: plan.updatedAt,
                        marketplaceIds: [plan.marketplaceID],
                        name: plan.name,
                        packingOptions: plan.packingOptions.map {
                            .init(
                                packingOptionId: $0.id,
                                status: Self.shownStatus($0.status, $0.expiration, now)
                            )
                        },
                        placementOptions: placements.map {
                            .init(
                                placementOptionId: $0.id,
                                status: Self.shownStatus($0.status, $0.expiration, now)
                            )
                        },
                        shipments: plan.visibleShipments.map { .init(shipmentId: $0.id, status: $0.status) },
                        sourceAddress: plan.sourceAddress,
                        status: plan.status
                    )
                )
            )
        )
    }

    // MARK: Packing

    public func generatePackingOptions(
        _ input: AmazonInbound.Operations.GeneratePackingOptions.Input
    ) async throws -> AmazonInbound.Operations.GeneratePackingOptions.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let plan = try ownPlan(input.path.inboundPlanId, merchantID)
        try Self.requireActive(plan)
        guard plan.confirmedPacking == nil else {
            throw AmazonError.invalidInput("Inbound plan \(plan.id): a packing option is already confirmed")
        }
        guard !inboundPlans.inProgress(plan.id, { if case .confirmPackingOption = $0 { true } else { false } }) else {
            throw AmazonError.invalidInput("Inbound plan \(plan.id): a packing option's confirmation is in progress")
        }
        let operation = startInboundOperation(.generatePackingOptions, planID: plan.id, merchantID: merchantID)
        return .accepted(.init(body: .json(.init(operationId: operation))))
    }

    public func listPackingOptions(
        _ input: AmazonInbound.Operations.ListPackingOptions.Input
    ) async throws -> AmazonInbound.Operations.ListPackingOptions.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let plan = try ownPlan(input.path.inboundPlanId, merchantID)
        let (page, next) = try Self.inboundPage(
            plan.packingOptions,
            size: input.query.pageSize,
            maximum: 20,
            token: input.query.paginationToken,
            filter: "\(plan.id)|packingOptions"
        )
        let now = now()
        let weight =
            plan.marketplaceID == "ATVPDKIKX0DER"
            ? IP.WeightRange(maximum: 50, minimum: 0, unit: "LB") : IP.WeightRange(maximum: 23, minimum: 0, unit: "KG")
        let modes = ["GROUND_SMALL_PARCEL", "FREIGHT_LTL"]
        let solutions = ["AMAZON_PARTNERED_CARRIER", "USE_YOUR_OWN_CARRIER"]
        let options = page.map { option in
            IP.PackingOption(
                discounts: [],
                expiration: option.expiration,
                fees: [],
                packingGroups: option.groups.map(\.id),
                packingOptionId: option.id,
                status: Self.shownStatus(option.status, option.expiration, now),
                supportedConfigurations: [
                    IP.PackingConfiguration(
                        boxPackingMethods: Self.boxContentSources.sorted(),
                        boxRequirements: .init(weight: weight),
                        shippingRequirements: solutions.map { .init(modes: modes, solution: $0) }
                    )
                ],
                supportedShippingConfigurations: modes.flatMap { mode in
                    solutions.map { IP.ShippingConfiguration(shippingMode: mode, shippingSolution: $0) }
                }
            )
        }
        return .ok(.init(body: .json(.init(packingOptions: options, pagination: next))))
    }

    public func listPackingGroupItems(
        _ input: AmazonInbound.Operations.ListPackingGroupItems.Input
    ) async throws -> AmazonInbound.Operations.ListPackingGroupItems.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let plan = try ownPlan(input.path.inboundPlanId, merchantID)
        let groupID = input.path.packingGroupId
        guard let group = plan.packingOptions.lazy.flatMap(\.groups).first(where: { $0.id == groupID }) else {
            throw AmazonError.notFound("packingGroupId", groupID)
        }
        let (page, next) = try Self.inboundPage(
            group.mskus.compactMap(plan.item),
            size: input.query.pageSize,
            maximum: 100,
            token: input.query.paginationToken,
            filter: "\(plan.id)|\(groupID)"
        )
        return .ok(.init(body: .json(.init(items: page.map(Self.itemSchema), pagination: next))))
    }

    static func itemSchema(_ item: InboundPlansWorld.Item) -> IP.Item {
        IP.Item(
            asin: item.asin,
            expiration: item.expiration,
            fnsku: item.fnsku,
            labelOwner: item.labelOwner,
            manufacturingLotCode: item.manufacturingLotCode,
            msku: item.msku,
            prepInstructions: [
                IP.PrepInstruction(
                    fee: nil,
                    prepOwner: item.prepOwner,
                    prepType: item.prepOwner == "NONE" ? "ITEM_NO_PREP" : "ITEM_LABELING"
                )
            ],
            quantity: item.quantity
        )
    }

    public func confirmPackingOption(
        _ input: AmazonInbound.Operations.ConfirmPackingOption.Input
    ) async throws -> AmazonInbound.Operations.ConfirmPackingOption.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let plan = try ownPlan(input.path.inboundPlanId, merchantID)
        inboundPlans.plans[plan.id]?.confirmCalls.packing += 1
        try Self.requireActive(plan)
        let optionID = input.path.packingOptionId
        if let confirmed = plan.confirmedPacking {
            throw AmazonError.invalidInput(
                "Inbound plan \(plan.id): packing option \(confirmed.id) is already confirmed"
            )
        }
        guard !inboundPlans.inProgress(plan.id, { if case .confirmPackingOption = $0 { true } else { false } }) else {
            throw AmazonError.invalidInput("Inbound plan \(plan.id): a packing option's confirmation is in progress")
        }
        guard let option = plan.packingOptions.first(where: { $0.id == optionID }) else {
            throw AmazonError.invalidInput("packingOptionId \(optionID) is not a packing option of plan \(plan.id)")
        }
        try Self.requireOffered("Packing option", option.id, option.status, option.expiration, now())
        let operation = startInboundOperation(.confirmPackingOption(optionID), planID: plan.id, merchantID: merchantID)
        return .accepted(.init(body: .json(.init(operationId: operation))))
    }

    public func setPackingInformation(
        _ input: AmazonInbound.Operations.SetPackingInformation.Input
    ) async throws -> AmazonInbound.Operations.SetPackingInformation.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let plan = try ownPlan(input.path.inboundPlanId, merchantID)
        guard case .json(let body) = input.body else { throw AmazonError.invalidInput("A JSON body is required") }
        try Self.requireActive(plan)
        guard let packing = plan.confirmedPacking else {
            throw AmazonError.invalidInput(
                "Inbound plan \(plan.id) has no confirmed packing option: confirmPackingOption comes before setPackingInformation"
            )
        }
        guard plan.confirmedPlacement == nil else {
            throw AmazonError.invalidInput(
                "Inbound plan \(plan.id): a placement option is confirmed, so its packing information can no longer change"
            )
        }
        let boxes = try Self.boxes(body.packageGroupings, plan: plan, groups: packing.groups)
        let operation = startInboundOperation(.setPackingInformation(boxes), planID: plan.id, merchantID: merchantID)
        return .accepted(.init(body: .json(.init(operationId: operation))))
    }

    /// The physical boxes a setPackingInformation request describes, or its refusal. Boxes without contents (the
    /// seller lets Amazon count them) share the units of their group the listed boxes leave.
    static func boxes(
        _ groupings: [IP.PackageGroupingInput],
        plan: InboundPlansWorld.Plan,
        groups: [InboundPlansWorld.PackingGroup]
    ) throws(AmazonError) -> [InboundPlansWorld.Box] {
        guard !groupings.isEmpty else { throw AmazonError.invalidInput("packageGroupings must hold at least one") }
        var result: [InboundPlansWorld.Box] = []
        var seenGroups: Set<String> = []
        for (index, grouping) in groupings.enumerated() {
            let field = "packageGroupings[\(index)]"
            guard let groupID = grouping.packingGroupId else {
                throw AmazonError.invalidInput(
                    "\(field).packingGroupId is required (shipmentId groupings are not offered)"
                )
            }
            guard let group = groups.first(where: { $0.id == groupID }) else {
                throw AmazonError.invalidInput(
                    "\(field).packingGroupId \(groupID) is not a packing group of the confirmed packing option"
                )
            }
            guard seenGroups.insert(groupID).inserted else {
                throw AmazonError.invalidInput("\(field).packingGroupId \(groupID) is repeated")
            }
            guard (1...5000).contains(grouping.boxes.count) else {
                throw AmazonError.invalidInput("\(field).boxes must hold 1 to 5000 boxes")
            }
            var listed: [String: Int] = [:]
            var unlisted: [InboundPlansWorld.Box] = []
            for (number, box) in grouping.boxes.enumerated() {
                let origin = "\(field).boxes[\(number)]"
                let contents = try checkBox(box, origin: origin, group: group)
                let physical = InboundPlansWorld.Box(
                    packingGroupID: groupID,
                    origin: origin,
                    contentSource: box.contentInformationSource,
                    dimensions: box.dimensions,
                    weight: box.weight,
                    contents: contents
                )
                guard result.count + unlisted.count + box.quantity <= maximumBoxes else {
                    throw AmazonError.invalidInput("packageGroupings may describe at most \(maximumBoxes) boxes")
                }
                if contents.isEmpty {
                    unlisted += Array(repeating: physical, count: box.quantity)
                } else {
                    for (msku, units) in contents { listed[msku, default: 0] += units * box.quantity }
                    result += Array(repeating: physical, count: box.quantity)
                }
            }
            // Units the listed boxes leave, spread over the boxes whose contents Amazon counts itself.
            if !unlisted.isEmpty {
                for msku in group.mskus {
                    let left = max(0, (plan.item(msku)?.quantity ?? 0) - listed[msku, default: 0])
                    for position in unlisted.indices {
                        let share = left / unlisted.count + (position < left % unlisted.count ? 1 : 0)
                        if share > 0 { unlisted[position].contents[msku] = share }
                    }
                }
                result += unlisted
            }
        }
        return result
    }

    /// A box's contents (units per SKU), or the refusal of a box that is not one.
    static func checkBox(
        _ box: IP.BoxInput,
        origin: String,
        group: InboundPlansWorld.PackingGroup
    ) throws(AmazonError) -> [String: Int] {
        guard (1...10_000).contains(box.quantity) else {
            throw AmazonError.invalidInput("\(origin).quantity must be 1 to 10000, got \(box.quantity)")
        }
        guard boxContentSources.contains(box.contentInformationSource) else {
            throw AmazonError.invalidInput(
                "\(origin).contentInformationSource must be BOX_CONTENT_PROVIDED, MANUAL_PROCESS or BARCODE_2D"
            )
        }
        let dimensions = box.dimensions
        guard boxSideLimits[dimensions.unitOfMeasurement] != nil else {
            throw AmazonError.invalidInput("\(origin).dimensions.unitOfMeasurement must be CM or IN")
        }
        for (name, side) in [("length", dimensions.length), ("width", dimensions.width), ("height", dimensions.height)]
        where !(side.isFinite && side > 0) {
            throw AmazonError.invalidInput("\(origin).dimensions.\(name) must be a number above 0, got \(side)")
        }
        guard boxWeightLimits[box.weight.unit] != nil else {
            throw AmazonError.invalidInput("\(origin).weight.unit must be KG or LB")
        }
        guard box.weight.value.isFinite, box.weight.value > 0 else {
            throw AmazonError.invalidInput("\(origin).weight.value must be a number above 0, got \(box.weight.value)")
        }
        let items = box.items ?? []
        if box.contentInformationSource == "BOX_CONTENT_PROVIDED", items.isEmpty {
            throw AmazonError.invalidInput(
                "\(origin).items is required when contentInformationSource is BOX_CONTENT_PROVIDED"
            )
        }
        var contents: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            guard group.mskus.contains(item.msku) else {
                throw AmazonError.invalidInput(
                    "\(origin).items[\(index)].msku \(item.msku) is not an MSKU of packing group \(group.id)"
                )
            }
            guard (1...500_000).contains(item.quantity) else {
                throw AmazonError.invalidInput("\(origin).items[\(index)].quantity must be at least 1")
            }
            contents[item.msku, default: 0] += item.quantity
        }
        return contents
    }

    // MARK: Placement

    public func generatePlacementOptions(
        _ input: AmazonInbound.Operations.GeneratePlacementOptions.Input
    ) async throws -> AmazonInbound.Operations.GeneratePlacementOptions.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let plan = try ownPlan(input.path.inboundPlanId, merchantID)
        guard case .json(let body) = input.body else { throw AmazonError.invalidInput("A JSON body is required") }
        try Self.requireActive(plan)
        guard (body.customPlacement ?? []).isEmpty else {
            throw AmazonError.invalidInput("customPlacement is not offered in marketplace \(plan.marketplaceID)")
        }
        guard plan.boxes != nil else {
            throw AmazonError.invalidInput(
                "Inbound plan \(plan.id) has no packing information: setPackingInformation comes before generatePlacementOptions"
            )
        }
        guard plan.confirmedPlacement == nil else {
            throw AmazonError.invalidInput("Inbound plan \(plan.id): a placement option is already confirmed")
        }
        let operation = startInboundOperation(.generatePlacementOptions, planID: plan.id, merchantID: merchantID)
        return .accepted(.init(body: .json(.init(operationId: operation))))
    }

    public func listPlacementOptions(
        _ input: AmazonInbound.Operations.ListPlacementOptions.Input
    ) async throws -> AmazonInbound.Operations.ListPlacementOptions.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let plan = try ownPlan(input.path.inboundPlanId, merchantID)
        let (page, next) = try Self.inboundPage(
            plan.placementOptions,
            size: input.query.pageSize,
            maximum: 20,
            token: input.query.paginationToken,
            filter: "\(plan.id)|placementOptions"
        )
        let now = now()
        let currency = ListingRules.currencies[plan.marketplaceID] ?? "USD"
        let options = page.map { option in
            IP.PlacementOption(
                discounts: [],
                expiration: option.expiration,
                fees: option.fee > 0
                    ? [
                        IP.Incentive(
                            description: "Minimal shipment splits",
                            target: "Placement Services",
                            _type: "FEE",
                            value: .init(amount: option.fee, code: currency)
                        )
                    ] : [],
                placementOptionId: option.id,
                shipmentIds: option.shipmentIDs,
                status: Self.shownStatus(option.status, option.expiration, now)
            )
        }
        return .ok(.init(body: .json(.init(pagination: next, placementOptions: options))))
    }

    public func confirmPlacementOption(
        _ input: AmazonInbound.Operations.ConfirmPlacementOption.Input
    ) async throws -> AmazonInbound.Operations.ConfirmPlacementOption.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let plan = try ownPlan(input.path.inboundPlanId, merchantID)
        inboundPlans.plans[plan.id]?.confirmCalls.placement += 1
        try Self.requireActive(plan)
        let optionID = input.path.placementOptionId
        if let confirmed = plan.confirmedPlacement {
            throw AmazonError.invalidInput(
                "Inbound plan \(plan.id): placement option \(confirmed.id) is already confirmed"
            )
        }
        guard !inboundPlans.inProgress(plan.id, { if case .confirmPlacementOption = $0 { true } else { false } })
        else {
            throw AmazonError.invalidInput("Inbound plan \(plan.id): a placement option's confirmation is in progress")
        }
        guard let option = plan.placementOptions.first(where: { $0.id == optionID }) else {
            throw AmazonError.invalidInput("placementOptionId \(optionID) is not a placement option of plan \(plan.id)")
        }
        try Self.requireOffered("Placement option", option.id, option.status, option.expiration, now())
        let operation = startInboundOperation(
            .confirmPlacementOption(optionID),
            planID: plan.id,
            merchantID: merchantID
        )
        return .accepted(.init(body: .json(.init(operationId: operation))))
    }

    public func getInboundPlanShipment(
        _ input: AmazonInbound.Operations.GetInboundPlanShipment.Input
    ) async throws -> AmazonInbound.Operations.GetInboundPlanShipment.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let plan = try ownPlan(input.path.inboundPlanId, merchantID)
        guard let shipment = plan.shipments.first(where: { $0.id == input.path.shipmentId }) else {
            throw AmazonError.notFound("shipmentId", input.path.shipmentId)
        }
        return .ok(
            .init(
                body: .json(
                    IP.Shipment(
                        amazonReferenceId: shipment.amazonReferenceID,
                        contactInformation: shipment.contact,
                        dates: nil,
                        destination: .init(
                            address: shipment.address,
                            destinationType: "AMAZON_OPTIMIZED",
                            warehouseId: shipment.warehouseID
                        ),
                        freightInformation: shipment.freight,
                        name: shipment.name,
                        placementOptionId: shipment.placementOptionID,
                        selectedDeliveryWindow: shipment.selectedDeliveryWindow,
                        selectedTransportationOptionId: shipment.selectedTransportationOptionID,
                        selfShipAppointmentDetails: nil,
                        shipmentConfirmationId: shipment.confirmationID,
                        shipmentId: shipment.id,
                        source: .init(address: plan.sourceAddress, sourceType: "SELLER_FACILITY"),
                        status: shipment.status,
                        trackingDetails: nil
                    )
                )
            )
        )
    }

    // MARK: Transportation

    public func generateTransportationOptions(
        _ input: AmazonInbound.Operations.GenerateTransportationOptions.Input
    ) async throws -> AmazonInbound.Operations.GenerateTransportationOptions.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let plan = try ownPlan(input.path.inboundPlanId, merchantID)
        guard case .json(let body) = input.body else { throw AmazonError.invalidInput("A JSON body is required") }
        try Self.requireActive(plan)
        guard let option = plan.placementOptions.first(where: { $0.id == body.placementOptionId }) else {
            throw AmazonError.invalidInput(
                "placementOptionId \(body.placementOptionId) is not a placement option of plan \(plan.id)"
            )
        }
        guard option.status != "EXPIRED" else {
            throw AmazonError.invalidInput("Placement option \(option.id) is EXPIRED: another one was confirmed")
        }
        guard !plan.transportationConfirmed else {
            throw AmazonError.invalidInput("Inbound plan \(plan.id): transportation is already confirmed")
        }
        var configured: Set<String> = []
        for (index, configuration) in body.shipmentTransportationConfigurations.enumerated() {
            let field = "shipmentTransportationConfigurations[\(index)]"
            guard option.shipmentIDs.contains(configuration.shipmentId) else {
                throw AmazonError.invalidInput(
                    "\(field).shipmentId \(configuration.shipmentId) is not a shipment of placement option \(option.id)"
                )
            }
            guard configured.insert(configuration.shipmentId).inserted else {
                throw AmazonError.invalidInput("\(field).shipmentId \(configuration.shipmentId) is repeated")
            }
            for (number, pallet) in (configuration.pallets ?? []).enumerated()
            where !(1...10_000).contains(pallet.quantity) {
                throw AmazonError.invalidInput("\(field).pallets[\(number)].quantity must be 1 to 10000")
            }
        }
        if let missing = option.shipmentIDs.first(where: { !configured.contains($0) }) {
            throw AmazonError.invalidInput(
                "shipmentTransportationConfigurations has no configuration for shipment \(missing) of placement option \(option.id)"
            )
        }
        let operation = startInboundOperation(
            .generateTransportationOptions(option.id, body.shipmentTransportationConfigurations),
            planID: plan.id,
            merchantID: merchantID
        )
        return .accepted(.init(body: .json(.init(operationId: operation))))
    }

    public func listTransportationOptions(
        _ input: AmazonInbound.Operations.ListTransportationOptions.Input
    ) async throws -> AmazonInbound.Operations.ListTransportationOptions.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let plan = try ownPlan(input.path.inboundPlanId, merchantID)
        let query = input.query
        guard query.placementOptionId != nil || query.shipmentId != nil else {
            throw AmazonError.invalidInput("placementOptionId or shipmentId is required")
        }
        if let placement = query.placementOptionId, !plan.placementOptions.contains(where: { $0.id == placement }) {
            throw AmazonError.invalidInput(
                "placementOptionId \(placement) is not a placement option of plan \(plan.id)"
            )
        }
        if let shipment = query.shipmentId, plan.shipmentIndex(shipment) == nil {
            throw AmazonError.invalidInput("shipmentId \(shipment) is not a shipment of plan \(plan.id)")
        }
        let options = plan.shipments.filter { shipment in
            (query.placementOptionId == nil || shipment.placementOptionID == query.placementOptionId)
                && (query.shipmentId == nil || shipment.id == query.shipmentId)
        }
        .flatMap(\.transportationOptions)
        let (page, next) = try Self.inboundPage(
            options,
            size: query.pageSize,
            maximum: 20,
            token: query.paginationToken,
            filter: "\(plan.id)|\(query.placementOptionId ?? "")|\(query.shipmentId ?? "")"
        )
        return .ok(.init(body: .json(.init(pagination: next, transportationOptions: page))))
    }

    public func confirmTransportationOptions(
        _ input: AmazonInbound.Operations.ConfirmTransportationOptions.Input
    ) async throws -> AmazonInbound.Operations.ConfirmTransportationOptions.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let plan = try ownPlan(input.path.inboundPlanId, merchantID)
        inboundPlans.plans[plan.id]?.confirmCalls.transportation += 1
        guard case .json(let body) = input.body else { throw AmazonError.invalidInput("A JSON body is required") }
        try Self.requireActive(plan)
        guard let placement = plan.confirmedPlacement else {
            throw AmazonError.invalidInput(
                "Inbound plan \(plan.id) has no confirmed placement option: confirmPlacementOption comes first"
            )
        }
        guard !plan.transportationConfirmed else {
            throw AmazonError.invalidInput("Inbound plan \(plan.id): transportation is already confirmed")
        }
        guard
            !inboundPlans.inProgress(plan.id, { if case .confirmTransportationOptions = $0 { true } else { false } })
        else {
            throw AmazonError.invalidInput("Inbound plan \(plan.id): a transportation confirmation is in progress")
        }
        let now = now()
        var selected: Set<String> = []
        for (index, selection) in body.transportationSelections.enumerated() {
            let field = "transportationSelections[\(index)]"
            guard placement.shipmentIDs.contains(selection.shipmentId),
                let shipment = plan.shipments.first(where: { $0.id == selection.shipmentId })
            else {
                throw AmazonError.invalidInput(
                    "\(field).shipmentId \(selection.shipmentId) is not a shipment of the confirmed placement option \(placement.id)"
                )
            }
            guard selected.insert(shipment.id).inserted else {
                throw AmazonError.invalidInput("\(field).shipmentId \(shipment.id) is selected twice")
            }
            guard
                let option = shipment.transportationOptions.first(where: {
                    $0.transportationOptionId == selection.transportationOptionId
                })
            else {
                throw AmazonError.invalidInput(
                    "\(field).transportationOptionId \(selection.transportationOptionId) is not an option of shipment \(shipment.id)"
                )
            }
            if let expiration = option.quote?.expiration, expiration <= now {
                throw AmazonError.invalidInput(
                    "Transportation option \(option.transportationOptionId) expired at \(Self.timestamp(expiration)): generate transportation options again"
                )
            }
            if option.preconditions.contains("CONFIRMED_DELIVERY_WINDOW"), shipment.selectedDeliveryWindow == nil {
                throw AmazonError.invalidInput(
                    "Transportation option \(option.transportationOptionId) needs a confirmed delivery window for shipment \(shipment.id) (confirmDeliveryWindowOptions)"
                )
            }
        }
        if let missing = placement.shipmentIDs.first(where: { !selected.contains($0) }) {
            throw AmazonError.invalidInput("transportationSelections has no selection for shipment \(missing)")
        }
        let operation = startInboundOperation(
            .confirmTransportationOptions(body.transportationSelections),
            planID: plan.id,
            merchantID: merchantID
        )
        return .accepted(.init(body: .json(.init(operationId: operation))))
    }

    // MARK: Delivery windows

    public func generateDeliveryWindowOptions(
        _ input: AmazonInbound.Operations.GenerateDeliveryWindowOptions.Input
    ) async throws -> AmazonInbound.Operations.GenerateDeliveryWindowOptions.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let plan = try ownPlan(input.path.inboundPlanId, merchantID)
        try Self.requireActive(plan)
        let shipment = try Self.confirmedShipment(plan, input.path.shipmentId)
        let operation = startInboundOperation(
            .generateDeliveryWindowOptions(shipment.id),
            planID: plan.id,
            merchantID: merchantID
        )
        return .accepted(.init(body: .json(.init(operationId: operation))))
    }

    public func listDeliveryWindowOptions(
        _ input: AmazonInbound.Operations.ListDeliveryWindowOptions.Input
    ) async throws -> AmazonInbound.Operations.ListDeliveryWindowOptions.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let plan = try ownPlan(input.path.inboundPlanId, merchantID)
        guard let shipment = plan.shipments.first(where: { $0.id == input.path.shipmentId }) else {
            throw AmazonError.notFound("shipmentId", input.path.shipmentId)
        }
        let (page, next) = try Self.inboundPage(
            shipment.deliveryWindowOptions,
            size: input.query.pageSize,
            maximum: 100,
            token: input.query.paginationToken,
            filter: "\(plan.id)|\(shipment.id)|deliveryWindows"
        )
        return .ok(.init(body: .json(.init(deliveryWindowOptions: page, pagination: next))))
    }

    public func confirmDeliveryWindowOptions(
        _ input: AmazonInbound.Operations.ConfirmDeliveryWindowOptions.Input
    ) async throws -> AmazonInbound.Operations.ConfirmDeliveryWindowOptions.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        let plan = try ownPlan(input.path.inboundPlanId, merchantID)
        guard let index = plan.shipmentIndex(input.path.shipmentId) else {
            throw AmazonError.notFound("shipmentId", input.path.shipmentId)
        }
        inboundPlans.plans[plan.id]?.shipments[index].deliveryWindowConfirmCalls += 1
        try Self.requireActive(plan)
        let shipment = try Self.confirmedShipment(plan, input.path.shipmentId)
        let optionID = input.path.deliveryWindowOptionId
        if let selected = shipment.selectedDeliveryWindow {
            throw AmazonError.invalidInput(
                "Shipment \(shipment.id): delivery window \(selected.deliveryWindowOptionId) is already confirmed"
            )
        }
        let confirming = inboundPlans.inProgress(plan.id) {
            if case .confirmDeliveryWindowOptions(let id, _) = $0 { id == shipment.id } else { false }
        }
        guard !confirming else {
            throw AmazonError.invalidInput("Shipment \(shipment.id): a delivery window's confirmation is in progress")
        }
        guard let option = shipment.deliveryWindowOptions.first(where: { $0.deliveryWindowOptionId == optionID }) else {
            throw AmazonError.invalidInput(
                "deliveryWindowOptionId \(optionID) is not a delivery window option of shipment \(shipment.id)"
            )
        }
        guard option.validUntil > now() else {
            throw AmazonError.invalidInput(
                "Delivery window option \(optionID) expired at \(Self.timestamp(option.validUntil)): generate delivery window options again"
            )
        }
        let operation = startInboundOperation(
            .confirmDeliveryWindowOptions(shipment: shipment.id, option: optionID),
            planID: plan.id,
            merchantID: merchantID
        )
        return .accepted(.init(body: .json(.init(operationId: operation))))
    }

    // MARK: Operations

    public func getInboundOperationStatus(
        _ input: AmazonInbound.Operations.GetInboundOperationStatus.Input
    ) async throws -> AmazonInbound.Operations.GetInboundOperationStatus.Output {
        let merchantID = try RequestScope.merchant()
        settleInboundPlans()
        guard let operation = inboundPlans.operations[input.path.operationId], operation.merchantID == merchantID else {
            throw AmazonError.notFound("operationId", input.path.operationId)
        }
        return .ok(
            .init(
                body: .json(
                    .init(
                        operation: operation.action.name,
                        operationId: operation.id,
                        operationProblems: operation.problems,
                        operationStatus: operation.status
                    )
                )
            )
        )
    }

    // MARK: Helpers

    /// A fresh id of Amazon's shape: a two-letter prefix and a lowercase UUID, 38 characters.
    static func inboundID(_ prefix: String) -> String { prefix + UUID().uuidString.lowercased() }

    /// The seller's plan, or Amazon's 404 (a plan of another seller too).
    func ownPlan(_ id: String, _ merchantID: String) throws(AmazonError) -> InboundPlansWorld.Plan {
        guard let plan = inboundPlans.plans[id], plan.merchantID == merchantID else {
            throw AmazonError.notFound("inboundPlanId", id)
        }
        return plan
    }

    static func requireActive(_ plan: InboundPlansWorld.Plan) throws(AmazonError) {
        guard plan.status == "ACTIVE" else {
            throw AmazonError.invalidInput("Inbound plan \(plan.id) is \(plan.status); only an ACTIVE plan moves on")
        }
    }

    /// Refuses an option that expired or is no longer offered.
    static func requireOffered(
        _ kind: String,
        _ id: String,
        _ status: String,
        _ expiration: Date,
        _ now: Date
    ) throws(AmazonError) {
        if status == "OFFERED", expiration <= now {
            throw AmazonError.invalidInput(
                "\(kind) \(id) expired at \(timestamp(expiration)); generate the options again"
            )
        }
        guard status == "OFFERED" else { throw AmazonError.invalidInput("\(kind) \(id) is \(status), not OFFERED") }
    }

    /// A shipment of the plan's confirmed placement option, or the refusal.
    static func confirmedShipment(
        _ plan: InboundPlansWorld.Plan,
        _ id: String
    ) throws(AmazonError) -> InboundPlansWorld.Shipment {
        guard let shipment = plan.shipments.first(where: { $0.id == id }) else {
            throw AmazonError.notFound("shipmentId", id)
        }
        guard let placement = plan.confirmedPlacement, shipment.placementOptionID == placement.id else {
            throw AmazonError.invalidInput(
                "Shipment \(id) is not a shipment of a confirmed placement option: confirmPlacementOption comes first"
            )
        }
        return shipment
    }

    /// An option's status as Amazon shows it: an offered option whose time is up is EXPIRED.
    static func shownStatus(_ status: String, _ expiration: Date, _ now: Date) -> String {
        status == "OFFERED" && expiration <= now ? "EXPIRED" : status
    }

    /// A page of `records` from the position a token carries, and the pagination for the next one.
    static func inboundPage<Record>(
        _ records: [Record],
        size: Int?,
        maximum: Int,
        token: String?,
        filter: String
    ) throws(AmazonError) -> (page: [Record], next: IP.Pagination?) {
        let size = size ?? 10
        guard (1...maximum).contains(size) else {
            throw AmazonError.invalidInput("pageSize must be 1 to \(maximum), got \(size)")
        }
        var start = 0
        if let token, !token.isEmpty {
            start = try PageToken.decode(token, filter: filter, parameter: "paginationToken")
        }
        let page = Array(records.dropFirst(start).prefix(size))
        let next = start + size < records.count ? PageToken.encode(position: start + size, filter: filter) : nil
        return (page, next.map { IP.Pagination(nextToken: $0) })
    }

    /// Rounds an amount to cents.
    static func cents(_ amount: Double) -> Double { (amount * 100).rounded() / 100 }

    /// Starts an operation on a plan; it completes `operationSeconds` from now. Returns its id.
    func startInboundOperation(_ action: InboundPlansWorld.Action, planID: String, merchantID: String) -> String {
        inboundPlans.operationCount += 1
        let id = UUID().uuidString.lowercased()
        inboundPlans.operations[id] = .init(
            id: id,
            planID: planID,
            merchantID: merchantID,
            action: action,
            dueAt: now().addingTimeInterval(inboundPlans.operationSeconds),
            sequence: inboundPlans.operationCount
        )
        return id
    }
}
