import AmazonEFReturns
import AmazonEFShipments
import AmazonOrders
import Foundation

/// The simulator's own operations, for what Amazon's sandbox lacks: catalogue, orders at a rate, ground truth.
extension Simulator {
    /// Makes SKUs known for a merchant in a marketplace, as listings would on Amazon.
    public func addListings(merchantID: String, marketplaceID: String, skus: [String]) throws(ControlError) {
        guard !merchantID.isEmpty, !marketplaceID.isEmpty else {
            throw ControlError("merchantId and marketplaceId are required")
        }
        guard !skus.isEmpty else { throw ControlError("skus must hold at least one SKU") }
        for sku in skus where sku.isEmpty || sku.count > 40 {
            throw ControlError("Each SKU must be 1 to 40 characters, got \"\(sku)\"")
        }
        world.addToCatalog(skus, merchantID: merchantID, marketplaceID: marketplaceID)
    }

    /// Creates a location for a merchant without the sandbox API (the order generator's default warehouse).
    public func ensureLocation(merchantID: String, name: String, marketplaceID: String, channel: String) -> String {
        location(named: name, merchantIDs: [merchantID], marketplaceID: marketplaceID, channels: [channel])[channel]!
    }

    /// One new order at a location of the merchant, with the variety a real seller sees: its lines are SKUs of the
    /// merchant's catalogue, or of `skus` when given.
    @discardableResult
    public func generateOrder(
        merchantID: String,
        locationID: String? = nil,
        skus: [String]? = nil
    ) throws(ControlError) -> String {
        let locations = world.locations.values.filter { $0.merchantIDs.contains(merchantID) }.sorted { $0.id < $1.id }
        let location: World.Location
        if let locationID {
            guard let found = locations.first(where: { $0.id == locationID }) else {
                throw ControlError("Merchant \(merchantID) has no location \(locationID)")
            }
            location = found
        } else if let first = locations.randomElement(using: &random) {
            location = first
        } else {
            let id = ensureLocation(
                merchantID: merchantID,
                name: "Simulated warehouse",
                marketplaceID: "A21TJRUUN4KGV",
                channel: "MFN"
            )
            location = world.locations[id]!
        }
        var types: Set<ShipmentSpecification.OrderType> = []
        let roll = Int.random(in: 0..<100, using: &random)
        switch roll {
        case 0..<3: types = [.giftWrap, .giftMessage]
        case 3..<5: types = [.serial]
        case 5..<6: types = [.hazmat]
        case 6..<8: types = [.multiPiece]
        case 8..<9: types = [.replacement]
        case 9..<10: types = [.crossBorder]
        default: break
        }
        let spec = ShipmentSpecification(
            location: location,
            merchantID: merchantID,
            marketplaceID: location.marketplaceID,
            channel: location.channel,
            carriage: Int.random(in: 0..<10, using: &random) == 0 ? .seller : .marketplace,
            orderTypes: types,
            multipleLineItems: Int.random(in: 0..<5, using: &random) == 0,
            multipleUnits: Int.random(in: 0..<4, using: &random) == 0,
            skus: skus ?? Array(catalogSKUs(merchantID: merchantID, marketplaceID: location.marketplaceID))
        )
        return createShipment(spec).id
    }

    /// Sets the order generator: `ordersPerMinute` new orders for the merchant, 0 to stop.
    public func setOrderGenerator(ordersPerMinute: Double, merchantID: String) throws(ControlError) {
        guard ordersPerMinute >= 0, ordersPerMinute <= 60_000 else {
            throw ControlError("ordersPerMinute must be between 0 and 60000, got \(ordersPerMinute)")
        }
        guard !merchantID.isEmpty else { throw ControlError("merchantId must not be empty") }
        orderGenerator =
            ordersPerMinute > 0 ? OrderGeneratorSettings(ordersPerMinute: ordersPerMinute, merchantID: merchantID) : nil
    }

    /// Sets the MFN order generator: `ordersPerMinute` new MFN orders for the merchant across `marketplaceIDs`, 0 to
    /// stop. About one in ten stays PENDING a while, one in twenty gets a buyer's cancellation request, one in twenty
    /// is cancelled by Amazon before it ships.
    public func setMFNOrderGenerator(
        ordersPerMinute: Double,
        merchantID: String,
        marketplaceIDs: [String]
    ) throws(ControlError) {
        guard ordersPerMinute >= 0, ordersPerMinute <= 60_000 else {
            throw ControlError("ordersPerMinute must be between 0 and 60000, got \(ordersPerMinute)")
        }
        guard !merchantID.isEmpty else { throw ControlError("merchantId must not be empty") }
        guard !marketplaceIDs.isEmpty, marketplaceIDs.allSatisfy({ !$0.isEmpty }) else {
            throw ControlError("marketplaceIds must name at least one marketplace")
        }
        mfnGenerator =
            ordersPerMinute > 0
            ? MFNGeneratorSettings(
                ordersPerMinute: ordersPerMinute,
                merchantID: merchantID,
                marketplaceIDs: marketplaceIDs
            )
            : nil
    }

    /// The generator's next step: makes the orders that are due and says how long to wait for the next one.
    func generatorTick(elapsed: Double) -> Double {
        settleMFNOrders()
        settleFeeds()
        var wait = 0.25
        if let settings = mfnGenerator {
            mfnGeneratorCredit += elapsed * settings.ordersPerMinute / 60
            while mfnGeneratorCredit >= 1 {
                mfnGeneratorCredit -= 1
                generateMFNOrder(merchantID: settings.merchantID, marketplaceIDs: settings.marketplaceIDs)
            }
            wait = min(wait, max(0.001, (1 - mfnGeneratorCredit) * 60 / settings.ordersPerMinute))
        }
        guard let settings = orderGenerator else { return wait }
        generatorCredit += elapsed * settings.ordersPerMinute / 60
        while generatorCredit >= 1 {
            generatorCredit -= 1
            _ = try? generateOrder(merchantID: settings.merchantID)
        }
        return min(wait, max(0.001, (1 - generatorCredit) * 60 / settings.ordersPerMinute))
    }

    /// Expires every access token now, as an hour passing would.
    public func expireAccessTokens() {
        let past = now().addingTimeInterval(-1)
        for token in lwa.accessTokens.keys { lwa.accessTokens[token]?.expiresAt = past }
    }

    /// One item's stock, as `groundTruth()` would list it; nil when nothing was ever written there.
    public func stock(locationID: String, sku: String, channel: String) -> GroundTruth.Stock? {
        let key = World.StockKey(locationID: locationID, sku: sku, channel: channel)
        guard let stock = world.stock[key] else { return nil }
        let reserved = world.reserved(key)
        return .init(
            locationId: locationID,
            skuId: sku,
            channel: channel,
            quantity: stock.quantity,
            reservedQuantity: reserved,
            sellableQuantity: max(0, stock.quantity - reserved),
            clientSequenceNumber: stock.clientSequenceNumber,
            updatedAt: stock.updatedAt
        )
    }

    /// All of Amazon's state, as the simulator holds it: the ground truth tests compare against. Send to Amazon's
    /// operations that are due complete first.
    public func groundTruth() -> GroundTruth {
        settleInboundPlans()
        return GroundTruth(
            locations: world.locations.values.sorted { $0.id < $1.id }.map {
                .init(
                    id: $0.id,
                    name: $0.name,
                    merchantIds: $0.merchantIDs,
                    marketplaceId: $0.marketplaceID,
                    channel: $0.channel
                )
            },
            stock: world.stock.sorted { $0.key < $1.key }.map { key, stock in
                let reserved = world.reserved(key)
                return .init(
                    locationId: key.locationID,
                    skuId: key.sku,
                    channel: key.channel,
                    quantity: stock.quantity,
                    reservedQuantity: reserved,
                    sellableQuantity: max(0, stock.quantity - reserved),
                    clientSequenceNumber: stock.clientSequenceNumber,
                    updatedAt: stock.updatedAt
                )
            },
            shipments: world.shipments.values.sorted { $0.sequence < $1.sequence }.map { record in
                .init(
                    id: record.shipment.id,
                    merchantId: record.merchantID,
                    locationId: record.shipment.locationId,
                    status: record.shipment.status,
                    lastUpdatedDateTime: record.shipment.lastUpdatedDateTime,
                    labels: record.labels.values.sorted { $0.packageID < $1.packageID }.map {
                        .init(
                            packageId: $0.packageID,
                            trackingId: $0.trackingID,
                            carrierName: $0.carrierName,
                            generation: $0.generation
                        )
                    },
                    invoiceId: record.invoiceDocumentID,
                    lines: record.shipment.lineItems.map {
                        .init(lineItemId: $0.shipmentLineItemId, merchantSku: $0.merchantSku, units: $0.numberOfUnits)
                    },
                    cancellation: record.shipment.lineItems.lazy.compactMap(\.cancellations?.first).first.map {
                        .init(
                            type: $0.cancellationType,
                            reason: record.shipment.reason,
                            at: $0.cancelledTimestamp
                        )
                    },
                    history: record.history.map { .init(status: $0.status, at: $0.at) }
                )
            },
            returns: world.returns.values.sorted { $0.sequence < $1.sequence }.map {
                .init(
                    id: $0.item.id,
                    merchantId: $0.merchantID,
                    shipmentId: $0.item.marketplaceChannelDetails.shipmentId ?? "",
                    rmaId: $0.item.returnMetadata.rmaId,
                    merchantSku: $0.item.merchantSku ?? "",
                    units: Int($0.item.numberOfUnits ?? 1),
                    returnType: $0.item.returnType,
                    returnLocationId: $0.item.returnLocationId ?? "",
                    status: $0.item.status,
                    lastUpdatedDateTime: $0.item.lastUpdatedDateTime,
                    history: $0.history.map { .init(status: $0.status, at: $0.at) }
                )
            },
            notifications: notifier?.deliveries ?? [],
            mfnOrders: mfn.orders.values.sorted { $0.sequence < $1.sequence }.map { record in
                .init(
                    id: record.order.orderId,
                    merchantId: record.merchantID,
                    marketplaceId: record.order.salesChannel.marketplaceId ?? "",
                    status: record.order.fulfillment?.fulfillmentStatus ?? "",
                    serviceLevel: record.order.fulfillment?.fulfillmentServiceLevel ?? "",
                    createdTime: Self.timestamp(record.order.createdTime),
                    lastUpdatedTime: Self.timestamp(record.order.lastUpdatedTime),
                    items: record.order.orderItems.map {
                        .init(
                            orderItemId: $0.orderItemId,
                            sellerSku: $0.product.sellerSku ?? "",
                            asin: $0.product.asin ?? "",
                            quantity: $0.quantityOrdered,
                            quantityShipped: $0.fulfillment?.quantityFulfilled ?? 0,
                            buyerRequestedCancel: $0.cancellation?.cancellationRequest != nil
                        )
                    },
                    cancelledBy: record.order.orderItems.first?.cancellation?.cancellationExecution?.cancelledBy,
                    confirmations: record.confirmations.map {
                        .init(
                            packageReferenceId: $0.packageReferenceId,
                            carrierCode: $0.carrierCode,
                            carrierName: $0.carrierName,
                            shippingMethod: $0.shippingMethod,
                            trackingNumber: $0.trackingNumber,
                            shipDate: $0.shipDate,
                            items: $0.items,
                            at: $0.at
                        )
                    },
                    history: record.history.map { .init(status: $0.status, at: $0.at) }
                )
            },
            listings: listings.listings.values.sorted { $0.sequence < $1.sequence }.map { listing in
                .init(
                    merchantId: listing.merchantID,
                    sku: listing.sku,
                    marketplaceIds: listing.marketplaceIDs,
                    asin: listing.asin,
                    productType: listing.productType,
                    fulfillmentChannel: listing.fulfillmentChannel,
                    quantity: listing.quantity,
                    handlingTime: listing.handlingTime,
                    offers: listing.offers.map {
                        .init(
                            marketplaceId: $0.marketplaceID,
                            currency: $0.currency,
                            price: String(describing: $0.ourPrice),
                            salePrice: $0.salePrice.map { String(describing: $0) },
                            saleStart: $0.saleStart,
                            saleEnd: $0.saleEnd,
                            minimumPrice: $0.minimumPrice.map { String(describing: $0) },
                            maximumPrice: $0.maximumPrice.map { String(describing: $0) }
                        )
                    },
                    setBy: listing.setBy,
                    changes: listing.changes,
                    feedMessages: listing.feedMessages ?? 0,
                    updatedAt: Self.timestamp(listing.updatedAt)
                )
            },
            feeds: listings.feeds.feeds.values.sorted { $0.sequence < $1.sequence }.map { feed in
                .init(
                    feedId: feed.id,
                    merchantId: feed.merchantID,
                    feedType: feed.feedType,
                    marketplaceIds: feed.marketplaceIDs,
                    status: feed.status,
                    createdTime: Self.timestamp(feed.createdAt),
                    processingStartTime: feed.startedAt.map(Self.timestamp),
                    processingEndTime: feed.endedAt.map(Self.timestamp),
                    messages: feed.messages,
                    accepted: feed.accepted,
                    invalid: feed.invalid
                )
            },
            fbaInventory: fbaTruth(),
            inboundShipments: fba.inbound.values.sorted { ($0.createdAt, $0.id) < ($1.createdAt, $1.id) }.map {
                .init(
                    shipmentId: $0.id,
                    merchantId: $0.merchantID,
                    marketplaceId: $0.marketplaceID,
                    name: $0.name,
                    status: $0.status,
                    items: $0.items.map { .init(sku: $0.sku, shipped: $0.shipped, received: $0.received) },
                    updatedAt: Self.timestamp($0.updatedAt)
                )
            },
            inboundPlans: inboundPlansTruth()
        )
    }

    /// A stored label or invoice file.
    public func document(id: String) -> (contentType: String, data: Data)? {
        world.documents[id].map { ($0.contentType, $0.data) }
    }
}

struct OrderGeneratorSettings: Sendable {
    var ordersPerMinute: Double
    var merchantID: String
}

struct MFNGeneratorSettings: Sendable {
    var ordersPerMinute: Double
    var merchantID: String
    var marketplaceIDs: [String]
}

/// The simulator's whole state in one JSON document (`GET /_simulator/state`).
public struct GroundTruth: Sendable, Codable {
    public struct Location: Sendable, Codable {
        public var id: String
        public var name: String
        public var merchantIds: [String]
        public var marketplaceId: String
        public var channel: String
    }
    public struct Stock: Sendable, Codable {
        public var locationId: String
        public var skuId: String
        public var channel: String
        public var quantity: Int
        public var reservedQuantity: Int
        public var sellableQuantity: Int
        public var clientSequenceNumber: Int
        /// When the last update was applied.
        public var updatedAt: Date
    }
    public struct Label: Sendable, Codable {
        public var packageId: String
        public var trackingId: String
        public var carrierName: String
        public var generation: Int
    }
    public struct Line: Sendable, Codable {
        public var lineItemId: String
        public var merchantSku: String
        public var units: Int
    }
    public struct Cancellation: Sendable, Codable {
        /// Amazon's cancellation type: MARKETPLACE_CANCELLED, SELLER_REJECTED or SYSTEM_CANCELLED.
        public var type: String
        /// The shipment's `reason`.
        public var reason: String?
        public var at: String?
    }
    public struct StatusChange: Sendable, Codable {
        public var status: String
        public var at: String
    }
    public struct Shipment: Sendable, Codable {
        public var id: String
        public var merchantId: String
        public var locationId: String
        public var status: String
        public var lastUpdatedDateTime: String
        public var labels: [Label]
        public var invoiceId: String?
        public var lines: [Line]
        public var cancellation: Cancellation?
        public var history: [StatusChange]
    }
    public struct Return: Sendable, Codable {
        public var id: String
        public var merchantId: String
        public var shipmentId: String
        public var rmaId: String?
        public var merchantSku: String
        public var units: Int
        public var returnType: String
        public var returnLocationId: String
        public var status: String
        public var lastUpdatedDateTime: String
        /// Every status the return took, oldest first.
        public var history: [StatusChange]
    }
    public var locations: [Location]
    public var stock: [Stock]
    public var shipments: [Shipment]
    public var returns: [Return]
    public var notifications: [NotificationDelivery]
    /// Merchant-fulfilled orders, with every shipment confirmation Amazon applied.
    public var mfnOrders: [MFNOrder]
    /// Listings as the Listings Items API and the JSON listings feed left them, with what set each last.
    public var listings: [Listing]
    /// Every feed submitted, with what its processing report counted.
    public var feeds: [Feed]
    /// FBA stock per seller, marketplace and SKU, as getInventorySummaries reports it.
    public var fbaInventory: [FBAStock]
    /// Inbound shipments to Amazon's fulfilment centres, in creation order.
    public var inboundShipments: [InboundShipment]
    /// Send to Amazon's inbound plans, in creation order, with the confirm and create calls each received.
    public var inboundPlans: [InboundPlan]

    /// An inbound plan of Fulfillment Inbound 2024-03-20; what is not yet chosen is `null`.
    public struct InboundPlan: Sendable, Codable {
        public struct Item: Sendable, Codable {
            public var msku: String
            public var quantity: Int
        }
        /// A shipment of the confirmed placement option (of every offered option before one is confirmed).
        public struct Shipment: Sendable, Codable {
            public var shipmentId: String
            public var shipmentConfirmationId: String?
            public var warehouseId: String
            public var status: String
            public var transportationOptionId: String?
            public var deliveryWindowOptionId: String?
            /// Physical boxes.
            public var boxes: Int
            public var units: Int
            /// confirmDeliveryWindowOptions calls that named the shipment, accepted or refused.
            public var deliveryWindowConfirmCalls: Int

            public func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: CodingKeys.self)
                try container.encode(shipmentId, forKey: .shipmentId)
                try container.encode(shipmentConfirmationId, forKey: .shipmentConfirmationId)
                try container.encode(warehouseId, forKey: .warehouseId)
                try container.encode(status, forKey: .status)
                try container.encode(transportationOptionId, forKey: .transportationOptionId)
                try container.encode(deliveryWindowOptionId, forKey: .deliveryWindowOptionId)
                try container.encode(boxes, forKey: .boxes)
                try container.encode(units, forKey: .units)
                try container.encode(deliveryWindowConfirmCalls, forKey: .deliveryWindowConfirmCalls)
            }
        }
        /// Confirm calls that reached the simulator for the plan, accepted or refused (delivery windows: the sum over
        /// its shipments).
        public struct ConfirmCalls: Sendable, Codable {
            public var packing: Int
            public var placement: Int
            public var transportation: Int
            public var deliveryWindow: Int
        }
        public var inboundPlanId: String
        public var merchantId: String
        public var name: String
        public var status: String
        public var marketplaceId: String
        public var items: [Item]
        public var packingOptionId: String?
        public var placementOptionId: String?
        public var shipments: [Shipment]
        public var confirmCalls: ConfirmCalls
        /// createInboundPlan calls of the seller with the plan's name, accepted or refused.
        public var createCalls: Int

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(inboundPlanId, forKey: .inboundPlanId)
            try container.encode(merchantId, forKey: .merchantId)
            try container.encode(name, forKey: .name)
            try container.encode(status, forKey: .status)
            try container.encode(marketplaceId, forKey: .marketplaceId)
            try container.encode(items, forKey: .items)
            try container.encode(packingOptionId, forKey: .packingOptionId)
            try container.encode(placementOptionId, forKey: .placementOptionId)
            try container.encode(shipments, forKey: .shipments)
            try container.encode(confirmCalls, forKey: .confirmCalls)
            try container.encode(createCalls, forKey: .createCalls)
        }
    }

    public struct InboundShipment: Sendable, Codable {
        public struct Item: Sendable, Codable {
            public var sku: String
            public var shipped: Int
            public var received: Int
        }
        public var shipmentId: String
        public var merchantId: String
        public var marketplaceId: String
        public var name: String
        public var status: String
        public var items: [Item]
        public var updatedAt: String
    }

    public struct FBAStock: Sendable, Codable {
        public var merchantId: String
        public var marketplaceId: String
        public var sku: String
        public var asin: String
        public var fulfillable: Int
        public var inboundWorking: Int
        public var inboundShipped: Int
        public var inboundReceiving: Int
        public var reserved: Int
        public var researching: Int
        public var unfulfillable: Int
        public var total: Int
        public var updatedAt: String
    }

    public struct Listing: Sendable, Codable {
        public struct Offer: Sendable, Codable {
            public var marketplaceId: String
            public var currency: String
            public var price: String
            public var salePrice: String?
            public var saleStart: String?
            public var saleEnd: String?
            public var minimumPrice: String?
            public var maximumPrice: String?
        }
        public var merchantId: String
        public var sku: String
        public var marketplaceIds: [String]
        public var asin: String
        public var productType: String
        public var fulfillmentChannel: String
        public var quantity: Int?
        public var handlingTime: Int?
        public var offers: [Offer]
        /// `patch:<submissionId>`, `feed:<feedId>`, `order:<orderId>` or `control`.
        public var setBy: String
        public var changes: Int
        /// How many of those changes came in feed messages.
        public var feedMessages: Int
        public var updatedAt: String
    }

    public struct Feed: Sendable, Codable {
        public var feedId: String
        public var merchantId: String
        public var feedType: String
        public var marketplaceIds: [String]
        public var status: String
        public var createdTime: String
        public var processingStartTime: String?
        public var processingEndTime: String?
        public var messages: Int
        public var accepted: Int
        public var invalid: Int
    }

    public struct MFNOrder: Sendable, Codable {
        public struct Item: Sendable, Codable {
            public var orderItemId: String
            public var sellerSku: String
            public var asin: String
            public var quantity: Int
            public var quantityShipped: Int
            public var buyerRequestedCancel: Bool
        }
        public struct Confirmation: Sendable, Codable {
            public var packageReferenceId: String
            public var carrierCode: String
            public var carrierName: String?
            public var shippingMethod: String?
            public var trackingNumber: String
            public var shipDate: String
            /// Order item id → units in this package.
            public var items: [String: Int]
            public var at: String
        }
        public var id: String
        public var merchantId: String
        public var marketplaceId: String
        public var status: String
        public var serviceLevel: String
        public var createdTime: String
        public var lastUpdatedTime: String
        public var items: [Item]
        /// Who cancelled it (BUYER, AMAZON), when it was.
        public var cancelledBy: String?
        public var confirmations: [Confirmation]
        public var history: [StatusChange]
    }
}
