import Crypto
import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Tracing

/// `POST /notifications/amazon`: where an EventBridge API destination delivers Amazon's
/// EXTERNAL_FULFILLMENT_SHIPMENT_STATUS_CHANGE and ORDER_CHANGE notifications, with the shared secret in `x-api-key`. The shipment to
/// fetch is stored before the answer, so an acknowledged notification is never lost; the connection's order worker
/// is woken to fetch it at once. Not part of openapi.yaml: it is Amazon's side, not the WMS's.
public struct NotificationRoutes: Sendable {
    let store: Store
    let secret: String?

    public init(store: Store, secret: String?) {
        self.store = store
        self.secret = secret
    }

    struct Event: Decodable {
        struct Detail: Decodable {
            struct Payload: Decodable {
                struct Notification: Decodable {
                    var merchantId: String
                    var locationId: String?
                    var shipmentId: String
                    var shipmentStatus: String?
                }
                var externalFulfillmentShipmentNotification: Notification?
            }
            var notificationType: String?
            var payload: Payload?
        }
        var detail: Detail?
        /// The AWS region of the EventBridge bus that delivered it, which tells the Selling Partner API region.
        var region: String?
    }

    /// An ORDER_CHANGE notification (Amazon's schema capitalises its keys).
    struct OrderChangeEvent: Decodable {
        struct Detail: Decodable {
            struct Payload: Decodable {
                struct Notification: Decodable {
                    struct Summary: Decodable {
                        var marketplaceID: String
                        var fulfillmentType: String?
                        enum CodingKeys: String, CodingKey {
                            case marketplaceID = "MarketplaceId"
                            case fulfillmentType = "FulfillmentType"
                        }
                    }
                    var sellerID: String
                    var amazonOrderID: String
                    var summary: Summary
                    enum CodingKeys: String, CodingKey {
                        case sellerID = "SellerId"
                        case amazonOrderID = "AmazonOrderId"
                        case summary = "Summary"
                    }
                }
                var notification: Notification
                enum CodingKeys: String, CodingKey { case notification = "OrderChangeNotification" }
            }
            var payload: Payload
            enum CodingKeys: String, CodingKey { case payload = "Payload" }
        }
        var detail: Detail
    }

    /// Files an ORDER_CHANGE for the connections of the seller that sync MFN orders in the marketplace; an Amazon-
    /// fulfilled order's change (AFN) is not the warehouse's and is acknowledged with nothing filed.
    func orderChange(_ body: ByteBuffer, logger: Logger) async throws -> Response? {
        guard let event = try? JSONDecoder().decode(OrderChangeEvent.self, from: Data(body.readableBytesView)) else {
            return nil
        }
        let notification = event.detail.payload.notification
        let fields = [notification.sellerID, notification.amazonOrderID, notification.summary.marketplaceID]
        guard fields.allSatisfy({ !$0.isEmpty && $0.count <= 100 && !$0.contains("\u{0}") }) else {
            return Self.answer(
                .badRequest,
                "SellerId, AmazonOrderId and Summary.MarketplaceId must be 1 to 100 characters, without NUL (U+0000)."
            )
        }
        guard notification.summary.fulfillmentType != "AFN" else {
            return Self.answer(.ok, "Order \(notification.amazonOrderID) is fulfilled by Amazon; nothing to do.")
        }
        // A span of its own, as a shipment's notification has; the fetch continues its trace.
        let span = startSpan("notification.file")
        defer { span.end() }
        span.attributes["flexbridge.seller"] = notification.sellerID
        span.attributes["flexbridge.order"] = notification.amazonOrderID
        span.attributes["amazon.marketplace"] = notification.summary.marketplaceID
        let trace = TraceContext(of: span.context)
        let connections = try await store.transaction { session in
            try await session.requestMerchantOrderFetch(
                sellingPartnerID: notification.sellerID,
                orderID: notification.amazonOrderID,
                marketplaceID: MarketplaceID(rawValue: notification.summary.marketplaceID),
                trace: trace
            )
        }
        span.attributes["flexbridge.connections"] = connections.map(\.rawValue)
        for connection in connections {
            store.activity.record(.notification, for: connection, at: store.clock.now())
        }
        guard !connections.isEmpty else {
            logger.info(
                "ORDER_CHANGE for no connection that syncs MFN orders",
                metadata: [
                    "seller": "\(notification.sellerID)", "marketplace": "\(notification.summary.marketplaceID)",
                ]
            )
            return Self.answer(
                .ok,
                "No connection syncs MFN orders of seller \(notification.sellerID) in \(notification.summary.marketplaceID); ignored."
            )
        }
        return Self.answer(.ok, "Order \(notification.amazonOrderID) will be fetched.")
    }

    /// An FBA_INVENTORY_AVAILABILITY_CHANGES notification (Amazon's schema capitalises its keys): one SKU's FBA
    /// stock in each marketplace.
    struct FBAAvailabilityEvent: Decodable {
        struct Detail: Decodable {
            struct Payload: Decodable {
                struct Marketplace: Decodable {
                    struct Inventory: Decodable {
                        struct Inbound: Decodable {
                            var working: Int?
                            var shipped: Int?
                            var receiving: Int?
                            enum CodingKeys: String, CodingKey {
                                case working = "Working", shipped = "Shipped", receiving = "Receiving"
                            }
                        }
                        struct Reserved: Decodable {
                            var processing: Int?
                            var transfer: Int?
                            var customerOrder: Int?
                            enum CodingKeys: String, CodingKey {
                                case processing = "WarehouseProcessing", transfer = "WarehouseTransfer"
                                case customerOrder = "PendingCustomerOrder"
                            }
                        }
                        var inbound: Inbound?
                        var fulfillable: Int?
                        var unfulfillable: Int?
                        var researching: Int?
                        var reserved: Reserved?
                        enum CodingKeys: String, CodingKey {
                            case inbound = "InboundQuantityBreakdown", fulfillable = "Fulfillable"
                            case unfulfillable = "Unfulfillable", researching = "Researching"
                            case reserved = "ReservedQuantityBreakdown"
                        }
                    }
                    var marketplaceID: String
                    var itemName: String?
                    var inventory: Inventory
                    enum CodingKeys: String, CodingKey {
                        case marketplaceID = "MarketplaceId", itemName = "ItemName", inventory = "FulfillmentInventory"
                    }
                }
                var sellerID: String
                var sku: String
                var asin: String?
                var fnSku: String?
                var marketplaces: [Marketplace]
                enum CodingKeys: String, CodingKey {
                    case sellerID = "SellerId", sku = "SKU", asin = "ASIN", fnSku = "FNSKU"
                    case marketplaces = "FulfillmentInventoryByMarketplace"
                }
            }
            var type: String
            var eventTime: String?
            var payload: Payload
            enum CodingKeys: String, CodingKey {
                case type = "NotificationType", eventTime = "EventTime", payload = "Payload"
            }
        }
        var detail: Detail
    }

    /// Applies an FBA_INVENTORY_AVAILABILITY_CHANGES to the seller's connections reading FBA stock.
    func fbaAvailability(_ body: ByteBuffer, logger: Logger) async throws -> Response? {
        guard let event = try? JSONDecoder().decode(FBAAvailabilityEvent.self, from: Data(body.readableBytesView)),
            event.detail.type == "FBA_INVENTORY_AVAILABILITY_CHANGES"
        else { return nil }
        let payload = event.detail.payload
        guard [payload.sellerID, payload.sku].allSatisfy({ !$0.isEmpty && $0.count <= 100 && !$0.contains("\u{0}") }),
            payload.marketplaces.count <= 50,
            payload.marketplaces.allSatisfy({ !$0.marketplaceID.isEmpty && $0.marketplaceID.count <= 32 })
        else {
            return Self.answer(
                .badRequest,
                "SellerId and SKU must be 1 to 100 characters without NUL, with at most 50 marketplaces named."
            )
        }
        let at =
            event.detail.eventTime.flatMap { try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse($0) }
            ?? event.detail.eventTime.flatMap { try? Date.ISO8601FormatStyle().parse($0) }
        func units(_ value: Int?) -> Int { min(max(0, value ?? 0), 1_000_000_000) }
        let stock = payload.marketplaces.map { entry in
            let inventory = entry.inventory
            let reserved = inventory.reserved
            return FBAStock(
                marketplaceID: MarketplaceID(rawValue: entry.marketplaceID),
                sku: MerchantSKU(rawValue: payload.sku),
                asin: payload.asin,
                fnSku: payload.fnSku,
                productName: entry.itemName,
                fulfillable: units(inventory.fulfillable),
                inboundWorking: units(inventory.inbound?.working),
                inboundShipped: units(inventory.inbound?.shipped),
                inboundReceiving: units(inventory.inbound?.receiving),
                reserved: units(reserved?.processing) + units(reserved?.transfer) + units(reserved?.customerOrder),
                researching: units(inventory.researching),
                unfulfillable: units(inventory.unfulfillable),
                updatedAt: at
            )
        }
        let connections = try await store.transaction { session in
            try await session.recordFBANotification(
                sellingPartnerID: SellingPartnerID(rawValue: payload.sellerID),
                stock: stock
            )
        }
        for connection in connections {
            store.activity.record(.notification, for: connection, at: store.clock.now())
        }
        logger.debug(
            "FBA_INVENTORY_AVAILABILITY_CHANGES",
            metadata: ["seller": "\(payload.sellerID)", "sku": "\(payload.sku)", "connections": "\(connections.count)"]
        )
        return Self.answer(.ok, "FBA stock of \(payload.sku) recorded for \(connections.count) connection(s).")
    }

    public func register(on router: Router<BasicRequestContext>) {
        router.post("/notifications/amazon") { request, context -> Response in
            guard let secret else {
                return Self.answer(.notFound, "Notifications are off: set FLEXBRIDGE_NOTIFICATION_SECRET.")
            }
            let given = request.headers[HTTPField.Name("x-api-key")!] ?? ""
            guard Self.equal(given, secret) else {
                return Self.answer(.unauthorized, "The x-api-key header does not carry the shared secret.")
            }
            let body = try await request.body.collect(upTo: 1 << 20)
            if let answer = try await orderChange(body, logger: context.logger) { return answer }
            if let answer = try await fbaAvailability(body, logger: context.logger) { return answer }
            guard let event = try? JSONDecoder().decode(Event.self, from: Data(body.readableBytesView)),
                let notification = event.detail?.payload?.externalFulfillmentShipmentNotification
            else {
                return Self.answer(
                    .badRequest,
                    "Not an EXTERNAL_FULFILLMENT_SHIPMENT_STATUS_CHANGE event: detail.payload.externalFulfillmentShipmentNotification with merchantId and shipmentId is required."
                )
            }
            guard
                ![
                    notification.merchantId, notification.shipmentId, notification.shipmentStatus ?? "",
                    notification.locationId ?? "",
                ].contains(where: {
                    $0.contains("\u{0}")
                })
            else {
                return Self.answer(
                    .badRequest,
                    "merchantId, locationId, shipmentId and shipmentStatus must not contain the NUL character (U+0000)."
                )
            }
            // A span of its own, which says nothing of a failure: the request's server span says it by its kind,
            // where this one's error would carry its text.
            let span = startSpan("notification.file")
            defer { span.end() }
            span.attributes["flexbridge.seller"] = notification.merchantId
            span.attributes["flexbridge.order"] = notification.shipmentId
            span.attributes["amazon.shipment_status"] = notification.shipmentStatus
            // The fetch the notification asks for continues this trace.
            let trace = TraceContext(of: span.context)
            let connections = try await store.transaction { session in
                try await session.requestShipmentFetch(
                    sellingPartnerID: notification.merchantId,
                    shipmentID: ShipmentID(rawValue: notification.shipmentId),
                    status: notification.shipmentStatus,
                    locationID: notification.locationId,
                    region: event.region.flatMap(Region.init(eventBridgeRegion:)),
                    trace: trace
                )
            }
            span.attributes["flexbridge.connections"] = connections.map(\.rawValue)
            for connection in connections {
                store.activity.record(.notification, for: connection, at: store.clock.now())
            }
            guard !connections.isEmpty else {
                // Acknowledged, so that Amazon does not retry a seller this installation does not serve.
                context.logger.warning(
                    "notification for an unknown seller",
                    metadata: ["seller": "\(notification.merchantId)"]
                )
                return Self.answer(.ok, "No connection serves seller \(notification.merchantId); ignored.")
            }
            return Self.answer(.ok, "Shipment \(notification.shipmentId) will be fetched.")
        }
    }

    static func answer(_ status: HTTPResponse.Status, _ message: String) -> Response {
        let data = (try? JSONEncoder().encode(["message": message])) ?? Data()
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    /// Compares in time independent of where the strings differ.
    static func equal(_ a: String, _ b: String) -> Bool {
        let key = SymmetricKey(size: .bits256)
        return HMAC<SHA256>.authenticationCode(for: Data(a.utf8), using: key)
            == HMAC<SHA256>.authenticationCode(for: Data(b.utf8), using: key)
    }
}
