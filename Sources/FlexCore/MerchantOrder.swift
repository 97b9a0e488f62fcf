import Foundation

/// A merchant-fulfilled (MFN) order as Amazon's Orders API 2026-01-01 gives it, in FlexCore's words: what the sync
/// and the WMS need of it. Amazon's statuses and service levels are kept as Amazon's text, so that a value Amazon
/// adds later is stored and shown rather than refused.
public struct MerchantOrderFacts: Sendable, Hashable, Codable {
    public struct Item: Sendable, Hashable, Codable {
        public var orderItemID: String
        public var sellerSKU: MerchantSKU?
        public var asin: String?
        public var title: String?
        public var quantityOrdered: Int
        /// Units Amazon records as shipped (confirmShipment), and those still to ship; nil when Amazon did not say.
        public var quantityShipped: Int?
        public var quantityUnshipped: Int?
        /// The buyer asked to cancel (the seller decides).
        public var buyerRequestedCancel: Bool
        /// Who cancelled the item (BUYER, AMAZON, SELLER), when it was.
        public var cancelledBy: String?

        public init(
            orderItemID: String,
            sellerSKU: MerchantSKU?,
            asin: String?,
            title: String?,
            quantityOrdered: Int,
            quantityShipped: Int?,
            quantityUnshipped: Int?,
            buyerRequestedCancel: Bool,
            cancelledBy: String?
        ) {
            self.orderItemID = orderItemID
            self.sellerSKU = sellerSKU
            self.asin = asin
            self.title = title
            self.quantityOrdered = quantityOrdered
            self.quantityShipped = quantityShipped
            self.quantityUnshipped = quantityUnshipped
            self.buyerRequestedCancel = buyerRequestedCancel
            self.cancelledBy = cancelledBy
        }
    }

    /// A package Amazon holds as shipped: what one confirmShipment told it.
    public struct Package: Sendable, Hashable, Codable {
        public var referenceID: String
        public var carrier: String?
        public var shippingService: String?
        public var trackingNumber: String?
        public var shippedAt: Date?
        /// Order item id → units.
        public var items: [String: Int]

        public init(
            referenceID: String,
            carrier: String?,
            shippingService: String?,
            trackingNumber: String?,
            shippedAt: Date?,
            items: [String: Int]
        ) {
            self.referenceID = referenceID
            self.carrier = carrier
            self.shippingService = shippingService
            self.trackingNumber = trackingNumber
            self.shippedAt = shippedAt
            self.items = items
        }
    }

    public var orderID: String
    public var marketplaceID: MarketplaceID
    /// Amazon's fulfillmentStatus: PENDING, UNSHIPPED, PARTIALLY_SHIPPED, SHIPPED, CANCELLED, … (or a newer one).
    public var status: String
    /// MERCHANT or AMAZON.
    public var fulfilledBy: String?
    /// Amazon's ship-service level (Standard, Expedited, SecondDay, NextDay, or the marketplace's own).
    public var serviceLevel: String?
    public var shipBy: Date?
    public var deliverBy: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var items: [Item]
    public var packages: [Package]

    public init(
        orderID: String,
        marketplaceID: MarketplaceID,
        status: String,
        fulfilledBy: String?,
        serviceLevel: String?,
        shipBy: Date?,
        deliverBy: Date?,
        createdAt: Date,
        updatedAt: Date,
        items: [Item],
        packages: [Package]
    ) {
        self.orderID = orderID
        self.marketplaceID = marketplaceID
        self.status = status
        self.fulfilledBy = fulfilledBy
        self.serviceLevel = serviceLevel
        self.shipBy = shipBy
        self.deliverBy = deliverBy
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.items = items
        self.packages = packages
    }

    /// Whether the seller fulfils it: FBA orders are Amazon's to ship.
    public var isMerchantFulfilled: Bool { (fulfilledBy ?? "MERCHANT") == "MERCHANT" }
}

/// An MFN order with Amazon's whole document (JSON text), as the store keeps it.
public struct AmazonMerchantOrder: Sendable, Hashable {
    public var facts: MerchantOrderFacts
    public var document: String

    public init(facts: MerchantOrderFacts, document: String) {
        self.facts = facts
        self.document = document
    }
}

/// One page of searchOrders, and the bound of the time Amazon searched up to.
public struct MerchantOrderPage: Sendable {
    public var orders: [AmazonMerchantOrder]
    public var nextToken: String?
    /// The `lastUpdatedBefore` (or `createdBefore`) Amazon used: the next search starts from there.
    public var searchedUntil: Date?

    public init(orders: [AmazonMerchantOrder], nextToken: String?, searchedUntil: Date?) {
        self.orders = orders
        self.nextToken = nextToken
        self.searchedUntil = searchedUntil
    }
}

/// What confirmShipment tells Amazon of one package.
public struct MerchantShipmentConfirmation: Sendable, Hashable, Codable {
    public struct Item: Sendable, Hashable, Codable {
        public var orderItemID: String
        public var quantity: Int

        public init(orderItemID: String, quantity: Int) {
            self.orderItemID = orderItemID
            self.quantity = quantity
        }
    }

    public var marketplaceID: MarketplaceID
    public var packageReferenceID: String
    public var carrierCode: String
    public var carrierName: String?
    public var shippingMethod: String?
    public var trackingNumber: String
    public var shipDate: Date
    public var items: [Item]

    public init(
        marketplaceID: MarketplaceID,
        packageReferenceID: String,
        carrierCode: String,
        carrierName: String?,
        shippingMethod: String?,
        trackingNumber: String,
        shipDate: Date,
        items: [Item]
    ) {
        self.marketplaceID = marketplaceID
        self.packageReferenceID = packageReferenceID
        self.carrierCode = carrierCode
        self.carrierName = carrierName
        self.shippingMethod = shippingMethod
        self.trackingNumber = trackingNumber
        self.shipDate = shipDate
        self.items = items
    }
}
