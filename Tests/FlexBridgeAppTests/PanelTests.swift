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

@Suite("The operators' panel")
struct PanelTests {
    /// A browser of the panel: keeps its cookies, sends forms.
    final class Browser: @unchecked Sendable {
        let client: any TestClientProtocol
        var cookies: [String: String] = [:]

        init(_ client: any TestClientProtocol) { self.client = client }

        struct Page {
            var status: HTTPResponse.Status
            var headers: HTTPFields
            var html: String

            /// The value of the first hidden field `name`.
            func field(_ name: String) -> String? {
                guard let range = html.range(of: #"name="\#(name)" value=""#) else { return nil }
                return String(html[range.upperBound...].prefix { $0 != "\"" })
            }
        }

        func get(_ uri: String) async throws -> Page { try await send(.get, uri, form: nil) }

        func post(_ uri: String, _ form: [String: String]) async throws -> Page {
            try await send(.post, uri, form: form)
        }

        private func send(_ method: HTTPRequest.Method, _ uri: String, form: [String: String]?) async throws -> Page {
            var headers: HTTPFields = [:]
            if !cookies.isEmpty {
                headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; ")
            }
            var body: ByteBuffer?
            if let form {
                headers[.contentType] = "application/x-www-form-urlencoded"
                var components = URLComponents()
                components.queryItems = form.map { URLQueryItem(name: $0.key, value: $0.value) }
                body = ByteBuffer(
                    string: components.percentEncodedQuery?.replacingOccurrences(of: "+", with: "%2B") ?? ""
                )
            }
            let page = try await client.execute(uri: uri, method: method, headers: headers, body: body) { response in
                Page(status: response.status, headers: response.headers, html: String(buffer: response.body))
            }
            for cookie in page.headers[values: .setCookie] {
                let pair = cookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
                let name = String(pair[0])
                let value = pair.count > 1 ? String(pair[1]) : ""
                if value.isEmpty || cookie.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
            }
            return page
        }

        /// Logs in through the login form.
        func logIn(_ name: String, _ password: String, next: String = "/") async throws -> Page {
            let form = try await get("/login?next=\(next)")
            return try await post(
                "/login",
                ["csrf": form.field("csrf") ?? "", "next": next, "name": name, "password": password]
            )
        }
    }

    static let password = "a long enough password"

    /// A server with an admin and a read-only operator, a connection named with HTML in it, and one new order.
    static func withPanel(_ test: @Sendable (Browser, Store) async throws -> Void) async throws {
        try await TestDatabase.with(.sqlite) { database in
            let configuration = FlexBridgeConfiguration(
                database: database.url,
                masterKey: .value(MasterKey.generate()),
                port: 0
            )
            let store = try await Store.open(configuration.storeConfiguration)
            let connection = Connection(
                name: "Acme <script>alert(1)</script>",
                sellingPartnerID: "A1PANEL",
                region: .eu,
                marketplaceIDs: ["A21TJRUUN4KGV"],
                applicationClientID: "c",
                createdAt: Date()
            )
            let now = Date()
            let order = Order(
                connectionID: connection.id,
                shipmentID: "SHIP-P1",
                locationID: "L1",
                marketplaceID: "A21TJRUUN4KGV",
                channel: "FBA",
                program: .sellerFlex,
                shipmentType: "NEW",
                originalShipmentID: nil,
                status: "ACCEPTED",
                amazonCreatedAt: now,
                amazonUpdatedAt: now,
                expectedShipAt: now.addingTimeInterval(3600),
                shipment:
                    #"{"id":"SHIP-P1","status":"ACCEPTED","lineItems":[{"shipmentLineItemId":"1","merchantSku":"<b>SKU</b>","numberOfUnits":2}]}"#,
                firstSeenAt: now,
                updatedAt: now
            )
            try await store.transaction {
                try await $0.insertConnection(connection, clientSecret: "s", actor: "test")
                _ = try await $0.upsertOrder(order, source: "poll")
            }
            let operators = OperatorUseCases(store: store, hashing: .init(logN: 10, blockSize: 8, parallelism: 1))
            _ = try await operators.create(
                name: "ada",
                password: password,
                role: .operator,
                connections: nil,
                by: .node()
            )
            _ = try await operators.create(name: "rea", password: password, role: .read, connections: nil, by: .node())
            _ = try await operators.create(name: "adm", password: password, role: .admin, connections: nil, by: .node())
            let app = try FlexBridgeServer.buildApplication(
                configuration: configuration,
                store: store,
                registry: PrometheusCollectorRegistry(),
                logger: Logger(label: "flexbridge")
            )
            do {
                try await app.test(.router) { client in try await test(Browser(client), store) }
            } catch {
                try await store.close()
                throw error
            }
            try await store.close()
        }
    }

    static func commands(_ store: Store, of shipment: ShipmentID = "SHIP-P1") async throws -> [FulfilmentCommand] {
        guard let order = try await store.read({ try await $0.order(shipment) }) else { return [] }
        return try await store.read { try await $0.commands(shipmentID: shipment, connectionID: order.connectionID) }
    }

    @Test("without a session every page goes to the login page and back; the login form is refused without its token")
    func login() async throws {
        try await Self.withPanel { browser, _ in
            for path in ["/", "/orders", "/orders/SHIP-P1"] {
                let page = try await browser.get(path)
                #expect(page.status == .seeOther, "\(path)")
                #expect(page.headers[.location]?.hasPrefix("/login?next=") == true, "\(path)")
            }
            #expect(try await browser.get("/live").status == .unauthorized, "no live stream without a session")
            let script = try await browser.get("/panel.js")
            #expect(script.headers[.contentType]?.hasPrefix("text/javascript") == true)
            #expect(script.html.contains("new EventSource(\"/live\")"))
            let form = try await browser.get("/login?next=/orders")
            #expect(form.status == .ok && form.field("next") == "/orders")
            #expect(form.headers[.contentSecurityPolicy]?.contains("default-src 'none'") == true)
            #expect(form.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            #expect(!form.html.contains("data-live"), "the login page listens to nothing")
            #expect(form.headers[HTTPField.Name("X-Frame-Options")!] == "DENY")
            let forged = try await browser.post(
                "/login",
                ["csrf": "forged", "name": "ada", "password": Self.password, "next": "/"]
            )
            #expect(forged.status == .forbidden && browser.cookies["flexbridge_session"] == nil)
            let wrong = try await browser.logIn("ada", "not the password")
            #expect(wrong.status == .unauthorized && wrong.html.contains("Wrong name or password."))
            #expect(wrong.html.contains(#"value="ada""#), "the name is kept in the form")
            let signedIn = try await browser.logIn("ada", Self.password, next: "/orders")
            #expect(signedIn.status == .seeOther && signedIn.headers[.location] == "/orders")
            let cookie = signedIn.headers[values: .setCookie].first { $0.hasPrefix("flexbridge_session=") } ?? ""
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && !cookie.contains("Secure"))
            #expect(try await browser.get("/orders").status == .ok)
            // Going back elsewhere after login is refused: only this panel's paths.
            let elsewhere = try await browser.logIn("ada", Self.password, next: "//evil.example/")
            #expect(elsewhere.headers[.location] == "/")
            // A tab a browser would drop ("/\t/evil.example" is "//evil.example" to it) is refused too.
            let form2 = try await browser.get("/login")
            let tabbed = try await browser.post(
                "/login",
                [
                    "csrf": form2.field("csrf") ?? "", "next": "/\t/evil.example", "name": "ada",
                    "password": Self.password,
                ]
            )
            #expect(tabbed.headers[.location] == "/")
        }
    }

    @Test("pages escape what they show; a form without the session's token is refused and changes nothing")
    func formsAndEscaping() async throws {
        try await Self.withPanel { browser, store in
            _ = try await browser.logIn("ada", Self.password)
            let dashboard = try await browser.get("/")
            #expect(dashboard.html.contains("Acme &lt;script&gt;alert(1)&lt;/script&gt;"))
            #expect(!dashboard.html.contains("<script>"))
            let order = try await browser.get("/orders/SHIP-P1")
            #expect(order.html.contains("&lt;b&gt;SKU&lt;/b&gt;") && !order.html.contains("<b>SKU</b>"))
            #expect(order.html.contains(">Confirm</button>") && order.html.contains(">Reject</button>"))
            let csrf = try #require(order.field("csrf"))
            let key = try #require(order.field("key"))
            let forged = try await browser.post(
                "/orders/SHIP-P1/commands",
                ["csrf": "x", "key": key, "type": "confirm"]
            )
            #expect(forged.status == .forbidden)
            #expect(try await Self.commands(store).isEmpty)
            let done = try await browser.post(
                "/orders/SHIP-P1/commands",
                ["csrf": csrf, "key": key, "type": "confirm"]
            )
            #expect(done.status == .seeOther && done.headers[.location] == "/orders/SHIP-P1")
            // The same form sent twice (a double click) is one command: its key is the form's.
            _ = try await browser.post("/orders/SHIP-P1/commands", ["csrf": csrf, "key": key, "type": "confirm"])
            let stored = try await Self.commands(store)
            #expect(stored.map(\.request.type) == [.confirm] && stored.first?.requestedBy == "operator ada")
            let refused = try await browser.post(
                "/orders/SHIP-P1/commands",
                ["csrf": csrf, "key": "other", "type": "bogus"]
            )
            #expect(refused.status == .badRequest && refused.html.contains("Choose one of the actions shown."))
            #expect(try await Self.commands(store).count == 1)
            #expect(try await browser.get("/orders/NOPE").status == .notFound)
            // NUL, which PostgreSQL refuses in text, is refused before anything: in the address and in a form.
            #expect(try await browser.get("/orders?after=%00").status == .badRequest)
            #expect(try await browser.get("/stock?sku=a%00").status == .badRequest)
            let nul = try await browser.post(
                "/orders/SHIP-P1/commands",
                ["csrf": csrf, "key": "n\u{0}", "type": "confirm"]
            )
            #expect(nul.status == .badRequest)
            // Logging out needs the token too, and ends the session.
            #expect(try await browser.post("/logout", ["csrf": "x"]).status == .forbidden)
            #expect(try await browser.post("/logout", ["csrf": csrf]).status == .seeOther)
            #expect(try await browser.get("/").status == .seeOther)
        }
    }

    @Test(
        "a connection's settings and a location's mode from the panel: wrong values named, nothing saved; a read operator changes nothing"
    )
    func connectionPage() async throws {
        try await Self.withPanel { browser, store in
            let connection = try #require(try await store.read { try await $0.connections() }.first)
            let mapping = LocationMapping(
                connectionID: connection.id,
                hub: "HUB1",
                locationID: "L1",
                channel: .fba,
                createdAt: Date()
            )
            try await store.transaction { try await $0.setLocationMapping(mapping, actor: "test") }
            _ = try await browser.logIn("ada", Self.password)
            let page = try await browser.get("/connections/\(connection.id)")
            #expect(
                page.status == .ok && page.html.contains("Save settings") && page.html.contains("Location L1: live")
            )
            let csrf = try #require(page.field("csrf"))
            let wrong = try await browser.post(
                "/connections/\(connection.id)/settings",
                ["csrf": csrf, "safetyStock": "lots", "reconciliationIntervalMinutes": "60", "orderSyncEnabled": "on"]
            )
            #expect(wrong.status == .badRequest && wrong.html.contains("must be a whole number, 0 or more"))
            #expect(wrong.html.contains(#"value="lots""#), "the value entered is shown again")
            #expect(try await store.read { try await $0.connection(connection.id) }?.settings == connection.settings)

            // The MFN settings: a wrong table row is named by its line and nothing is saved; a right one is.
            #expect(page.html.contains(#"name="mfn.A21TJRUUN4KGV" value="on" checked"#))
            var merchant = [
                "csrf": csrf, "safetyStock": "0", "reconciliationIntervalMinutes": "60", "productCode": "asin",
                "mfnEarliestOrderDate": "2026-11-01",
                "shipMethods":
                    "*, NextDay, bluedart, express, Other, Blue Dart\n\nA21TJRUUN4KGV, NextDay, dhl, express",
            ]
            let badRow = try await browser.post("/connections/\(connection.id)/settings", merchant)
            #expect(badRow.status == .badRequest && badRow.html.contains("line 3 has 4 fields"), "\(badRow.html)")
            merchant["shipMethods"] =
                "*, NextDay, bluedart, express, Other, Blue Dart\nA21TJRUUN4KGV, NextDay, dhl, express, Other"
            let noName = try await browser.post("/connections/\(connection.id)/settings", merchant)
            #expect(noName.status == .badRequest && noName.html.contains("line 2: "), "\(noName.html)")
            merchant["mfnEarliestOrderDate"] = "1 Nov"
            merchant["shipMethods"] = "*, NextDay, bluedart, express, Other, Blue Dart, Air"
            let badDay = try await browser.post("/connections/\(connection.id)/settings", merchant)
            #expect(badDay.status == .badRequest && badDay.html.contains("YYYY-MM-DD, got 1 Nov"))
            #expect(try await store.read { try await $0.connection(connection.id) }?.settings == connection.settings)
            merchant["mfnEarliestOrderDate"] = "2026-11-01"
            let saved = try await browser.post("/connections/\(connection.id)/settings", merchant)
            #expect(saved.status == .seeOther)
            let settings = try #require(try await store.read { try await $0.connection(connection.id) }?.settings)
            #expect(settings.mfnMarketplaceIds == [] && settings.productCode == .asin)
            #expect(settings.mfnEarliestOrderDate == "2026-11-01")
            #expect(
                settings.shipMethods == [
                    ShipMethodMapping(
                        serviceLevel: "NextDay",
                        wmsCarrier: "bluedart",
                        wmsMethod: "express",
                        carrierCode: "Other",
                        carrierName: "Blue Dart",
                        shippingMethod: "Air"
                    )
                ]
            )
            let shown = try await browser.get("/connections/\(connection.id)")
            #expect(shown.html.contains("*, NextDay, bluedart, express, Other, Blue Dart, Air</textarea>"))
            #expect(!shown.html.contains(#"value="on" checked> A21TJRUUN4KGV"#) && shown.html.contains("2026-11-01"))
            let badPilot = try await browser.post(
                "/connections/\(connection.id)/locations/L1/mode",
                ["csrf": csrf, "mode": "pilot", "pilotSkus": "SKU-1 two"]
            )
            #expect(badPilot.status == .badRequest && badPilot.html.contains("SKU=most units"))
            let pilot = try await browser.post(
                "/connections/\(connection.id)/locations/L1/mode",
                ["csrf": csrf, "mode": "pilot", "pilotSkus": "SKU-1=2"]
            )
            #expect(pilot.status == .seeOther)
            let live = try await browser.post(
                "/connections/\(connection.id)/locations/L1/mode",
                ["csrf": csrf, "mode": "live"]
            )
            #expect(live.status == .conflict && live.html.contains("cannot go live yet"))
            #expect(
                try await store.read { try await $0.locationState(connectionID: connection.id, locationID: "L1") }.mode
                    == .pilot
            )

            let reader = Browser(browser.client)
            _ = try await reader.logIn("rea", Self.password)
            let readOnly = try await reader.get("/connections/\(connection.id)")
            #expect(readOnly.status == .ok && !readOnly.html.contains("Save settings"))
            let forged = try await reader.post(
                "/connections/\(connection.id)/settings",
                ["csrf": readOnly.field("csrf") ?? "", "safetyStock": "9", "reconciliationIntervalMinutes": "60"]
            )
            #expect(forged.status == .forbidden)
            #expect(try await store.read { try await $0.connection(connection.id) }?.settings.safetyStock == 0)
        }
    }

    @Test("a listings upload (multipart) lists every rejected row and imports nothing; a forged one is refused")
    func listingsUpload() async throws {
        try await Self.withPanel { browser, store in
            let connection = try #require(try await store.read { try await $0.connections() }.first)
            _ = try await browser.logIn("ada", Self.password)
            let page = try await browser.get("/stock")
            #expect(page.status == .ok && page.html.contains("Upload listings"))
            let csrf = try #require(page.field("csrf"))
            func upload(_ csv: String, csrf: String) async throws -> Browser.Page {
                let boundary = "----flexbridge-test-boundary"
                let body = """
                    --\(boundary)\r
                    Content-Disposition: form-data; name="csrf"\r
                    \r
                    \(csrf)\r
                    --\(boundary)\r
                    Content-Disposition: form-data; name="connectionId"\r
                    \r
                    \(connection.id)\r
                    --\(boundary)\r
                    Content-Disposition: form-data; name="file"; filename="listings.csv"\r
                    Content-Type: text/csv\r
                    \r
                    \(csv)\r
                    --\(boundary)--\r

                    """
                return try await browser.client.execute(
                    uri: "/stock/listings",
                    method: .post,
                    headers: [
                        .contentType: "multipart/form-data; boundary=\(boundary)",
                        .cookie: browser.cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; "),
                    ],
                    body: ByteBuffer(string: body)
                ) { Browser.Page(status: $0.status, headers: $0.headers, html: String(buffer: $0.body)) }
            }
            let header = "clientSkuId,channelSerialNo,channelSkuId,marketplace\n"
            let bad = try await upload(
                header + "W-1,NOT-ASIN,M-1,A21TJRUUN4KGV\nW-2,B000000002,M-2,A21TJRUUN4KGV\n,B000000003,M-3,\n",
                csrf: csrf
            )
            #expect(bad.status == .badRequest && bad.html.contains("2 bad rows; nothing was imported."))
            #expect(
                bad.html.contains("<td>2</td>") && bad.html.contains("<td>4</td>")
                    && !bad.html.contains("<td>3</td><td>")
            )
            #expect(try await store.read { try await $0.listingCount(for: connection.id) } == 0)
            let withNUL = try await upload(header + "W-\u{0},B000000002,M-2,A21TJRUUN4KGV\n", csrf: csrf)
            #expect(withNUL.status == .badRequest && withNUL.html.contains("NUL byte"))
            let forged = try await upload(header + "W-2,B000000002,M-2,A21TJRUUN4KGV\n", csrf: "forged")
            #expect(forged.status == .forbidden)
            let good = try await upload(header + "W-2,B000000002,M-2,A21TJRUUN4KGV\n", csrf: csrf)
            #expect(good.status == .ok && good.html.contains("1 listing imported"))
            #expect(try await store.read { try await $0.listingCount(for: connection.id) } == 1)
        }
    }

    @Test(
        "pack from the panel: Amazon's box prefilled, a wrong value shown at its field and nothing queued; a cancelled packed order says what to put back"
    )
    func packAndPutBack() async throws {
        try await Self.withPanel { browser, store in
            let connection = try #require(try await store.read { try await $0.connections() }.first)
            let now = Date()
            func order(_ id: ShipmentID, _ status: String, at: Date) -> Order {
                Order(
                    connectionID: connection.id,
                    shipmentID: id,
                    locationID: "L1",
                    marketplaceID: "A21TJRUUN4KGV",
                    channel: "FBA",
                    program: .sellerFlex,
                    shipmentType: "NEW",
                    originalShipmentID: nil,
                    status: status,
                    amazonCreatedAt: now,
                    amazonUpdatedAt: at,
                    expectedShipAt: now.addingTimeInterval(3600),
                    shipment: """
                        {"id":"\(id)","status":"\(status)","lineItems":[{"shipmentLineItemId":"1","merchantSku":"MUG","numberOfUnits":2}],\
                        "shippingInfo":{"recommendedPackages":[{"dimensions":{"length":{"value":"30","dimensionUnit":"CM"},\
                        "width":{"value":"20","dimensionUnit":"CM"},"height":{"value":"10","dimensionUnit":"CM"}},\
                        "weight":{"value":"1.5","weightUnit":"KG"},"lineItems":[{"lineItemId":"1"}]}]},\
                        "packages":[{"id":"P1"}]}
                        """,
                    firstSeenAt: now,
                    updatedAt: now
                )
            }
            try await store.transaction {
                _ = try await $0.upsertOrder(order("SHIP-PACK", "CONFIRMED", at: now), source: "poll")
                _ = try await $0.upsertOrder(order("SHIP-GONE", "PACKAGE_CREATED", at: now), source: "poll")
                _ = try await $0.upsertOrder(
                    order("SHIP-GONE", "CANCELLED", at: now.addingTimeInterval(60)),
                    source: "notification"
                )
            }
            _ = try await browser.logIn("ada", Self.password)
            let page = try await browser.get("/orders/SHIP-PACK")
            #expect(page.status == .ok && page.html.contains(#"name="p0.length" value="30""#))
            #expect(
                page.html.contains(#"name="p0.weight" value="1.5""#)
                    && page.html.contains("<option selected>KG</option>")
            )
            let csrf = try #require(page.field("csrf"))
            var form = [
                "csrf": csrf, "key": "pack-1", "type": "pack", "p0.length": "30", "p0.width": "20",
                "p0.height": "10", "p0.dimensionUnit": "CM", "p0.weight": "abc", "p0.weightUnit": "KG",
            ]
            let notNumber = try await browser.post("/orders/SHIP-PACK/commands", form)
            #expect(notNumber.status == .badRequest)
            #expect(notNumber.html.contains(#"name="p0.weight" value="abc""#))
            #expect(notNumber.html.contains("must be a number such as 12.5, got abc</span>"))
            form["p0.weight"] = "0.001"
            let tooLight = try await browser.post("/orders/SHIP-PACK/commands", form)
            #expect(
                tooLight.status == .badRequest && tooLight.html.contains("must be at least 5 g, got 0.001 KG</span>")
            )
            for wrong in ["NaN", "12.5.3", "1..5", "1½", "-1", "1e3"] {
                form["p0.weight"] = wrong
                let refused = try await browser.post("/orders/SHIP-PACK/commands", form)
                #expect(refused.status == .badRequest, "\(wrong)")
            }
            let queued = {
                try await store.read { try await $0.commands(shipmentID: "SHIP-PACK", connectionID: connection.id) }
            }
            #expect(try await queued().isEmpty)
            form["p0.weight"] = "1.25"
            let packed = try await browser.post("/orders/SHIP-PACK/commands", form)
            #expect(packed.status == .seeOther)
            let command = try #require(try await queued().first)
            #expect(command.request.type == .pack && command.request.packages?.first?.weight == Decimal(string: "1.25"))
            #expect(command.request.packages?.first?.items.map(\.quantity) == [2])

            let gone = try await browser.get("/orders/SHIP-GONE")
            #expect(
                gone.html.contains(
                    "cancelled after it was packed (take the packages apart): return 2 × MUG; to stock (packages P1)"
                )
            )
            #expect(!gone.html.contains("name=\"type\" value=\"pack\""))
        }
    }

    @Test("the dashboard shows the sync's health with charts; orders are found by text, location and risk")
    func dashboardAndSearch() async throws {
        try await Self.withPanel { browser, store in
            let connection = try #require(try await store.read { try await $0.connections() }.first)
            let now = Date()
            store.activity.record(.skusSent(120), for: connection.id, at: now.addingTimeInterval(-60))
            store.activity.record(.amazonAnswer(status: 429), for: connection.id, at: now)
            store.activity.record(.amazonAnswer(status: 200), for: connection.id, at: now)
            store.activity.record(.orderPoll, for: connection.id, at: now.addingTimeInterval(-5))
            _ = try await browser.logIn("ada", Self.password)
            let page = try await browser.get("/")
            #expect(page.status == .ok)
            #expect(page.html.contains("2 calls in the last hour: 1 throttled (429), 0 other errors"))
            #expect(page.html.contains("Amazon takes up to 500/s") && page.html.contains("Last push 1 min ago"))
            #expect(page.html.contains("last notification never"))
            #expect(page.html.contains("1 at risk"), "SHIP-P1 is due within the hour")
            #expect(page.html.components(separatedBy: "<svg class=\"chart\"").count == 4, "three charts")
            #expect(page.html.contains(##"fill="#c62828""##), "the 429 drawn red")

            let found = try await browser.get("/orders?q=%3Cb%3Esku")
            #expect(found.html.contains(">SHIP-P1</a>"), "found by a SKU in Amazon's document, any case")
            #expect(try await browser.get("/orders?q=nothing-like-it").html.contains("No order here."))
            #expect(try await browser.get("/orders?q=%25").html.contains("No order here."), "% is not a wildcard")
            var escaped = try #require(try await store.read { try await $0.order("SHIP-P1") })
            escaped.shipmentID = "SHIP-J"
            escaped.shipment =
                #"{"id":"SHIP-J","status":"ACCEPTED","lineItems":[{"shipmentLineItemId":"1","merchantSku":"RED\/XL","numberOfUnits":1}]}"#
            try await store.transaction { _ = try await $0.upsertOrder(escaped, source: "poll") }
            let json = try await browser.get("/orders?q=red%2Fxl")
            #expect(json.html.contains(">SHIP-J</a>") && !json.html.contains(">SHIP-P1</a>"), "JSONEncoder's \\/ found")
            let slash = try await browser.get("/orders?q=sku%3C%2Fb%3E")
            #expect(slash.html.contains(">SHIP-P1</a>"), "a term with / is found in the JSON document, where / is \\/")
            #expect(try await browser.get("/orders?atRisk=1").html.contains(">SHIP-P1</a>"))
            #expect(try await browser.get("/orders?locationId=L2").html.contains("No order here."))
            #expect(
                try await browser.get("/orders?locationId=L1&state=awaiting_confirmation").html.contains(">SHIP-P1</a>")
            )
        }
    }

    @Test(
        "access: an admin makes a key (shown once, and it works), revokes it, adds and disables an operator; others may not"
    )
    func access() async throws {
        try await Self.withPanel { browser, store in
            _ = try await browser.logIn("ada", Self.password)
            let notAdmin = try await browser.get("/access")
            #expect(notAdmin.status == .forbidden)
            #expect(!(try await browser.get("/").html.contains(#"href="/access""#)))

            let admin = Browser(browser.client)
            _ = try await admin.logIn("adm", Self.password)
            let page = try await admin.get("/access")
            #expect(page.status == .ok && page.html.contains(#"href="/access""#))
            let csrf = try #require(page.field("csrf"))
            #expect(
                try await browser.post("/access/keys", ["csrf": csrf, "name": "x", "role": "admin"]).status
                    == .forbidden
            )
            let unnamed = try await admin.post("/access/keys", ["csrf": csrf, "name": " ", "role": "wms"])
            #expect(unnamed.status == .badRequest && unnamed.html.contains("No key was made: name"))
            #expect(try await AccessUseCases(store: store).keys(by: .node()).isEmpty)
            let made = try await admin.post("/access/keys", ["csrf": csrf, "name": "wms-<1>", "role": "wms"])
            #expect(made.status == .ok && made.html.contains("wms-&lt;1&gt;"))
            let secret = try #require(
                made.html.firstMatch(of: /fbk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}/).map { String($0.output) }
            )
            let principal = try await AccessUseCases(store: store).authenticate(authorization: "Bearer \(secret)")
            #expect(principal.role == .wms && principal.name.hasPrefix("wms-<1>"))
            #expect(!(try await admin.get("/access").html.contains(secret)), "shown once")
            let key = try #require(try await AccessUseCases(store: store).keys(by: .node()).first)
            #expect(try await admin.post("/access/keys/\(key.id)/revoke", ["csrf": "forged"]).status == .forbidden)
            #expect(try await admin.post("/access/keys/\(key.id)/revoke", ["csrf": csrf]).status == .seeOther)
            await #expect(throws: AccessUseCases.Refusal.self) {
                try await AccessUseCases(store: store).authenticate(authorization: "Bearer \(secret)")
            }

            let short = try await admin.post(
                "/access/operators",
                ["csrf": csrf, "name": "bob", "password": "short", "role": "operator"]
            )
            #expect(short.status == .badRequest && short.html.contains(#"value="bob""#))
            #expect(!short.html.contains(#"value="short""#), "a password is never shown again")
            let added = try await admin.post(
                "/access/operators",
                ["csrf": csrf, "name": "bob", "password": "a long enough password", "role": "read"]
            )
            #expect(added.status == .ok && added.html.contains("Operator bob can log in now."))
            let twice = try await admin.post(
                "/access/operators",
                ["csrf": csrf, "name": "bob", "password": "a long enough password", "role": "read"]
            )
            #expect(twice.status == .conflict && twice.html.contains("There is an operator named bob already."))
            let people = try await OperatorUseCases(store: store).operators(by: .node())
            let bob = try #require(people.first { $0.name == "bob" })
            let me = try #require(people.first { $0.name == "adm" })
            #expect(try await admin.post("/access/operators/\(bob.id)/disable", ["csrf": csrf]).status == .seeOther)
            let bobBrowser = Browser(browser.client)
            #expect(try await bobBrowser.logIn("bob", "a long enough password").status == .unauthorized)
            let selfDisable = try await admin.post("/access/operators/\(me.id)/disable", ["csrf": csrf])
            #expect(selfDisable.status == .conflict && selfDisable.html.contains("You cannot disable yourself"))
            let log = try await admin.get("/access")
            #expect(log.html.contains("operator.disabled") && log.html.contains("apiKey.revoked"))
        }
    }

    @Test(
        "a connection set up from the panel: added (a wrong field named), a consent link made, tested, hubs mapped and removed"
    )
    func connectionSetup() async throws {
        try await Self.withPanel { browser, store in
            _ = try await browser.logIn("ada", Self.password)
            #expect(try await browser.get("/connections/new").status == .forbidden, "an operator adds no connection")
            let admin = Browser(browser.client)
            _ = try await admin.logIn("adm", Self.password)
            let form = try await admin.get("/connections/new")
            let csrf = try #require(form.field("csrf"))
            var fields = [
                "csrf": csrf, "name": "Acme UK", "sellingPartnerId": "A1UKSELLER", "region": "EU",
                "marketplaceIds": " ", "clientId": "amzn1.application-oa2-client.x", "clientSecret": "secret",
                "endpoint": "http://127.0.0.1:1",
            ]
            fields["endpoint"] = ""
            let wrong = try await admin.post("/connections", fields)
            #expect(wrong.status == .badRequest && wrong.html.contains("must name at least one marketplace</span>"))
            #expect(wrong.html.contains(#"value="A1UKSELLER""#) && !wrong.html.contains(#"value="secret""#))
            fields["endpoint"] = "http://127.0.0.1:1"
            fields["marketplaceIds"] = "A1F83G8C2ARO7P"
            let local = try await admin.post("/connections", fields)
            #expect(
                local.status == .badRequest
                    && local.html.contains("must be one of Amazon&#39;s Selling Partner API hosts")
            )
            fields["endpoint"] = "https://sandbox.sellingpartnerapi-eu.amazon.com"
            let added = try await admin.post("/connections", fields)
            #expect(added.status == .seeOther)
            let path = try #require(added.headers[.location])
            let connection = try #require(
                try await store.read { try await $0.connections() }.first { $0.name == "Acme UK" }
            )
            #expect(path == "/connections/\(connection.id)" && connection.marketplaceIDs == ["A1F83G8C2ARO7P"])
            let page = try await admin.get(path)
            #expect(page.html.contains("not authorised yet") && page.html.contains("Authorise with Amazon"))
            let link = try await admin.post(path + "/link", ["csrf": csrf])
            #expect(link.status == .ok && link.html.contains("/connect/"))
            let authorize = try await admin.post(path + "/authorize", ["csrf": csrf])
            #expect(authorize.status == .seeOther && authorize.headers[.location]?.contains("/connect/") == true)
            let tested = try await admin.post(path + "/test", ["csrf": csrf])
            #expect(
                tested.status == .ok && tested.html.contains("A check failed")
                    && tested.html.contains("<td>failed</td>")
            )

            let empty = try await browser.post(
                path + "/hubs",
                [
                    "csrf": try #require((try await browser.get(path)).field("csrf")), "hub": " ", "locationId": "L9",
                    "channel": "FBA",
                ]
            )
            #expect(empty.status == .badRequest && empty.html.contains("No hub was mapped: hub"))
            let operatorCSRF = try #require((try await browser.get(path)).field("csrf"))
            let mapped = try await browser.post(
                path + "/hubs",
                ["csrf": operatorCSRF, "hub": "HUB-UK", "locationId": "L9", "channel": "FBA"]
            )
            #expect(mapped.status == .seeOther)
            #expect(try await store.read { try await $0.locationMappings(for: connection.id) }.map(\.hub) == ["HUB-UK"])
            let removed = try await browser.post(
                path + "/hubs",
                ["csrf": operatorCSRF, "hub": "HUB-UK", "channel": "FBA", "remove": "on"]
            )
            #expect(removed.status == .ok && removed.html.contains("Hub HUB-UK no longer feeds L9"))
            #expect(try await store.read { try await $0.locationMappings(for: connection.id) }.isEmpty)
            let reader = Browser(browser.client)
            _ = try await reader.logIn("rea", Self.password)
            let readPage = try await reader.get(path)
            #expect(!readPage.html.contains("Map hub") && !readPage.html.contains("Authorise with Amazon"))
            #expect(try await reader.post(path + "/test", ["csrf": readPage.field("csrf") ?? ""]).status == .forbidden)
        }
    }

    @Test(
        "an MFN order in the one order model: listed and filtered by its source, its lines shown, Seller Flex commands refused, shipped from the panel's form"
    )
    func merchantOrder() async throws {
        try await Self.withPanel { browser, store in
            let connection = try #require(try await store.read { try await $0.connections() }.first)
            let document = """
                {"orderId":"112-0000000-0000001","createdTime":"2026-12-01T10:00:00.000Z","lastUpdatedTime":"2026-12-01T10:05:00.000Z",\
                "salesChannel":{"channelName":"Amazon","marketplaceId":"A21TJRUUN4KGV"},\
                "fulfillment":{"fulfillmentStatus":"UNSHIPPED","fulfilledBy":"MERCHANT","fulfillmentServiceLevel":"NextDay"},\
                "recipient":{"deliveryAddress":{"name":"Asha Rao","addressLine1":"1 MG Road","city":"Bengaluru"}},\
                "buyer":{"buyerName":"Asha Rao"},\
                "orderItems":[{"orderItemId":"OI-9","quantityOrdered":3,"product":{"sellerSku":"<i>KETTLE</i>","asin":"B0KETTLE01"},\
                "fulfillment":{"quantityFulfilled":0,"quantityUnfulfilled":3}}]}
                """
            let order = AmazonMerchantOrder(facts: try MerchantOrderFacts(document: document), document: document)
            #expect(
                try await store.transaction {
                    try await $0.upsertMerchantOrder(order, connectionID: connection.id, source: "notification")
                } == .created
            )
            _ = try await browser.logIn("ada", Self.password)
            #expect(try await browser.get("/orders").html.contains(">112-0000000-0000001</a>"))
            let page = try await browser.get("/orders/112-0000000-0000001")
            #expect(
                page.status == .ok && page.html.contains("&lt;i&gt;KETTLE&lt;/i&gt;")
                    && page.html.contains("3 (0 shipped)")
            )
            #expect(page.html.contains("<dd>NextDay</dd>") && page.html.contains("A merchant-fulfilled order"))
            #expect(!page.html.contains(">Confirm</button>") && !page.html.contains("name=\"type\" value=\"pack\""))
            let csrf = try #require(page.field("csrf"))
            for type in ["confirm", "pack"] {
                let refused = try await browser.post(
                    "/orders/112-0000000-0000001/commands",
                    ["csrf": csrf, "key": "mfn-\(type)", "type": type]
                )
                #expect(
                    refused.status == .conflict && refused.html.contains("merchant-fulfilled (MFN) order"),
                    "\(type)"
                )
            }

            let (_, secret) = try await AccessUseCases(store: store).createKey(
                name: "wms",
                role: .wms,
                connections: nil,
                by: .node()
            )
            let listed = try await browser.client.execute(
                uri: "/api/v1/orders",
                method: .get,
                headers: [.authorization: "Bearer \(secret)"]
            ) { ($0.status, String(buffer: $0.body)) }
            #expect(listed.0 == .ok)
            let body = try #require(try JSONSerialization.jsonObject(with: Data(listed.1.utf8)) as? [String: Any])
            let orders = (body["orders"] as? [[String: Any]]) ?? []
            let mfn = orders.first { $0["shipmentId"] as? String == "112-0000000-0000001" }
            #expect(mfn?["source"] as? String == "mfn" && mfn?["program"] as? String == "mfn")
            #expect(mfn?["locationId"] as? String == "A21TJRUUN4KGV" && mfn?["state"] as? String == "confirmed")
            let shipment = orders.first { $0["shipmentId"] as? String == "SHIP-P1" }
            #expect(shipment?["source"] as? String == "external_fulfillment", "the shipments say theirs")
            for (source, id) in [("mfn", "112-0000000-0000001"), ("external_fulfillment", "SHIP-P1")] {
                let filtered = try await browser.client.execute(
                    uri: "/api/v1/orders?source=\(source)",
                    method: .get,
                    headers: [.authorization: "Bearer \(secret)"]
                ) { String(buffer: $0.body) }
                let object = try JSONSerialization.jsonObject(with: Data(filtered.utf8)) as? [String: Any]
                let ids = ((object?["orders"] as? [[String: Any]]) ?? []).compactMap { $0["shipmentId"] as? String }
                #expect(ids == [id], "source=\(source) lists \(ids)")
            }
            let command = try await browser.client.execute(
                uri: "/api/v1/orders/112-0000000-0000001/commands",
                method: .post,
                headers: [
                    .authorization: "Bearer \(secret)", .contentType: "application/json",
                    HTTPField.Name("Idempotency-Key")!: "k1",
                ],
                body: ByteBuffer(string: #"{"type":"confirm"}"#)
            ) { $0.status }
            #expect(command == .conflict)

            // The one order model: lines with the chosen product code, the ship method the table gives, the
            // recipient for a role that works orders only; ship refused by field, then taken.
            try await store.transaction {
                _ = try await $0.updateSettings(of: connection.id, actor: "test") {
                    $0.productCode = .asin
                    $0.shipMethods = [
                        ShipMethodMapping(
                            serviceLevel: "NextDay",
                            wmsCarrier: "bluedart",
                            wmsMethod: "express",
                            carrierCode: "Other",
                            carrierName: "Blue Dart"
                        )
                    ]
                }
            }
            let (_, reading) = try await AccessUseCases(store: store).createKey(
                name: "reader",
                role: .read,
                connections: nil,
                by: .node()
            )
            func detail(_ key: String) async throws -> [String: Any] {
                let body = try await browser.client.execute(
                    uri: "/api/v1/orders/112-0000000-0000001",
                    method: .get,
                    headers: [.authorization: "Bearer \(key)"]
                ) { String(buffer: $0.body) }
                let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
                return try #require(object)
            }
            let worked = try await detail(secret)
            let line = (worked["lines"] as? [[String: Any]])?.first
            #expect(line?["lineItemId"] as? String == "OI-9" && line?["productCode"] as? String == "B0KETTLE01")
            #expect(line?["quantityLeft"] as? Int == 3 && worked["serviceLevel"] as? String == "NextDay")
            #expect((worked["shipMethod"] as? [String: Any])?["wmsCarrier"] as? String == "bluedart")
            #expect(worked["serviceLevelUnmapped"] as? Bool == false)
            #expect((worked["recipient"] as? [String: String])?["city"] == "Bengaluru")
            let read = try await detail(reading)
            #expect(read["recipient"] == nil && read["lines"] != nil)
            #expect(!((read["shipment"] as? String) ?? "Asha").contains("Asha"), "no personal data for a reader")
            #expect(((worked["shipment"] as? String) ?? "").contains("Asha"))

            func ship(_ body: String, key: String) async throws -> (HTTPResponse.Status, String) {
                try await browser.client.execute(
                    uri: "/api/v1/orders/112-0000000-0000001/commands",
                    method: .post,
                    headers: [
                        .authorization: "Bearer \(secret)", .contentType: "application/json",
                        HTTPField.Name("Idempotency-Key")!: key,
                    ],
                    body: ByteBuffer(string: body)
                ) { ($0.status, String(buffer: $0.body)) }
            }
            let tooMany = try await ship(
                #"{"type":"ship","trackingId":"BD1","items":[{"lineItemId":"OI-9","quantity":4}]}"#,
                key: "s1"
            )
            #expect(tooMany.0 == .badRequest && tooMany.1.contains("items[0].quantity"), "\(tooMany.1)")
            let noTracking = try await ship(#"{"type":"ship"}"#, key: "s2")
            #expect(noTracking.0 == .badRequest && noTracking.1.contains("trackingId"), "\(noTracking.1)")
            let taken = try await ship(
                #"{"type":"ship","trackingId":"BD1","items":[{"lineItemId":"OI-9","quantity":2}]}"#,
                key: "s3"
            )
            let request =
                try #require(
                    try JSONSerialization.jsonObject(with: Data(taken.1.utf8)) as? [String: Any]
                )["request"] as? [String: Any]
            #expect(taken.0 == .accepted && request?["carrierName"] as? String == "Blue Dart", "\(taken.1)")
            #expect(request?["carrierCode"] as? String == "Other")
            #expect((request?["packageReferenceId"] as? String)?.hasPrefix("FB-") == true)

            // The panel's ship form: every unit left prefilled, the table's carrier for the level; a wrong value
            // is named at its field and nothing is taken; a package of some units is the API's ship command.
            let form = try await browser.get("/orders/112-0000000-0000001")
            #expect(form.html.contains(#"name="i0.quantity" value="3""#) && form.html.contains("Ship a package"))
            #expect(form.html.contains("By the service level: bluedart express (Amazon: Blue Dart)"))
            #expect(form.html.contains("<dd>bluedart express (Amazon: Blue Dart)</dd>"))
            let shipCSRF = try #require(form.field("csrf"))
            let commandsBefore = try await Self.commands(store, of: "112-0000000-0000001").count
            func post(_ fields: [String: String]) async throws -> Browser.Page {
                try await browser.post(
                    "/orders/112-0000000-0000001/commands",
                    ["csrf": shipCSRF, "type": "ship", "carrier": "", "trackingId": "BD2", "shipDate": ""]
                        .merging(fields) { _, new in new }
                )
            }
            let excess = try await post(["key": "m1", "i0.quantity": "5"])
            #expect(excess.status == .badRequest && excess.html.contains("items[0].quantity"), "\(excess.html)")
            #expect(excess.html.contains(#"name="i0.quantity" value="5""#), "what was typed is shown again")
            let none = try await post(["key": "m2", "i0.quantity": "0"])
            #expect(none.status == .badRequest && none.html.contains("at least one unit"))
            let noCode = try await post(["key": "m3", "i0.quantity": "1", "carrier": "amazon"])
            #expect(noCode.status == .badRequest && noCode.html.contains("carrierCode"))
            let forged = try await post(["key": "m4", "i0.quantity": "1", "carrier": "wms:nobody"])
            #expect(forged.status == .badRequest && forged.html.contains("not one of the carriers offered"))
            let future = try await post(["key": "m5", "i0.quantity": "1", "shipDate": "2999-01-01"])
            #expect(future.status == .badRequest && future.html.contains("shipDate"), "\(future.html)")
            #expect(try await Self.commands(store, of: "112-0000000-0000001").count == commandsBefore)
            let shipped = try await post(["key": "m6", "i0.quantity": "1", "carrier": "wms:bluedart:express"])
            #expect(shipped.status == .seeOther)
            let again = try await post(["key": "m6", "i0.quantity": "1", "carrier": "wms:bluedart:express"])
            #expect(again.status == .seeOther, "the same form sent twice is one command")
            let made = try await Self.commands(store, of: "112-0000000-0000001")
            #expect(made.count == commandsBefore + 1)
            let package = try #require(made.last?.request)
            #expect(package.items == [MerchantShipRequest.Item(lineItemId: "OI-9", quantity: 1)])
            #expect(package.carrierName == "Blue Dart" && package.trackingId == "BD2")
            let whole = try await post(["key": "m7", "i0.quantity": "3", "carrier": "amazon", "carrierCode": "DHL"])
            #expect(whole.status == .seeOther)
            let every = try #require(try await Self.commands(store, of: "112-0000000-0000001").last?.request)
            #expect(every.items == nil && every.carrierCode == "DHL", "every unit left is sent as no items")
        }
    }

    @Test("a read operator sees no action, and its posts are refused")
    func readOnly() async throws {
        try await Self.withPanel { browser, store in
            _ = try await browser.logIn("rea", Self.password)
            let order = try await browser.get("/orders/SHIP-P1")
            #expect(order.status == .ok && !order.html.contains(">Confirm</button>"))
            let csrf = try #require(order.field("csrf"))
            let posted = try await browser.post(
                "/orders/SHIP-P1/commands",
                ["csrf": csrf, "key": "k", "type": "confirm"]
            )
            #expect(posted.status == .forbidden)
            #expect(try await Self.commands(store).isEmpty)
        }
    }
}
