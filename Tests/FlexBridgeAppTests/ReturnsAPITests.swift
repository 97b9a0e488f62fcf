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

@Suite("Returns and locations through the API")
struct ReturnsAPITests {
    /// A connection with location L1 mapped to hub HUB1, listing W-1 ↔ M-1, and two returns.
    static func withServer(
        _ test: @Sendable (any TestClientProtocol, Store, Connection) async throws -> Void
    ) async throws {
        try await TestDatabase.with(.sqlite) { database in
            let configuration = FlexBridgeConfiguration(
                database: database.url,
                masterKey: .value(MasterKey.generate()),
                port: 0
            )
            let store = try await Store.open(configuration.storeConfiguration)
            let connection = Connection(
                name: "Acme",
                sellingPartnerID: "A1SELLER",
                region: .eu,
                marketplaceIDs: ["A21TJRUUN4KGV"],
                applicationClientID: "c",
                createdAt: Date()
            )
            let now = Date(timeIntervalSince1970: 1_795_000_000)
            try await store.transaction { session in
                try await session.insertConnection(connection, clientSecret: "s", actor: "test")
                try await session.setLocationMapping(
                    LocationMapping(
                        connectionID: connection.id,
                        hub: "HUB1",
                        locationID: "L1",
                        channel: .mfn,
                        createdAt: now
                    ),
                    actor: "test"
                )
                try await session.upsertListings([
                    Listing(
                        connectionID: connection.id,
                        marketplaceID: "A21TJRUUN4KGV",
                        warehouseSKU: "W-1",
                        merchantSKU: "M-1",
                        asin: "B000000001",
                        updatedAt: now
                    )
                ])
                for (id, status, units) in [("R-1", "DELIVERED", 3), ("R-2", "CANCELLED", 1)] {
                    try await session.upsertReturn(
                        AmazonReturn(
                            facts: ReturnFacts(
                                id: ReturnID(rawValue: id),
                                returnLocationID: "L1",
                                fulfillmentLocationID: "L1",
                                merchantSKU: "M-1",
                                units: units,
                                status: status,
                                returnType: "CUSTOMER",
                                returnSubType: "NORMAL",
                                reason: "CR-DEFECTIVE",
                                rmaID: "RMA-\(id)",
                                shipmentID: "SHIP-1",
                                orderID: "402-1",
                                createdAt: now,
                                updatedAt: now
                            ),
                            document: #"{"id":"\#(id)"}"#
                        ),
                        connectionID: connection.id,
                        source: "poll"
                    )
                }
            }
            let app = try FlexBridgeServer.buildApplication(
                configuration: configuration,
                store: store,
                registry: PrometheusCollectorRegistry(),
                logger: Logger(label: "flexbridge")
            )
            try await app.testAsAdmin(store, .router) { client in try await test(client, store, connection) }
            try await store.close()
        }
    }

    static func call(
        _ client: any TestClientProtocol,
        _ method: HTTPRequest.Method,
        _ uri: String,
        json: String? = nil,
        key: String? = nil
    ) async throws -> (status: HTTPResponse.Status, body: [String: Any]) {
        var headers: HTTPFields = [:]
        if json != nil { headers[.contentType] = "application/json" }
        if let key { headers[HTTPField.Name("Idempotency-Key")!] = key }
        return try await client.execute(
            uri: "/api/v1" + uri,
            method: method,
            headers: headers,
            body: json.map { ByteBuffer(string: $0) }
        ) { response in
            (
                response.status,
                (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
                    ?? [:]
            )
        }
    }

    static func field(_ body: [String: Any]) -> String? { (body["error"] as? [String: Any])?["field"] as? String }

    @Test("returns are listed by filter and page; a receipt is checked, names what is wrong, and changes nothing")
    func returns() async throws {
        try await Self.withServer { client, store, connection in
            let all = try await Self.call(client, .get, "/returns?limit=1")
            #expect((all.body["returns"] as? [[String: Any]])?.map { $0["returnId"] as? String } == ["R-1"])
            #expect(all.body["next"] as? String == "R-1")
            let second = try await Self.call(client, .get, "/returns?limit=1&after=R-1")
            #expect((second.body["returns"] as? [[String: Any]])?.first?["returnId"] as? String == "R-2")
            #expect(second.body["next"] == nil)
            for (query, expected) in [
                ("status=cancelled", ["R-2"]), ("rmaId=RMA-R-1", ["R-1"]), ("shipmentId=SHIP-1", ["R-1", "R-2"]),
                ("orderId=402-1", ["R-1", "R-2"]), ("connectionId=\(connection.id)", ["R-1", "R-2"]),
                ("connectionId=other", []), ("updatedAfter=2099-01-01T00:00:00Z", []),
            ] {
                let answer = try await Self.call(client, .get, "/returns?\(query)")
                let ids = (answer.body["returns"] as? [[String: Any]])?.compactMap { $0["returnId"] as? String }
                #expect(ids == expected, "\(query)")
            }
            let detail = try await Self.call(client, .get, "/returns/R-1")
            #expect((detail.body["return"] as? [String: Any])?["rmaId"] as? String == "RMA-R-1")
            #expect((detail.body["history"] as? [[String: Any]])?.map { $0["status"] as? String } == ["DELIVERED"])
            #expect(try await Self.call(client, .get, "/returns/NOPE").status == .notFound)

            let bad: [(String, String)] = [
                (#"{"items":[{"grade":"sellable","quantity":2}]}"#, "items"),
                (#"{"items":[{"grade":"sellable","quantity":2},{"grade":"sellable","quantity":1}]}"#, "items[1].grade"),
                (#"{"items":[{"grade":"like_new","quantity":3}]}"#, "items[0].grade"),
                (
                    #"{"items":[{"grade":"sellable","quantity":0},{"grade":"missing","quantity":3}]}"#,
                    "items[0].quantity"
                ),
                (#"{"items":[]}"#, "items"),
                (#"{"items":[{"grade":"sellable","quantity":3}],"restock":true,"hub":"NOT-MAPPED"}"#, "hub"),
            ]
            for (json, field) in bad {
                let answer = try await Self.call(client, .post, "/returns/R-1/receive", json: json, key: "k-\(field)")
                #expect(answer.status == .badRequest, "\(json): \(answer.status) \(answer.body)")
                #expect(
                    Self.field(answer.body)?.hasPrefix(field.components(separatedBy: "[").first!) == true,
                    "\(answer.body)"
                )
            }
            let noKey = try await Self.call(
                client,
                .post,
                "/returns/R-1/receive",
                json: #"{"items":[{"grade":"defective","quantity":3}]}"#
            )
            #expect(noKey.status == .badRequest)
            let cancelled = try await Self.call(
                client,
                .post,
                "/returns/R-2/receive",
                json: #"{"items":[{"grade":"sellable","quantity":1}]}"#,
                key: "k"
            )
            #expect(cancelled.status == .conflict, "a cancelled return is not coming back")
            #expect(try await store.read { try await $0.returnRecord("R-1")?.receipt } == nil)

            let receipt =
                #"{"items":[{"grade":"sellable","quantity":2},{"grade":"customer_damaged","quantity":1}],"restock":true,"note":"box torn"}"#
            let received = try await Self.call(client, .post, "/returns/R-1/receive", json: receipt, key: "r1")
            #expect(received.status == .ok, "\(received.body)")
            let stored = received.body["receipt"] as? [String: Any]
            #expect(stored?["restockedHub"] as? String == "HUB1" && stored?["restockedUnits"] as? Int == 2)
            let level = try await store.read { try await $0.stockStatus(of: "W-1", account: .default) }
            #expect(level.hubs.map(\.quantity) == [2])
            #expect(try await Self.call(client, .post, "/returns/R-1/receive", json: receipt, key: "r1").status == .ok)
            #expect(
                try await Self.call(client, .post, "/returns/R-1/receive", json: receipt, key: "r2").status == .conflict
            )
            #expect(
                try await store.read { try await $0.stockStatus(of: "W-1", account: .default) }.hubs.map(\.quantity)
                    == [2]
            )
        }
    }

    @Test(
        "a location's mode: bad requests name the field; Amazon's process refuses what it forbids, saying what is missing"
    )
    func modes() async throws {
        try await Self.withServer { client, store, connection in
            let base = "/connections/\(connection.id)/locations"
            let listed = try await Self.call(client, .get, base)
            let location = (listed.body["locations"] as? [[String: Any]])?.first
            #expect(location?["locationId"] as? String == "L1" && location?["mode"] as? String == "live")
            #expect(try await Self.call(client, .get, "\(base)/NOPE").status == .notFound)
            #expect(
                try await Self.call(client, .put, "\(base)/NOPE/mode", json: #"{"mode":"outgoing"}"#).status
                    == .notFound
            )
            let bad: [(String, String)] = [
                (#"{"mode":"pilot"}"#, "pilotSkus"),
                (
                    #"{"mode":"pilot","pilotSkus":[{"merchantSku":"M-1","maximumQuantity":0}]}"#,
                    "pilotSkus[0].maximumQuantity"
                ),
                (
                    #"{"mode":"pilot","pilotSkus":[{"merchantSku":"M-1","maximumQuantity":1},{"merchantSku":"M-1","maximumQuantity":2}]}"#,
                    "pilotSkus[1].merchantSku"
                ),
                (#"{"mode":"live","pilotSkus":[{"merchantSku":"M-1","maximumQuantity":1}]}"#, "pilotSkus"),
                (#"{"mode":"live","force":true}"#, "reason"),
                (#"{"mode":"outgoing","force":true,"reason":"x"}"#, "force"),
                (#"{"mode":"sideways"}"#, "mode"),
            ]
            for (json, field) in bad {
                let answer = try await Self.call(client, .put, "\(base)/L1/mode", json: json)
                #expect(answer.status == .badRequest, "\(json): \(answer.status) \(answer.body)")
                #expect(Self.field(answer.body) == field, "\(json): \(answer.body)")
            }
            let pilot = try await Self.call(
                client,
                .put,
                "\(base)/L1/mode",
                json: #"{"mode":"pilot","pilotSkus":[{"merchantSku":"M-1","maximumQuantity":2}]}"#
            )
            #expect(pilot.status == .ok && pilot.body["mode"] as? String == "pilot")
            let live = try await Self.call(client, .put, "\(base)/L1/mode", json: #"{"mode":"live"}"#)
            #expect(live.status == .conflict)
            let message = (live.body["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(
                message.contains("a shipped test order") && message.contains("a customer cancellation"),
                "\(message)"
            )
            let handedOver = try await Self.call(client, .put, "\(base)/L1/mode", json: #"{"mode":"handed_over"}"#)
            #expect(handedOver.status == .conflict)
            let forced = try await Self.call(
                client,
                .put,
                "\(base)/L1/mode",
                json: #"{"mode":"live","force":true,"reason":"tested in Seller Central"}"#
            )
            #expect(forced.status == .ok && forced.body["mode"] as? String == "live", "\(forced.body)")
            let changes = try await store.read { try await $0.configChanges(connectionID: connection.id, limit: 10) }
            #expect(
                changes.contains { $0.setting == "location.L1.forcedLive" && $0.newValue == "tested in Seller Central" }
            )
            #expect(changes.contains { $0.setting == "location.L1.mode" && $0.oldValue == "pilot (M-1 ≤ 2)" })
        }
    }
}
