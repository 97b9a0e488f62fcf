import Foundation

/// What FlexBridge tells Amazon of one merchant-fulfilled (MFN) listing in one change: its quantity with the
/// handling time, its price, or both. Values are absolute: sending a change twice leaves Amazon as once.
public struct ListingUpdate: Sendable, Hashable, Codable {
    public var sku: MerchantSKU
    /// Amazon's product type of the listing; PRODUCT serves offer-only changes of any listing.
    public var productType: String
    /// Units offered (Amazon's DEFAULT channel); nil leaves the quantity as it is.
    public var quantity: Int?
    /// Days to ship (`lead_time_to_ship_max_days`), sent with the quantity; nil lets Amazon keep its default.
    public var handlingTime: Int?
    /// The price in one marketplace; nil leaves the price as it is.
    public var price: ListingPrice?

    public init(
        sku: MerchantSKU,
        productType: String = "PRODUCT",
        quantity: Int? = nil,
        handlingTime: Int? = nil,
        price: ListingPrice? = nil
    ) {
        self.sku = sku
        self.productType = productType
        self.quantity = quantity
        self.handlingTime = handlingTime
        self.price = price
    }
}

/// What of a listing FlexBridge keeps in line at Amazon, each with its own versions: its quantity (MFN stock) and its
/// price. A price Amazon refuses never holds the quantity back, nor the other way round.
public enum ListingFacet: String, Sendable, Hashable, Codable, CaseIterable {
    case quantity
    case price
}

/// A listing's price in one marketplace: the price, an optional sale price with its dates, and the least and most
/// the seller allows (Amazon's automated pricing stays within them).
public struct ListingPrice: Sendable, Hashable, Codable {
    public var marketplaceID: MarketplaceID
    public var currency: String
    public var amount: Decimal
    public var salePrice: Decimal?
    public var saleStart: Date?
    public var saleEnd: Date?
    public var minimum: Decimal?
    public var maximum: Decimal?

    public init(
        marketplaceID: MarketplaceID,
        currency: String,
        amount: Decimal,
        salePrice: Decimal? = nil,
        saleStart: Date? = nil,
        saleEnd: Date? = nil,
        minimum: Decimal? = nil,
        maximum: Decimal? = nil
    ) {
        self.marketplaceID = marketplaceID
        self.currency = currency
        self.amount = amount
        self.salePrice = salePrice
        self.saleStart = saleStart
        self.saleEnd = saleEnd
        self.minimum = minimum
        self.maximum = maximum
    }
}

/// One JSON patch of a listing's attributes, as patchListingsItem and a feed's PATCH message carry it.
public struct ListingPatch: Sendable, Hashable, Codable {
    public var op: String
    public var path: String
    public var value: [JSONValue]?

    public init(op: String, path: String, value: [JSONValue]?) {
        self.op = op
        self.path = path
        self.value = value
    }
}

/// Amazon's answer to one listing's change: taken, or refused with its issues — or answered with a status this
/// version does not know (`unknownStatus`), which is neither: the change is sent again later.
public struct ListingSubmission: Sendable, Hashable {
    /// The statuses Amazon's model has: ACCEPTED, INVALID, and VALID (a validation preview's).
    public static let knownStatuses: Set<String> = ["ACCEPTED", "INVALID", "VALID"]

    public var accepted: Bool
    public var submissionID: String?
    public var issues: [ListingIssue]
    /// The status Amazon answered with when it is not one of ``knownStatuses`` (Amazon adds them over time).
    public var unknownStatus: String?

    public init(accepted: Bool, submissionID: String?, issues: [ListingIssue], unknownStatus: String? = nil) {
        self.accepted = accepted
        self.submissionID = submissionID
        self.issues = issues
        self.unknownStatus = unknownStatus
    }

    /// Amazon's answer read: accepted only with the status ACCEPTED and no error among the issues.
    public init(status: String, submissionID: String?, issues: [ListingIssue]) {
        let known = Self.knownStatuses.contains(status)
        self.init(
            accepted: status == "ACCEPTED" && !issues.contains(where: \.isError),
            submissionID: submissionID,
            issues: issues,
            unknownStatus: known ? nil : status
        )
    }
}

/// A problem Amazon reports with a listing's change, from patchListingsItem or a feed's processing report.
public struct ListingIssue: Sendable, Hashable, Codable {
    public var code: String
    public var message: String
    /// ERROR, WARNING or INFO.
    public var severity: String
    public var attribute: String?

    public init(code: String, message: String, severity: String, attribute: String?) {
        self.code = code
        self.message = message
        self.severity = severity
        self.attribute = attribute
    }

    public var isError: Bool { severity == "ERROR" }
}

/// A listing as Amazon holds it: what FlexBridge reads to find a seller's SKUs for an ASIN and to check what
/// Amazon shows against what was sent.
public struct AmazonListing: Sendable, Hashable {
    public var sku: MerchantSKU
    public var asin: String?
    public var productType: String?
    /// DEFAULT for merchant-fulfilled; AMAZON_NA, AMAZON_EU, … when Amazon fulfils it.
    public var fulfillmentChannel: String?
    public var quantity: Int?
    /// When the listing last changed at Amazon (an order taking units changes it too).
    public var updatedAt: Date?
    /// Price per marketplace, as Amazon writes it (a decimal text).
    public var prices: [MarketplaceID: String]

    public init(
        sku: MerchantSKU,
        asin: String?,
        productType: String?,
        fulfillmentChannel: String?,
        quantity: Int?,
        updatedAt: Date? = nil,
        prices: [MarketplaceID: String]
    ) {
        self.updatedAt = updatedAt
        self.sku = sku
        self.asin = asin
        self.productType = productType
        self.fulfillmentChannel = fulfillmentChannel
        self.quantity = quantity
        self.prices = prices
    }

    public var isMerchantFulfilled: Bool { fulfillmentChannel == nil || fulfillmentChannel == "DEFAULT" }
}

/// A feed Amazon holds: its status and, once it is done, its processing report's document.
public struct FeedStatus: Sendable, Hashable {
    public var feedID: String
    /// IN_QUEUE, IN_PROGRESS, DONE, FATAL or CANCELLED.
    public var status: String
    public var createdAt: Date
    public var resultDocumentID: String?

    public init(feedID: String, status: String, createdAt: Date, resultDocumentID: String?) {
        self.feedID = feedID
        self.status = status
        self.createdAt = createdAt
        self.resultDocumentID = resultDocumentID
    }

    public var isFinished: Bool { ["DONE", "FATAL", "CANCELLED"].contains(status) }

    /// The processing statuses Amazon's Feeds API has; a feed in another (one Amazon added) is waited on, and said.
    public static let knownStatuses: Set<String> = ["IN_QUEUE", "IN_PROGRESS", "DONE", "FATAL", "CANCELLED"]
}

/// How a listing's change becomes Amazon's patches, a JSON listings feed, and what a processing report says.
public enum ListingRules {
    /// The most messages one JSON listings feed carries (Amazon's schema and its change of May 2025).
    public static let messagesPerFeed = 25_000
    /// The most units Amazon takes for a listing.
    public static let maximumQuantity = 99_999_999
    /// The longest handling time Amazon takes, in days.
    public static let maximumHandlingTime = 30

    /// The patches of one change: `fulfillment_availability` for the quantity, `purchasable_offer` for the price.
    public static func patches(for update: ListingUpdate) -> [ListingPatch] {
        var patches: [ListingPatch] = []
        if let quantity = update.quantity {
            var availability: [String: JSONValue] = [
                "fulfillment_channel_code": .string("DEFAULT"),
                "quantity": .number(Double(min(max(0, quantity), maximumQuantity))),
            ]
            if let days = update.handlingTime {
                availability["lead_time_to_ship_max_days"] = .number(Double(min(max(0, days), maximumHandlingTime)))
            }
            patches.append(
                ListingPatch(
                    op: "replace",
                    path: "/attributes/fulfillment_availability",
                    value: [.object(availability)]
                )
            )
        }
        if let price = update.price {
            func schedule(_ amount: Decimal, _ extra: [String: JSONValue] = [:]) -> JSONValue {
                .array([
                    .object([
                        "schedule": .array([
                            .object(extra.merging(["value_with_tax": .number(number(amount))]) { $1 })
                        ])
                    ])
                ])
            }
            var offer: [String: JSONValue] = [
                "marketplace_id": .string(price.marketplaceID.rawValue), "currency": .string(price.currency),
                "audience": .string("ALL"), "our_price": schedule(price.amount),
            ]
            if let minimum = price.minimum { offer["minimum_seller_allowed_price"] = schedule(minimum) }
            if let maximum = price.maximum { offer["maximum_seller_allowed_price"] = schedule(maximum) }
            if let sale = price.salePrice, let start = price.saleStart, let end = price.saleEnd {
                offer["discounted_price"] = schedule(
                    sale,
                    ["start_at": .string(timestamp(start)), "end_at": .string(timestamp(end))]
                )
            }
            patches.append(ListingPatch(op: "replace", path: "/attributes/purchasable_offer", value: [.object(offer)]))
        }
        return patches
    }

    /// A JSON listings feed (schema v2) of PATCH messages, one per change, numbered from 1 in the order given.
    public static func feed(sellerID: SellingPartnerID, updates: [ListingUpdate]) throws -> Data {
        let messages: [JSONValue] = updates.enumerated().map { index, update in
            .object([
                "messageId": .number(Double(index + 1)),
                "sku": .string(update.sku.rawValue),
                "operationType": .string("PATCH"),
                "productType": .string(update.productType),
                "patches": .array(
                    patches(for: update).map { patch in
                        var fields: [String: JSONValue] = ["op": .string(patch.op), "path": .string(patch.path)]
                        if let value = patch.value { fields["value"] = .array(value) }
                        return .object(fields)
                    }
                ),
            ])
        }
        let document: JSONValue = .object([
            "header": .object(["sellerId": .string(sellerID.rawValue), "version": .string("2.0")]),
            "messages": .array(messages),
        ])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(document)
    }

    /// A decimal as a JSON number: exact for prices of a few decimal places.
    static func number(_ amount: Decimal) -> Double {
        Double(NSDecimalNumber(decimal: amount).stringValue) ?? NSDecimalNumber(decimal: amount).doubleValue
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(
            .iso8601.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .omitted)
        )
    }
}

/// A JSON listings feed's processing report (schema v2): what Amazon made of each message.
public struct ListingsFeedReport: Sendable, Hashable, Decodable {
    public struct Issue: Sendable, Hashable, Decodable {
        public var messageId: Int?
        public var sku: String?
        public var code: String?
        public var severity: String
        public var message: String
        public var attributeName: String?
    }

    public struct Summary: Sendable, Hashable, Decodable {
        public var errors: Int
        public var warnings: Int
        public var messagesProcessed: Int
        public var messagesAccepted: Int
        public var messagesInvalid: Int
    }

    public var issues: [Issue]
    public var summary: Summary

    public init(json: Data) throws {
        self = try JSONDecoder().decode(Self.self, from: json)
    }

    /// The issues of one message (by its messageId); empty when it applied cleanly.
    public func issues(ofMessage id: Int) -> [ListingIssue] {
        issues.filter { $0.messageId == id }.map {
            ListingIssue(code: $0.code ?? "", message: $0.message, severity: $0.severity, attribute: $0.attributeName)
        }
    }

    /// Issues of the feed as a whole (no messageId): when any is an error, no message can be taken as applied.
    public var feedIssues: [ListingIssue] {
        issues.filter { $0.messageId == nil }.map {
            ListingIssue(code: $0.code ?? "", message: $0.message, severity: $0.severity, attribute: $0.attributeName)
        }
    }
}

/// Which way a listing's pending changes go to Amazon: one patchListingsItem each (seconds, 5 a second) or a JSON
/// listings feed (minutes, 25,000 at a time, five feeds per five minutes).
public enum ListingRoute: Sendable, Hashable {
    /// Patch these many now.
    case patch(Int)
    /// Put these many in one feed now, and patch the rest.
    case feed(Int)
    /// Nothing to send.
    case idle
}

public enum ListingRoutePlanner {
    /// The backlog patches clear quickly: what patchListingsItem's 5 a second clears in about ten seconds.
    public static let patchBacklog = 50

    /// The route for `pending` changes (none of them in a feed still being processed): patches while the backlog is
    /// small; a feed of up to 25,000 of them when it is larger and a feed may be submitted now (`feedAllowed`),
    /// the rest patched meanwhile.
    public static func route(pending: Int, feedAllowed: Bool) -> ListingRoute {
        guard pending > 0 else { return .idle }
        if pending > patchBacklog, feedAllowed { return .feed(min(pending, ListingRules.messagesPerFeed)) }
        return .patch(min(pending, patchBacklog))
    }
}

extension ListingRoutePlanner {
    /// Whether a feed may be submitted now without waiting, by the pace the client keeps for createFeed: `burst`
    /// feeds at once, then one every `300 / perFiveMinutes` seconds.
    /// `submitted` are the times of the feeds written in the last five minutes.
    public static func feedAllowed(submitted: [Date], now: Date, perFiveMinutes: Int = 5, burst: Int = 2) -> Bool {
        let rate = Double(max(1, perFiveMinutes)) / 300
        let capacity = Double(max(1, burst))
        var tokens = capacity
        var last: Date?
        for at in submitted.sorted() {
            if let last { tokens = min(capacity, tokens + max(0, at.timeIntervalSince(last)) * rate) }
            tokens -= 1
            last = at
        }
        if let last { tokens = min(capacity, tokens + max(0, now.timeIntervalSince(last)) * rate) }
        return tokens >= 1 - 1e-9
    }
}

/// What Amazon's listings of an ASIN say of the seller's SKU for a listing given by its ASIN only.
public enum ASINResolution: Sendable, Hashable {
    /// Exactly one SKU of the seller, fulfilled as the listing says.
    case sku(MerchantSKU)
    /// None: the reason names what Amazon holds instead, if anything.
    case none(String)
    /// Several, so none is chosen: stock goes by SKU, and offering the same units on two SKUs would oversell.
    case several([MerchantSKU], String)

    /// Picks the seller's SKU of `asin` among `found` (Amazon's listings of the seller for it in the marketplace):
    /// only those fulfilled as `fulfilledBy` says count (a merchant-fulfilled listing takes a SKU of channel
    /// DEFAULT, an Amazon-fulfilled one any other), so that a seller with both an FBA and an MFN SKU of one product
    /// gets the right one.
    public static func resolve(asin: ASIN, fulfilledBy: Listing.FulfilledBy, found: [AmazonListing]) -> Self {
        let ofASIN = found.filter { ($0.asin ?? asin.rawValue).uppercased() == asin.rawValue }
        let matching = ofASIN.filter { $0.isMerchantFulfilled == (fulfilledBy == .merchant) }
        let skus = Array(Set(matching.map(\.sku))).sorted()
        let fulfilment = fulfilledBy == .merchant ? "merchant-fulfilled" : "Amazon-fulfilled"
        switch skus.count {
        case 1:
            return .sku(skus[0])
        case 0:
            let others = Array(Set(ofASIN.map(\.sku))).sorted()
            return .none(
                others.isEmpty
                    ? "Amazon lists no SKU of the seller for ASIN \(asin) in this marketplace"
                    : "Amazon lists no \(fulfilment) SKU of the seller for ASIN \(asin), only "
                        + others.map(\.rawValue).joined(separator: ", ")
            )
        default:
            return .several(
                skus,
                "Amazon lists \(skus.count) \(fulfilment) SKUs of the seller for ASIN \(asin) ("
                    + skus.map(\.rawValue).joined(separator: ", ")
                    + "): list the one to use with its channelSkuId"
            )
        }
    }
}

/// Whether the quantity Amazon shows for a merchant-fulfilled listing is the one FlexBridge sent, and what to do
/// when it is not. Amazon takes an MFN order's units from the listing when the order is placed, so Amazon's number
/// is expected to be what was sent less the units ordered since; a repair that ignored them would offer sold units
/// again.
public enum ListingReconciliation {
    public enum Verdict: Sendable, Hashable {
        /// Amazon shows what was sent less the units ordered since.
        case inLine
        /// Amazon's number drifted: send the warehouse's number again. The text says how.
        case repair(String)
        /// Amazon shows fewer units than expected, but changed too recently to tell an order FlexBridge has not
        /// read yet from a drift: looked at again later.
        case wait(String)
    }

    /// The verdict for a listing FlexBridge sent `sent` units of, `orderedSince` units of MFN orders read since,
    /// when Amazon shows `amazon`, last changed at `amazonUpdatedAt`. More than expected is always repaired: it can
    /// only oversell. Fewer is repaired once Amazon's listing has been still for `settle` (an order placed since
    /// would have changed it), so that units sold by an order not yet read are never offered again.
    public static func verdict(
        sent: Int,
        orderedSince: Int,
        amazon: Int,
        amazonUpdatedAt: Date?,
        now: Date,
        settle: TimeInterval
    ) -> Verdict {
        let expected = max(0, sent - orderedSince)
        if amazon == expected { return .inLine }
        let account =
            "Amazon showed \(amazon), expected \(expected) (\(sent) sent, \(orderedSince) ordered since)"
        if amazon > expected { return .repair(account) }
        guard let changed = amazonUpdatedAt, now.timeIntervalSince(changed) >= settle else {
            return .wait(account + "; Amazon changed it lately, so an order not yet read may explain it")
        }
        return .repair(account)
    }
}
