import FlexBridgeApp
import FlexCore
import FlexStore
import FlexStoreTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import Testing

@Suite("Orders and notifications through the API")
struct OrdersAPITests {
    static let secret = "a-shared-secret-of-some-length"

    @Test(
        "Amazon's notifications need the shared secret and are stored before the answer; orders and events are listed"
    )
    func notificationsOrdersEvents() async throws {
        try await TestDatabase.with(.sqlite) { database in
            var configuration = FlexBridgeConfiguration(
                database: database.url,
                masterKey: .value(MasterKey.generate()),
                port: 0
            )
            configuration.notificationSecret = Self.secret
            let store = try await Store.open(configuration.storeConfiguration)
            let connection = Connection(
                name: "Acme",
                sellingPartnerID: "A1SELLER",
                region: .eu,
                marketplaceIDs: ["A21TJRUUN4KGV"],
                applicationClientID: "c",
                createdAt: Date()
            )
            try await store.transaction { try await $0.insertConnection(connection, clientSecret: "s", actor: "test") }
            let app = try FlexBridgeServer.buildApplication(
                configuration: configuration,
                store: store,
                registry: PrometheusCollectorRegistry(),
                logger: Logger(label: "flexbridge")
            )
            try await app.testAsAdmin(store, .router) { client in
                func notify(seller: String, key: String?, body: String? = nil) async throws -> HTTPResponse.Status {
                    var headers: HTTPFields = [.contentType: "application/json"]
                    if let key { headers[HTTPField.Name("x-api-key")!] = key }
                    let event =
                        body
                        ?? #"{"detail-type":"EXTERNAL_FULFILLMENT_SHIPMENT_STATUS_CHANGE","detail":{"notificationType":"EXTERNAL_FULFILLMENT_SHIPMENT_STATUS_CHANGE","payload":{"externalFulfillmentShipmentNotification":{"merchantId":"\#(seller)","locationId":"L1","shipmentId":"SHIP-1","shipmentStatus":"ACCEPTED"}}}}"#
                    return try await client.execute(
                        uri: "/notifications/amazon",
                        method: .post,
                        headers: headers,
                        body: ByteBuffer(string: event)
                    ) { $0.status }
                }
                #expect(try await notify(seller: "A1SELLER", key: nil) == .unauthorized)
                #expect(try await notify(seller: "A1SELLER", key: "wrong") == .unauthorized)
                #expect(try await notify(seller: "A1SELLER", key: Self.secret, body: #"{"detail":{}}"#) == .badRequest)
                #expect(try await notify(seller: "SOMEONE-ELSE", key: Self.secret) == .ok)
                // ORDER_CHANGE: filed only for a connection that syncs MFN orders in the order's marketplace.
                func orderChange(_ marketplace: String, type: String = "MFN") -> String {
                    #"{"detail-type":"ORDER_CHANGE","detail":{"NotificationType":"ORDER_CHANGE","Payload":{"OrderChangeNotification":{"NotificationLevel":"OrderLevel","SellerId":"A1SELLER","AmazonOrderId":"111-0000000-0000001","OrderChangeType":"OrderStatusChange","Summary":{"MarketplaceId":"\#(marketplace)","OrderStatus":"Canceled","FulfillmentType":"\#(type)"}}}}}"#
                }
                #expect(
                    try await notify(seller: "A1SELLER", key: Self.secret, body: orderChange("A21TJRUUN4KGV")) == .ok
                )
                #expect(
                    try await store.read { try await $0.merchantOrderFetches(connectionID: connection.id, limit: 10) }
                        .isEmpty,
                    "MFN sync is off"
                )
                try await store.transaction {
                    _ = try await $0.updateSettings(of: connection.id, actor: "test") { $0.mfnOrderSyncEnabled = true }
                }
                #expect(
                    try await notify(
                        seller: "A1SELLER",
                        key: Self.secret,
                        body: orderChange("A21TJRUUN4KGV", type: "AFN")
                    ) == .ok
                )
                #expect(
                    try await notify(seller: "A1SELLER", key: Self.secret, body: orderChange("ATVPDKIKX0DER")) == .ok
                )
                #expect(
                    try await store.read { try await $0.merchantOrderFetches(connectionID: connection.id, limit: 10) }
                        .isEmpty,
                    "AFN, or another marketplace"
                )
                #expect(
                    try await notify(seller: "A1SELLER", key: Self.secret, body: orderChange("A21TJRUUN4KGV")) == .ok
                )
                #expect(
                    try await store.read { try await $0.merchantOrderFetches(connectionID: connection.id, limit: 10) }
                        .map(\.orderID) == ["111-0000000-0000001"]
                )
                #expect(try await notify(seller: "A1SELLER", key: Self.secret, body: orderChange("")) == .badRequest)
                #expect(try await notify(seller: "A1SELLER", key: Self.secret) == .ok)
                #expect(
                    try await store.read { try await $0.shipmentFetches(connectionID: connection.id, limit: 10) } == [
                        "SHIP-1"
                    ]
                )

                let now = Date(timeIntervalSince1970: 1_795_000_000)
                let order = Order(
                    connectionID: connection.id,
                    shipmentID: "SHIP-1",
                    locationID: "L1",
                    marketplaceID: "A21TJRUUN4KGV",
                    channel: "MFN",
                    program: .easyShip,
                    shipmentType: "NEW",
                    originalShipmentID: nil,
                    status: "ACCEPTED",
                    amazonCreatedAt: now,
                    amazonUpdatedAt: now,
                    expectedShipAt: now.addingTimeInterval(86400),
                    shipment: #"{"id":"SHIP-1"}"#,
                    firstSeenAt: now,
                    updatedAt: now
                )
                #expect(
                    try await store.transaction { try await $0.upsertOrder(order, source: "notification") } == .created
                )
                #expect(try await store.transaction { try await $0.upsertOrder(order, source: "poll") } == .unchanged)

                try await client.execute(uri: "/api/v1/orders?status=accepted", method: .get) { response in
                    #expect(response.status == .ok)
                    let body =
                        try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                    let orders = body?["orders"] as? [[String: Any]]
                    #expect(orders?.map { $0["shipmentId"] as? String } == ["SHIP-1"])
                    #expect(orders?.first?["program"] as? String == "easy_ship")
                }
                try await client.execute(uri: "/api/v1/orders/SHIP-1", method: .get) { response in
                    let body =
                        try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                    #expect((body?["history"] as? [[String: Any]])?.map { $0["source"] as? String } == ["notification"])
                }
                try await client.execute(uri: "/api/v1/orders/NOPE", method: .get) { #expect($0.status == .notFound) }
                try await client.execute(uri: "/api/v1/events?after=0", method: .get) { response in
                    let body =
                        try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]
                    let events = (body?["events"] as? [[String: Any]])?.filter {
                        ($0["type"] as? String)?.hasPrefix("order.") == true
                    }
                    #expect(events?.map { $0["type"] as? String } == ["order.created"])
                    #expect(events?.first?["subject"] as? String == "SHIP-1")
                }
            }
            try await store.close()
        }
    }

    @Test(
        "a seller connected in EU and NA gets each region's notifications on its own connection",
        arguments: TestEngine.available
    )
    func notificationsByRegion(engine: TestEngine) async throws {
        try await TestDatabase.with(engine) { database in
            var configuration = FlexBridgeConfiguration(
                database: database.url,
                masterKey: .value(MasterKey.generate()),
                port: 0
            )
            configuration.notificationSecret = Self.secret
            let store = try await Store.open(configuration.storeConfiguration)
            let europe = Connection(
                name: "Acme EU",
                sellingPartnerID: "A1SELLER",
                region: .eu,
                marketplaceIDs: ["A21TJRUUN4KGV"],
                applicationClientID: "c",
                createdAt: Date()
            )
            let america = Connection(
                name: "Acme NA",
                sellingPartnerID: "A1SELLER",
                region: .na,
                marketplaceIDs: ["ATVPDKIKX0DER"],
                applicationClientID: "c",
                createdAt: Date().addingTimeInterval(1)
            )
            try await store.transaction { session in
                for (connection, location) in [(europe, "L-EU"), (america, "L-NA")] {
                    try await session.insertConnection(connection, clientSecret: "s", actor: "test")
                    try await session.setLocationMapping(
                        LocationMapping(
                            connectionID: connection.id,
                            hub: "HUB",
                            locationID: LocationID(rawValue: location),
                            channel: .mfn,
                            createdAt: Date()
                        ),
                        actor: "test"
                    )
                }
            }
            let app = try FlexBridgeServer.buildApplication(
                configuration: configuration,
                store: store,
                registry: PrometheusCollectorRegistry(),
                logger: Logger(label: "flexbridge")
            )
            try await app.testAsAdmin(store, .router) { client in
                func notify(_ shipment: String, location: String, awsRegion: String?) async throws {
                    let region = awsRegion.map { #""region":"\#($0)","# } ?? ""
                    let event =
                        #"{\#(region)"detail":{"payload":{"externalFulfillmentShipmentNotification":{"merchantId":"A1SELLER","locationId":"\#(location)","shipmentId":"\#(shipment)","shipmentStatus":"ACCEPTED"}}}}"#
                    let headers: HTTPFields = [
                        .contentType: "application/json", HTTPField.Name("x-api-key")!: Self.secret,
                    ]
                    let status = try await client.execute(
                        uri: "/notifications/amazon",
                        method: .post,
                        headers: headers,
                        body: ByteBuffer(string: event)
                    ) {
                        $0.status
                    }
                    #expect(status == .ok)
                }
                func fetches(_ connection: Connection) async throws -> Set<String> {
                    Set(
                        try await store.read { try await $0.shipmentFetches(connectionID: connection.id, limit: 100) }
                            .map(\.rawValue)
                    )
                }
                // The location tells them apart, whatever bus delivered it.
                try await notify("EU-1", location: "L-EU", awsRegion: nil)
                try await notify("NA-1", location: "L-NA", awsRegion: "eu-west-1")
                // A location not mapped (yet): the region of the EventBridge bus decides.
                try await notify("NA-2", location: "L-NEW", awsRegion: "us-east-1")
                try await notify("EU-2", location: "L-NEW", awsRegion: "eu-west-1")
                // Neither: the connection that already holds the shipment.
                let now = Date()
                let held = Order(
                    connectionID: america.id,
                    shipmentID: "NA-3",
                    locationID: "L-OLD",
                    marketplaceID: "ATVPDKIKX0DER",
                    channel: "MFN",
                    program: .easyShip,
                    shipmentType: "NEW",
                    originalShipmentID: nil,
                    status: "CREATED",
                    amazonCreatedAt: now,
                    amazonUpdatedAt: now,
                    expectedShipAt: nil,
                    shipment: #"{"id":"NA-3"}"#,
                    firstSeenAt: now,
                    updatedAt: now
                )
                _ = try await store.transaction { try await $0.upsertOrder(held, source: "poll") }
                try await notify("NA-3", location: "L-OLD", awsRegion: nil)
                // Nothing tells them apart: both fetch; the wrong region's fetch finds nothing and is dropped.
                try await notify("ANY-1", location: "L-NEW", awsRegion: nil)

                #expect(try await fetches(europe) == ["EU-1", "EU-2", "ANY-1"])
                #expect(try await fetches(america) == ["NA-1", "NA-2", "NA-3", "ANY-1"])
            }
            try await store.close()
        }
    }
}
