import FlexAPI
import FlexBridgeApp
import FlexCore
import FlexStore
import FlexStoreTesting
import FlexUseCases
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import Testing

@testable import FlexEngine

/// Every operation of openapi.yaml, walked as an attacker would: without a key, with a key that may only read, and
/// with a key of another connection.
@Suite("Access: API keys, roles and connections")
struct AccessTests {
    /// One operation of the contract.
    struct Operation: CustomStringConvertible {
        var id: String
        var method: HTTPRequest.Method
        var path: String
        var description: String { "\(id) (\(method) \(path))" }
    }

    /// The operations of openapi.yaml, read from the file the server is generated from.
    static let operations: [Operation] = {
        let spec = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/FlexBridgeAPI/openapi.yaml")
        let text = (try? String(contentsOf: spec, encoding: .utf8)) ?? ""
        var operations: [Operation] = []
        var path: String?
        var method: HTTPRequest.Method?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("components:") { break }
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if line.hasPrefix("    "), !line.hasPrefix("     "), line.hasSuffix(":") {
                method = HTTPRequest.Method(String(line.dropFirst(4).dropLast()).uppercased())
            } else if line.hasPrefix("      operationId: "), let path, let method {
                operations.append(Operation(id: String(line.dropFirst(19)), method: method, path: path))
            }
        }
        return operations
    }()

    /// Two connections of the default account, A and B, and one of everything of B's: an order ready to ship with
    /// its label, a command, a manifest, a listing mapped to a hub with stock, and an admin's webhook.
    struct Rig {
        var store: Store
        var client: any TestClientProtocol
        var admin: String
        var a: Connection
        var b: Connection
        var commandB: String
        var manifestB: String
        var webhook: String
        var adminKeyID: String
        var operatorID = ""
        var planB = ""

        /// The ids a path of B's names.
        func path(_ template: String) -> String {
            template.replacingOccurrences(of: "{connectionId}", with: b.id.rawValue)
                .replacingOccurrences(of: "{shipmentId}", with: "SHIP-B")
                .replacingOccurrences(of: "{commandId}", with: commandB)
                .replacingOccurrences(of: "{documentId}", with: "DOC-B")
                .replacingOccurrences(of: "{manifestId}", with: manifestB)
                .replacingOccurrences(of: "{webhookId}", with: webhook)
                .replacingOccurrences(of: "{keyId}", with: adminKeyID)
                .replacingOccurrences(of: "{operatorId}", with: operatorID)
                .replacingOccurrences(of: "{hub}", with: "HB")
                .replacingOccurrences(of: "{returnId}", with: "RET-B")
                .replacingOccurrences(of: "{locationId}", with: "LB")
                .replacingOccurrences(of: "{merchantSku}", with: "MSKU-B")
                .replacingOccurrences(of: "{sku}", with: "SKU-B")
                .replacingOccurrences(of: "{planId}", with: planB)
        }

        /// Calls `/api/v1` + `uri` with `key` (none when nil); the status, the headers and the JSON body.
        func call(
            _ method: HTTPRequest.Method,
            _ uri: String,
            key: String?,
            json: String? = nil,
            headers extra: HTTPFields = [:]
        ) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, body: [String: Any]) {
            var headers = extra
            if let key { headers[.authorization] = "Bearer \(key)" }
            if json != nil { headers[.contentType] = "application/json" }
            return try await client.execute(
                uri: "/api/v1" + uri,
                method: method,
                headers: headers,
                body: json.map { ByteBuffer(string: $0) }
            ) { response in
                let body =
                    (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView))) as? [String: Any]
                return (response.status, response.headers, body ?? [:])
            }
        }

        func key(_ role: Role, connections: [ConnectionID]? = nil, name: String = "probe") async throws -> String {
            try await TestKeys.make(store, role: role, connections: connections, name: name)
        }
    }

    static let shipmentB = """
        {"id":"SHIP-B","status":"SHIPLABEL_GENERATED","locationId":"LB","lineItems":[
          {"shipmentLineItemId":"1","merchantSku":"MSKU-B","numberOfUnits":1}],
         "packages":[{"id":"PB1","status":"SHIPLABEL_GENERATED","packageLineItems":[{"packageLineItemId":"1","quantity":1}]}]}
        """

    /// A Send to Amazon plan of B's SKU.
    static let planB = #"""
        {"reference":"PO-B","marketplaceId":"A21TJRUUN4KGV","lines":[{"sku":"SKU-B","quantity":2}],
         "sourceAddress":{"name":"B","addressLine1":"1 Road","city":"Pune","postalCode":"411001","countryCode":"IN",
                          "phoneNumber":"1"},
         "boxes":[{"weight":1,"length":10,"width":10,"height":10}]}
        """#

    static func withRig(_ body: @Sendable (Rig) async throws -> Void) async throws {
        try await TestDatabase.with(.sqlite) { database in
            let configuration = FlexBridgeConfiguration(
                database: database.url,
                masterKey: .value(MasterKey.generate()),
                port: 0
            )
            let store = try await Store.open(configuration.storeConfiguration)
            func connection(_ name: String, _ seller: SellingPartnerID) -> Connection {
                Connection(
                    name: name,
                    sellingPartnerID: seller,
                    region: .eu,
                    marketplaceIDs: ["A21TJRUUN4KGV"],
                    applicationClientID: "c",
                    createdAt: Date()
                )
            }
            let a = connection("A", "A1SELLERA")
            let b = connection("B", "A1SELLERB")
            let now = Date()
            let order = Order(
                connectionID: b.id,
                shipmentID: "SHIP-B",
                locationID: "LB",
                marketplaceID: "A21TJRUUN4KGV",
                channel: "MFN",
                program: .easyShip,
                shipmentType: "NEW",
                originalShipmentID: nil,
                status: "SHIPLABEL_GENERATED",
                amazonCreatedAt: now,
                amazonUpdatedAt: now,
                expectedShipAt: now.addingTimeInterval(1800),
                shipment: shipmentB,
                firstSeenAt: now,
                updatedAt: now
            )
            try await store.transaction {
                try await $0.insertConnection(a, clientSecret: "s", actor: "test")
                try await $0.insertConnection(b, clientSecret: "s", actor: "test")
                _ = try await $0.upsertOrder(order, source: "poll")
                try await $0.upsertReturn(
                    AmazonReturn(
                        facts: ReturnFacts(
                            id: "RET-B",
                            returnLocationID: "LB",
                            fulfillmentLocationID: "LB",
                            merchantSKU: "MSKU-B",
                            units: 1,
                            status: "DELIVERED",
                            returnType: "CUSTOMER",
                            returnSubType: "NORMAL",
                            reason: "CR-DEFECTIVE",
                            rmaID: "RMA-B",
                            shipmentID: "SHIP-B",
                            orderID: "ORDER-B",
                            createdAt: now,
                            updatedAt: now
                        ),
                        document: "{}"
                    ),
                    connectionID: b.id,
                    source: "poll"
                )
                try await $0.saveDocument(
                    StoredDocument(
                        id: "DOC-B",
                        connectionID: b.id,
                        shipmentID: "SHIP-B",
                        kind: .label,
                        packageID: "PB1",
                        trackingID: "TRKB",
                        carrierName: "ATS",
                        contentType: "application/pdf",
                        data: Data("%PDF".utf8),
                        createdAt: now
                    )
                )
            }
            let app = try FlexBridgeServer.buildApplication(
                configuration: configuration,
                store: store,
                registry: PrometheusCollectorRegistry(),
                logger: Logger(label: "flexbridge")
            )
            let admin = try await TestKeys.make(store, name: "admin")
            let adminKeyID = try #require(
                try await store.read { try await $0.apiKeys(account: .default) }.first?.id
            )
            try await app.test(.router) { client in
                var rig = Rig(
                    store: store,
                    client: client,
                    admin: admin,
                    a: a,
                    b: b,
                    commandB: "",
                    manifestB: "",
                    webhook: "",
                    adminKeyID: adminKeyID
                )
                // B's things, made by the admin through the API.
                let b = b.id.rawValue
                var answer = try await rig.call(
                    .put,
                    "/connections/\(b)/hubs",
                    key: admin,
                    json: #"{"hub":"HB","locationId":"LB","channel":"MFN"}"#
                )
                try #require(answer.status == .ok, "hub mapping: \(answer.body)")
                answer = try await rig.call(
                    .post,
                    "/connections/\(b)/listings",
                    key: admin,
                    json:
                        #"{"listings":[{"clientSkuId":"SKU-B","channelSerialNo":"B000000001","channelSkuId":"MSKU-B","marketplace":"A21TJRUUN4KGV"}]}"#
                )
                try #require(answer.status == .ok, "listings: \(answer.body)")
                answer = try await rig.call(.post, "/connections/\(b)/inbound-plans", key: admin, json: Self.planB)
                try #require(answer.status == .accepted, "inbound plan: \(answer.body)")
                rig.planB = try #require(answer.body["id"] as? String)
                answer = try await rig.call(
                    .put,
                    "/stock",
                    key: admin,
                    json: #"{"items":[{"hub":"HB","sku":"SKU-B","quantity":5}]}"#
                )
                try #require(answer.status == .accepted, "stock: \(answer.body)")
                answer = try await rig.call(
                    .post,
                    "/manifests",
                    key: admin,
                    json: #"{"connectionId":"\#(b)","locationId":"LB"}"#
                )
                try #require(answer.status == .created, "manifest: \(answer.body)")
                rig.manifestB = try #require(answer.body["id"] as? String)
                answer = try await rig.call(
                    .post,
                    "/orders/SHIP-B/commands",
                    key: admin,
                    json: #"{"type":"ship"}"#,
                    headers: [HTTPField.Name("Idempotency-Key")!: "ship-b"]
                )
                try #require(answer.status == .accepted, "command: \(answer.body)")
                rig.commandB = try #require(answer.body["id"] as? String)
                answer = try await rig.call(
                    .post,
                    "/webhooks",
                    key: admin,
                    json: #"{"url":"https://93.184.215.14/hooks","fromStart":true}"#
                )
                try #require(answer.status == .created, "webhook: \(answer.body)")
                rig.webhook = try #require(answer.body["id"] as? String)
                answer = try await rig.call(
                    .post,
                    "/operators",
                    key: admin,
                    json: #"{"name":"anna","password":"a long password","role":"operator"}"#
                )
                try #require(answer.status == .created, "operator: \(answer.body)")
                rig.operatorID = try #require(answer.body["id"] as? String)
                try await body(rig)
            }
            try await store.close()
        }
    }

    @Test("the permission table names every operation of openapi.yaml, and reading needs nothing more than read")
    func permissionTable() {
        #expect(Self.operations.count >= 43, "the spec was read: \(Self.operations.count) operations")
        let table = APIHandler.operationPermissions
        for operation in Self.operations {
            #expect(table.keys.contains(operation.id), "\(operation) has a permission")
            if operation.method != .get, let needed = table[operation.id] {
                #expect(needed != .read, "\(operation) changes something, so read is not enough")
            }
        }
        #expect(Set(table.keys) == Set(Self.operations.map(\.id)), "no permission for an operation that is gone")
    }

    @Test("without a key, or with a malformed, unknown or revoked one, every operation is 401 with WWW-Authenticate")
    func everyOperationNeedsAKey() async throws {
        try await Self.withRig { rig in
            let revoked = try await rig.key(.admin, name: "revoked")
            let revokedID = try #require(
                try await rig.store.read { try await $0.apiKeys(account: .default) }.first { $0.name == "revoked" }?.id
            )
            _ = try await AccessUseCases(store: rig.store).revokeKey(revokedID, by: .node())
            let unknown = "fbk_00000000_" + String(repeating: "A", count: 43)
            let changesBefore = try await rig.store.read { try await $0.configChanges(limit: 1000).count }
            for operation in Self.operations where operation.id != "completeAuthorization" {
                for (key, why) in [
                    (nil, "no key"), ("nonsense", "malformed"), (unknown, "unknown"), (revoked, "revoked"),
                ] as [(String?, String)] {
                    let answer = try await rig.call(operation.method, rig.path(operation.path), key: key, json: "{}")
                    #expect(answer.status == .unauthorized, "\(operation) with \(why): \(answer.status)")
                    #expect(answer.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true, "\(operation)")
                    let message = (answer.body["error"] as? [String: Any])?["message"] as? String ?? ""
                    #expect(!message.isEmpty, "\(operation) says why")
                    if why == "revoked" { #expect(message.contains("revoked"), "\(message)") }
                }
            }
            let basic = try await rig.call(
                .get,
                "/orders",
                key: nil,
                headers: [.authorization: "Basic YWRtaW46YWRtaW4="]
            )
            #expect(basic.status == .unauthorized)
            let changesAfter = try await rig.store.read { try await $0.configChanges(limit: 1000).count }
            #expect(changesBefore == changesAfter, "a refused request changes nothing")
        }
    }

    @Test("a read key reads, and every operation that changes something is 403, changing nothing")
    func readKeyChangesNothing() async throws {
        try await Self.withRig { rig in
            let read = try await rig.key(.read)
            let changesBefore = try await rig.store.read { try await $0.configChanges(limit: 1000).count }
            for operation in Self.operations where operation.id != "completeAuthorization" {
                let answer = try await rig.call(operation.method, rig.path(operation.path), key: read, json: "{}")
                if APIHandler.operationPermissions[operation.id] == .read {
                    #expect(
                        answer.status != .unauthorized && answer.status != .forbidden,
                        "\(operation) reads: \(answer.status)"
                    )
                } else {
                    #expect(answer.status == .forbidden, "\(operation) with a read key: \(answer.status)")
                    let message = (answer.body["error"] as? [String: Any])?["message"] as? String ?? ""
                    #expect(message.contains("role read"), "\(message)")
                }
            }
            let changesAfter = try await rig.store.read { try await $0.configChanges(limit: 1000).count }
            #expect(changesBefore == changesAfter)
            // A wms key works orders and stock but does not touch settings, connections or keys.
            let wms = try await rig.key(.wms)
            #expect(
                try await rig.call(.put, "/connections/\(rig.b.id)/settings", key: wms, json: "{}").status == .forbidden
            )
            #expect(try await rig.call(.get, "/keys", key: wms).status == .forbidden)
            #expect(try await rig.call(.get, "/orders", key: wms).status == .ok)
        }
    }

    @Test(
        "a key of connection A: every one of B's things is 404, and B is absent from every list, the feed and webhooks"
    )
    func connectionsStayApart() async throws {
        try await Self.withRig { rig in
            let keyA = try await rig.key(.admin, connections: [rig.a.id])
            // Every operation that names one of B's things answers 404, as if it did not exist.
            let bodies: [String: String] = [
                "setRefreshToken": #"{"refreshToken":"Atzr|x"}"#,
                "putSettings": "{}",
                "putHubMapping": #"{"hub":"HX","locationId":"LB","channel":"MFN"}"#,
                "importListings":
                    #"{"listings":[{"clientSkuId":"X","channelSerialNo":"B000000002","channelSkuId":"MX","marketplace":"A21TJRUUN4KGV"}]}"#,
                "importSequenceNumbers":
                    #"{"items":[{"locationId":"LB","sku":"MSKU-B","channel":"MFN","sequenceNumber":1}]}"#,
                "submitCommand": #"{"type":"confirm"}"#,
                "receiveReturn": #"{"items":[{"grade":"sellable","quantity":1}],"restock":true}"#,
                "setLocationMode": #"{"mode":"outgoing"}"#,
                "createInboundPlan": Self.planB,
                "chooseInboundPlacement": #"{"placementOptionId":"pl1"}"#,
                "chooseInboundTransportation": #"{"selections":[{"shipmentId":"sh1","transportationOptionId":"t1"}]}"#,
            ]
            let changesBefore = try await rig.store.read { try await $0.configChanges(limit: 1000).count }
            var probed = 0
            // A SKU's hub levels are the account's, not a connection's: /stock/{sku} is checked below.
            for operation in Self.operations where operation.path.contains("{") && operation.id != "getStock" {
                let answer = try await rig.call(
                    operation.method,
                    rig.path(operation.path),
                    key: keyA,
                    json: bodies[operation.id],
                    headers: [HTTPField.Name("Idempotency-Key")!: "probe"]
                )
                #expect(answer.status == .notFound, "\(operation) of B with A's key: \(answer.status) \(answer.body)")
                probed += 1
            }
            #expect(probed >= 33)
            #expect(try await rig.store.read { try await $0.configChanges(limit: 1000).count } == changesBefore)
            #expect(
                try await rig.call(
                    .post,
                    "/manifests",
                    key: keyA,
                    json: #"{"connectionId":"\#(rig.b.id)","locationId":"LB"}"#
                ).status == .notFound
            )
            // Lists: A's key sees A, and nothing of B; the admin's key sees B's things, so they are there to see.
            func ids(_ uri: String, _ list: String, _ field: String, key: String) async throws -> [String] {
                let answer = try await rig.call(.get, uri, key: key)
                #expect(answer.status == .ok, "\(uri): \(answer.status)")
                return (answer.body[list] as? [[String: Any]] ?? []).compactMap {
                    ($0[field] as? String) ?? (($0["order"] as? [String: Any])?[field] as? String)
                }
            }
            let b = rig.b.id.rawValue
            let lists: [(String, String, String, [String])] = [
                ("/connections", "connections", "id", [b]),
                ("/orders", "orders", "shipmentId", ["SHIP-B"]),
                ("/orders?connectionId=\(b)", "orders", "shipmentId", ["SHIP-B"]),
                ("/orders?atRisk=true", "orders", "shipmentId", ["SHIP-B"]),
                ("/reports/orders-at-risk", "orders", "shipmentId", ["SHIP-B"]),
                ("/manifests", "manifests", "id", [rig.manifestB]),
                ("/inventory/items", "items", "connectionId", [b]),
                ("/events?after=0", "events", "connectionId", [b]),
                ("/webhooks", "webhooks", "id", [rig.webhook]),
                ("/keys", "keys", "id", [rig.adminKeyID]),
                ("/operators", "operators", "id", [rig.operatorID]),
            ]
            for (uri, list, field, bs) in lists {
                let seenByAdmin = try await ids(uri, list, field, key: rig.admin)
                #expect(Set(bs).isSubset(of: Set(seenByAdmin)), "the admin sees B's in \(uri): \(seenByAdmin)")
                let seenByA = try await ids(uri, list, field, key: keyA)
                #expect(Set(bs).isDisjoint(with: Set(seenByA)), "A's key sees none of B's in \(uri): \(seenByA)")
            }
            #expect(try await ids("/connections", "connections", "id", key: keyA) == [rig.a.id.rawValue])
            let stock = try await rig.call(.get, "/stock/SKU-B", key: keyA)
            #expect(stock.status == .ok, "the hub's level is the account's: \(stock.body)")
            #expect((stock.body["locations"] as? [Any])?.isEmpty == true, "but not B's Amazon items: \(stock.body)")
            #expect((try await rig.call(.get, "/stock/SKU-B", key: rig.admin).body["locations"] as? [Any])?.count == 1)
            // A key reaches no further than its maker, and a limited key cannot add connections.
            let widen = try await rig.call(.post, "/keys", key: keyA, json: #"{"name":"x","role":"read"}"#)
            #expect(widen.status == .badRequest, "\(widen.body)")
            let other = try await rig.call(
                .post,
                "/keys",
                key: keyA,
                json: #"{"name":"x","role":"read","connectionIds":["\#(b)"]}"#
            )
            #expect(other.status == .badRequest, "\(other.body)")
            let create = try await rig.call(
                .post,
                "/connections",
                key: keyA,
                json:
                    #"{"name":"C","sellingPartnerId":"A1C","region":"EU","marketplaceIds":["A21TJRUUN4KGV"],"clientId":"c","clientSecret":"s"}"#
            )
            #expect(create.status == .forbidden)
            // A webhook A's key registers delivers A's events only.
            let hook = try await rig.call(.post, "/webhooks", key: keyA, json: #"{"url":"https://93.184.215.14/a"}"#)
            #expect(hook.status == .created)
            let stored = try await rig.store.read { try await $0.webhook(hook.body["id"] as? String ?? "") }
            #expect(stored?.scope == .only([rig.a.id]))
            let events = try await rig.store.read { try await $0.events(after: 0, account: .default, limit: 1000) }
            let ofB = events.filter { $0.connectionID == rig.b.id }
            #expect(!ofB.isEmpty && ofB.allSatisfy { stored?.wants($0) == false })
        }
    }

    @Test("a production node sends no secret to an internal service: endpoints are Amazon's, webhooks public https")
    func outboundDoors() async throws {
        try await Self.withRig { rig in
            for url in [
                "http://127.0.0.1:9000/hook", "https://127.0.0.1/hook", "https://localhost/hook",
                "https://169.254.169.254/latest/meta-data", "https://10.0.0.5/hook", "https://[fd00:ec2::254]/",
            ] {
                let answer = try await rig.call(.post, "/webhooks", key: rig.admin, json: #"{"url":"\#(url)"}"#)
                #expect(answer.status == .badRequest, "\(url): \(answer.body)")
                let message = (answer.body["error"] as? [String: Any])?["message"] as? String ?? ""
                #expect(message.hasPrefix("url "), "\(message)")
            }
            let before = try await rig.call(.get, "/connections", key: rig.admin)
            for endpoint in ["http://127.0.0.1:8090", "https://metadata.internal", "https://10.0.0.5"] {
                let answer = try await rig.call(
                    .post,
                    "/connections",
                    key: rig.admin,
                    json:
                        #"{"name":"C","sellingPartnerId":"A1C","region":"EU","marketplaceIds":["A21TJRUUN4KGV"],"clientId":"c","clientSecret":"s","endpoint":"\#(endpoint)"}"#
                )
                #expect(answer.status == .badRequest, "\(endpoint): \(answer.body)")
            }
            let after = try await rig.call(.get, "/connections", key: rig.admin)
            #expect((before.body["connections"] as? [Any])?.count == (after.body["connections"] as? [Any])?.count)
            let sandbox = try await rig.call(
                .post,
                "/connections",
                key: rig.admin,
                json:
                    #"{"name":"S","sellingPartnerId":"A1S","region":"EU","marketplaceIds":["A21TJRUUN4KGV"],"clientId":"c","clientSecret":"s","endpoint":"https://sandbox.sellingpartnerapi-eu.amazon.com"}"#
            )
            #expect(sandbox.status == .created, "\(sandbox.body)")
            // A connection stored with an internal endpoint (by a development node) is not called: its test says why.
            let inside = Connection(
                name: "Internal",
                sellingPartnerID: "A1INTERNAL",
                region: .eu,
                marketplaceIDs: ["A21TJRUUN4KGV"],
                applicationClientID: "c",
                endpointOverride: URL(string: "http://10.0.0.5:8080"),
                createdAt: Date()
            )
            try await rig.store.transaction {
                try await $0.insertConnection(inside, clientSecret: "s", actor: "test")
                try await $0.authorize(inside.id, refreshToken: "Atzr|x", actor: "test")
            }
            // A webhook stored with a private address is not posted to by a production node: the round fails, the
            // events wait.
            let stored = try await rig.store.transaction {
                try await $0.createWebhook(
                    account: .default,
                    url: URL(string: "http://127.0.0.1:9/hook")!,
                    secret: "0123456789abcdef",
                    eventTypes: [],
                    fromStart: true
                )
            }
            #expect(try await WebhookDispatcher(store: rig.store, outbound: .production).deliver(stored) == 0)
            let failed = try await rig.store.read { try await $0.webhook(stored.id) }
            #expect(failed?.position == 0 && failed?.attempts == 1)
            #expect(
                failed?.lastError?.hasPrefix("Not sent: its url must be an https URL") == true,
                "\(failed?.lastError ?? "")"
            )
            let test = try await rig.call(.post, "/connections/\(inside.id)/test", key: rig.admin)
            let checks = test.body["checks"] as? [[String: Any]] ?? []
            #expect(test.body["ok"] as? Bool == false && checks.first?["name"] as? String == "endpoint", "\(test.body)")
        }
    }

    func secretOfWMS(_ rig: Rig) async throws -> String {
        try await rig.key(.wms, connections: [rig.b.id], name: "handover")
    }

    @Test("keys: made once with their secret, listed without it, used and revoked; each change names its key")
    func keyLifecycle() async throws {
        try await Self.withRig { rig in
            let made = try await rig.call(
                .post,
                "/keys",
                key: rig.admin,
                json: #"{"name":"wms-berlin","role":"wms","connectionIds":["\#(rig.b.id)"]}"#
            )
            #expect(made.status == .created)
            let secret = try #require(made.body["secret"] as? String)
            let id = try #require(made.body["id"] as? String)
            let prefix = try #require(made.body["prefix"] as? String)
            #expect(secret.hasPrefix(prefix + "_") && secret.count == 56)
            #expect(made.body["createdBy"] as? String == "key admin (\(rig.admin.prefix(12)))")
            let listed = try await rig.call(.get, "/keys", key: rig.admin)
            let entry = try #require((listed.body["keys"] as? [[String: Any]])?.first { $0["id"] as? String == id })
            #expect(entry["secret"] == nil && entry["lastUsedAt"] == nil)
            #expect(entry["connectionIds"] as? [String] == [rig.b.id.rawValue])
            // Its first use is recorded; a change it makes is signed with it.
            #expect(try await rig.call(.get, "/orders/SHIP-B", key: secret).status == .ok)
            let used = try await rig.store.read { try await $0.apiKey(id, account: .default) }
            #expect(used?.lastUsedAt != nil)
            #expect(try await rig.call(.delete, "/connections/\(rig.b.id)/listings/MSKU-B", key: secret).status == .ok)
            let changes = try await rig.call(.get, "/connections/\(rig.b.id)/changes", key: rig.admin)
            let actors = (changes.body["changes"] as? [[String: Any]] ?? []).compactMap { $0["actor"] as? String }
            #expect(actors.contains("key wms-berlin (\(prefix))"), "\(actors)")
            // Bad requests say what is wrong and make nothing.
            let bad = try await rig.call(.post, "/keys", key: rig.admin, json: #"{"name":"","role":"read"}"#)
            #expect(bad.status == .badRequest)
            let badRole = try await rig.call(.post, "/keys", key: rig.admin, json: #"{"name":"x","role":"root"}"#)
            #expect(badRole.status == .badRequest)
            for (path, body) in [
                ("/keys", #"{"name":"nobody","role":"read","connectionIds":[]}"#),
                ("/operators", #"{"name":"nobody","password":"a long password","role":"read","connectionIds":[]}"#),
            ] {
                let none = try await rig.call(.post, path, key: rig.admin, json: body)
                let message = (none.body["error"] as? [String: Any])?["message"] as? String ?? ""
                #expect(
                    none.status == .badRequest && message.contains("at least one connection"),
                    "\(path): \(message)"
                )
            }
            // Revoked: the next request is refused; revoking again changes nothing.
            let revoked = try await rig.call(.delete, "/keys/\(id)", key: rig.admin)
            #expect(revoked.status == .ok && revoked.body["revokedAt"] != nil)
            let refused = try await rig.call(.get, "/orders/SHIP-B", key: secret)
            #expect(refused.status == .unauthorized)
            #expect(
                try await rig.call(.delete, "/keys/\(id)", key: rig.admin).body["revokedAt"] as? String
                    == revoked.body["revokedAt"] as? String
            )
            #expect(try await rig.call(.delete, "/keys/key_nope", key: rig.admin).status == .notFound)
            // No key revokes itself by mistake: the admin would be locked out.
            let itself = try await rig.call(.delete, "/keys/\(rig.adminKeyID)", key: rig.admin)
            #expect(itself.status == .conflict)
            #expect(try await rig.call(.get, "/keys", key: rig.admin).status == .ok)
            // Operators: the password goes in, never out; a name is taken once; disabling says when.
            let listedOperators = try await rig.call(.get, "/operators", key: rig.admin)
            let anna = try #require((listedOperators.body["operators"] as? [[String: Any]])?.first)
            #expect(anna["name"] as? String == "anna" && anna["password"] == nil && anna["locked"] as? Bool == false)
            let twice = try await rig.call(
                .post,
                "/operators",
                key: rig.admin,
                json: #"{"name":"anna","password":"another password","role":"read"}"#
            )
            #expect(twice.status == .conflict)
            let short = try await rig.call(
                .post,
                "/operators",
                key: rig.admin,
                json: #"{"name":"bob","password":"short","role":"read"}"#
            )
            #expect(short.status == .badRequest)
            let disabled = try await rig.call(.delete, "/operators/\(rig.operatorID)", key: rig.admin)
            #expect(disabled.status == .ok && disabled.body["disabledAt"] != nil)
            // Commands and manifests name who asked for them.
            let command = try await rig.call(.get, "/commands/\(rig.commandB)", key: rig.admin)
            #expect(command.body["requestedBy"] as? String == "key admin (\(rig.admin.prefix(12)))")
            let handedOver = try await rig.call(.post, "/manifests/\(rig.manifestB)/handover", key: secretOfWMS(rig))
            #expect(handedOver.status == .accepted)
            let manifest = try await rig.call(.get, "/manifests/\(rig.manifestB)", key: rig.admin)
            #expect(manifest.body["createdBy"] as? String == "key admin (\(rig.admin.prefix(12)))")
            #expect((manifest.body["handedOverBy"] as? String)?.hasPrefix("key handover (fbk_") == true)
            let accountLog = try await rig.call(.get, "/changes", key: rig.admin)
            let entries = accountLog.body["changes"] as? [[String: Any]] ?? []
            let byAdmin = "key admin (\(rig.admin.prefix(12)))"
            let signed = Set(entries.map { "\($0["setting"] as? String ?? "") by \($0["actor"] as? String ?? "")" })
            for expected in [
                "apiKey.created by node", "apiKey.created by \(byAdmin)", "apiKey.revoked by \(byAdmin)",
                "operator.created by \(byAdmin)", "operator.disabled by \(byAdmin)",
            ] {
                #expect(signed.contains(expected), "\(expected) in \(signed)")
            }
            #expect(entries.first?["setting"] as? String == "apiKey.created", "newest first: \(entries)")
            #expect(try await rig.call(.get, "/changes", key: secretOfWMS(rig)).status == .forbidden)
            #expect(try await rig.call(.get, "/changes?limit=-5", key: rig.admin).status == .badRequest)
            let log = try await rig.store.read { try await $0.configChanges(limit: 100) }.map(\.setting)
            #expect(log.contains("apiKey.created") && log.contains("apiKey.revoked"))
        }
    }
}
