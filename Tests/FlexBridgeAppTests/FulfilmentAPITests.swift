import FlexBridgeApp
import FlexCore
import FlexEngine
import FlexStore
import FlexStoreTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import Synchronization
import Testing

@Suite("Fulfilment through the API")
struct FulfilmentAPITests {
    /// An accepted order with one line of two units, the second line requiring serial numbers.
    static let shipment = """
        {"id":"SHIP-9","status":"ACCEPTED","locationId":"L1","lineItems":[
          {"shipmentLineItemId":"1","merchantSku":"MUG","numberOfUnits":2,"complianceAttributes":{"serialNumberRequirement":"DISALLOWED"}},
          {"shipmentLineItemId":"2","merchantSku":"PHONE","numberOfUnits":1,"complianceAttributes":{"serialNumberRequirement":"REQUIRED"}}],
         "shippingInfo":{"recommendedPackages":[{"dimensions":{"length":{"value":"20","dimensionUnit":"CM"},
           "width":{"value":"10","dimensionUnit":"CM"},"height":{"value":"5","dimensionUnit":"CM"}},
           "weight":{"value":"800","weightUnit":"G"},"lineItems":[{"lineItemId":"1"},{"lineItemId":"2"}]}]}}
        """

    static func withServer(
        notificationSecret: String? = nil,
        _ body: @Sendable (Store, Connection, any TestClientProtocol) async throws -> Void
    ) async throws {
        try await TestDatabase.with(.sqlite) { database in
            var configuration = FlexBridgeConfiguration(
                database: database.url,
                masterKey: .value(MasterKey.generate()),
                port: 0
            )
            configuration.notificationSecret = notificationSecret
            configuration.outbound = .localDevelopment  // the webhook receiver runs on this machine
            let store = try await Store.open(configuration.storeConfiguration)
            let connection = Connection(
                name: "Acme",
                sellingPartnerID: "A1SELLER",
                region: .eu,
                marketplaceIDs: ["A21TJRUUN4KGV"],
                applicationClientID: "c",
                createdAt: Date()
            )
            let now = Date()
            let order = Order(
                connectionID: connection.id,
                shipmentID: "SHIP-9",
                locationID: "L1",
                marketplaceID: "A21TJRUUN4KGV",
                channel: "MFN",
                program: .easyShip,
                shipmentType: "NEW",
                originalShipmentID: nil,
                status: "ACCEPTED",
                amazonCreatedAt: now,
                amazonUpdatedAt: now,
                expectedShipAt: now.addingTimeInterval(3600),
                shipment: shipment,
                firstSeenAt: now,
                updatedAt: now
            )
            try await store.transaction {
                try await $0.insertConnection(connection, clientSecret: "s", actor: "test")
                _ = try await $0.upsertOrder(order, source: "poll")
            }
            let app = try FlexBridgeServer.buildApplication(
                configuration: configuration,
                store: store,
                registry: PrometheusCollectorRegistry(),
                logger: Logger(label: "flexbridge")
            )
            try await app.testAsAdmin(store, .router) { client in try await body(store, connection, client) }
            try await store.close()
        }
    }

    static func json(_ buffer: ByteBuffer) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
    }

    static func post(
        _ client: some TestClientProtocol,
        _ uri: String,
        key: String?,
        _ body: String
    ) async throws -> (HTTPResponse.Status, [String: Any]) {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[HTTPField.Name("Idempotency-Key")!] = key }
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(string: body)) {
            response in
            (response.status, (try? json(response.body)) ?? [:])
        }
    }

    @Test("commands: checked and refused with the field at fault, stored once per idempotency key, listed")
    func commands() async throws {
        try await Self.withServer { store, connection, client in
            let uri = "/api/v1/orders/SHIP-9/commands"
            #expect(try await Self.post(client, uri, key: nil, #"{"type":"confirm"}"#).0 == .badRequest)
            let (noReason, problem) = try await Self.post(client, uri, key: "r1", #"{"type":"reject"}"#)
            #expect(noReason == .badRequest && (problem["error"] as? [String: Any])?["field"] as? String == "reason")
            let (recommended, why) = try await Self.post(client, uri, key: "p1", #"{"type":"pack"}"#)
            #expect(recommended == .badRequest, "line 2 needs serial numbers only the warehouse knows")
            #expect(((why["error"] as? [String: Any])?["message"] as? String)?.contains("PHONE") == true)
            let short =
                #"{"type":"pack","packages":[{"id":"B1","length":20,"width":10,"height":5,"dimensionUnit":"CM","weight":0.8,"weightUnit":"KG","items":[{"lineItemId":"1","quantity":1},{"lineItemId":"2","quantity":1,"serialNumbers":["SN1"]}]}]}"#
            let (shortStatus, shortProblem) = try await Self.post(client, uri, key: "p2", short)
            #expect(
                shortStatus == .badRequest
                    && ((shortProblem["error"] as? [String: Any])?["message"] as? String)?.contains("1 units of line 1")
                        == true
            )
            #expect(
                try await store.read { try await $0.commands(shipmentID: "SHIP-9", connectionID: connection.id) }
                    .isEmpty,
                "nothing refused was stored"
            )

            let (created, command) = try await Self.post(client, uri, key: "c1", #"{"type":"confirm"}"#)
            #expect(created == .accepted && command["status"] as? String == "queued")
            let (again, same) = try await Self.post(client, uri, key: "c1", #"{"type":"confirm"}"#)
            #expect(again == .ok && same["id"] as? String == command["id"] as? String)
            #expect(try await Self.post(client, uri, key: "c1", #"{"type":"ship"}"#).0 == .conflict)
            let good =
                #"{"type":"pack","packages":[{"id":"B1","length":20,"width":10,"height":5,"dimensionUnit":"CM","weight":0.8,"weightUnit":"KG","items":[{"lineItemId":"1","quantity":2},{"lineItemId":"2","quantity":1,"serialNumbers":["SN1"]}]}]}"#
            #expect(try await Self.post(client, uri, key: "p3", good).0 == .accepted)
            #expect(
                try await Self.post(client, "/api/v1/orders/NOPE/commands", key: "x", #"{"type":"confirm"}"#).0
                    == .notFound
            )

            try await client.execute(uri: uri, method: .get) { response in
                let commands = try Self.json(response.body)["commands"] as? [[String: Any]]
                #expect(commands?.map { $0["type"] as? String } == ["confirm", "pack"])
                let packages = (commands?.last?["request"] as? [String: Any])?["packages"] as? [[String: Any]]
                #expect(packages?.first?["weight"] as? Double == 0.8)
            }
            let id = try #require(command["id"] as? String)
            try await client.execute(uri: "/api/v1/commands/\(id)", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/api/v1/orders?state=awaiting_confirmation", method: .get) { response in
                let orders = try Self.json(response.body)["orders"] as? [[String: Any]]
                #expect(orders?.map { $0["shipmentId"] as? String } == ["SHIP-9"])
            }
        }
    }

    @Test("files are listed and downloaded as stored; orders at risk are reported with their reasons")
    func documentsAndRisk() async throws {
        try await Self.withServer { store, connection, client in
            let label = StoredDocument(
                id: "DOC-1",
                connectionID: connection.id,
                shipmentID: "SHIP-9",
                kind: .label,
                packageID: "B1",
                trackingID: "TRK1",
                carrierName: "ATS",
                contentType: "x.application/zpl",
                data: Data("^XA^XZ".utf8),
                createdAt: Date()
            )
            try await store.transaction { try await $0.saveDocument(label) }
            try await client.execute(uri: "/api/v1/orders/SHIP-9/documents", method: .get) { response in
                let documents = try Self.json(response.body)["documents"] as? [[String: Any]]
                #expect(documents?.first?["trackingId"] as? String == "TRK1" && documents?.first?["size"] as? Int == 6)
            }
            try await client.execute(uri: "/api/v1/documents/DOC-1", method: .get) { response in
                #expect(response.status == .ok && String(buffer: response.body) == "^XA^XZ")
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            }
            try await client.execute(uri: "/api/v1/reports/orders-at-risk?withinHours=2", method: .get) { response in
                let orders = try Self.json(response.body)["orders"] as? [[String: Any]]
                #expect(orders?.count == 1 && orders?.first?["reasons"] as? [String] == ["due_soon"])
            }
            try await client.execute(uri: "/api/v1/orders?atRisk=true&atRiskHours=2", method: .get) { response in
                let orders = try Self.json(response.body)["orders"] as? [[String: Any]]
                #expect(orders?.map { $0["shipmentId"] as? String } == ["SHIP-9"])
            }
            try await client.execute(uri: "/api/v1/orders?atRisk=true&atRiskHours=0.5", method: .get) { response in
                let orders = try Self.json(response.body)["orders"] as? [[String: Any]]
                #expect(orders?.isEmpty == true)
            }
            try await client.execute(uri: "/api/v1/reports/orders-at-risk?withinHours=0.5", method: .get) { response in
                let orders = try Self.json(response.body)["orders"] as? [[String: Any]]
                #expect(orders?.isEmpty == true)
            }
        }
    }

    @Test("webhooks: events are POSTed in order with an HMAC-SHA256 signature, and a refused one is sent again")
    func webhooks() async throws {
        #expect(
            WebhookDispatcher.signature(
                body: Data(#"{"a":1}"#.utf8),
                secret: "whsec-test-0123456789",
                timestamp: 1_795_000_000
            )
                == "t=1795000000,v1=31ca6213e583e5af6278d5605515f8d70f5893a25138c5449f2650ae065b10cc",
            "the value Python's hmac module gives"
        )
        let received = Mutex<[(signature: String, id: String, body: String)]>([])
        let refuse = Mutex(true)
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            if refuse.withLock({ $0 }) { return .internalServerError }
            let body = try await request.body.collect(upTo: 1 << 20)
            received.withLock {
                $0.append(
                    (
                        request.headers[HTTPField.Name("FlexBridge-Signature")!] ?? "",
                        request.headers[HTTPField.Name("FlexBridge-Event-Id")!] ?? "",
                        String(buffer: body)
                    )
                )
            }
            return .noContent
        }
        let receiver = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await receiver.test(.live) { hook in
            try await Self.withServer { store, connection, client in
                let (status, webhook) = try await Self.post(
                    client,
                    "/api/v1/webhooks",
                    key: nil,
                    #"{"url":"http://127.0.0.1:\#(hook.port!)/hook","eventTypes":["order.*"],"fromStart":true}"#
                )
                #expect(status == .created)
                let secret = try #require(webhook["secret"] as? String)
                #expect(
                    try await Self.post(client, "/api/v1/webhooks", key: nil, #"{"url":"ftp://x"}"#).0 == .badRequest
                )
                let dispatcher = WebhookDispatcher(store: store, outbound: .localDevelopment)

                try await dispatcher.deliverDue()
                let failedAt = ContinuousClock.now
                let failing = try #require(try await store.read { try await $0.webhooks(account: .default) }.first)
                #expect(
                    failing.attempts == 1 && failing.lastStatus == 500 && failing.position == 0,
                    "a refused event is not passed"
                )

                refuse.withLock { $0 = false }
                // The first retry waits 1 s; "retry now" makes it due at once.
                try await dispatcher.deliverDue()
                if ContinuousClock.now - failedAt < .milliseconds(800) {
                    #expect(received.withLock { $0.isEmpty }, "not due yet")
                }
                var (retried, answer) = try await Self.post(
                    client,
                    "/api/v1/webhooks/\(failing.id)/retry",
                    key: nil,
                    ""
                )
                #expect(retried == .accepted && answer["failingAttempts"] as? Int == 1)
                (retried, answer) = try await Self.post(client, "/api/v1/webhooks/WH-none/retry", key: nil, "")
                #expect(retried == .notFound)
                try await dispatcher.deliverDue()
                let deliveries = received.withLock { $0 }
                #expect(deliveries.count == 1, "one order event: order.created")
                let delivery = try #require(deliveries.first)
                let event = try #require(
                    try JSONSerialization.jsonObject(with: Data(delivery.body.utf8)) as? [String: Any]
                )
                #expect(event["type"] as? String == "order.created" && event["id"] as? String == delivery.id)
                #expect((event["data"] as? [String: Any])?["shipmentId"] as? String == "SHIP-9")
                let timestamp = try #require(Int(delivery.signature.split(separator: ",")[0].dropFirst(2)))
                #expect(
                    delivery.signature
                        == WebhookDispatcher.signature(
                            body: Data(delivery.body.utf8),
                            secret: secret,
                            timestamp: timestamp
                        )
                )
                let caughtUp = try #require(try await store.read { try await $0.webhooks(account: .default) }.first)
                #expect(caughtUp.attempts == 0 && caughtUp.position > 0 && caughtUp.lastStatus == 204)
            }
        }
    }
}
