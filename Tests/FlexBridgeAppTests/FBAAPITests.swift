import FlexCore
import FlexStore
import Foundation
import HTTPTypes
import Testing

@Suite("Amazon's side as warehouses through the API: FBA per marketplace, FBM for the region")
struct FBAAPITests {
    @Test(
        "warehouses list FBA per marketplace with its SKUs and units and the FBM one with its hubs; an FBA warehouse's stock pages by SKU with the WMS SKUs mapped; a warehouse that is not FBA is not found; the setting is checked"
    )
    func warehouses() async throws {
        try await ListingsAPITests.run { store, connection, send in
            func call(
                _ method: HTTPRequest.Method,
                _ uri: String,
                _ body: String? = nil
            ) async throws -> (
                HTTPResponse.Status, [String: Any]
            ) {
                try await send(method, uri, body, "application/json")
            }
            let base = "/api/v1/connections/\(connection.id)"
            let saved = try await call(
                .put,
                "\(base)/settings",
                #"{"fbaStockSyncEnabled":true,"mfnStockHubs":["OWN"]}"#
            )
            #expect(saved.0 == .ok && saved.1["fbaStockSyncEnabled"] as? Bool == true)
            #expect(try await call(.put, "\(base)/settings", #"{"fbaStockSyncEnabled":"yes"}"#).0 == .badRequest)
            let india: MarketplaceID = "A21TJRUUN4KGV"
            try await store.transaction { session in
                try await session.upsertListings([
                    Listing(
                        connectionID: connection.id,
                        marketplaceID: india,
                        warehouseSKU: "EAN-1",
                        merchantSKU: "FBA-1",
                        asin: "B0FBA00001",
                        updatedAt: Date()
                    )
                ])
                try await session.recordFBAStock(
                    [
                        FBAStock(marketplaceID: india, sku: "FBA-1", fulfillable: 5, inboundShipped: 2, reserved: 1),
                        FBAStock(marketplaceID: india, sku: "FBA-2", fulfillable: 3),
                        FBAStock(marketplaceID: india, sku: "FBA-3", unfulfillable: 4),
                    ],
                    connectionID: connection.id
                )
            }
            let warehouses = try await call(.get, "\(base)/warehouses")
            let items = warehouses.1["items"] as? [[String: Any]] ?? []
            #expect(items.compactMap { $0["id"] as? String } == ["fba-A1F83G8C2ARO7P", "fba-A21TJRUUN4KGV", "fbm-eu"])
            let inIndia = items.first { $0["id"] as? String == "fba-A21TJRUUN4KGV" }
            #expect(
                inIndia?["skus"] as? Int == 3 && inIndia?["fulfillable"] as? Int == 8 && inIndia?["total"] as? Int == 15
            )
            #expect(inIndia?["name"] as? String == "Amazon FBA IN" && inIndia?["kind"] as? String == "FBA")
            #expect(items.last?["hubs"] as? [String] == ["OWN"] && items.last?["kind"] as? String == "FBM")

            let first = try await call(.get, "\(base)/warehouses/fba-A21TJRUUN4KGV/stock?limit=2")
            let page = first.1["items"] as? [[String: Any]] ?? []
            #expect(page.compactMap { $0["merchantSku"] as? String } == ["FBA-1", "FBA-2"])
            #expect(
                page.first?["warehouseSkus"] as? [String] == ["EAN-1"] && page.first?["inboundShipped"] as? Int == 2
            )
            let next = try #require(first.1["next"] as? String)
            let rest = try await call(.get, "\(base)/warehouses/fba-A21TJRUUN4KGV/stock?after=\(next)")
            #expect(
                (rest.1["items"] as? [[String: Any]])?.first?["unfulfillable"] as? Int == 4 && rest.1["next"] == nil
            )
            // The FBM warehouse: the MFN hub's units per WMS SKU, and what its merchant-fulfilled listing was sent.
            try await store.transaction { session in
                try await session.upsertListings([
                    Listing(
                        connectionID: connection.id,
                        marketplaceID: india,
                        warehouseSKU: "EAN-2",
                        merchantSKU: "MFN-2",
                        asin: "B0FBA00002",
                        updatedAt: Date(),
                        fulfilledBy: .merchant
                    )
                ])
                _ = try await session.recordStock(
                    [
                        StockLevel(hub: "OWN", warehouseSKU: "EAN-2", quantity: 7),
                        StockLevel(hub: "OWN", warehouseSKU: "EAN-3", quantity: 2),
                        StockLevel(hub: "ELSEWHERE", warehouseSKU: "EAN-2", quantity: 50),
                    ],
                    account: .default
                )
            }
            let fbm = try await call(.get, "\(base)/warehouses/fbm-eu/stock?limit=1")
            let hubStock = fbm.1["hubStock"] as? [[String: Any]] ?? []
            #expect(fbm.0 == .ok && (fbm.1["items"] as? [Any])?.isEmpty == true, "\(fbm)")
            #expect(hubStock.first?["sku"] as? String == "EAN-2" && hubStock.first?["total"] as? Int == 7, "\(fbm)")
            #expect((hubStock.first?["hubs"] as? [String: Int]) == ["OWN": 7], "a hub not MFN is not the FBM warehouse")
            let mfn = (hubStock.first?["listings"] as? [[String: Any]])?.first
            #expect(mfn?["merchantSku"] as? String == "MFN-2" && mfn?["marketplaceId"] as? String == "A21TJRUUN4KGV")
            let after = try #require(fbm.1["next"] as? String)
            let last = try await call(.get, "\(base)/warehouses/fbm-eu/stock?after=\(after)")
            #expect((last.1["hubStock"] as? [[String: Any]])?.map { $0["sku"] as? String } == ["EAN-3"])
            #expect(last.1["next"] == nil)
            #expect(try await call(.get, "\(base)/warehouses/fba-XX/stock").0 == .notFound)
            #expect(try await call(.get, "/api/v1/connections/nope/warehouses").0 == .notFound)
            let events = try await store.read { try await $0.events(after: 0, account: .default, limit: 100) }
            let changed = events.filter { $0.type == "stock.fba_changed" }
            #expect(changed.count == 3 && changed.first?.payload.contains(#""warehouseSkus":["EAN-1"]"#) == true)
        }
    }

    @Test(
        "stock order settings are checked (a marketplace not the connection's, days out of range); stock orders list newest change first by page and state, and read one by Amazon's shipment id"
    )
    func stockOrders() async throws {
        try await ListingsAPITests.run { store, connection, send in
            func call(
                _ method: HTTPRequest.Method,
                _ uri: String,
                _ body: String? = nil
            ) async throws -> (
                HTTPResponse.Status, [String: Any]
            ) {
                try await send(method, uri, body, "application/json")
            }
            let base = "/api/v1/connections/\(connection.id)"
            let elsewhere = try await call(
                .put,
                "\(base)/settings",
                #"{"fbaInboundSyncEnabled":true,"stockOrderTypeByMarketplace":{"ATVPDKIKX0DER":"transfer"}}"#
            )
            #expect(elsewhere.0 == .badRequest, "\(elsewhere.1)")
            #expect(try await call(.put, "\(base)/settings", #"{"ignoreUnreceivedAfterDays":0}"#).0 == .badRequest)
            #expect(try await call(.put, "\(base)/settings", #"{"stockOrderType":"gift"}"#).0 == .badRequest)
            let saved = try await call(
                .put,
                "\(base)/settings",
                #"{"fbaInboundSyncEnabled":true,"stockOrderType":"auto","stockOrderTypeByMarketplace":{"A21TJRUUN4KGV":"transfer"},"transferSourceWarehouse":"BLR1","ignoreUnreceivedAfterDays":14}"#
            )
            #expect(saved.0 == .ok && saved.1["ignoreUnreceivedAfterDays"] as? Int == 14, "\(saved.1)")
            #expect((saved.1["stockOrderTypeByMarketplace"] as? [String: String])?["A21TJRUUN4KGV"] == "transfer")
            let stored = try #require(try await store.read { try await $0.connection(connection.id) })
            try await store.transaction { session in
                for (index, marketplace) in ["A21TJRUUN4KGV", "A1F83G8C2ARO7P", "A21TJRUUN4KGV"].enumerated() {
                    try await session.recordInboundShipment(
                        InboundShipmentFacts(
                            shipmentID: "FBA00000000\(index)",
                            name: "Shipment \(index)",
                            marketplaceID: MarketplaceID(rawValue: marketplace),
                            status: index == 2 ? "CLOSED" : "SHIPPED",
                            destination: "BLR7",
                            needBy: "2026-12-24",
                            items: [
                                .init(
                                    sku: MerchantSKU(rawValue: "SKU-\(index)"),
                                    shipped: 5,
                                    received: index == 2 ? 5 : 0
                                )
                            ]
                        ),
                        connection: stored
                    )
                }
            }
            let first = try await call(.get, "/api/v1/stock-orders?limit=2")
            let page = first.1["items"] as? [[String: Any]] ?? []
            #expect(page.count == 2, "\(first.1)")
            let next = try #require(first.1["next"] as? String)
            let rest = try await call(.get, "/api/v1/stock-orders?after=\(next)")
            let all = page + (rest.1["items"] as? [[String: Any]] ?? [])
            #expect(Set(all.compactMap { $0["shipmentId"] as? String }).count == 3 && rest.1["next"] == nil)
            let india = all.first { $0["shipmentId"] as? String == "FBA000000000" }
            #expect(india?["type"] as? String == "transfer" && india?["sourceWarehouse"] as? String == "BLR1")
            #expect(india?["expectedAt"] as? String == "2026-12-24T00:00:00Z" && india?["unitsShipped"] as? Int == 5)
            let uk = all.first { $0["shipmentId"] as? String == "FBA000000001" }
            #expect(uk?["type"] as? String == "purchase" && uk?["sourceWarehouse"] == nil)
            let received = try await call(.get, "/api/v1/stock-orders?state=received")
            #expect(
                (received.1["items"] as? [[String: Any]])?.compactMap { $0["shipmentId"] as? String } == [
                    "FBA000000002"
                ]
            )
            let one = try await call(.get, "/api/v1/stock-orders/FBA000000001")
            #expect(one.0 == .ok && one.1["destinationWarehouse"] as? String == "fba-A1F83G8C2ARO7P")
            #expect(try await call(.get, "/api/v1/stock-orders/FBANONE").0 == .notFound)
            #expect(try await call(.get, "/api/v1/stock-orders?after=zzz").0 == .badRequest)
        }
    }

    @Test(
        "an FBA_INVENTORY_AVAILABILITY_CHANGES notification sets the SKU's stock in each of the connection's marketplaces at once, with its event; an older one than what is held, or for a connection not reading FBA stock, changes nothing"
    )
    func availabilityNotification() async throws {
        let secret = "a-shared-secret-of-some-length"
        try await ListingsAPITests.run(notificationSecret: secret) { store, connection, send in
            func notify(_ time: String, fulfillable: Int) async throws -> HTTPResponse.Status {
                let body = #"""
                    {"detail-type":"FBA_INVENTORY_AVAILABILITY_CHANGES","detail":{"NotificationVersion":"1.0","NotificationType":"FBA_INVENTORY_AVAILABILITY_CHANGES","PayloadVersion":"1.0","EventTime":"\#(time)","Payload":{"SellerId":"A1SELLER","FNSKU":"X001","ASIN":"B0FBA00001","SKU":"FBA-1","FulfillmentInventoryByMarketplace":[{"MarketplaceId":"A21TJRUUN4KGV","ItemName":"Mug","FulfillmentInventory":{"InboundQuantityBreakdown":{"Working":1,"Shipped":2,"Receiving":3},"Fulfillable":\#(fulfillable),"Unfulfillable":1,"Researching":0,"ReservedQuantityBreakdown":{"WarehouseProcessing":1,"WarehouseTransfer":2,"PendingCustomerOrder":3},"FutureSupplyBuyable":0,"PendingCustomerOrderInTransit":0},"Stores":[]},{"MarketplaceId":"ATVPDKIKX0DER","FulfillmentInventory":{"Fulfillable":99}}]}}}
                    """#
                let answer = try await send(.post, "/notifications/amazon", body, "application/json")
                return answer.0
            }
            func held() async throws -> FBAStock? {
                try await store.read {
                    try await $0.fbaStock(connectionID: connection.id, marketplaceID: "A21TJRUUN4KGV").first?.stock
                }
            }
            try await store.transaction { try await $0.authorize(connection.id, refreshToken: "Atzr|x", actor: "test") }
            #expect(try await notify("2026-12-03T10:00:00Z", fulfillable: 5) == .ok)
            #expect(try await held() == nil, "the connection does not read FBA stock")
            let saved = try await send(
                .put,
                "/api/v1/connections/\(connection.id)/settings",
                #"{"fbaStockSyncEnabled":true}"#,
                "application/json"
            )
            #expect(saved.0 == .ok)
            #expect(try await notify("2026-12-03T10:00:00.250Z", fulfillable: 5) == .ok)
            let stock = try #require(try await held())
            #expect(stock.fulfillable == 5 && stock.inboundShipped == 2 && stock.reserved == 6 && stock.total == 18)
            #expect(
                try await store.read {
                    try await $0.fbaStock(connectionID: connection.id, marketplaceID: "ATVPDKIKX0DER")
                }.isEmpty,
                "a marketplace not the connection's"
            )
            #expect(try await notify("2026-12-03T09:00:00Z", fulfillable: 1) == .ok)
            #expect(try await held()?.fulfillable == 5, "an older notification is not applied")
            #expect(try await notify("2026-12-03T11:00:00Z", fulfillable: 0) == .ok)
            #expect(try await held()?.fulfillable == 0)
            let events = try await store.read { try await $0.events(after: 0, account: .default, limit: 100) }
            #expect(events.filter { $0.type == "stock.fba_changed" }.count == 2)
        }
    }
}

@Suite("Send to Amazon through the API")
struct InboundPlanAPITests {
    static let plan = #"""
        {"reference":"PO-77","marketplaceId":"A21TJRUUN4KGV",
         "sourceAddress":{"name":"Hub one","addressLine1":"1 Dock Road","city":"Bengaluru","postalCode":"560001",
                          "countryCode":"IN","phoneNumber":"+91 80 0000 0000"},
         "lines":[{"sku":"EAN-1","quantity":12}],
         "boxes":[{"quantity":2,"weight":6.5,"length":40,"width":30,"height":20,"items":[{"sku":"EAN-1","quantity":6}]}]}
        """#

    @Test(
        "a plan is made once per reference (202, the same again 200, another request 409); bad lines, boxes and addresses are refused by field and change nothing; plans list and read; a choice is refused at the wrong step or for an option not offered, taken when waiting; resume only a failed plan; labels only once downloaded; the settings round-trip"
    )
    func plans() async throws {
        try await ListingsAPITests.run { store, connection, send in
            func call(
                _ method: HTTPRequest.Method,
                _ uri: String,
                _ body: String? = nil
            ) async throws -> (HTTPResponse.Status, [String: Any]) {
                let (status, answer) = try await send(method, uri, body, "application/json")
                // A problem's fields at the top, as the tests read them.
                return (status, (answer["error"] as? [String: Any]) ?? answer)
            }
            let india: MarketplaceID = "A21TJRUUN4KGV"
            try await store.transaction { session in
                try await session.upsertListings([
                    Listing(
                        connectionID: connection.id,
                        marketplaceID: india,
                        warehouseSKU: "EAN-1",
                        merchantSKU: "FBA-1",
                        asin: "B0FBA00001",
                        updatedAt: Date()
                    )
                ])
            }
            let base = "/api/v1/connections/\(connection.id)/inbound-plans"
            func refused(_ replace: (String, String), field: String) async throws {
                let (status, body) = try await call(
                    .post,
                    base,
                    Self.plan.replacingOccurrences(of: replace.0, with: replace.1)
                )
                #expect(status == .badRequest && body["field"] as? String == field, "\(replace): \(status) \(body)")
            }
            try await refused(("EAN-1", "EAN-9"), field: "lines[0].sku")
            try await refused((#""quantity":12"#, #""quantity":0"#), field: "lines[0].quantity")
            try await refused((#""city":"Bengaluru","#, ""), field: "sourceAddress.city")
            try await refused((#""countryCode":"IN""#, #""countryCode":"in""#), field: "sourceAddress.countryCode")
            try await refused((#""weight":6.5"#, #""weight":60"#), field: "boxes[0].weight")
            let huge = Self.plan.replacingOccurrences(of: #""weight":6.5"#, with: #""weight":1e400"#)
            #expect(try await call(.post, base, huge).0 == .badRequest, "a number beyond a Double")
            try await refused((#""length":40"#, #""length":90"#), field: "boxes[0]")
            try await refused((#""quantity":6}"#, #""quantity":5}"#), field: "boxes")
            try await refused((#""marketplaceId":"A21TJRUUN4KGV""#, #""marketplaceId":"XX""#), field: "marketplaceId")
            #expect((try await call(.get, "/api/v1/inbound-plans").1["items"] as? [Any])?.isEmpty == true)

            let made = try await call(.post, base, Self.plan)
            #expect(
                made.0 == .accepted && made.1["step"] as? String == "create" && made.1["status"] as? String == "working"
            )
            let lines = made.1["lines"] as? [[String: Any]]
            #expect(lines?.first?["merchantSku"] as? String == "FBA-1")
            let id = try #require(made.1["id"] as? String)
            let again = try await call(.post, base, Self.plan)
            #expect(again.0 == .ok && again.1["id"] as? String == id)
            let other = try await call(
                .post,
                base,
                Self.plan.replacingOccurrences(of: #""quantity":12"#, with: #""quantity":11"#)
                    .replacingOccurrences(of: #""quantity":2,"#, with: #""quantity":1,"#)
                    .replacingOccurrences(of: #""quantity":6}"#, with: #""quantity":11}"#)
            )
            #expect(other.0 == .conflict, "\(other)")
            #expect(try await call(.post, "/api/v1/connections/nope/inbound-plans", Self.plan).0 == .notFound)

            let listed = try await call(.get, "/api/v1/inbound-plans?status=working&connectionId=\(connection.id)")
            #expect((listed.1["items"] as? [[String: Any]])?.map { $0["id"] as? String } == [id])
            #expect(try await call(.get, "/api/v1/inbound-plans?after=garbage").0 == .badRequest)
            #expect(try await call(.get, "/api/v1/inbound-plans/\(id)").1["reference"] as? String == "PO-77")
            #expect(try await call(.get, "/api/v1/inbound-plans/unknown").0 == .notFound)

            let early = try await call(.post, "/api/v1/inbound-plans/\(id)/placement", #"{"placementOptionId":"pl1"}"#)
            #expect(early.0 == .badRequest && (early.1["message"] as? String ?? "").contains("step create"), "\(early)")
            #expect(try await call(.post, "/api/v1/inbound-plans/\(id)/resume").0 == .conflict)
            #expect(try await call(.get, "/api/v1/inbound-plans/\(id)/shipments/sh1/labels").0 == .notFound)

            // As the worker leaves it once Amazon offered placement options.
            var plan = try #require(try await store.read { try await $0.inboundPlan(id: id) })
            plan.amazonPlanID = "wf1"
            plan.step = .choosePlacement
            plan.status = .waiting
            plan.placementOptions = [
                InboundPlacementOption(
                    id: "pl1",
                    shipmentIDs: ["sh1"],
                    fees: InboundMoney(amount: 3.6, currency: "INR"),
                    expiresAt: Date().addingTimeInterval(3600)
                ),
                InboundPlacementOption(id: "pl2", shipmentIDs: ["sh2", "sh3"], fees: nil, expiresAt: nil),
            ]
            _ = try await store.transaction { [plan] in try await $0.saveInboundPlan(plan) }
            let waiting = try await call(.get, "/api/v1/inbound-plans/\(id)")
            let fees = (waiting.1["placementOptions"] as? [[String: Any]])?.first?["fees"] as? [String: Any]
            #expect(fees?["amount"] as? String == "3.6" && fees?["currency"] as? String == "INR", "\(waiting.1)")
            let free = (waiting.1["placementOptions"] as? [[String: Any]])?.last?["fees"] as? [String: Any]
            #expect(free?["amount"] as? String == "0" && free?["currency"] as? String == "INR", "no fee listed is free")
            let wrong = try await call(.post, "/api/v1/inbound-plans/\(id)/placement", #"{"placementOptionId":"pl9"}"#)
            #expect(wrong.0 == .badRequest && wrong.1["field"] as? String == "placementOptionId")
            let twice = try await call(
                .post,
                "/api/v1/inbound-plans/\(id)/transportation",
                #"{"selections":[{"shipmentId":"sh1","transportationOptionId":"t1"},{"shipmentId":"sh1","transportationOptionId":"t2"}]}"#
            )
            #expect(twice.0 == .badRequest && twice.1["field"] as? String == "selections[1].shipmentId")
            let chosen = try await call(.post, "/api/v1/inbound-plans/\(id)/placement", #"{"placementOptionId":"pl1"}"#)
            #expect(chosen.0 == .ok && chosen.1["step"] as? String == "confirmPlacement")
            #expect(chosen.1["placementOptionId"] as? String == "pl1" && chosen.1["status"] as? String == "working")

            let settings = "/api/v1/connections/\(connection.id)/settings"
            let saved = try await call(
                .put,
                settings,
                #"{"inboundPlacement":"cheapest","inboundTransportation":"partnered","partneredCarrierFees":true,"pickUpDelayDays":4}"#
            )
            #expect(saved.0 == .ok && saved.1["inboundPlacement"] as? String == "cheapest", "\(saved)")
            #expect(saved.1["pickUpDelayDays"] as? Int == 4 && saved.1["partneredCarrierFees"] as? Bool == true)
            #expect(try await call(.put, settings, #"{"pickUpDelayDays":91}"#).0 == .badRequest)
            #expect(try await call(.put, settings, #"{"inboundTransportation":"cheapest"}"#).0 == .badRequest)
        }
    }
}
