import AmazonEFShipments
import Foundation

/// What a new shipment should look like: the knobs of Amazon's createSandboxShipment, which the order generator
/// also turns.
struct ShipmentSpecification: Sendable {
    enum OrderType: String, Sendable, CaseIterable, Codable {
        case hazmat = "HAZMAT"
        case giftWrap = "GIFT_WRAP"
        case giftMessage = "GIFT_MESSAGE"
        case multiPiece = "MPS"
        case serial = "SERIAL"
        case crossBorder = "CROSS_BORDER"
        case replacement = "REPLACEMENT"
        case exchange = "EXCHANGE"
        case pharmaNonPrescription = "PHARMA_NON_PRESCRIPTION"
        case pharmaPrescription = "PHARMA_PRESCRIPTION"
    }

    var location: World.Location
    var merchantID: String
    var marketplaceID: String
    var channel: String
    var carriage: World.Carriage
    var orderTypes: Set<OrderType> = []
    var multipleLineItems = false
    var multipleUnits = false
    /// The SKUs to pick from; new ones are invented when empty.
    var skus: [String] = []
}

/// Builds shipments as Amazon sends them: lines with charges and taxes, the buyer's address, requirements, the
/// recommended package, and the flags each order type brings.
struct ShipmentFactory {
    struct Marketplace {
        var currency: String
        var country: String
        var city: String
        var state: String
        var postalCode: String
        var taxType: String
        var taxRate: Decimal
        var requiresInvoice: Bool
    }

    static func marketplace(_ id: String) -> Marketplace {
        switch id {
        case "A21TJRUUN4KGV":
            Marketplace(
                currency: "INR",
                country: "IN",
                city: "Bengaluru",
                state: "KA",
                postalCode: "560034",
                taxType: .igst,
                taxRate: 0.18,
                requiresInvoice: true
            )
        case "A1F83G8C2ARO7P":
            Marketplace(
                currency: "GBP",
                country: "GB",
                city: "Leeds",
                state: "West Yorkshire",
                postalCode: "LS1 4AP",
                taxType: .vat,
                taxRate: 0.2,
                requiresInvoice: false
            )
        case "A1PA6795UKMFR9", "A13V1IB3VIYZZH", "APJ6JRA9NG5V4", "A1RKKUPIHCS9HS":
            Marketplace(
                currency: "EUR",
                country: "DE",
                city: "Berlin",
                state: "BE",
                postalCode: "10115",
                taxType: .vat,
                taxRate: 0.19,
                requiresInvoice: false
            )
        default:
            Marketplace(
                currency: "USD",
                country: "US",
                city: "Seattle",
                state: "WA",
                postalCode: "98109",
                taxType: .other,
                taxRate: 0.1,
                requiresInvoice: false
            )
        }
    }

    static let buyers = [
        ("Asha Rao", "12 MG Road"), ("Daniel Meyer", "4 Harbour Street"), ("Priya Nair", "221 Residency Lane"),
        ("Tom Becker", "77 Lindenallee"), ("Maria Lopez", "1500 Pine Street"), ("Kenji Sato", "3-1 Station Road"),
    ]

    static func build(
        _ spec: ShipmentSpecification,
        id: String,
        original: EF.Shipment?,
        now: Date,
        stamp: Date,
        using generator: inout some RandomNumberGenerator
    ) -> EF.Shipment {
        let market = marketplace(spec.marketplaceID)
        let lineCount = spec.multipleLineItems ? Int.random(in: 2...4, using: &generator) : 1
        var skus = spec.skus.shuffled(using: &generator)
        while skus.count < lineCount { skus.append(String(format: "SIM-SKU-%04d", skus.count + 1)) }
        if let original, spec.orderTypes.contains(.replacement) {
            skus = original.lineItems.map(\.merchantSku)
        }
        let orderTypes = spec.orderTypes
        var lineItems: [EF.ShipmentLineItem] = []
        for index in 0..<(original != nil && orderTypes.contains(.replacement) ? skus.count : lineCount) {
            let units = spec.multipleUnits ? Int.random(in: 2...3, using: &generator) : 1
            let price = Decimal(Int.random(in: 199...4_999, using: &generator))
            lineItems.append(
                EF.ShipmentLineItem(
                    shipmentLineItemId: String(index + 1),
                    merchantSku: skus[index],
                    numberOfUnits: units,
                    serialNumbers: nil,
                    pieceType: orderTypes.contains(.multiPiece) ? .multiple : .single,
                    hazmatLabels: orderTypes.contains(.hazmat) ? ["UN3481", "CLASS_9"] : nil,
                    giftAttributes: giftAttributes(orderTypes),
                    charges: [charge(.product, price * Decimal(units), market)],
                    hsnCode: market.country == "IN" ? "85176290" : nil,
                    recommendedCountryOfOrigin: orderTypes.contains(.crossBorder) ? market.country : nil,
                    recommendedCurrencyCode: orderTypes.contains(.crossBorder) ? market.currency : nil,
                    complianceAttributes: EF.ComplianceAttributes(
                        hazmatLabelsRequirement: orderTypes.contains(.hazmat) ? .required : .disallowed,
                        serialNumberRequirement: orderTypes.contains(.serial) ? .required : .disallowed,
                        countryOfOriginRequirement: orderTypes.contains(.crossBorder) ? .required : .disallowed,
                        itemValueRequirement: orderTypes.contains(.crossBorder) ? .required : .disallowed
                    ),
                    customAttributes: customAttributes(orderTypes)
                )
            )
        }
        let units = lineItems.reduce(0) { $0 + $1.numberOfUnits }
        let buyer = buyers.randomElement(using: &generator)!
        let address = EF.Address(
            name: buyer.0,
            addressLine1: buyer.1,
            city: market.city,
            countryCode: market.country,
            postalCode: market.postalCode,
            phoneNumber: "+00 000 000 0000"
        )
        var charges = lineItems.flatMap(\.charges)
        if orderTypes.contains(.giftWrap) { charges.append(charge(.giftWrap, 49, market)) }
        let expectedShip = now.addingTimeInterval(orderTypes.contains(.crossBorder) ? 48 * 3600 : 24 * 3600)
        let shipmentType: String =
            orderTypes.contains(.replacement) ? .replacement : orderTypes.contains(.exchange) ? .exchange : .new
        let attributes = EF.MarketplaceAttributes(
            marketplaceId: spec.marketplaceID,
            channelName: spec.channel,
            merchantId: spec.merchantID
        )
        return EF.Shipment(
            id: id,
            locationId: spec.location.id,
            marketplaceAttributes: attributes,
            shipmentInfo: EF.ShipmentInfo(
                shipmentType: shipmentType,
                originalShipmentInfo: original.map { original in
                    EF.ReplacedShipmentInfo(
                        id: original.id,
                        locationId: original.locationId,
                        marketplaceAttributes: original.marketplaceAttributes,
                        originalLineItems: zip(original.lineItems, lineItems).map { old, new in
                            EF.OriginalLineItem(
                                replacingSku: new.merchantSku,
                                originalSku: old.merchantSku,
                                charges: old.charges
                            )
                        }
                    )
                },
                numberOfUnits: units,
                priority: Bool.random(using: &generator) ? .high : .low,
                buyerOrderId: buyerOrderID(using: &generator),
                orderStatesEligibleForRejection: [
                    "CREATED", "ACCEPTED", "CONFIRMED", "PACKAGE_CREATED", "PICKUP_SLOT_RETRIEVED",
                ],
                orderPlacedTimestamp: String(Int64(now.timeIntervalSince1970 * 1000)),
                processingSource: .externalPlatform,
                paymentMethod: market.country == "IN" && Int.random(in: 0..<4, using: &generator) == 0
                    ? .cashOnDelivery : .prepaid
            ),
            shipmentRequirements: EF.ShipmentRequirements(
                pSlip: EF.PackingSlipRequirement(requirement: .notRequired, status: .notGenerated),
                invoice: market.requiresInvoice
                    ? EF.InvoiceRequirement(requirement: .required, status: .pending)
                    : EF.InvoiceRequirement(requirement: .notRequired, status: .notAvailable)
            ),
            charges: charges,
            status: .accepted,
            lineItems: lineItems,
            shippingInfo: EF.ShippingInfo(
                recommendedShipMethod: spec.carriage == .marketplace ? "AMZN_STANDARD" : nil,
                expectedShippingDateTimeInUTC: Simulator.timestamp(expectedShip),
                shipToAddress: address,
                shippingType: spec.carriage == .marketplace ? .marketplace : ._self,
                recommendedPackages: [
                    EF.RecommendedPackage(
                        dimensions: EF.PackageDimensions(
                            length: .init(value: "30", dimensionUnit: .cm),
                            width: .init(value: "20", dimensionUnit: .cm),
                            height: .init(value: String(10 * max(1, units / 2)), dimensionUnit: .cm)
                        ),
                        weight: .init(value: String(400 * units), weightUnit: .g),
                        lineItems: lineItems.map { .init(lineItemId: $0.shipmentLineItemId) }
                    )
                ]
            ),
            creationDateTime: Simulator.timestamp(stamp),
            lastUpdatedDateTime: Simulator.timestamp(stamp),
            earliestPackDateTime: Simulator.timestamp(now)
        )
    }

    static func charge(_ type: String, _ base: Decimal, _ market: Marketplace) -> EF.Charge {
        let tax = (base * market.taxRate).rounded(2)
        let amount = { (value: Decimal) in EF.Amount(value: "\(value)", currencyCode: market.currency) }
        let zero = amount(0)
        let breakup = EF.ChargeBreakup(baseAmount: amount(base), discountAmount: zero, netAmount: amount(base))
        let taxBreakup = EF.ChargeBreakup(baseAmount: amount(tax), discountAmount: zero, netAmount: amount(tax))
        let taxEntry = EF.Tax(_type: market.taxType, rate: "\(market.taxRate)", charge: taxBreakup)
        return EF.Charge(
            baseCharge: breakup,
            taxBreakup: [taxEntry],
            chargeType: type,
            totalCharge: EF.ChargeBreakup(
                baseAmount: amount(base + tax),
                discountAmount: zero,
                netAmount: amount(base + tax)
            ),
            totalTax: EF.Tax(_type: .total, rate: "\(market.taxRate)", charge: taxBreakup)
        )
    }

    static func giftAttributes(_ types: Set<ShipmentSpecification.OrderType>) -> EF.GiftAttributes? {
        guard types.contains(.giftWrap) || types.contains(.giftMessage) else { return nil }
        let message = types.contains(.giftMessage)
        return EF.GiftAttributes(
            giftWrapRequirement: types.contains(.giftWrap) ? .required : .disallowed,
            giftWrapLabel: types.contains(.giftWrap) ? "Happy birthday" : nil,
            giftMessagePresence: message ? .present : .absent,
            giftMessage: message
                ? EF.Document(
                    format: .plainText,
                    content: Data("Happy birthday! With love.".utf8).base64EncodedString()
                )
                : nil
        )
    }

    static func customAttributes(_ types: Set<ShipmentSpecification.OrderType>) -> [EF.CustomAttribute]? {
        if types.contains(.pharmaPrescription) {
            return [EF.CustomAttribute(key: "PRESCRIPTION_REQUIRED", _type: .boolean, value: "true")]
        }
        if types.contains(.pharmaNonPrescription) {
            return [EF.CustomAttribute(key: "PRESCRIPTION_REQUIRED", _type: .boolean, value: "false")]
        }
        return nil
    }

    /// An Amazon order id: three, seven and seven digits.
    static func buyerOrderID(using generator: inout some RandomNumberGenerator) -> String {
        func digits(_ count: Int) -> String {
            String((0..<count).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) })
        }
        return "\(digits(3))-\(digits(7))-\(digits(7))"
    }
}

extension Decimal {
    func rounded(_ scale: Int) -> Decimal {
        var value = self
        var result = Decimal()
        NSDecimalRound(&result, &value, scale, .plain)
        return result
    }
}
