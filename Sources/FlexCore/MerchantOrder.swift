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

    /// The fulfillment statuses of Amazon's Orders 2026-01-01 model; another is kept as sent, and said.
    public static let knownStatuses: Set<String> = [
        "PENDING_AVAILABILITY", "PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED", "UNFULFILLABLE",
    ]
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

extension MerchantOrderFacts {
    /// The facts of a stored Orders API document (as SellingPartner wrote it: Amazon's order, dates in ISO 8601).
    public init(document: String) throws {
        let order = try JSONDecoder().decode(Document.self, from: Data(document.utf8))
        func date(_ text: String?) -> Date? { text.flatMap(Order.parseTimestamp) }
        guard let created = date(order.createdTime), let updated = date(order.lastUpdatedTime) else {
            throw DecodingError.dataCorrupted(
                .init(
                    codingPath: [],
                    debugDescription: "order \(order.orderId) has an unreadable creation or update time"
                )
            )
        }
        self.init(
            orderID: order.orderId,
            marketplaceID: MarketplaceID(rawValue: order.salesChannel.marketplaceId ?? ""),
            status: order.fulfillment?.fulfillmentStatus ?? "UNSHIPPED",
            fulfilledBy: order.fulfillment?.fulfilledBy,
            serviceLevel: order.fulfillment?.fulfillmentServiceLevel,
            shipBy: date(order.fulfillment?.shipByWindow?.latestDateTime),
            deliverBy: date(order.fulfillment?.deliverByWindow?.latestDateTime),
            createdAt: created,
            updatedAt: updated,
            items: order.orderItems.map { item in
                Item(
                    orderItemID: item.orderItemId,
                    sellerSKU: item.product.sellerSku.map(MerchantSKU.init(rawValue:)),
                    asin: item.product.asin,
                    title: item.product.title,
                    quantityOrdered: item.quantityOrdered,
                    quantityShipped: item.fulfillment?.quantityFulfilled,
                    quantityUnshipped: item.fulfillment?.quantityUnfulfilled,
                    buyerRequestedCancel: item.cancellation?.cancellationRequest != nil,
                    cancelledBy: item.cancellation?.cancellationExecution?.cancelledBy
                )
            },
            packages: (order.packages ?? []).map { package in
                Package(
                    referenceID: package.packageReferenceId,
                    carrier: package.carrier,
                    shippingService: package.shippingService,
                    trackingNumber: package.trackingNumber,
                    shippedAt: date(package.shipTime),
                    items: Dictionary(
                        (package.packageItems ?? []).map { ($0.orderItemId, $0.quantity) },
                        uniquingKeysWith: +
                    )
                )
            }
        )
    }

    /// The part of Amazon's order document the facts are read from.
    private struct Document: Decodable {
        struct Window: Decodable { var latestDateTime: String? }
        struct Fulfillment: Decodable {
            var fulfillmentStatus: String?
            var fulfilledBy: String?
            var fulfillmentServiceLevel: String?
            var shipByWindow: Window?
            var deliverByWindow: Window?
        }
        struct Product: Decodable {
            var asin: String?
            var title: String?
            var sellerSku: String?
        }
        struct ItemFulfillment: Decodable {
            var quantityFulfilled: Int?
            var quantityUnfulfilled: Int?
        }
        struct Cancellation: Decodable {
            struct Request: Decodable { var requester: String? }
            struct Execution: Decodable { var cancelledBy: String? }
            var cancellationRequest: Request?
            var cancellationExecution: Execution?
        }
        struct Item: Decodable {
            var orderItemId: String
            var quantityOrdered: Int
            var product: Product
            var fulfillment: ItemFulfillment?
            var cancellation: Cancellation?
        }
        struct PackageItem: Decodable {
            var orderItemId: String
            var quantity: Int
        }
        struct Package: Decodable {
            var packageReferenceId: String
            var carrier: String?
            var shippingService: String?
            var trackingNumber: String?
            var shipTime: String?
            var packageItems: [PackageItem]?
        }
        struct SalesChannel: Decodable { var marketplaceId: String? }
        var orderId: String
        var createdTime: String?
        var lastUpdatedTime: String?
        var salesChannel: SalesChannel
        var fulfillment: Fulfillment?
        var orderItems: [Item]
        var packages: [Package]?
    }
}

extension Order {
    /// An MFN order as the one order model holds it: Amazon's order id as its id, its marketplace in the location's
    /// place (an MFN order has no Amazon location), the end of its ship-by window as the time it is expected to
    /// leave.
    public init(_ order: AmazonMerchantOrder, connectionID: ConnectionID, seenAt: Date) {
        let facts = order.facts
        self.init(
            connectionID: connectionID,
            shipmentID: ShipmentID(rawValue: facts.orderID),
            locationID: LocationID(rawValue: facts.marketplaceID.rawValue),
            marketplaceID: facts.marketplaceID,
            channel: "MFN",
            program: .merchantFulfilled,
            shipmentType: nil,
            originalShipmentID: nil,
            status: facts.status,
            amazonCreatedAt: facts.createdAt,
            amazonUpdatedAt: facts.updatedAt,
            expectedShipAt: facts.shipBy,
            shipment: order.document,
            firstSeenAt: seenAt,
            updatedAt: seenAt,
            state: MerchantOrderMachine.state(of: facts) ?? .awaitingConfirmation,
            source: .mfn
        )
    }
}
