import Foundation

/// "Send to Amazon": a WMS's stock order turned into an inbound plan at Amazon (Fulfillment Inbound 2024-03-20) and
/// carried, one step at a time, to confirmed shipments with their labels.
///
/// Every step at Amazon is an asynchronous operation; the plan keeps the step it is at and the operation in flight,
/// and writes its intent before each call Amazon must not see twice (creating the plan, each confirmation), so that a
/// node restarted at any point first adopts what Amazon shows and never confirms anything twice.
public struct InboundPlan: Sendable, Hashable, Codable {
    public var id: String
    public var connectionID: ConnectionID
    public var request: InboundPlanRequest
    /// Each line's SKU at Amazon (the FBA listing's), in the order of `request.lines`.
    public var merchantSKUs: [MerchantSKU]
    public var amazonPlanID: String?
    public var step: InboundPlanStep
    public var status: InboundPlanStatus
    /// The Amazon operation in flight, polled until it ends.
    public var operation: InboundOperation?
    /// When a call Amazon must not see twice was last made (or about to be): on a restart, Amazon's state is read
    /// before it is ever made again.
    public var intentAt: Date?
    /// Why the plan stopped (Amazon's problems), while `status` is failed.
    public var problem: String?
    public var packingOptions: [InboundPackingOption]
    public var packingOptionID: String?
    public var placementOptions: [InboundPlacementOption]
    public var placementOptionID: String?
    public var shipments: [InboundPlanShipment]
    public var transportationOptions: [InboundTransportationOption]
    /// When the worker looks at the plan again.
    public var dueAt: Date
    /// Moves at every write, so that a write made on a plan read before another write is refused, not lost.
    public var revision: Int = 0
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String,
        connectionID: ConnectionID,
        request: InboundPlanRequest,
        merchantSKUs: [MerchantSKU],
        now: Date
    ) {
        self.id = id
        self.connectionID = connectionID
        self.request = request
        self.merchantSKUs = merchantSKUs
        self.step = .create
        self.status = .working
        self.packingOptions = []
        self.placementOptions = []
        self.shipments = []
        self.transportationOptions = []
        self.dueAt = now
        self.createdAt = now
        self.updatedAt = now
    }

    /// The plan's name at Amazon: how a restarted node finds a plan whose creation it cannot remember (Amazon takes
    /// 40 characters).
    public var amazonName: String { "FlexBridge \(id)" }

    /// A new plan's id: `ip` and 64 random bits in hex.
    public static func newID() -> String {
        "ip" + String(format: "%016llx", UInt64.random(in: .min ... .max))
    }

    /// The merchant SKU of a WMS SKU of the plan.
    public func merchantSKU(of sku: WarehouseSKU) -> MerchantSKU? {
        request.lines.firstIndex { $0.sku == sku }.map { merchantSKUs[$0] }
    }
}

/// The steps of Send to Amazon, in order. A step names what the worker does next.
public enum InboundPlanStep: String, Sendable, Hashable, Codable, CaseIterable {
    /// createInboundPlan.
    case create
    /// generatePackingOptions, then listPackingOptions (the fewest packing groups is taken).
    case packingOptions
    /// confirmPackingOption.
    case confirmPacking
    /// setPackingInformation: the boxes of the request, per packing group.
    case packingInformation
    /// generatePlacementOptions, then listPlacementOptions.
    case placementOptions
    /// Waiting for the WMS (or the cheapest-placement setting) to choose a placement option.
    case choosePlacement
    /// confirmPlacementOption, then getShipment for each shipment.
    case confirmPlacement
    /// generateTransportationOptions, then listTransportationOptions.
    case transportationOptions
    /// Waiting for the WMS (or the partnered-carrier setting) to choose each shipment's transportation.
    case chooseTransportation
    /// For each shipment whose carrier needs one: generate, list and confirm a delivery window (the earliest).
    case deliveryWindows
    /// confirmTransportationOptions.
    case confirmTransportation
    /// getLabels for each shipment, kept for the WMS.
    case labels
    case done

    /// Steps that wait for a choice, not for Amazon.
    public var waitsForChoice: Bool { self == .choosePlacement || self == .chooseTransportation }
}

/// Where a plan stands for the WMS.
public enum InboundPlanStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// FlexBridge is carrying it through Amazon's steps.
    case working
    /// A choice of the WMS is needed (placement or transportation).
    case waiting
    /// Amazon refused a step: the plan stays at it with the reason, resumable once fixed.
    case failed
    /// Confirmed at Amazon, labels downloaded.
    case completed
}

/// An asynchronous operation of Amazon's in flight.
public struct InboundOperation: Sendable, Hashable, Codable {
    public var id: String
    /// The call that started it (`confirmPlacementOption`, …).
    public var name: String
    /// The shipment it is about, for delivery windows.
    public var shipmentID: String?
    /// The status Amazon last gave it, when it was one this version does not know (said once, when entered).
    public var unknownStatus: String?

    public init(id: String, name: String, shipmentID: String? = nil, unknownStatus: String? = nil) {
        self.id = id
        self.name = name
        self.shipmentID = shipmentID
        self.unknownStatus = unknownStatus
    }
}

/// What the WMS sends: a stock order to ship to one marketplace's fulfilment centres.
public struct InboundPlanRequest: Sendable, Hashable, Codable {
    public struct Address: Sendable, Hashable, Codable {
        public var name: String
        public var companyName: String?
        public var addressLine1: String
        public var addressLine2: String?
        public var city: String
        public var stateOrProvinceCode: String?
        public var postalCode: String
        public var countryCode: String
        public var phoneNumber: String
        public var email: String?

        public init(
            name: String,
            companyName: String? = nil,
            addressLine1: String,
            addressLine2: String? = nil,
            city: String,
            stateOrProvinceCode: String? = nil,
            postalCode: String,
            countryCode: String,
            phoneNumber: String,
            email: String? = nil
        ) {
            self.name = name
            self.companyName = companyName
            self.addressLine1 = addressLine1
            self.addressLine2 = addressLine2
            self.city = city
            self.stateOrProvinceCode = stateOrProvinceCode
            self.postalCode = postalCode
            self.countryCode = countryCode
            self.phoneNumber = phoneNumber
            self.email = email
        }
    }

    public struct Line: Sendable, Hashable, Codable {
        public var sku: WarehouseSKU
        public var quantity: Int
        /// Who labels and preps the units: AMAZON, SELLER or NONE (SELLER and NONE when left out).
        public var labelOwner: String
        public var prepOwner: String

        public init(sku: WarehouseSKU, quantity: Int, labelOwner: String = "SELLER", prepOwner: String = "NONE") {
            self.sku = sku
            self.quantity = quantity
            self.labelOwner = labelOwner
            self.prepOwner = prepOwner
        }
    }

    /// A box, or `quantity` identical boxes; its contents when the WMS knows them.
    public struct Box: Sendable, Hashable, Codable {
        public struct Item: Sendable, Hashable, Codable {
            public var sku: WarehouseSKU
            public var quantity: Int

            public init(sku: WarehouseSKU, quantity: Int) {
                self.sku = sku
                self.quantity = quantity
            }
        }

        public var quantity: Int
        public var weight: Double
        /// KG or LB.
        public var weightUnit: String
        public var length: Double
        public var width: Double
        public var height: Double
        /// CM or IN.
        public var dimensionUnit: String
        public var items: [Item]?

        public init(
            quantity: Int = 1,
            weight: Double,
            weightUnit: String = "KG",
            length: Double,
            width: Double,
            height: Double,
            dimensionUnit: String = "CM",
            items: [Item]? = nil
        ) {
            self.quantity = quantity
            self.weight = weight
            self.weightUnit = weightUnit
            self.length = length
            self.width = width
            self.height = height
            self.dimensionUnit = dimensionUnit
            self.items = items
        }

        var kilograms: Double { weightUnit == "LB" ? weight * 0.45359237 : weight }
        var longestSideCentimetres: Double {
            let side = max(length, width, height)
            return dimensionUnit == "IN" ? side * 2.54 : side
        }
    }

    /// The WMS's own reference of the stock order: one plan per reference and connection.
    public var reference: String
    public var marketplaceID: MarketplaceID
    public var sourceAddress: Address
    public var lines: [Line]
    public var boxes: [Box]
    /// The day the boxes are ready to be picked up (YYYY-MM-DD); tomorrow when left out.
    public var readyToShipDate: String?
    /// Pallets, for less-than-truckload freight quotes.
    public var pallets: Int?

    public init(
        reference: String,
        marketplaceID: MarketplaceID,
        sourceAddress: Address,
        lines: [Line],
        boxes: [Box],
        readyToShipDate: String? = nil,
        pallets: Int? = nil
    ) {
        self.reference = reference
        self.marketplaceID = marketplaceID
        self.sourceAddress = sourceAddress
        self.lines = lines
        self.boxes = boxes
        self.readyToShipDate = readyToShipDate
        self.pallets = pallets
    }

    /// Amazon's bounds: 2,000 SKUs and 10,000 units of one SKU per plan; 23 kg (50 lb) and 63.5 cm (25 in) per
    /// standard box.
    public static let maximumLines = 2000
    public static let maximumUnits = 10_000
    public static let maximumBoxes = 5000
    public static let maximumBoxKilograms = 22.68
    public static let maximumBoxSideCentimetres = 63.5
    public static let owners: Set<String> = ["AMAZON", "SELLER", "NONE"]

    /// Checks the request, naming the field at fault in the API's spelling; `today` bounds the ready-to-ship day.
    public func validate(today: Date) throws(ValidationError) {
        if reference.isEmpty || reference.count > 64 {
            throw ValidationError(field: "reference", reason: "must be the stock order's reference, 1 to 64 characters")
        }
        if Marketplaces.currencies[marketplaceID] == nil {
            throw ValidationError(field: "marketplaceId", reason: "is not an Amazon marketplace id: \(marketplaceID)")
        }
        try sourceAddress.validate()
        if lines.isEmpty || lines.count > Self.maximumLines {
            throw ValidationError(
                field: "lines",
                reason: "must hold 1 to \(Self.maximumLines) SKUs, got \(lines.count)"
            )
        }
        var seen: Set<WarehouseSKU> = []
        for (index, line) in lines.enumerated() {
            let field = "lines[\(index)]"
            if line.sku.rawValue.isEmpty || line.sku.rawValue.count > 100 {
                throw ValidationError(field: "\(field).sku", reason: "must be a SKU of 1 to 100 characters")
            }
            if !seen.insert(line.sku).inserted {
                throw ValidationError(field: "\(field).sku", reason: "names \(line.sku) a second time")
            }
            if !(1...Self.maximumUnits).contains(line.quantity) {
                throw ValidationError(
                    field: "\(field).quantity",
                    reason: "must be a whole number of units from 1 to \(Self.maximumUnits), got \(line.quantity)"
                )
            }
            if !Self.owners.contains(line.labelOwner) {
                throw ValidationError(field: "\(field).labelOwner", reason: "must be AMAZON, SELLER or NONE")
            }
            if !Self.owners.contains(line.prepOwner) {
                throw ValidationError(field: "\(field).prepOwner", reason: "must be AMAZON, SELLER or NONE")
            }
        }
        try validateBoxes()
        if let day = readyToShipDate {
            guard let date = ConnectionSettings.day(day) else {
                throw ValidationError(field: "readyToShipDate", reason: "must be a day as YYYY-MM-DD, got \(day)")
            }
            let start = Calendar.utc.startOfDay(for: today)
            if date < start || date > start.addingTimeInterval(60 * 86_400) {
                throw ValidationError(
                    field: "readyToShipDate",
                    reason: "must be a day from today to 60 days ahead, got \(day)"
                )
            }
        }
        if let pallets, !(1...30).contains(pallets) {
            throw ValidationError(field: "pallets", reason: "must be 1 to 30 pallets, got \(pallets)")
        }
    }

    private func validateBoxes() throws(ValidationError) {
        if boxes.isEmpty {
            throw ValidationError(field: "boxes", reason: "must describe at least one box: Amazon needs their sizes")
        }
        if boxes.reduce(0, { $0 + max($1.quantity, 0) }) > Self.maximumBoxes {
            throw ValidationError(field: "boxes", reason: "must hold at most \(Self.maximumBoxes) boxes in all")
        }
        let withContents = boxes.filter { $0.items != nil }.count
        if withContents != 0 && withContents != boxes.count {
            throw ValidationError(
                field: "boxes",
                reason: "must give the contents of every box or of none (then Amazon counts them, for a fee)"
            )
        }
        let quantities = Dictionary(lines.map { ($0.sku, $0.quantity) }, uniquingKeysWith: +)
        var packed: [WarehouseSKU: Int] = [:]
        for (index, box) in boxes.enumerated() {
            let field = "boxes[\(index)]"
            if !(1...Self.maximumBoxes).contains(box.quantity) {
                throw ValidationError(field: "\(field).quantity", reason: "must be 1 to \(Self.maximumBoxes) boxes")
            }
            if box.weightUnit != "KG" && box.weightUnit != "LB" {
                throw ValidationError(field: "\(field).weightUnit", reason: "must be KG or LB")
            }
            if box.dimensionUnit != "CM" && box.dimensionUnit != "IN" {
                throw ValidationError(field: "\(field).dimensionUnit", reason: "must be CM or IN")
            }
            if !(box.weight.isFinite && box.weight > 0) || box.kilograms > Self.maximumBoxKilograms {
                throw ValidationError(
                    field: "\(field).weight",
                    reason: "must be above 0 and at most 23 kg (50 lb), got \(box.weight) \(box.weightUnit)"
                )
            }
            for (name, side) in [("length", box.length), ("width", box.width), ("height", box.height)] {
                if !(side.isFinite && side > 0) {
                    throw ValidationError(field: "\(field).\(name)", reason: "must be above 0, got \(side)")
                }
            }
            if box.longestSideCentimetres > Self.maximumBoxSideCentimetres {
                throw ValidationError(
                    field: "\(field)",
                    reason: "has a side over 63.5 cm (25 in), which Amazon does not take as a standard box"
                )
            }
            for (itemIndex, item) in (box.items ?? []).enumerated() {
                guard quantities[item.sku] != nil else {
                    throw ValidationError(
                        field: "\(field).items[\(itemIndex)].sku",
                        reason: "is \(item.sku), which no line of the plan names"
                    )
                }
                if !(1...Self.maximumUnits).contains(item.quantity) {
                    throw ValidationError(
                        field: "\(field).items[\(itemIndex)].quantity",
                        reason: "must be 1 to \(Self.maximumUnits) units, got \(item.quantity)"
                    )
                }
                packed[item.sku, default: 0] += item.quantity * box.quantity
            }
        }
        guard withContents > 0 else { return }
        for line in lines where packed[line.sku, default: 0] != line.quantity {
            throw ValidationError(
                field: "boxes",
                reason:
                    "hold \(packed[line.sku, default: 0]) units of \(line.sku) where its line sends \(line.quantity)"
            )
        }
    }

    /// The ready-to-ship day, tomorrow when the WMS named none.
    public func readyToShip(now: Date) -> Date {
        readyToShipDate.flatMap(ConnectionSettings.day)
            ?? Calendar.utc.startOfDay(for: now).addingTimeInterval(86_400)
    }
}

extension InboundPlanRequest.Address {
    func validate() throws(ValidationError) {
        let required: [(String, String)] = [
            ("name", name), ("addressLine1", addressLine1), ("city", city), ("postalCode", postalCode),
            ("countryCode", countryCode), ("phoneNumber", phoneNumber),
        ]
        for (field, value) in required where value.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError(field: "sourceAddress.\(field)", reason: "is required")
        }
        let all = required.map(\.1) + [companyName, addressLine2, stateOrProvinceCode, email].compactMap { $0 }
        if all.contains(where: { $0.count > 180 }) {
            throw ValidationError(field: "sourceAddress", reason: "has a field longer than 180 characters")
        }
        if countryCode.count != 2 || !countryCode.allSatisfy({ $0.isASCII && $0.isUppercase }) {
            throw ValidationError(
                field: "sourceAddress.countryCode",
                reason: "must be a two-letter ISO country code, got \(countryCode)"
            )
        }
    }
}

extension Calendar {
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}

/// An amount Amazon charges (or discounts), as its options show them.
public struct InboundMoney: Sendable, Hashable, Codable {
    public var amount: Decimal
    public var currency: String

    public init(amount: Decimal, currency: String) {
        self.amount = amount
        self.currency = currency
    }
}

public struct InboundPackingOption: Sendable, Hashable, Codable {
    public struct Group: Sendable, Hashable, Codable {
        public var id: String
        public var items: [MerchantSKU: Int]

        public init(id: String, items: [MerchantSKU: Int]) {
            self.id = id
            self.items = items
        }
    }

    public var id: String
    public var groups: [Group]
    public var fees: InboundMoney?
    public var expiresAt: Date?

    public init(id: String, groups: [Group], fees: InboundMoney?, expiresAt: Date?) {
        self.id = id
        self.groups = groups
        self.fees = fees
        self.expiresAt = expiresAt
    }
}

public struct InboundPlacementOption: Sendable, Hashable, Codable {
    public var id: String
    public var shipmentIDs: [String]
    /// Fees less discounts.
    public var fees: InboundMoney?
    public var expiresAt: Date?

    public init(id: String, shipmentIDs: [String], fees: InboundMoney?, expiresAt: Date?) {
        self.id = id
        self.shipmentIDs = shipmentIDs
        self.fees = fees
        self.expiresAt = expiresAt
    }
}

public struct InboundTransportationOption: Sendable, Hashable, Codable {
    public var id: String
    public var shipmentID: String
    /// GROUND_SMALL_PARCEL, FREIGHT_LTL, FREIGHT_FTL…
    public var shippingMode: String
    /// AMAZON_PARTNERED_CARRIER or USE_YOUR_OWN_CARRIER.
    public var shippingSolution: String
    public var carrier: String?
    public var quote: InboundMoney?
    public var expiresAt: Date?
    /// The carrier's pick-up appointment (LTL/FTL), when Amazon gives one.
    public var pickUpAt: Date?
    /// CONFIRMED_DELIVERY_WINDOW when a delivery window must be confirmed first.
    public var preconditions: [String]

    public init(
        id: String,
        shipmentID: String,
        shippingMode: String,
        shippingSolution: String,
        carrier: String?,
        quote: InboundMoney?,
        expiresAt: Date?,
        pickUpAt: Date?,
        preconditions: [String]
    ) {
        self.id = id
        self.shipmentID = shipmentID
        self.shippingMode = shippingMode
        self.shippingSolution = shippingSolution
        self.carrier = carrier
        self.quote = quote
        self.expiresAt = expiresAt
        self.pickUpAt = pickUpAt
        self.preconditions = preconditions
    }

    public var partnered: Bool { shippingSolution == "AMAZON_PARTNERED_CARRIER" }
    public var needsDeliveryWindow: Bool { preconditions.contains("CONFIRMED_DELIVERY_WINDOW") }
    public var freight: Bool { shippingMode.hasPrefix("FREIGHT") }
}

/// A shipment of the confirmed placement, as Amazon describes it.
public struct InboundPlanShipment: Sendable, Hashable, Codable {
    public var id: String
    /// The FBA… id Amazon's v0 API and the stock orders know the shipment by.
    public var confirmationID: String?
    public var warehouseID: String?
    public var status: String?
    /// The transportation option chosen (before confirmation) or confirmed.
    public var transportationOptionID: String?
    /// The delivery window FlexBridge chose (the earliest Amazon offered), before and after its confirmation.
    public var deliveryWindowChoice: String?
    public var deliveryWindowOptionID: String?
    public var deliveryWindowStart: Date?
    public var transportationConfirmed: Bool
    public var labelsDownloaded: Bool

    public init(id: String, confirmationID: String?, warehouseID: String?, status: String?) {
        self.id = id
        self.confirmationID = confirmationID
        self.warehouseID = warehouseID
        self.status = status
        self.transportationConfirmed = false
        self.labelsDownloaded = false
    }
}

/// The boxes of one packing group, as setPackingInformation takes them: their items by Amazon's SKUs.
public struct InboundPackageGrouping: Sendable, Hashable {
    public struct Box: Sendable, Hashable {
        public struct Item: Sendable, Hashable {
            public var sku: MerchantSKU
            public var quantity: Int
            public var labelOwner: String
            public var prepOwner: String
        }

        public var quantity: Int
        public var weight: Double
        public var weightUnit: String
        public var length: Double
        public var width: Double
        public var height: Double
        public var dimensionUnit: String
        /// Nil when the WMS gave no contents (Amazon counts them).
        public var items: [Item]?
    }

    public var groupID: String
    public var boxes: [Box]
}

/// How a setting chooses for the WMS.
public enum InboundPlacementChoice: String, Sendable, Hashable, Codable, CaseIterable {
    /// The WMS chooses (`POST /inbound-plans/{id}/placement`).
    case manual
    /// The option with the lowest fees (the fewest shipments when equal).
    case cheapest
}

public enum InboundTransportationChoice: String, Sendable, Hashable, Codable, CaseIterable {
    /// The WMS chooses (`POST /inbound-plans/{id}/transportation`).
    case manual
    /// Amazon's partnered carrier with the lowest quote, per shipment (freight when the plan has pallets).
    case partnered
}

/// The rules of the workflow: which option a setting takes, what a WMS's choice must be.
public enum InboundPlanRules {
    /// The packing option FlexBridge confirms: the fewest packing groups, then the lowest fees.
    public static func packingOption(_ options: [InboundPackingOption]) -> InboundPackingOption? {
        options.min { ($0.groups.count, $0.fees?.amount ?? 0) < ($1.groups.count, $1.fees?.amount ?? 0) }
    }

    public static func cheapestPlacement(_ options: [InboundPlacementOption]) -> InboundPlacementOption? {
        options.min { ($0.fees?.amount ?? 0, $0.shipmentIDs.count) < ($1.fees?.amount ?? 0, $1.shipmentIDs.count) }
    }

    /// Each shipment's partnered option with the lowest quote (freight when the plan has pallets, parcel otherwise);
    /// nil when a shipment has none.
    public static func partneredTransportation(
        _ plan: InboundPlan
    ) -> [String: String]? {
        var chosen: [String: String] = [:]
        for shipment in plan.shipments {
            let options = plan.transportationOptions.filter {
                $0.shipmentID == shipment.id && $0.partnered && $0.quote != nil
                    && $0.freight == (plan.request.pallets != nil)
            }
            guard let best = options.min(by: { $0.quote!.amount < $1.quote!.amount }) else { return nil }
            chosen[shipment.id] = best.id
        }
        return chosen
    }

    /// The request's boxes per packing group of the confirmed option: a box goes to the group holding its SKUs; a
    /// box without contents only when Amazon made one group. Throws the reason when the boxes do not fit the groups.
    public static func packageGroupings(_ plan: InboundPlan) throws(ValidationError) -> [InboundPackageGrouping] {
        guard let option = plan.packingOptions.first(where: { $0.id == plan.packingOptionID }) else {
            throw ValidationError(field: "packingOptionId", reason: "names no packing option of the plan")
        }
        var boxes: [String: [InboundPackageGrouping.Box]] = [:]
        for (index, box) in plan.request.boxes.enumerated() {
            let items = box.items?.map { item in
                let line = plan.request.lines.first { $0.sku == item.sku }
                return InboundPackageGrouping.Box.Item(
                    sku: plan.merchantSKU(of: item.sku) ?? MerchantSKU(rawValue: item.sku.rawValue),
                    quantity: item.quantity,
                    labelOwner: line?.labelOwner ?? "SELLER",
                    prepOwner: line?.prepOwner ?? "NONE"
                )
            }
            let group: InboundPackingOption.Group?
            if let items {
                group = option.groups.first { group in items.allSatisfy { group.items[$0.sku] != nil } }
            } else {
                group = option.groups.count == 1 ? option.groups.first : nil
            }
            guard let group else {
                throw ValidationError(
                    field: "boxes[\(index)]",
                    reason: items == nil
                        ? "has no contents, and Amazon packs the plan's SKUs in \(option.groups.count) groups: give each box's contents"
                        : "holds SKUs Amazon packs in different groups; pack each group's SKUs in boxes of their own"
                )
            }
            boxes[group.id, default: []].append(
                InboundPackageGrouping.Box(
                    quantity: box.quantity,
                    weight: box.weight,
                    weightUnit: box.weightUnit,
                    length: box.length,
                    width: box.width,
                    height: box.height,
                    dimensionUnit: box.dimensionUnit,
                    items: items
                )
            )
        }
        return option.groups.map { InboundPackageGrouping(groupID: $0.id, boxes: boxes[$0.id] ?? []) }
    }

    /// Checks a WMS's placement choice, naming the field.
    public static func placementChoice(_ id: String, plan: InboundPlan, now: Date) throws(ValidationError) {
        guard plan.step == .choosePlacement else {
            throw ValidationError(
                field: "placementOptionId",
                reason: "cannot be chosen now: the plan is at step \(plan.step.rawValue)"
            )
        }
        guard let option = plan.placementOptions.first(where: { $0.id == id }) else {
            throw ValidationError(field: "placementOptionId", reason: "\(id) is not a placement option of the plan")
        }
        if let expiry = option.expiresAt, expiry <= now {
            throw ValidationError(
                field: "placementOptionId",
                reason: "\(id) expired at \(expiry.formatted(.iso8601)); FlexBridge is asking Amazon for new options"
            )
        }
    }

    /// Checks a WMS's transportation choice (one option per shipment of the plan, each its own and unexpired).
    public static func transportationChoice(
        _ selections: [String: String],
        plan: InboundPlan,
        now: Date
    ) throws(ValidationError) {
        guard plan.step == .chooseTransportation else {
            throw ValidationError(
                field: "selections",
                reason: "cannot be chosen now: the plan is at step \(plan.step.rawValue)"
            )
        }
        for shipment in plan.shipments where selections[shipment.id] == nil {
            throw ValidationError(field: "selections", reason: "names no option for shipment \(shipment.id)")
        }
        for (shipmentID, optionID) in selections.sorted(by: { $0.key < $1.key }) {
            guard plan.shipments.contains(where: { $0.id == shipmentID }) else {
                throw ValidationError(
                    field: "selections[\(shipmentID)]",
                    reason: "is not a shipment of the plan"
                )
            }
            guard
                let option = plan.transportationOptions.first(where: {
                    $0.id == optionID && $0.shipmentID == shipmentID
                })
            else {
                throw ValidationError(
                    field: "selections[\(shipmentID)].transportationOptionId",
                    reason: "\(optionID) is not a transportation option of shipment \(shipmentID)"
                )
            }
            if let expiry = option.expiresAt, expiry <= now {
                throw ValidationError(
                    field: "selections[\(shipmentID)].transportationOptionId",
                    reason:
                        "\(optionID)'s quote expired at \(expiry.formatted(.iso8601)); FlexBridge is asking for new quotes"
                )
            }
        }
    }

    /// The step after transportation was chosen: delivery windows first when a chosen carrier needs them.
    public static func afterTransportationChosen(_ plan: InboundPlan) -> InboundPlanStep {
        let needs = plan.shipments.contains { shipment in
            plan.transportationOptions.first { $0.id == shipment.transportationOptionID }?.needsDeliveryWindow == true
        }
        return needs ? .deliveryWindows : .confirmTransportation
    }

    /// Whether every option a waiting step offers has expired, so that Amazon is asked for new ones.
    public static func choicesExpired(_ plan: InboundPlan, now: Date) -> Bool {
        switch plan.step {
        case .choosePlacement:
            return !plan.placementOptions.isEmpty
                && plan.placementOptions.allSatisfy { ($0.expiresAt ?? .distantFuture) <= now }
        case .chooseTransportation:
            return plan.shipments.contains { shipment in
                let options = plan.transportationOptions.filter { $0.shipmentID == shipment.id && $0.quote != nil }
                return !options.isEmpty && options.allSatisfy { ($0.expiresAt ?? .distantFuture) <= now }
            }
        default:
            return false
        }
    }

    /// The step a failed plan resumes at: a refused confirmation goes back to fresh options (those it had may
    /// have expired); any other step is tried again.
    public static func resumeStep(_ step: InboundPlanStep) -> InboundPlanStep {
        switch step {
        case .confirmPacking: .packingOptions
        case .confirmPlacement: .placementOptions
        case .confirmTransportation: .transportationOptions
        default: step
        }
    }

    /// The expected arrival at Amazon of a shipment: for LTL/FTL the carrier's pick-up plus the connection's pick-up
    /// delay; else the confirmed delivery window's start.
    public static func expectedArrival(
        of shipment: InboundPlanShipment,
        plan: InboundPlan,
        pickUpDelayDays: Int?
    ) -> Date? {
        let option = plan.transportationOptions.first { $0.id == shipment.transportationOptionID }
        if let option, option.freight,
            let pickUp = option.pickUpAt ?? plan.request.readyToShipDate.flatMap(ConnectionSettings.day)
        {
            return pickUp.addingTimeInterval(Double(pickUpDelayDays ?? 0) * 86_400)
        }
        return shipment.deliveryWindowStart
    }
}
