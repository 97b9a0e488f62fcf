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
            #expect(try await call(.get, "\(base)/warehouses/fbm-eu/stock").0 == .notFound)
            #expect(try await call(.get, "\(base)/warehouses/fba-XX/stock").0 == .notFound)
            #expect(try await call(.get, "/api/v1/connections/nope/warehouses").0 == .notFound)
            let events = try await store.read { try await $0.events(after: 0, account: .default, limit: 100) }
            let changed = events.filter { $0.type == "stock.fba_changed" }
            #expect(changed.count == 3 && changed.first?.payload.contains(#""warehouseSkus":["EAN-1"]"#) == true)
        }
    }
}
