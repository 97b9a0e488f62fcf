import AmazonListings
import Foundation
import OpenAPIRuntime

/// The schema types of Amazon's Listings Items API 2021-08-01.
typealias LI = AmazonListings.Components.Schemas

/// A seller's listings as Amazon keeps them, for the Listings Items API and the JSON listings feed: per SKU its
/// marketplaces, ASIN, product type, fulfilment channel (DEFAULT for merchant-fulfilled) with its quantity and
/// handling time, its offers, and which call or feed set them last.
struct ListingsWorld: Sendable, Codable {
    struct Offer: Sendable, Codable, Hashable {
        var marketplaceID: String
        var currency: String
        var audience: String
        var ourPrice: Decimal
        var salePrice: Decimal?
        var saleStart: String?
        var saleEnd: String?
        var minimumPrice: Decimal?
        var maximumPrice: Decimal?
    }

    struct Listing: Sendable, Codable {
        var sku: String
        var merchantID: String
        var marketplaceIDs: [String]
        var productType: String
        var asin: String
        /// DEFAULT for merchant-fulfilled; AMAZON_NA, AMAZON_EU, … when Amazon fulfils it.
        var fulfillmentChannel: String
        var quantity: Int?
        var handlingTime: Int?
        var offers: [Offer]
        /// Every other attribute as last set, as JSON text.
        var otherAttributes: [String: String]
        var createdAt: Date
        var updatedAt: Date
        /// What set the listing last: `patch:<submissionId>`, `feed:<feedId>`, `order:<orderId>` or `control`.
        var setBy: String
        /// How many times a call or feed changed it.
        var changes: Int
        /// How many feed messages were applied to it (absent from states saved before it was counted).
        var feedMessages: Int?
        /// Creation order.
        var sequence: Int
    }

    var listings: [String: Listing] = [:]
    var count = 0
    var feeds = FeedsWorld()
    /// Per listing key, the status every submission for it is answered with, the change not applied: a status Amazon
    /// may add to its model (absent from states saved before it was kept).
    var forcedSubmissionStatuses: [String: String]?

    static func key(_ merchantID: String, _ sku: String) -> String { "\(merchantID)|\(sku)" }
}

/// A JSON value as a client sent it, its numbers exact and its Booleans never taken for numbers.
indirect enum JSONNode: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Decimal)
    case string(String)
    case array([JSONNode])
    case object([String: JSONNode])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Decimal.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONNode].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONNode].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    subscript(key: String) -> JSONNode? { if case .object(let fields) = self { fields[key] } else { nil } }
    var string: String? { if case .string(let value) = self { value } else { nil } }
    var array: [JSONNode]? { if case .array(let value) = self { value } else { nil } }
    var object: [String: JSONNode]? { if case .object(let value) = self { value } else { nil } }
    var decimal: Decimal? { if case .number(let value) = self { value } else { nil } }
    /// A whole number that fits an Int: never a fraction, a Boolean or text.
    var wholeNumber: Int? {
        guard case .number(let value) = self, value.isFinite, abs(value) < 1_000_000_000_000_000 else { return nil }
        var rounded = value
        var source = value
        NSDecimalRound(&rounded, &source, 0, .plain)
        return rounded == value ? NSDecimalNumber(decimal: value).intValue : nil
    }

    var text: String {
        (try? JSONEncoder().encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
}

/// One change asked of a listing: a patch of Amazon's (`op`, `path`, `value`) as a PATCH message or
/// patchListingsItem carries it.
struct ListingPatch {
    var op: String
    var path: String
    var value: [[String: JSONNode]]?
}

/// A problem with a change, as the listings API and the feed's processing report state it.
struct ListingIssue: Sendable, Hashable {
    var code: String
    var message: String
    var severity: String = "ERROR"
    var attributeName: String?
    var category: String = "INVALID_ATTRIBUTE"

    static func invalid(_ attribute: String, _ message: String, category: String = "INVALID_ATTRIBUTE") -> Self {
        ListingIssue(code: "90000900", message: message, attributeName: attribute, category: category)
    }

    /// No listing with the SKU: a PATCH changes only a listing that exists.
    static func unknownSKU(_ sku: String) -> Self {
        ListingIssue(
            code: "8560",
            message: "SKU \(sku) does not match any listing of this seller; create the listing before patching it.",
            category: "MISSING_ATTRIBUTE"
        )
    }
}

/// The rules of a listing's attributes: how patches change a listing, what a value must be.
enum ListingRules {
    /// The most units a listing may offer.
    static let maximumQuantity = 99_999_999
    /// The longest handling time, in days.
    static let maximumHandlingTime = 30

    /// Each marketplace's currency (Amazon's published list); a marketplace not listed takes any three-letter code.
    static let currencies: [String: String] = [
        "ATVPDKIKX0DER": "USD", "A2EUQ1WTGCTBG2": "CAD", "A1AM78C64UM0Y8": "MXN", "A2Q3Y263D00KWC": "BRL",
        "A1F83G8C2ARO7P": "GBP", "A1PA6795UKMFR9": "EUR", "A13V1IB3VIYZZH": "EUR", "APJ6JRA9NG5V4": "EUR",
        "A1RKKUPIHCS9HS": "EUR", "A1805IZSGTT6HS": "EUR", "AMEN7PMS3EDWL": "EUR", "A2NODRKZP88ZB9": "SEK",
        "A1C3SOZRARQ6R3": "PLN", "A33AVAJ2PDY3EV": "TRY", "A21TJRUUN4KGV": "INR", "A2VIGQ35RCS4UG": "AED",
        "A17E79C6D8DWNP": "SAR", "ARBP9OOSHTCHU": "EGP", "A1VC38T7YXB528": "JPY", "A39IBJ37TRP1C6": "AUD",
        "A19VAU5U5O7RUS": "SGD",
    ]

    /// Applies `patches` to `listing` in the marketplaces named, all or nothing: the issues when a patch is
    /// wrong (the listing unchanged), none when every patch applied.
    static func apply(
        _ patches: [ListingPatch],
        to listing: inout ListingsWorld.Listing,
        marketplaces: [String]
    ) -> [ListingIssue] {
        var changed = listing
        var issues: [ListingIssue] = []
        for patch in patches {
            guard ["add", "replace", "merge", "delete"].contains(patch.op) else {
                issues.append(.invalid(patch.path, "op must be add, replace, merge or delete, got \(patch.op)"))
                continue
            }
            guard let match = patch.path.wholeMatch(of: /\/attributes\/([a-z0-9_]{1,100})/) else {
                issues.append(
                    .invalid(patch.path, "path must name one attribute as /attributes/<name>, got \(patch.path)")
                )
                continue
            }
            let name = String(match.1)
            if patch.op != "delete", patch.value?.isEmpty ?? true {
                issues.append(.invalid(name, "\(patch.op) needs a value: an array of at least one object"))
                continue
            }
            switch name {
            case "fulfillment_availability":
                issues += availability(patch, into: &changed)
            case "purchasable_offer":
                issues += offers(patch, into: &changed, marketplaces: marketplaces)
            default:
                if patch.op == "delete" {
                    changed.otherAttributes[name] = nil
                } else if let value = patch.value {
                    changed.otherAttributes[name] = JSONNode.array(value.map(JSONNode.object)).text
                }
            }
        }
        if issues.isEmpty { listing = changed }
        return issues
    }

    /// `fulfillment_availability`: the channel (DEFAULT for merchant-fulfilled), its quantity and handling time.
    static func availability(_ patch: ListingPatch, into listing: inout ListingsWorld.Listing) -> [ListingIssue] {
        let attribute = "fulfillment_availability"
        if patch.op == "delete" {
            listing.quantity = nil
            listing.handlingTime = nil
            return []
        }
        guard let entry = patch.value?.first, patch.value?.count == 1 else {
            return [.invalid(attribute, "\(attribute) takes one entry, for one fulfilment channel")]
        }
        guard let channel = entry["fulfillment_channel_code"]?.string, !channel.isEmpty else {
            return [.invalid(attribute, "fulfillment_channel_code is required")]
        }
        var quantity = listing.quantity
        var handling = listing.handlingTime
        if let value = entry["quantity"] {
            guard let units = value.wholeNumber, (0...maximumQuantity).contains(units) else {
                return [
                    .invalid(
                        "\(attribute).quantity",
                        "quantity must be a whole number from 0 to \(maximumQuantity), got \(value.text)"
                    )
                ]
            }
            quantity = units
        } else if patch.op != "merge" {
            quantity = nil
        }
        if let value = entry["lead_time_to_ship_max_days"] {
            guard let days = value.wholeNumber, (0...maximumHandlingTime).contains(days) else {
                return [
                    .invalid(
                        "\(attribute).lead_time_to_ship_max_days",
                        "lead_time_to_ship_max_days must be a whole number of days from 0 to \(maximumHandlingTime), got \(value.text)"
                    )
                ]
            }
            handling = days
        } else if patch.op != "merge" {
            handling = nil
        }
        listing.fulfillmentChannel = channel
        listing.quantity = quantity
        listing.handlingTime = handling
        return []
    }

    /// `purchasable_offer`: per marketplace, currency and audience, the price, a sale price with its dates, the
    /// least and most the seller allows.
    static func offers(
        _ patch: ListingPatch,
        into listing: inout ListingsWorld.Listing,
        marketplaces: [String]
    ) -> [ListingIssue] {
        let attribute = "purchasable_offer"
        if patch.op == "delete" {
            let named = Set((patch.value ?? []).compactMap { $0["marketplace_id"]?.string })
            listing.offers.removeAll { named.isEmpty || named.contains($0.marketplaceID) }
            return []
        }
        var offers = patch.op == "replace" ? [] : listing.offers
        for entry in patch.value ?? [] {
            guard let marketplace = entry["marketplace_id"]?.string, marketplaces.contains(marketplace) else {
                return [
                    .invalid(
                        "\(attribute).marketplace_id",
                        "marketplace_id must be one of the request's marketplaces (\(marketplaces.joined(separator: ", ")))"
                    )
                ]
            }
            guard let currency = entry["currency"]?.string, currency.count == 3,
                currency.allSatisfy({ $0.isASCII && $0.isUppercase })
            else {
                return [.invalid("\(attribute).currency", "currency must be a three-letter code such as EUR")]
            }
            if let expected = currencies[marketplace], expected != currency {
                return [
                    .invalid(
                        "\(attribute).currency",
                        "\(marketplace) sells in \(expected), not \(currency)",
                        category: "INVALID_PRICE"
                    )
                ]
            }
            let audience = entry["audience"]?.string ?? "ALL"
            let existing = offers.first {
                $0.marketplaceID == marketplace && $0.currency == currency && $0.audience == audience
            }
            func price(_ name: String) -> (Decimal?, ListingIssue?) {
                guard let value = entry[name] else { return (nil, nil) }
                guard let decimal = value.array?.first?["schedule"]?.array?.first?["value_with_tax"]?.decimal,
                    decimal >= 0, decimal <= 1_000_000_000
                else {
                    return (
                        nil,
                        .invalid(
                            "\(attribute).\(name)",
                            "\(name) must be [{\"schedule\": [{\"value_with_tax\": a number from 0}]}]",
                            category: "INVALID_PRICE"
                        )
                    )
                }
                return (decimal, nil)
            }
            var offer =
                existing
                ?? ListingsWorld.Offer(marketplaceID: marketplace, currency: currency, audience: audience, ourPrice: 0)
            let (ours, oursIssue) = price("our_price")
            let (minimum, minimumIssue) = price("minimum_seller_allowed_price")
            let (maximum, maximumIssue) = price("maximum_seller_allowed_price")
            let (sale, saleIssue) = price("discounted_price")
            if let issue = oursIssue ?? minimumIssue ?? maximumIssue ?? saleIssue { return [issue] }
            if let ours {
                offer.ourPrice = ours
            } else if existing == nil {
                return [
                    .invalid(
                        "\(attribute).our_price",
                        "our_price is required for a new offer",
                        category: "MISSING_PRICE"
                    )
                ]
            }
            if patch.op != "merge" || minimum != nil { offer.minimumPrice = minimum }
            if patch.op != "merge" || maximum != nil { offer.maximumPrice = maximum }
            if let sale {
                let schedule = entry["discounted_price"]?.array?.first?["schedule"]?.array?.first
                guard let start = schedule?["start_at"]?.string, let end = schedule?["end_at"]?.string,
                    let from = day(start), let until = day(end), from < until
                else {
                    return [
                        .invalid(
                            "\(attribute).discounted_price",
                            "a sale price needs start_at and end_at, the start before the end",
                            category: "INVALID_PRICE"
                        )
                    ]
                }
                offer.salePrice = sale
                offer.saleStart = start
                offer.saleEnd = end
            } else if patch.op != "merge" {
                offer.salePrice = nil
                offer.saleStart = nil
                offer.saleEnd = nil
            }
            if let low = offer.minimumPrice, offer.ourPrice < low {
                return [
                    .invalid(
                        "\(attribute).our_price",
                        "our_price \(offer.ourPrice) is below minimum_seller_allowed_price \(low)",
                        category: "INVALID_PRICE"
                    )
                ]
            }
            if let high = offer.maximumPrice, offer.ourPrice > high {
                return [
                    .invalid(
                        "\(attribute).our_price",
                        "our_price \(offer.ourPrice) is above maximum_seller_allowed_price \(high)",
                        category: "INVALID_PRICE"
                    )
                ]
            }
            offers.removeAll { $0.marketplaceID == marketplace && $0.currency == currency && $0.audience == audience }
            offers.append(offer)
        }
        listing.offers = offers.sorted { ($0.marketplaceID, $0.currency) < ($1.marketplaceID, $1.currency) }
        return []
    }

    /// A date or date-time as the sale's schedule may write it.
    static func day(_ text: String) -> Date? {
        if let date = Simulator.parseTimestamp(text) { return date }
        guard text.count == 10 else { return nil }
        return Simulator.parseTimestamp("\(text)T00:00:00Z")
    }

    /// The listing's attributes as Amazon shows them: the availability and offers it keeps, and the others as set.
    static func attributes(of listing: ListingsWorld.Listing) -> [String: JSONNode] {
        var attributes: [String: JSONNode] = [:]
        for (name, text) in listing.otherAttributes {
            attributes[name] = try? JSONDecoder().decode(JSONNode.self, from: Data(text.utf8))
        }
        var availability: [String: JSONNode] = ["fulfillment_channel_code": .string(listing.fulfillmentChannel)]
        if let quantity = listing.quantity { availability["quantity"] = .number(Decimal(quantity)) }
        if let days = listing.handlingTime { availability["lead_time_to_ship_max_days"] = .number(Decimal(days)) }
        attributes["fulfillment_availability"] = .array([.object(availability)])
        if !listing.offers.isEmpty {
            attributes["purchasable_offer"] = .array(
                listing.offers.map { offer in
                    func schedule(_ price: Decimal, _ extra: [String: JSONNode] = [:]) -> JSONNode {
                        .array([
                            .object([
                                "schedule": .array([
                                    .object(extra.merging(["value_with_tax": .number(price)]) { $1 })
                                ])
                            ])
                        ])
                    }
                    var entry: [String: JSONNode] = [
                        "marketplace_id": .string(offer.marketplaceID), "currency": .string(offer.currency),
                        "audience": .string(offer.audience), "our_price": schedule(offer.ourPrice),
                    ]
                    if let low = offer.minimumPrice { entry["minimum_seller_allowed_price"] = schedule(low) }
                    if let high = offer.maximumPrice { entry["maximum_seller_allowed_price"] = schedule(high) }
                    if let sale = offer.salePrice, let start = offer.saleStart, let end = offer.saleEnd {
                        entry["discounted_price"] = schedule(
                            sale,
                            ["start_at": .string(start), "end_at": .string(end)]
                        )
                    }
                    return .object(entry)
                }
            )
        }
        return attributes
    }
}

extension Simulator {
    // MARK: Listings (control path and ground truth)

    /// Creates or updates listings for a merchant in its marketplaces (`POST /_simulator/listings-items`), as the
    /// seller would in Seller Central: merchant-fulfilled (DEFAULT) unless another channel is named.
    public func putListings(_ items: [ListingSpecification], merchantID: String) throws(ControlError) -> Int {
        guard !merchantID.isEmpty else { throw ControlError("merchantId must not be empty") }
        guard !items.isEmpty, items.count <= 200_000 else { throw ControlError("items must hold 1 to 200000 listings") }
        for item in items {
            guard !item.sku.isEmpty, item.sku.count <= 40 else {
                throw ControlError("Each SKU must be 1 to 40 characters, got \"\(item.sku)\"")
            }
            guard !item.marketplaceIDs.isEmpty, item.marketplaceIDs.allSatisfy({ !$0.isEmpty }) else {
                throw ControlError("\(item.sku): marketplaceIds must name at least one marketplace")
            }
            if let quantity = item.quantity, !(0...ListingRules.maximumQuantity).contains(quantity) {
                throw ControlError("\(item.sku): quantity must be 0 to \(ListingRules.maximumQuantity)")
            }
            if let price = item.price, !(price >= 0 && price <= 1_000_000_000) {
                throw ControlError("\(item.sku): price must be 0 to 1000000000")
            }
            if let asin = item.asin, asin.wholeMatch(of: /[A-Z0-9]{10}/) == nil {
                throw ControlError("\(item.sku): asin must be 10 capital letters and digits, got \(asin)")
            }
        }
        let now = world.stamp(now())
        for item in items {
            let key = ListingsWorld.key(merchantID, item.sku)
            var listing =
                listings.listings[key]
                ?? ListingsWorld.Listing(
                    sku: item.sku,
                    merchantID: merchantID,
                    marketplaceIDs: [],
                    productType: item.productType ?? "PRODUCT",
                    asin: item.asin ?? Self.asin(for: item.sku),
                    fulfillmentChannel: "DEFAULT",
                    offers: [],
                    otherAttributes: [:],
                    createdAt: now,
                    updatedAt: now,
                    setBy: "control",
                    changes: 0,
                    sequence: listings.count + 1
                )
            if listings.listings[key] == nil { listings.count += 1 }
            listing.marketplaceIDs = Array(Set(listing.marketplaceIDs).union(item.marketplaceIDs)).sorted()
            if let type = item.productType { listing.productType = type }
            if let asin = item.asin { listing.asin = asin }
            if let channel = item.fulfillmentChannel { listing.fulfillmentChannel = channel }
            if let quantity = item.quantity { listing.quantity = quantity }
            if let days = item.handlingTime { listing.handlingTime = days }
            if let price = item.price {
                for marketplace in item.marketplaceIDs {
                    let currency = ListingRules.currencies[marketplace] ?? "USD"
                    listing.offers.removeAll { $0.marketplaceID == marketplace }
                    listing.offers.append(
                        .init(marketplaceID: marketplace, currency: currency, audience: "ALL", ourPrice: Decimal(price))
                    )
                }
            }
            listing.updatedAt = now
            listing.setBy = "control"
            listings.listings[key] = listing
        }
        return items.count
    }

    /// The SKUs of a merchant's listings in a marketplace.
    func listingSKUs(merchantID: String, marketplaceID: String) -> [String] {
        listings.listings.values.filter { $0.merchantID == merchantID && $0.marketplaceIDs.contains(marketplaceID) }
            .map(\.sku)
    }

    /// An MFN order takes its units from the listing's merchant-fulfilled quantity, as Amazon's does.
    func takeOrderedUnits(merchantID: String, items: [(sku: String, units: Int)], orderID: String) {
        for (sku, units) in items {
            let key = ListingsWorld.key(merchantID, sku)
            guard var listing = listings.listings[key], listing.fulfillmentChannel == "DEFAULT",
                let quantity = listing.quantity
            else { continue }
            listing.quantity = max(0, quantity - units)
            listing.updatedAt = world.stamp(now())
            listing.setBy = "order:\(orderID)"
            listings.listings[key] = listing
            notifyQuantityChange(listing)
        }
    }

    /// LISTINGS_ITEM_MFN_QUANTITY_CHANGE to every destination, in Amazon's schema (its keys in PascalCase).
    func notifyQuantityChange(_ listing: ListingsWorld.Listing) {
        guard listing.fulfillmentChannel == "DEFAULT", let quantity = listing.quantity else { return }
        push("LISTINGS_ITEM_MFN_QUANTITY_CHANGE", subject: listing.sku, status: "\(quantity)") {
            time,
            subscriptionID,
            notificationID in
            [
                "NotificationVersion": "1.0",
                "NotificationType": "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
                "PayloadVersion": "1.0",
                "EventTime": time,
                "Payload": [
                    "SellerId": listing.merchantID, "FulfillmentChannelCode": "DEFAULT", "Sku": listing.sku,
                    "Quantity": quantity,
                ],
                "NotificationMetadata": [
                    "ApplicationId": configuration.clientID,
                    "SubscriptionId": subscriptionID,
                    "PublishTime": time,
                    "NotificationId": notificationID,
                ],
            ]
        }
    }

    /// Applies a change to a listing and records what made it; the MFN quantity change is announced.
    func record(_ listing: ListingsWorld.Listing, before: ListingsWorld.Listing?, by source: String, at: Date? = nil) {
        var listing = listing
        listing.updatedAt = at ?? world.stamp(now())
        listing.setBy = source
        listing.changes += 1
        if source.hasPrefix("feed:") { listing.feedMessages = (listing.feedMessages ?? 0) + 1 }
        listings.listings[ListingsWorld.key(listing.merchantID, listing.sku)] = listing
        if listing.fulfillmentChannel == "DEFAULT", listing.quantity != before?.quantity {
            notifyQuantityChange(listing)
        }
    }

    /// Amazon's view of a listing for the includedData asked.
    func item(_ listing: ListingsWorld.Listing, included: Set<String>, marketplaces: [String]) throws -> LI.Item {
        let shown = listing.marketplaceIDs.filter { marketplaces.isEmpty || marketplaces.contains($0) }
        var item = LI.Item(sku: listing.sku)
        if included.contains("summaries") {
            item.summaries = shown.map {
                LI.ItemSummaryByMarketplace(
                    marketplaceId: $0,
                    asin: listing.asin,
                    productType: listing.productType,
                    conditionType: "new_new",
                    status: listing.quantity ?? 0 > 0 || listing.fulfillmentChannel != "DEFAULT"
                        ? ["BUYABLE", "DISCOVERABLE"] : ["DISCOVERABLE"],
                    itemName: "Simulated \(listing.sku)",
                    createdDate: listing.createdAt,
                    lastUpdatedDate: listing.updatedAt
                )
            }
        }
        if included.contains("attributes") {
            let data = try JSONEncoder().encode(ListingRules.attributes(of: listing))
            item.attributes = LI.ItemAttributes(
                additionalProperties: try JSONDecoder().decode(OpenAPIObjectContainer.self, from: data)
            )
        }
        if included.contains("issues") { item.issues = [] }
        if included.contains("offers") {
            item.offers = listing.offers.filter { shown.contains($0.marketplaceID) }.map {
                LI.ItemOfferByMarketplace(
                    marketplaceId: $0.marketplaceID,
                    offerType: "B2C",
                    price: LI.Money(currencyCode: $0.currency, amount: "\($0.ourPrice)"),
                    audience: LI.Audience(value: $0.audience, displayName: "Sell on Amazon")
                )
            }
        }
        if included.contains("fulfillmentAvailability") {
            item.fulfillmentAvailability = [
                LI.FulfillmentAvailability(
                    fulfillmentChannelCode: listing.fulfillmentChannel,
                    quantity: listing.fulfillmentChannel == "DEFAULT" ? listing.quantity : nil
                )
            ]
        }
        if included.contains("productTypes") {
            item.productTypes = shown.map {
                LI.ItemProductTypeByMarketplace(marketplaceId: $0, productType: listing.productType)
            }
        }
        return item
    }
}

/// A listing as the control path creates it.
public struct ListingSpecification: Sendable, Codable {
    public var sku: String
    public var marketplaceIDs: [String]
    public var productType: String?
    /// The product's ASIN; one made from the SKU when absent. Two SKUs of one product share it.
    public var asin: String?
    /// DEFAULT (merchant-fulfilled) unless named.
    public var fulfillmentChannel: String?
    public var quantity: Int?
    public var handlingTime: Int?
    /// The price in each marketplace's currency.
    public var price: Double?

    public init(
        sku: String,
        marketplaceIDs: [String],
        productType: String? = nil,
        asin: String? = nil,
        fulfillmentChannel: String? = nil,
        quantity: Int? = nil,
        handlingTime: Int? = nil,
        price: Double? = nil
    ) {
        self.asin = asin
        self.sku = sku
        self.marketplaceIDs = marketplaceIDs
        self.productType = productType
        self.fulfillmentChannel = fulfillmentChannel
        self.quantity = quantity
        self.handlingTime = handlingTime
        self.price = price
    }

    enum CodingKeys: String, CodingKey {
        case sku
        case marketplaceIDs = "marketplaceIds"
        case productType, asin, fulfillmentChannel, quantity, handlingTime, price
    }
}

extension Simulator: AmazonListings.APIProtocol {
    public func getListingsItem(
        _ input: AmazonListings.Operations.GetListingsItem.Input
    ) async throws -> AmazonListings.Operations.GetListingsItem.Output {
        let merchantID = try RequestScope.merchant()
        try Self.checkSeller(input.path.sellerId, merchantID)
        let marketplaces = input.query.marketplaceIds
        guard let listing = listings.listings[ListingsWorld.key(merchantID, input.path.sku)],
            listing.marketplaceIDs.contains(where: marketplaces.contains)
        else {
            throw AmazonError(
                status: 404,
                code: "NOT_FOUND",
                message: "SKU '\(input.path.sku)' not found in marketplace \(marketplaces.joined(separator: ","))"
            )
        }
        let included = Set((input.query.includedData ?? [.summaries]).map(\.rawValue))
        return .ok(.init(body: .json(try item(listing, included: included, marketplaces: marketplaces))))
    }

    public func patchListingsItem(
        _ input: AmazonListings.Operations.PatchListingsItem.Input
    ) async throws -> AmazonListings.Operations.PatchListingsItem.Output {
        let merchantID = try RequestScope.merchant()
        try Self.checkSeller(input.path.sellerId, merchantID)
        let marketplaces = input.query.marketplaceIds
        guard !marketplaces.isEmpty else { throw AmazonError.invalidInput("marketplaceIds is required") }
        let preview = input.query.mode?.rawValue == "VALIDATION_PREVIEW"
        let included = Set((input.query.includedData ?? [.issues]).map(\.rawValue))
        if included.contains("identifiers"), !preview {
            throw AmazonError.invalidInput("includedData identifiers is allowed only with mode VALIDATION_PREVIEW")
        }
        guard case .json(let body) = input.body else { throw AmazonError.invalidInput("A JSON body is required") }
        guard !body.productType.isEmpty else { throw AmazonError.invalidInput("productType is required") }
        guard !body.patches.isEmpty, body.patches.count <= 100 else {
            throw AmazonError.invalidInput("patches must hold 1 to 100 operations")
        }
        let patches = try body.patches.map { operation -> ListingPatch in
            let value = try operation.value.map { entries in
                try entries.map { entry in
                    try JSONDecoder().decode(
                        [String: JSONNode].self,
                        from: try JSONEncoder().encode(entry.additionalProperties)
                    )
                }
            }
            return ListingPatch(op: operation.op, path: operation.path, value: value)
        }
        let submissionID = UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let key = ListingsWorld.key(merchantID, input.path.sku)
        if let forced = listings.forcedSubmissionStatuses?[key] {
            return .ok(
                .init(
                    body: .json(.init(sku: input.path.sku, status: forced, submissionId: submissionID, issues: []))
                )
            )
        }
        var issues: [ListingIssue]
        if let before = listings.listings[key], before.marketplaceIDs.contains(where: marketplaces.contains) {
            var listing = before
            issues = ListingRules.apply(patches, to: &listing, marketplaces: marketplaces)
            if issues.isEmpty, !preview {
                listing.productType = body.productType
                record(listing, before: before, by: "patch:\(submissionID)")
            }
        } else {
            issues = [.unknownSKU(input.path.sku)]
        }
        let status = !issues.isEmpty ? "INVALID" : preview ? "VALID" : "ACCEPTED"
        var answer = LI.ListingsItemSubmissionResponse(
            sku: input.path.sku,
            status: status,
            submissionId: submissionID,
            issues: included.contains("issues") ? issues.map(Self.issue) : nil
        )
        if included.contains("identifiers"), let listing = listings.listings[key], issues.isEmpty {
            answer.identifiers = marketplaces.map { .init(marketplaceId: $0, asin: listing.asin) }
        }
        return .ok(.init(body: .json(answer)))
    }

    /// Answers every later submission for the seller's SKU with `status` (any text, such as a status Amazon may add),
    /// changing nothing; nil answers as Amazon does again.
    public func forceSubmissionStatus(merchantID: String, sku: String, status: String?) throws(ControlError) {
        if let status {
            guard !status.isEmpty, status.count <= 64 else { throw ControlError("status must be 1 to 64 characters") }
        }
        listings.forcedSubmissionStatuses = listings.forcedSubmissionStatuses ?? [:]
        listings.forcedSubmissionStatuses?[ListingsWorld.key(merchantID, sku)] = status
    }

    public func searchListingsItems(
        _ input: AmazonListings.Operations.SearchListingsItems.Input
    ) async throws -> AmazonListings.Operations.SearchListingsItems.Output {
        let merchantID = try RequestScope.merchant()
        try Self.checkSeller(input.path.sellerId, merchantID)
        let query = input.query
        let marketplaces = query.marketplaceIds
        guard !marketplaces.isEmpty else { throw AmazonError.invalidInput("marketplaceIds is required") }
        let size = query.pageSize ?? 10
        guard (1...20).contains(size) else {
            throw AmazonError.invalidInput("Invalid input \(size) for parameter pageSize: must be 1 to 20")
        }
        let identifiers = query.identifiers ?? []
        guard identifiers.count <= 20 else { throw AmazonError.invalidInput("identifiers takes at most 20 values") }
        guard identifiers.isEmpty == (query.identifiersType == nil) else {
            throw AmazonError.invalidInput("identifiers and identifiersType go together")
        }
        let type = query.identifiersType?.rawValue
        let wanted = Set(identifiers)
        var found = listings.listings.values.filter { listing in
            guard listing.merchantID == merchantID, listing.marketplaceIDs.contains(where: marketplaces.contains)
            else { return false }
            switch type {
            case nil: break
            case "SKU": guard wanted.contains(listing.sku) else { return false }
            case "ASIN": guard wanted.contains(listing.asin) else { return false }
            default: return false
            }
            if let after = query.createdAfter, listing.createdAt < after { return false }
            if let before = query.createdBefore, listing.createdAt > before { return false }
            if let after = query.lastUpdatedAfter, listing.updatedAt < after { return false }
            if let before = query.lastUpdatedBefore, listing.updatedAt > before { return false }
            return true
        }
        let ascending = query.sortOrder?.rawValue == "ASC"
        switch query.sortBy?.rawValue ?? "lastUpdatedDate" {
        case "sku": found.sort { ascending ? $0.sku < $1.sku : $0.sku > $1.sku }
        case "createdDate":
            found.sort {
                ascending
                    ? ($0.createdAt, $0.sku) < ($1.createdAt, $1.sku) : ($0.createdAt, $0.sku) > ($1.createdAt, $1.sku)
            }
        default:
            found.sort {
                ascending
                    ? ($0.updatedAt, $0.sku) < ($1.updatedAt, $1.sku) : ($0.updatedAt, $0.sku) > ($1.updatedAt, $1.sku)
            }
        }
        let filter = [
            marketplaces.sorted().joined(separator: ","), type ?? "", wanted.sorted().joined(separator: ","),
            query.sortBy?.rawValue ?? "", query.sortOrder?.rawValue ?? "", "\(size)",
        ].joined(separator: "|")
        let start = try query.pageToken.map { try PageToken.decode($0, filter: filter, parameter: "pageToken") } ?? 0
        // Amazon pages through the first 1,000 results only.
        let reachable = min(found.count, 1000)
        let page = found.dropFirst(start).prefix(max(0, min(size, reachable - start)))
        let included = Set((query.includedData ?? [.summaries]).map(\.rawValue))
        let next = start + size < reachable ? PageToken.encode(position: start + size, filter: filter) : nil
        let previous = start > 0 ? PageToken.encode(position: max(0, start - size), filter: filter) : nil
        return .ok(
            .init(
                body: .json(
                    .init(
                        numberOfResults: found.count,
                        pagination: next == nil && previous == nil
                            ? nil : .init(nextToken: next, previousToken: previous),
                        items: try page.map { try item($0, included: included, marketplaces: marketplaces) }
                    )
                )
            )
        )
    }

    /// A seller id in the path must be the caller's own.
    static func checkSeller(_ sellerID: String, _ merchantID: String) throws(AmazonError) {
        guard sellerID == merchantID else {
            throw AmazonError.unauthorized("The seller id \(sellerID) in the path is not the caller's (\(merchantID)).")
        }
    }

    static func issue(_ issue: ListingIssue) -> LI.Issue {
        LI.Issue(
            code: issue.code,
            message: issue.message,
            severity: issue.severity,
            attributeNames: issue.attributeName.map { [$0] },
            categories: [issue.category]
        )
    }
}

extension Simulator {
    /// The quantity of each of a merchant's listings, by SKU (nil: none set), for checks over many listings.
    public func listingQuantities(merchantID: String) -> [String: Int?] {
        var quantities: [String: Int?] = [:]
        for listing in listings.listings.values where listing.merchantID == merchantID {
            quantities[listing.sku] = listing.quantity
        }
        return quantities
    }

    /// One listing's quantity and when it last changed.
    public func listingQuantity(merchantID: String, sku: String) -> (quantity: Int?, updatedAt: Date)? {
        listings.listings[ListingsWorld.key(merchantID, sku)].map { ($0.quantity, $0.updatedAt) }
    }

    /// How long feeds take now.
    public func feedTiming() -> FeedTiming { listings.feeds.timing }
}
