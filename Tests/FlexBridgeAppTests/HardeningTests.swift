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

/// What an attacker or a careless WMS sends: each request that used to trap the process, poison a row or pass
/// unchecked is answered 400 (or 413) naming the field, changes nothing, and the node keeps answering. On both
/// databases.
@Suite("Hardening: numbers at the boundary, bodies, duplicates")
struct HardeningTests {
    struct Rig: Sendable {
        let store: Store
        let connection: Connection
        let client: any TestClientProtocol

        func call(
            _ method: HTTPRequest.Method,
            _ uri: String,
            json: String? = nil,
            csv: [UInt8]? = nil,
            key: String? = nil
        )
            async throws -> (status: HTTPResponse.Status, body: [String: Any])
        {
            var headers: HTTPFields = [:]
            if json != nil { headers[.contentType] = "application/json" }
            if csv != nil { headers[.contentType] = "text/csv" }
            if let key { headers[HTTPField.Name("Idempotency-Key")!] = key }
            let body = json.map { ByteBuffer(string: $0) } ?? csv.map { ByteBuffer(bytes: $0) }
            return try await client.execute(uri: uri, method: method, headers: headers, body: body) { response in
                let object =
                    (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any]
                return (response.status, object ?? [:])
            }
        }

        /// Expects a 400 whose problem names `field`; returns the message.
        @discardableResult
        func refused(
            _ method: HTTPRequest.Method,
            _ uri: String,
            json: String? = nil,
            key: String? = nil,
            field: String,
            sourceLocation: SourceLocation = #_sourceLocation
        ) async throws -> String {
            let (status, body) = try await call(method, uri, json: json, key: key)
            let error = body["error"] as? [String: Any]
            #expect(status == .badRequest, "\(method) \(uri): \(status) \(body)", sourceLocation: sourceLocation)
            #expect(error?["field"] as? String == field, "\(method) \(uri): \(body)", sourceLocation: sourceLocation)
            let message = error?["message"] as? String ?? ""
            #expect(
                message.hasPrefix(field),
                "the message starts with the field: \(message)",
                sourceLocation: sourceLocation
            )
            return message
        }
    }

    static let shipment = """
        {"id":"SHIP-1","status":"ACCEPTED","locationId":"L1","lineItems":[
          {"shipmentLineItemId":"1","merchantSku":"MUG","numberOfUnits":2}]}
        """

    static func withRig(_ engine: TestEngine, _ body: @Sendable (Rig) async throws -> Void) async throws {
        try await TestDatabase.with(engine) { database in
            let configuration = FlexBridgeConfiguration(
                database: database.url,
                masterKey: .value(MasterKey.generate()),
                port: 0
            )
            let store = try await Store.open(configuration.storeConfiguration)
            do {
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
                try await app.testAsAdmin(store, .router) { client in
                    try await body(Rig(store: store, connection: connection, client: client))
                }
            } catch {
                // An unclosed SQLite connection traps when released: close before the error ends the test.
                try? await store.close()
                throw error
            }
            try await store.close()
        }
    }

    @Test(
        "query numbers out of range, NaN or infinite are refused, naming the parameter",
        arguments: TestEngine.available
    )
    func queryNumbers(engine: TestEngine) async throws {
        try await Self.withRig(engine) { rig in
            for limit in ["-1", "0", "501", "9223372036854775807", "99999999999999999999", "1.5", "abc", "nan"] {
                let message = try await rig.refused(.get, "/api/v1/orders?limit=\(limit)", field: "limit")
                #expect(message.contains("from 1 to 500"), "\(message)")
            }
            for hours in ["1e300", "-1e300", "nan", "inf", "-1", "721"] {
                try await rig.refused(.get, "/api/v1/orders?atRisk=true&atRiskHours=\(hours)", field: "atRiskHours")
                try await rig.refused(.get, "/api/v1/reports/orders-at-risk?withinHours=\(hours)", field: "withinHours")
            }
            try await rig.refused(.get, "/api/v1/events?limit=-1", field: "limit")
            try await rig.refused(.get, "/api/v1/events?after=-5", field: "after")
            try await rig.refused(.get, "/api/v1/connections/\(rig.connection.id)/changes?limit=-1", field: "limit")
            // In range, the same operations answer.
            #expect(try await rig.call(.get, "/api/v1/orders?limit=500").status == .ok)
            #expect(try await rig.call(.get, "/api/v1/orders?atRisk=true&atRiskHours=720").status == .ok)
            #expect(try await rig.call(.get, "/api/v1/reports/orders-at-risk?withinHours=0.5").status == .ok)
            #expect(try await rig.call(.get, "/api/v1/events?after=9223372036854775807").status == .ok)
        }
    }

    @Test("body numbers out of range are refused by path and store nothing", arguments: TestEngine.available)
    func bodyNumbers(engine: TestEngine) async throws {
        try await Self.withRig(engine) { rig in
            let id = rig.connection.id.rawValue
            let pack = { (quantity: String) in
                #"{"type":"pack","packages":[{"id":"B1","length":20,"width":10,"height":5,"dimensionUnit":"CM","weight":800,"weightUnit":"G","items":[{"lineItemId":"1","quantity":1},{"lineItemId":"1","quantity":"#
                    + quantity + "}]}]}"
            }
            try await rig.refused(
                .post,
                "/api/v1/orders/SHIP-1/commands",
                json: pack("9223372036854775807"),
                key: "k1",
                field: "packages[0].items[1].quantity"
            )
            try await rig.refused(
                .post,
                "/api/v1/orders/SHIP-1/commands",
                json: pack("1.5"),
                key: "k2",
                field: "packages[0].items[1].quantity"
            )
            try await rig.refused(
                .post,
                "/api/v1/orders/SHIP-1/commands",
                json: pack("1e300"),
                key: "k3",
                field: "packages[0].items[1].quantity"
            )
            #expect(
                try await rig.store.read {
                    try await $0.commands(shipmentID: "SHIP-1", connectionID: rig.connection.id)
                }.isEmpty
            )

            let settings = "/api/v1/connections/\(id)/settings"
            try await rig.refused(
                .put,
                settings,
                json: #"{"reconciliationIntervalMinutes":9223372036854775807}"#,
                field: "reconciliationIntervalMinutes"
            )
            try await rig.refused(.put, settings, json: #"{"safetyStock":-1}"#, field: "safetyStock")
            try await rig.refused(
                .put,
                settings,
                json: #"{"skuSafetyStock":{"A":1,"B":2000000000}}"#,
                field: "skuSafetyStock.B"
            )
            // A misspelled field is refused instead of resetting the others to their defaults.
            #expect(try await rig.call(.put, settings, json: #"{"safetyStock":3,"quantityCap":10}"#).status == .ok)
            let (misspelled, problem) = try await rig.call(.put, settings, json: #"{"saftyStock":5}"#)
            #expect(misspelled == .badRequest)
            #expect(
                ((problem["error"] as? [String: Any])?["message"] as? String)?.contains("saftyStock") == true,
                "\(problem)"
            )
            #expect(try await rig.call(.get, settings).body["quantityCap"] as? Int == 10, "nothing was reset")

            try await rig.refused(
                .post,
                "/api/v1/connections/\(id)/inventory/sequence-numbers",
                json:
                    #"{"items":[{"locationId":"L1","sku":"MUG","channel":"MFN","sequenceNumber":9223372036854775807}]}"#,
                field: "items[0].sequenceNumber"
            )
            let (csvStatus, csvBody) = try await rig.call(
                .post,
                "/api/v1/connections/\(id)/inventory/sequence-numbers",
                csv: Array("locationId,sku,channel,sequenceNumber\nL1,MUG,MFN,9223372036854775807\n".utf8)
            )
            #expect(csvStatus == .badRequest, "\(csvBody)")
            try await rig.refused(
                .put,
                "/api/v1/stock",
                json: #"{"items":[{"hub":"H","sku":"S","quantity":-1}]}"#,
                field: "items[0].quantity"
            )
            try await rig.refused(
                .put,
                "/api/v1/stock",
                json: #"{"items":[{"hub":"H","sku":"S","quantity":1e10}]}"#,
                field: "items[0].quantity"
            )
            // A name given twice: every value is checked, whichever one a decoder would take.
            try await rig.refused(
                .put,
                "/api/v1/stock",
                json: #"{"items":[{"hub":"H","sku":"S","quantity":5,"quantity":-1}]}"#,
                field: "items[0].quantity"
            )
        }
    }

    @Test(
        "text holding NUL (U+0000), which PostgreSQL cannot store, is refused on both databases, naming where",
        arguments: TestEngine.available
    )
    func nul(engine: TestEngine) async throws {
        try await Self.withRig(engine) { rig in
            try await rig.refused(.get, "/api/v1/orders?after=%00", field: "after")
            try await rig.refused(.get, "/api/v1/orders?status=a%00b", field: "status")
            try await rig.refused(.get, "/api/v1/connections/callback?state=%00", field: "state")
            try await rig.refused(.get, "/api/v1/stock/a%00b", field: "sku")
            try await rig.refused(.get, "/api/v1/orders/a%00b", field: "shipmentId")
            try await rig.refused(
                .put,
                "/api/v1/stock",
                json: #"{"items":[{"hub":"H\u0000","sku":"S","quantity":1}]}"#,
                field: "items[0].hub"
            )
            try await rig.refused(
                .post,
                "/api/v1/connections",
                json:
                    #"{"name":"a\u0000","sellingPartnerId":"A2","region":"EU","marketplaceIds":["A21TJRUUN4KGV"],"clientId":"c","clientSecret":"s"}"#,
                field: "name"
            )
            let (status, _) = try await rig.call(
                .put,
                "/api/v1/stock",
                csv: Array("hub,sku,quantity\nH\u{0},S,1\n".utf8)
            )
            #expect(status == .badRequest)
            #expect(try await rig.store.read { try await $0.connections() }.count == 1, "nothing was stored")
        }
    }

    @Test("a body above the limit is answered 413; a CSV that is not UTF-8 is refused, not stored with U+FFFD")
    func bodies() async throws {
        try await Self.withRig(.sqlite) { rig in
            let huge = [UInt8](repeating: UInt8(ascii: "a"), count: 65 << 20)
            let (status, body) = try await rig.call(.put, "/api/v1/stock", csv: huge)
            #expect(status == .contentTooLarge, "\(body)")
            #expect(((body["error"] as? [String: Any])?["message"] as? String)?.contains("64 MB") == true, "\(body)")
            // JSON is held in memory several times over: a quarter of the CSV limit, said in the answer.
            let bigJSON =
                "{\"items\":[" + String(repeating: "{\"hub\":\"H1\",\"sku\":\"S\",\"quantity\":1},", count: 600_000)
            let (jsonStatus, jsonBody) = try await rig.call(.put, "/api/v1/stock", json: bigJSON + "]}")
            #expect(jsonStatus == .contentTooLarge)
            #expect(
                ((jsonBody["error"] as? [String: Any])?["message"] as? String)?.contains("at most 16 MB") == true,
                "\(jsonBody)"
            )

            var latin1 = Array("hub,sku,quantity\nH1,".utf8)
            latin1 += [0x4B, 0xE4, 0x73, 0x65]  // "Käse" in Latin-1
            latin1 += Array(",4\n".utf8)
            let (refused, problem) = try await rig.call(.put, "/api/v1/stock", csv: latin1)
            #expect(refused == .badRequest)
            #expect(
                ((problem["error"] as? [String: Any])?["message"] as? String)?.contains("line 2, column 5") == true,
                "\(problem)"
            )
            #expect(try await rig.call(.get, "/api/v1/stock/K%EF%BF%BDse").status == .notFound)
        }
    }

    @Test(
        "the same idempotency key sent many times at once stores one command and answers each with it",
        arguments: TestEngine.available
    )
    func concurrentDuplicates(engine: TestEngine) async throws {
        try await Self.withRig(engine) { rig in
            let answers = try await withThrowingTaskGroup(of: (HTTPResponse.Status, String?).self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        let (status, body) = try await rig.call(
                            .post,
                            "/api/v1/orders/SHIP-1/commands",
                            json: #"{"type":"confirm"}"#,
                            key: "same"
                        )
                        return (status, body["id"] as? String)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.allSatisfy { $0.0 == .accepted || $0.0 == .ok }, "\(answers.map(\.0))")
            #expect(Set(answers.compactMap(\.1)).count == 1)
            #expect(answers.filter { $0.0 == .accepted }.count == 1)
            #expect(
                try await rig.store.read {
                    try await $0.commands(shipmentID: "SHIP-1", connectionID: rig.connection.id)
                }.count == 1
            )
        }
    }

    @Test(
        "stock batches sharing SKUs in different orders, written at once, all succeed; the last write of each SKU wins",
        arguments: TestEngine.available
    )
    func concurrentStock(engine: TestEngine) async throws {
        try await Self.withRig(engine) { rig in
            let id = rig.connection.id.rawValue
            #expect(
                try await rig.call(
                    .put,
                    "/api/v1/connections/\(id)/hubs",
                    json: #"{"hub":"H1","locationId":"L1","channel":"MFN"}"#
                ).status == .ok
            )
            let skus = (0..<10).map { "S\($0)" }
            let listings = skus.enumerated().map {
                #"{"clientSkuId":"\#($1)","channelSerialNo":"B00000000\#($0)","channelSkuId":"M\#($1)"}"#
            }
            #expect(
                try await rig.call(
                    .post,
                    "/api/v1/connections/\(id)/listings",
                    json: #"{"listings":[\#(listings.joined(separator: ","))]}"#
                ).status == .ok
            )
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for client in 0..<16 {
                    group.addTask {
                        var status = HTTPResponse.Status.accepted
                        for round in 0..<5 {
                            let order = client % 2 == 0 ? skus : skus.reversed()
                            let items = order.map { #"{"hub":"H1","sku":"\#($0)","quantity":\#(client * 10 + round)}"# }
                            let answer = try await rig.call(
                                .put,
                                "/api/v1/stock",
                                json: #"{"items":[\#(items.joined(separator: ","))]}"#
                            ).status
                            if answer != .accepted { status = answer }
                        }
                        return status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == .accepted }, "\(statuses)")
            // The last write, made alone, is what every SKU and item holds.
            let items = skus.map { #"{"hub":"H1","sku":"\#($0)","quantity":777}"# }
            #expect(
                try await rig.call(.put, "/api/v1/stock", json: #"{"items":[\#(items.joined(separator: ","))]}"#).status
                    == .accepted
            )
            for sku in skus {
                let status = try await rig.store.read {
                    try await $0.stockStatus(of: WarehouseSKU(rawValue: sku), account: .default)
                }
                #expect(status.hubs.map(\.quantity) == [777] && status.items.map(\.desiredQuantity) == [777], "\(sku)")
            }
        }
    }

    @Test(
        "DELETE: a hub mapping, a listing, a connection (disconnected, history kept); stock for an unmapped hub is said so"
    )
    func deletions() async throws {
        try await Self.withRig(.sqlite) { rig in
            let id = rig.connection.id.rawValue
            #expect(
                try await rig.call(
                    .put,
                    "/api/v1/connections/\(id)/hubs",
                    json: #"{"hub":"H1","locationId":"L1","channel":"MFN"}"#
                ).status == .ok
            )
            #expect(
                try await rig.call(
                    .post,
                    "/api/v1/connections/\(id)/listings",
                    json: #"{"listings":[{"clientSkuId":"W1","channelSerialNo":"B000000001","channelSkuId":"M1"}]}"#
                ).status == .ok
            )
            let (accepted, receipt) = try await rig.call(
                .put,
                "/api/v1/stock",
                json: #"{"items":[{"hub":"H1","sku":"W1","quantity":4},{"hub":"NOWHERE","sku":"W1","quantity":4}]}"#
            )
            #expect(accepted == .accepted && receipt["unmappedHubs"] as? [String] == ["NOWHERE"], "\(receipt)")

            #expect(try await rig.call(.delete, "/api/v1/connections/\(id)/listings/NOPE").status == .notFound)
            let (removedListing, listing) = try await rig.call(.delete, "/api/v1/connections/\(id)/listings/M1")
            #expect(removedListing == .ok && listing["removed"] as? Int == 1, "\(listing)")
            #expect(try await rig.call(.delete, "/api/v1/connections/\(id)/listings/M1").status == .notFound)

            #expect(try await rig.call(.delete, "/api/v1/connections/\(id)/hubs/H1?channel=FBA").status == .notFound)
            let (removedHub, hub) = try await rig.call(.delete, "/api/v1/connections/\(id)/hubs/H1")
            #expect(removedHub == .ok && (hub["removed"] as? [[String: Any]])?.count == 1, "\(hub)")
            #expect(
                (try await rig.call(.get, "/api/v1/connections/\(id)/hubs").body["hubs"] as? [Any])?.isEmpty == true
            )

            let (disconnected, connection) = try await rig.call(.delete, "/api/v1/connections/\(id)")
            #expect(
                disconnected == .ok && connection["status"] as? String == "disabled"
                    && connection["authorized"] as? Bool == false
            )
            #expect(try await rig.call(.get, "/api/v1/orders/SHIP-1").status == .ok, "its orders are kept")
            let changes =
                try await rig.call(.get, "/api/v1/connections/\(id)/changes").body["changes"] as? [[String: Any]]
            #expect(
                changes?.contains {
                    $0["setting"] as? String == "status" && $0["newValue"] as? String == "\"disabled\""
                } == true
            )
            #expect(try await rig.call(.delete, "/api/v1/connections/nope").status == .notFound)
        }
    }

    @Test("health answers at once and names the database")
    func health() async throws {
        try await Self.withRig(.sqlite) { rig in
            let (status, body) = try await rig.call(.get, "/health")
            #expect(status == .ok && body["status"] as? String == "ok" && body["unavailable"] == nil)
        }
    }
}
