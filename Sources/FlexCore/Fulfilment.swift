import Foundation

/// What the WMS asks FlexBridge to do with an order at Amazon. Commands of one order run in the order they were
/// given; each is stored before it runs, under the caller's idempotency key.
public enum CommandType: String, Sendable, Hashable, Codable, CaseIterable {
    /// Accept the order (processShipment CONFIRM).
    case confirm
    /// Refuse the order: a seller cancellation (processShipment REJECT) with a reason.
    case reject
    /// Tell Amazon the packages: the WMS's, or Amazon's recommended packages when it sends none.
    case pack
    /// Retrieve Amazon's shipping options for every package, to choose among them in `label`.
    case shippingOptions = "shipping_options"
    /// Retrieve shipping options, generate the invoice where the marketplace requires one, and generate the labels,
    /// storing every file.
    case label
    /// Issue the labels again (a torn or lost label), storing the new files.
    case regenerateLabels = "regenerate_labels"
    /// Generate (or fetch) the invoice and store it.
    case invoice
    /// Hand the packages over: every package SHIPPED.
    case ship
}

/// Where a command is.
public enum CommandStatus: String, Sendable, Hashable, Codable {
    /// Stored, waiting for its turn or for a retry.
    case queued
    /// Started; a node that dies leaves it here, and the next attempt reads Amazon's state before acting.
    case running
    case succeeded
    /// Amazon refused it, or it could not be carried out; the order holds the error.
    case failed
    /// The order was cancelled before the command ran.
    case cancelled

    public var isFinished: Bool { self == .succeeded || self == .failed || self == .cancelled }
}

/// A command's request, as the API takes it and the store keeps it.
public struct CommandRequest: Sendable, Hashable, Codable {
    public var type: CommandType
    /// reject: OUT_OF_STOCK or CUSTOMER_REQUESTED.
    public var reason: String?
    /// reject: the lines refused; every line when absent.
    public var lineItemIds: [String]?
    /// pack: the packages; Amazon's recommended packages when absent.
    public var packages: [PackageSpec]?
    /// label: the shipping option chosen; Amazon's recommended option when absent.
    public var shippingOptionId: String?
    /// label, for a seller's own carrier: the carrier and its tracking id.
    /// Also ship, for an MFN order: the carrier's name with carrierCode Other.
    public var carrierName: String?
    /// Also ship, for an MFN order: the package's tracking id.
    public var trackingId: String?
    /// ship, for an MFN order: Amazon's carrier code; from the ship-method table when absent.
    public var carrierCode: String?
    /// ship, for an MFN order: the shipping method Amazon is told.
    public var shippingMethod: String?
    /// ship, for an MFN order: the WMS's own carrier and method, turned into Amazon's by the ship-method table.
    public var wmsCarrier: String?
    public var wmsMethod: String?
    /// ship, for an MFN order: when the package left; the time the command was taken when absent.
    public var shipDate: Date?
    /// ship, for an MFN order: the lines and units in this package; every unit left when absent.
    public var items: [MerchantShipRequest.Item]?
    /// ship, for an MFN order: the package's id within the order; FlexBridge names it when absent.
    public var packageReferenceId: String?

    public init(
        type: CommandType,
        reason: String? = nil,
        lineItemIds: [String]? = nil,
        packages: [PackageSpec]? = nil,
        shippingOptionId: String? = nil,
        carrierName: String? = nil,
        trackingId: String? = nil,
        carrierCode: String? = nil,
        shippingMethod: String? = nil,
        wmsCarrier: String? = nil,
        wmsMethod: String? = nil,
        shipDate: Date? = nil,
        items: [MerchantShipRequest.Item]? = nil,
        packageReferenceId: String? = nil
    ) {
        self.type = type
        self.reason = reason
        self.lineItemIds = lineItemIds
        self.packages = packages
        self.shippingOptionId = shippingOptionId
        self.carrierName = carrierName
        self.trackingId = trackingId
        self.carrierCode = carrierCode
        self.shippingMethod = shippingMethod
        self.wmsCarrier = wmsCarrier
        self.wmsMethod = wmsMethod
        self.shipDate = shipDate
        self.items = items
        self.packageReferenceId = packageReferenceId
    }

    /// The fields only an MFN order's ship takes, by their API names, for refusing them on a Seller Flex command.
    public var merchantShipFields: [String] {
        [
            ("carrierCode", carrierCode != nil), ("shippingMethod", shippingMethod != nil),
            ("wmsCarrier", wmsCarrier != nil), ("wmsMethod", wmsMethod != nil), ("shipDate", shipDate != nil),
            ("items", items != nil), ("packageReferenceId", packageReferenceId != nil),
        ].filter(\.1).map(\.0)
    }

    /// A ship of an MFN order, as resolved when it was taken (it always names Amazon's carrier code then).
    public var isMerchantShipment: Bool { type == .ship && carrierCode != nil }

    public static let rejectionReasons = ["OUT_OF_STOCK", "CUSTOMER_REQUESTED"]
}

/// A package as the WMS packed it.
public struct PackageSpec: Sendable, Hashable, Codable {
    public struct Item: Sendable, Hashable, Codable {
        public var lineItemId: String
        public var quantity: Int
        public var serialNumbers: [String]?
        /// Required by some cross-border lines; Amazon's recommendation when absent.
        public var countryOfOrigin: String?
        /// Required by some cross-border lines, per unit; the line's price when absent.
        public var itemValue: Money?

        public init(
            lineItemId: String,
            quantity: Int,
            serialNumbers: [String]? = nil,
            countryOfOrigin: String? = nil,
            itemValue: Money? = nil
        ) {
            self.lineItemId = lineItemId
            self.quantity = quantity
            self.serialNumbers = serialNumbers
            self.countryOfOrigin = countryOfOrigin
            self.itemValue = itemValue
        }
    }

    public var id: PackageID
    public var length: Decimal
    public var width: Decimal
    public var height: Decimal
    /// CM, M or IN.
    public var dimensionUnit: String
    public var weight: Decimal
    /// G, KG, LB or OZ.
    public var weightUnit: String
    public var items: [Item]
    public var fragile: Bool?

    public init(
        id: PackageID,
        length: Decimal,
        width: Decimal,
        height: Decimal,
        dimensionUnit: String,
        weight: Decimal,
        weightUnit: String,
        items: [Item],
        fragile: Bool? = nil
    ) {
        self.id = id
        self.length = length
        self.width = width
        self.height = height
        self.dimensionUnit = dimensionUnit
        self.weight = weight
        self.weightUnit = weightUnit
        self.items = items
        self.fragile = fragile
    }

    public static let dimensionUnits = ["CM", "M", "IN"]
    public static let weightUnits = ["G", "KG", "LB", "OZ"]

    /// Grams in one unit of weight.
    public static func grams(per unit: String) -> Decimal? {
        switch unit {
        case "G": 1
        case "KG": 1000
        case "LB": Decimal(string: "453.59237")
        case "OZ": Decimal(string: "28.349523125")
        default: nil
        }
    }
}

public struct Money: Sendable, Hashable, Codable {
    public var value: String
    public var currencyCode: String

    public init(value: String, currencyCode: String) {
        self.value = value
        self.currencyCode = currencyCode
    }
}

/// A stored command and what became of it.
public struct FulfilmentCommand: Sendable, Hashable {
    public var id: CommandID
    public var connectionID: ConnectionID
    public var shipmentID: ShipmentID
    /// The position among all commands: commands of one order run in this order.
    public var sequence: Int64
    public var idempotencyKey: String
    public var request: CommandRequest
    public var status: CommandStatus
    public var attempts: Int
    public var errorCode: String?
    public var errorMessage: String?
    /// What the command produced, as JSON (shipping options, labels, invoice).
    public var result: String?
    /// Who asked for it: `key wms (fbk_…)`, `operator anna`, or FlexBridge itself (`auto-confirm`, a manifest's
    /// hand-over by whoever handed it over). Nil for commands stored before it was recorded.
    public var requestedBy: String?
    public var createdAt: Date
    public var updatedAt: Date
    /// The trace of the request that stored the command, when it was traced.
    public var trace: TraceContext?

    public init(
        id: CommandID,
        connectionID: ConnectionID,
        shipmentID: ShipmentID,
        sequence: Int64,
        idempotencyKey: String,
        request: CommandRequest,
        status: CommandStatus,
        attempts: Int,
        errorCode: String?,
        errorMessage: String?,
        result: String?,
        requestedBy: String? = nil,
        createdAt: Date,
        updatedAt: Date,
        trace: TraceContext? = nil
    ) {
        self.trace = trace
        self.requestedBy = requestedBy
        self.id = id
        self.connectionID = connectionID
        self.shipmentID = shipmentID
        self.sequence = sequence
        self.idempotencyKey = idempotencyKey
        self.request = request
        self.status = status
        self.attempts = attempts
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.result = result
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A file Amazon issued for an order (a label or an invoice) or FlexBridge made (a manifest), kept in the store.
public struct StoredDocument: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case label, invoice, manifest
    }

    public var id: DocumentID
    public var connectionID: ConnectionID
    public var shipmentID: ShipmentID?
    public var kind: Kind
    public var packageID: PackageID?
    public var trackingID: String?
    public var carrierName: String?
    public var contentType: String
    public var data: Data
    public var createdAt: Date

    public init(
        id: DocumentID,
        connectionID: ConnectionID,
        shipmentID: ShipmentID?,
        kind: Kind,
        packageID: PackageID?,
        trackingID: String?,
        carrierName: String?,
        contentType: String,
        data: Data,
        createdAt: Date
    ) {
        self.id = id
        self.connectionID = connectionID
        self.shipmentID = shipmentID
        self.kind = kind
        self.packageID = packageID
        self.trackingID = trackingID
        self.carrierName = carrierName
        self.contentType = contentType
        self.data = data
        self.createdAt = createdAt
    }
}

/// FlexBridge's own state of an order, from Amazon's status: what the warehouse has to do next.
public enum FulfilmentState: String, Sendable, Hashable, Codable, CaseIterable {
    /// New at Amazon: to confirm or reject.
    case awaitingConfirmation = "awaiting_confirmation"
    /// Confirmed: to pick and pack.
    case confirmed
    /// Packages told to Amazon: to label.
    case packed
    /// Labelled: to put in a manifest and hand over.
    case readyToShip = "ready_to_ship"
    case shipped
    case delivered
    /// Cancelled by the marketplace or the customer.
    case cancelled
    /// Refused by the seller.
    case rejected

    public init(amazonStatus: String, cancellationReason: String? = nil) {
        switch amazonStatus {
        case "CREATED", "ACCEPTED": self = .awaitingConfirmation
        case "CONFIRMED": self = .confirmed
        case "PACKAGE_CREATED", "PICKUP_SLOT_RETRIEVED", "INVOICE_GENERATED": self = .packed
        case "SHIPLABEL_GENERATED": self = .readyToShip
        case "SHIPPED": self = .shipped
        case "DELIVERED": self = .delivered
        case "CANCELLED": self = Self.sellerRejections.contains(cancellationReason ?? "") ? .rejected : .cancelled
        default: self = .awaitingConfirmation
        }
    }

    static let sellerRejections: Set<String> = ["OUT_OF_STOCK", "CUSTOMER_REQUESTED", "SELLER_REJECTED"]

    /// How far ahead an open order counts as at risk when nobody says otherwise: due to ship within it, or late.
    public static let atRiskHours: Double = 4

    /// Whether nothing more can be done with the order.
    public var isFinal: Bool { self == .shipped || self == .delivered || self == .cancelled || self == .rejected }
}

/// The facts of an Amazon shipment that fulfilment checks requests against, read from the stored document.
public struct ShipmentFacts: Sendable, Decodable {
    public struct Requirements: Sendable, Decodable {
        public var serialNumberRequirement: String?
        public var countryOfOriginRequirement: String?
        public var itemValueRequirement: String?
    }

    public struct Amount: Sendable, Decodable {
        public var value: String
        public var currencyCode: String
    }

    public struct Charge: Sendable, Decodable {
        public struct Total: Sendable, Decodable { public var netAmount: Amount? }
        public var chargeType: String?
        public var totalCharge: Total?
    }

    public struct Line: Sendable, Decodable {
        public var shipmentLineItemId: String
        public var merchantSku: String
        public var numberOfUnits: Int
        public var complianceAttributes: Requirements?
        public var recommendedCountryOfOrigin: String?
        public var charges: [Charge]?
    }

    public struct Dimension: Sendable, Decodable {
        public var value: String
        public var dimensionUnit: String
    }

    public struct Weight: Sendable, Decodable {
        public var value: String
        public var weightUnit: String
    }

    public struct RecommendedPackage: Sendable, Decodable {
        public struct Dimensions: Sendable, Decodable { public var length, width, height: Dimension }
        public struct LineItem: Sendable, Decodable { public var lineItemId: String }
        public var dimensions: Dimensions
        public var weight: Weight
        public var lineItems: [LineItem]
    }

    public struct ShippingInfo: Sendable, Decodable {
        public var shippingType: String?
        public var recommendedPackages: [RecommendedPackage]?
    }

    public struct Package: Sendable, Decodable {
        public struct Line: Sendable, Decodable {
            public var packageLineItemId: String
            public var quantity: Int
        }

        public var id: PackageID
        /// Amazon's status of the package (the shipment's statuses from CREATED on).
        public var status: String?
        public var dimensions: RecommendedPackage.Dimensions?
        public var weight: Weight?
        public var packageLineItems: [Line]?

        /// Whether Amazon's package is the one the WMS sent: same dimensions, weight and contents.
        public func isSame(as wanted: PackageSpec) -> Bool {
            guard let dimensions, let weight else { return false }
            let sides = [
                (dimensions.length, wanted.length), (dimensions.width, wanted.width),
                (dimensions.height, wanted.height),
            ]
            guard
                sides.allSatisfy({ Decimal(string: $0.value) == $1 && $0.dimensionUnit == wanted.dimensionUnit }),
                Decimal(string: weight.value) == wanted.weight, weight.weightUnit == wanted.weightUnit
            else { return false }
            let held = Dictionary(
                (packageLineItems ?? []).map { ($0.packageLineItemId, $0.quantity) },
                uniquingKeysWith: +
            )
            let sent = Dictionary(wanted.items.map { ($0.lineItemId, $0.quantity) }, uniquingKeysWith: +)
            return held == sent
        }
    }

    public struct ShipmentRequirements: Sendable, Decodable {
        public struct Invoice: Sendable, Decodable {
            public var requirement: String?
            public var status: String?
        }
        public var invoice: Invoice?
    }

    public var id: String
    public var status: String
    public var lineItems: [Line]
    public var shippingInfo: ShippingInfo?
    public var packages: [Package]?
    public var shipmentRequirements: ShipmentRequirements?
    public var reason: String?

    /// The facts of Amazon's shipment document. An order's document is read at each of its steps (by the command's
    /// check, the worker, the store's upsert), so what a text decodes to is kept.
    public init(json: String) throws {
        self = try Self.decoded.value(for: json)
    }

    /// About a minute of orders' documents at a thousand sellers' load (each order's copies change at each step).
    static let decoded = DecodedCache<ShipmentFacts>(capacity: 2048)

    public var invoiceRequired: Bool { shipmentRequirements?.invoice?.requirement == "REQUIRED" }
    /// Whether Amazon holds the shipment's invoice.
    public var invoiceAvailable: Bool { shipmentRequirements?.invoice?.status == "AVAILABLE" }
}

/// Checks a command against the order it is for, before it is stored, so that the WMS hears at once what is wrong
/// and where, and completes what Amazon lets FlexBridge complete (recommended packages, country of origin, value).
public enum CommandRules {
    /// The request to store: checked, with the packages resolved for `pack`.
    public static func resolve(
        _ request: CommandRequest,
        for facts: ShipmentFacts
    ) throws(ValidationError) -> CommandRequest {
        var request = request
        if let field = request.merchantShipFields.first {
            throw ValidationError(
                field: field,
                reason:
                    "is for the ship command of a merchant-fulfilled (MFN) order; shipment \(facts.id) is a Seller Flex, Easy Ship or Self Ship shipment"
            )
        }
        switch request.type {
        case .reject:
            guard let reason = request.reason, CommandRequest.rejectionReasons.contains(reason) else {
                throw ValidationError(
                    field: "reason",
                    reason:
                        "must be one of \(CommandRequest.rejectionReasons.joined(separator: ", ")) to reject an order"
                )
            }
            for (index, id) in (request.lineItemIds ?? []).enumerated()
            where !facts.lineItems.contains(where: { $0.shipmentLineItemId == id }) {
                throw ValidationError(
                    field: "lineItemIds[\(index)]",
                    reason: "names \(id), which is not a line of shipment \(facts.id)"
                )
            }
        case .pack:
            request.packages = try packages(request.packages, for: facts)
        case .label:
            if (request.carrierName == nil) != (request.trackingId == nil) {
                throw ValidationError(
                    field: request.carrierName == nil ? "carrierName" : "trackingId",
                    reason: "is required with the other for a seller's own carrier"
                )
            }
        case .invoice:
            guard facts.invoiceRequired else {
                throw ValidationError(
                    field: "type",
                    reason: "invoice: shipment \(facts.id) needs no invoice in its marketplace"
                )
            }
        case .confirm, .regenerateLabels, .ship, .shippingOptions:
            break
        }
        return request
    }

    /// The WMS's packages, checked against the shipment's lines, or Amazon's recommended packages.
    static func packages(_ given: [PackageSpec]?, for facts: ShipmentFacts) throws(ValidationError) -> [PackageSpec] {
        let packages: [PackageSpec]
        if let given { packages = given } else { packages = try recommended(facts) }
        guard !packages.isEmpty else {
            throw ValidationError(field: "packages", reason: "must hold at least one package")
        }
        var ids: Set<String> = []
        var packed: [String: Int] = [:]
        for (index, package) in packages.enumerated() {
            let field = "packages[\(index)]"
            guard !package.id.rawValue.isEmpty, package.id.rawValue.count <= 64 else {
                throw ValidationError(field: "\(field).id", reason: "must be 1 to 64 characters")
            }
            guard ids.insert(package.id.rawValue).inserted else {
                throw ValidationError(
                    field: "\(field).id",
                    reason: "repeats package id \(package.id); ids are unique within a shipment"
                )
            }
            for (name, value) in [("length", package.length), ("width", package.width), ("height", package.height)]
            where value <= 0 {
                throw ValidationError(field: "\(field).\(name)", reason: "must be above 0, got \(value)")
            }
            guard PackageSpec.dimensionUnits.contains(package.dimensionUnit) else {
                throw ValidationError(
                    field: "\(field).dimensionUnit",
                    reason: "must be one of CM, M, IN, got \(package.dimensionUnit)"
                )
            }
            guard let grams = PackageSpec.grams(per: package.weightUnit) else {
                throw ValidationError(
                    field: "\(field).weightUnit",
                    reason: "must be one of G, KG, LB, OZ, got \(package.weightUnit)"
                )
            }
            guard package.weight * grams >= 5 else {
                throw ValidationError(
                    field: "\(field).weight",
                    reason: "must be at least 5 g, got \(package.weight) \(package.weightUnit)"
                )
            }
            guard !package.items.isEmpty else {
                throw ValidationError(field: "\(field).items", reason: "must hold at least one line item")
            }
            for (itemIndex, item) in package.items.enumerated() {
                let itemField = "\(field).items[\(itemIndex)]"
                guard let line = facts.lineItems.first(where: { $0.shipmentLineItemId == item.lineItemId }) else {
                    throw ValidationError(
                        field: "\(itemField).lineItemId",
                        reason: "names \(item.lineItemId), which is not a line of shipment \(facts.id)"
                    )
                }
                guard item.quantity >= 1 else {
                    throw ValidationError(
                        field: "\(itemField).quantity",
                        reason: "must be at least 1, got \(item.quantity)"
                    )
                }
                let serials = item.serialNumbers ?? []
                switch line.complianceAttributes?.serialNumberRequirement {
                case "REQUIRED" where serials.count != item.quantity:
                    throw ValidationError(
                        field: "\(itemField).serialNumbers",
                        reason:
                            "must hold one serial number per unit (\(item.quantity)): line \(line.shipmentLineItemId) (\(line.merchantSku)) requires them, got \(serials.count)"
                    )
                case "DISALLOWED" where !serials.isEmpty:
                    throw ValidationError(
                        field: "\(itemField).serialNumbers",
                        reason: "must be empty: line \(line.shipmentLineItemId) takes no serial numbers"
                    )
                default: break
                }
                if Set(serials).count != serials.count {
                    throw ValidationError(field: "\(itemField).serialNumbers", reason: "repeats a serial number")
                }
                packed[item.lineItemId, default: 0] += item.quantity
            }
        }
        for line in facts.lineItems where packed[line.shipmentLineItemId, default: 0] != line.numberOfUnits {
            throw ValidationError(
                field: "packages",
                reason:
                    "hold \(packed[line.shipmentLineItemId, default: 0]) units of line \(line.shipmentLineItemId) (\(line.merchantSku)); the order has \(line.numberOfUnits)"
            )
        }
        return try packages.map { package throws(ValidationError) in try completed(package, facts: facts) }
    }

    /// Amazon's recommended packages, each line whole in the package that names it.
    static func recommended(_ facts: ShipmentFacts) throws(ValidationError) -> [PackageSpec] {
        guard let recommended = facts.shippingInfo?.recommendedPackages, !recommended.isEmpty else {
            throw ValidationError(
                field: "packages",
                reason: "are required: Amazon recommends no package for shipment \(facts.id)"
            )
        }
        if let line = facts.lineItems.first(where: { $0.complianceAttributes?.serialNumberRequirement == "REQUIRED" }) {
            throw ValidationError(
                field: "packages",
                reason:
                    "are required: line \(line.shipmentLineItemId) (\(line.merchantSku)) needs serial numbers, which only the warehouse knows"
            )
        }
        return try recommended.enumerated().map { (index, package) throws(ValidationError) in
            func decimal(_ text: String, _ name: String) throws(ValidationError) -> Decimal {
                guard let value = Decimal(string: text) else {
                    throw ValidationError(
                        field: "packages",
                        reason: "cannot use Amazon's recommended package: its \(name) \(text) is not a number"
                    )
                }
                return value
            }
            return PackageSpec(
                id: PackageID(rawValue: "P\(index + 1)"),
                length: try decimal(package.dimensions.length.value, "length"),
                width: try decimal(package.dimensions.width.value, "width"),
                height: try decimal(package.dimensions.height.value, "height"),
                dimensionUnit: package.dimensions.length.dimensionUnit,
                weight: try decimal(package.weight.value, "weight"),
                weightUnit: package.weight.weightUnit,
                items: package.lineItems.compactMap { item in
                    facts.lineItems.first { $0.shipmentLineItemId == item.lineItemId }.map {
                        PackageSpec.Item(lineItemId: $0.shipmentLineItemId, quantity: $0.numberOfUnits)
                    }
                }
            )
        }
    }

    /// Fills the country of origin and item value a line requires from what Amazon recommends and charges.
    static func completed(_ package: PackageSpec, facts: ShipmentFacts) throws(ValidationError) -> PackageSpec {
        var package = package
        for index in package.items.indices {
            let item = package.items[index]
            guard let line = facts.lineItems.first(where: { $0.shipmentLineItemId == item.lineItemId }) else {
                continue
            }
            if line.complianceAttributes?.countryOfOriginRequirement == "REQUIRED", item.countryOfOrigin == nil {
                guard let country = line.recommendedCountryOfOrigin else {
                    throw ValidationError(
                        field: "packages[].items[\(index)].countryOfOrigin",
                        reason: "is required by line \(line.shipmentLineItemId)"
                    )
                }
                package.items[index].countryOfOrigin = country
            }
            if line.complianceAttributes?.itemValueRequirement == "REQUIRED", item.itemValue == nil {
                let product = line.charges?.first { $0.chargeType == "PRODUCT" } ?? line.charges?.first
                guard let total = product?.totalCharge?.netAmount, let value = Decimal(string: total.value),
                    line.numberOfUnits > 0
                else {
                    throw ValidationError(
                        field: "packages[].items[\(index)].itemValue",
                        reason: "is required by line \(line.shipmentLineItemId)"
                    )
                }
                var unit = value / Decimal(line.numberOfUnits)
                var rounded = Decimal()
                NSDecimalRound(&rounded, &unit, 2, .plain)
                package.items[index].itemValue = Money(value: "\(rounded)", currencyCode: total.currencyCode)
            }
        }
        return package
    }

    /// Why a command cannot be queued for an order in this state, or nil when it can.
    public static func refusal(_ type: CommandType, state: FulfilmentState) -> String? {
        switch (type, state) {
        case (_, .cancelled), (_, .rejected):
            "the order is \(state.rawValue); nothing more can be done with it"
        case (.reject, .readyToShip), (.reject, .shipped), (.reject, .delivered):
            // Amazon takes a rejection up to PICKUP_SLOT_RETRIEVED; a labelled order must be shipped or cancelled.
            "the order is \(state.rawValue); it can no longer be rejected"
        case (_, .shipped) where type != .regenerateLabels && type != .invoice, (_, .delivered) where type != .invoice:
            "the order is already \(state.rawValue)"
        default:
            nil
        }
    }
}

/// What a command produced, as the store keeps it in the command's result and the WMS and the panel read it.
public struct CommandResult: Sendable, Hashable, Codable {
    public struct Label: Sendable, Hashable, Codable {
        public var packageId: String
        public var trackingId: String?
        public var carrierName: String?
        public var documentId: String

        public init(packageId: String, trackingId: String?, carrierName: String?, documentId: String) {
            self.packageId = packageId
            self.trackingId = trackingId
            self.carrierName = carrierName
            self.documentId = documentId
        }
    }

    public struct Option: Sendable, Hashable, Codable {
        public var packageId: String
        public var shippingOptionId: String?
        public var carrierName: String?
        public var shipBy: String?
        public var recommended: Bool

        public init(
            packageId: String,
            shippingOptionId: String?,
            carrierName: String?,
            shipBy: String?,
            recommended: Bool
        ) {
            self.packageId = packageId
            self.shippingOptionId = shippingOptionId
            self.carrierName = carrierName
            self.shipBy = shipBy
            self.recommended = recommended
        }
    }

    /// Amazon's status after the command.
    public var status: String?
    public var note: String?
    public var packageIds: [String]?
    public var shippingOptions: [Option]?
    public var labels: [Label]?
    public var invoiceDocumentId: String?

    public init(note: String? = nil) {
        self.note = note
    }
}
