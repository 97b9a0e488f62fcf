import FlexBridgeApp
import FlexCore
import FlexStore
import FlexStoreTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import Testing

@Suite("Inventory through the API")
struct InventoryAPITests {
    func withFlexBridge(
        engine: TestEngine = .sqlite,
        _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        try await TestDatabase.with(engine) { database in
            let configuration = FlexBridgeConfiguration(
                database: database.url,
                masterKey: .value(MasterKey.generate()),
                port: 0
            )
            let store = try await Store.open(configuration.storeConfiguration)
            let app = try FlexBridgeServer.buildApplication(
                configuration: configuration,
                store: store,
                registry: PrometheusCollectorRegistry(),
                logger: Logger(label: "flexbridge")
            )
            try await app.testAsAdmin(store, .router) { client in try await body(client) }
            try await store.close()
        }
    }

    /// Sends a request and returns the status and the JSON body.
    func call(
        _ client: any TestClientProtocol,
        _ method: HTTPRequest.Method,
        _ uri: String,
        json: String? = nil,
        csv: String? = nil
    ) async throws -> (HTTPResponse.Status, [String: Any]) {
        var headers: HTTPFields = [:]
        if json != nil { headers[.contentType] = "application/json" }
        if csv != nil { headers[.contentType] = "text/csv" }
        return try await client.execute(
            uri: uri,
            method: method,
            headers: headers,
            body: (json ?? csv).map { ByteBuffer(string: $0) }
        ) { response in
            let object =
                (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any]
            return (response.status, object ?? [:])
        }
    }

    func message(_ body: [String: Any]) -> String {
        ((body["error"] as? [String: Any])?["message"] as? String) ?? ""
    }

    @Test(
        "inventory items: listed a page at a time, filtered by hub, SKU and status, with the backlog counted",
        arguments: TestEngine.available
    )
    func itemList(engine: TestEngine) async throws {
        try await withFlexBridge(engine: engine) { client in
            let (_, connection) = try await call(
                client,
                .post,
                "/api/v1/connections",
                json:
                    #"{"name":"Acme","sellingPartnerId":"A1","region":"EU","marketplaceIds":["A21TJRUUN4KGV"],"clientId":"c","clientSecret":"s"}"#
            )
            let id = try #require(connection["id"] as? String)
            for (hub, location) in [("BLR1", "ABCD"), ("DEL1", "EFGH")] {
                let (status, _) = try await call(
                    client,
                    .put,
                    "/api/v1/connections/\(id)/hubs",
                    json: #"{"hub":"\#(hub)","locationId":"\#(location)","channel":"MFN"}"#
                )
                #expect(status == .ok)
            }
            let listings =
                "clientSkuId,channelSerialNo,channelSkuId,marketplace\nW1,B000000001,M1,\nW2,B000000002,M2,\n"
            var (status, body) = try await call(client, .post, "/api/v1/connections/\(id)/listings", csv: listings)
            #expect(status == .ok)
            (status, body) = try await call(
                client,
                .put,
                "/api/v1/stock",
                csv: "hub,sku,quantity\nBLR1,W1,5\nBLR1,W2,6\nDEL1,W1,7\n"
            )
            #expect(status == .accepted)

            (status, body) = try await call(client, .get, "/api/v1/inventory/items?connectionId=\(id)&limit=2")
            #expect(status == .ok)
            let counts = try #require(body["counts"] as? [String: Int])
            #expect(counts == ["total": 3, "pending": 3, "failed": 0], "nothing sent: the seller is not authorised")
            let first = try #require(body["items"] as? [[String: Any]])
            #expect(first.count == 2)
            let next = try #require(body["next"] as? String)
            (status, body) = try await call(
                client,
                .get,
                "/api/v1/inventory/items?connectionId=\(id)&limit=2&after=\(next)"
            )
            let second = try #require(body["items"] as? [[String: Any]])
            #expect(second.count == 1 && body["next"] == nil)
            let seen = (first + second).map { "\($0["locationId"] ?? "")/\($0["merchantSku"] ?? "")" }
            #expect(seen == ["ABCD/M1", "ABCD/M2", "EFGH/M1"], "key order, each once")

            (status, body) = try await call(client, .get, "/api/v1/inventory/items?hub=DEL1")
            #expect((body["items"] as? [[String: Any]])?.map { $0["merchantSku"] as? String } == ["M1"])
            #expect((body["counts"] as? [String: Int])?["total"] == 1)
            (status, body) = try await call(client, .get, "/api/v1/inventory/items?sku=W2&status=pending")
            #expect((body["items"] as? [[String: Any]])?.count == 1)
            (status, body) = try await call(client, .get, "/api/v1/inventory/items?status=synced")
            #expect((body["items"] as? [[String: Any]])?.isEmpty == true)
            #expect((body["counts"] as? [String: Int])?["pending"] == 3, "counts leave the status filter out")
            (status, body) = try await call(client, .get, "/api/v1/inventory/items?after=garbage")
            #expect(status == .badRequest && (body["error"] as? [String: Any])?["field"] as? String == "after")
            (status, body) = try await call(client, .get, "/api/v1/inventory/items?status=stuck")
            #expect(status == .badRequest)
        }
    }

    @Test(
        "hubs, listings (CSV with every bad row named), stock in (JSON and CSV), stock status, settings and their log"
    )
    func workflow() async throws {
        try await withFlexBridge { client in
            let (created, connection) = try await call(
                client,
                .post,
                "/api/v1/connections",
                json:
                    #"{"name":"Acme","sellingPartnerId":"A1","region":"EU","marketplaceIds":["A21TJRUUN4KGV"],"clientId":"c","clientSecret":"s"}"#
            )
            #expect(created == .created)
            let id = try #require(connection["id"] as? String)

            var (status, body) = try await call(
                client,
                .put,
                "/api/v1/connections/\(id)/hubs",
                json: #"{"hub":"BLR1","locationId":"ABCD","channel":"MFN"}"#
            )
            #expect(status == .ok)
            (status, body) = try await call(
                client,
                .put,
                "/api/v1/connections/\(id)/hubs",
                json: #"{"hub":"BLR1","locationId":"ABCD","channel":"AFN"}"#
            )
            #expect(status == .badRequest)
            (status, body) = try await call(
                client,
                .put,
                "/api/v1/connections/nope/hubs",
                json: #"{"hub":"BLR1","locationId":"ABCD","channel":"MFN"}"#
            )
            #expect(status == .notFound)
            (status, body) = try await call(client, .get, "/api/v1/connections/\(id)/hubs")
            #expect((body["hubs"] as? [[String: Any]])?.map { $0["locationId"] as? String } == ["ABCD"])

            // A file with a bad row imports nothing and names the row.
            let bad = "clientSkuId,channelSerialNo,channelSkuId,marketplace\nW1,B000000001,M1,\nW2,,M2,\n"
            (status, body) = try await call(client, .post, "/api/v1/connections/\(id)/listings", csv: bad)
            #expect(status == .badRequest)
            #expect(message(body).contains("line 3, column 2 (channelSerialNo)"), "\(message(body))")
            (status, body) = try await call(
                client,
                .post,
                "/api/v1/connections/\(id)/listings",
                json: #"{"listings":[{"clientSkuId":"W1","channelSkuId":"M1","channelSerialNo":"nope"}]}"#
            )
            #expect(status == .badRequest)
            #expect(message(body).contains("listings[0].channelSerialNo"), "\(message(body))")
            let good =
                "clientSkuId,channelSerialNo,channelSkuId,marketplace\nW1,B000000001,M1,\nW2,B000000002,M2,A21TJRUUN4KGV\n"
            (status, body) = try await call(client, .post, "/api/v1/connections/\(id)/listings", csv: good)
            #expect(status == .ok)
            #expect(body["imported"] as? Int == 2 && body["total"] as? Int == 2)

            // Stock: one bad item refuses the batch.
            (status, body) = try await call(
                client,
                .put,
                "/api/v1/stock",
                json: #"{"items":[{"hub":"BLR1","sku":"W1","quantity":5},{"hub":"BLR1","sku":"W2","quantity":-1}]}"#
            )
            #expect(status == .badRequest)
            #expect(((body["error"] as? [String: Any])?["field"] as? String) == "items[1].quantity")
            (status, body) = try await call(client, .get, "/api/v1/stock/W1")
            #expect(status == .notFound)

            (status, body) = try await call(
                client,
                .put,
                "/api/v1/stock",
                json: #"{"items":[{"hub":"BLR1","sku":"W1","quantity":5}]}"#
            )
            #expect(status == .accepted)
            #expect(body["changedLevels"] as? Int == 1 && body["changedItems"] as? Int == 1)
            (status, body) = try await call(
                client,
                .put,
                "/api/v1/stock",
                csv: "hub,sku,quantity\nBLR1,W2,9\nBLR1,W1,5\n"
            )
            #expect(status == .accepted)
            #expect(body["received"] as? Int == 2 && body["changedLevels"] as? Int == 1)
            (status, body) = try await call(client, .put, "/api/v1/stock", csv: "hub,sku,quantity\nBLR1,W2,lots\n")
            #expect(status == .badRequest)
            #expect(message(body).contains("line 2, column 3 (quantity)"))

            (status, body) = try await call(client, .get, "/api/v1/stock/W2")
            #expect(status == .ok)
            #expect((body["hubs"] as? [[String: Any]])?.first?["quantity"] as? Int == 9)
            var location = try #require((body["locations"] as? [[String: Any]])?.first)
            #expect(location["locationId"] as? String == "ABCD" && location["merchantSku"] as? String == "M2")
            #expect(location["pending"] as? Bool == true && location["quantityToSend"] as? Int == 9)
            #expect(location["lastSent"] == nil)

            // Settings: a buffer changes what would be sent; the change is in the log.
            (status, body) = try await call(
                client,
                .put,
                "/api/v1/connections/\(id)/settings",
                json: #"{"safetyStock":2,"skuSafetyStock":{"W2":-1}}"#
            )
            #expect(status == .badRequest)
            #expect(
                ((body["error"] as? [String: Any])?["field"] as? String) == "skuSafetyStock.W2",
                "named as the request body names it"
            )
            (status, body) = try await call(
                client,
                .put,
                "/api/v1/connections/\(id)/settings",
                json: #"{"safetyStock":2,"quantityCap":5}"#
            )
            #expect(status == .ok)
            #expect(body["safetyStock"] as? Int == 2 && body["inventorySyncEnabled"] as? Bool == true)
            (status, body) = try await call(client, .get, "/api/v1/stock/W2")
            location = try #require((body["locations"] as? [[String: Any]])?.first)
            #expect(location["quantityToSend"] as? Int == 5)
            (status, body) = try await call(client, .get, "/api/v1/connections/\(id)/changes")
            let settings = (body["changes"] as? [[String: Any]])?.compactMap { $0["setting"] as? String } ?? []
            #expect(settings.contains("safetyStock") && settings.contains("quantityCap"))

            (status, body) = try await call(
                client,
                .post,
                "/api/v1/connections/\(id)/inventory/sequence-numbers",
                csv: "locationId,sku,channel,sequenceNumber\nABCD,M1,MFN,41\nABCD,M2,AFN,7\n"
            )
            #expect(status == .badRequest)
            #expect(message(body).contains("line 3, column 3 (channel)"), "\(message(body))")
            (status, body) = try await call(
                client,
                .post,
                "/api/v1/connections/\(id)/inventory/sequence-numbers",
                json: #"{"items":[{"locationId":"ABCD","sku":"M2","channel":"MFN","sequenceNumber":9000000000000}]}"#
            )
            #expect(status == .ok && body["imported"] as? Int == 1)
            (status, body) = try await call(client, .get, "/api/v1/stock/W2")
            location = try #require((body["locations"] as? [[String: Any]])?.first)
            #expect((location["amazon"] as? [String: Any]) == nil, "Amazon has reported nothing yet")

            (status, body) = try await call(client, .post, "/api/v1/connections/\(id)/inventory/resync")
            #expect(status == .accepted)
            #expect(body["items"] as? Int == 2)
        }
    }
}
