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

@Suite("MFN stock through the API: merchant-fulfilled listings, MFN hubs, listing items")
struct ListingsAPITests {
    @Test(
        "listings say who fulfils them (a wrong value named); MFN hubs and handling time are checked settings; listing items are listed by page"
    )
    func listingItems() async throws {
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
                marketplaceIDs: ["A21TJRUUN4KGV", "A1F83G8C2ARO7P"],
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
                func call(
                    _ method: HTTPRequest.Method,
                    _ uri: String,
                    _ body: String? = nil
                ) async throws -> (
                    HTTPResponse.Status, [String: Any]
                ) {
                    try await client.execute(
                        uri: uri,
                        method: method,
                        headers: [.contentType: "application/json"],
                        body: body.map { ByteBuffer(string: $0) }
                    ) {
                        (
                            $0.status,
                            (try? JSONSerialization.jsonObject(with: Data(String(buffer: $0.body).utf8))
                                as? [String: Any]) ?? [:]
                        )
                    }
                }
                let base = "/api/v1/connections/\(connection.id)"
                let wrong = try await call(
                    .post,
                    "\(base)/listings",
                    #"{"listings":[{"clientSkuId":"E1","channelSkuId":"M1","channelSerialNo":"B0ASIN0001","marketplace":"A21TJRUUN4KGV","fulfilledBy":"FBM"}]}"#
                )
                #expect(wrong.0 == .badRequest, "\(wrong.1)")
                var listings: [String] = []
                for (index, sku) in ["M1", "M2", "M3"].enumerated() {
                    for marketplace in ["A21TJRUUN4KGV", "A1F83G8C2ARO7P"] {
                        listings.append(
                            #"{"clientSkuId":"E\#(index + 1)","channelSkuId":"\#(sku)","channelSerialNo":"B0ASIN000\#(index + 1)","marketplace":"\#(marketplace)","fulfilledBy":"MERCHANT"}"#
                        )
                    }
                }
                listings.append(
                    #"{"clientSkuId":"E9","channelSkuId":"FBA-9","channelSerialNo":"B0ASIN0009","marketplace":"A21TJRUUN4KGV"}"#
                )
                let imported = try await call(
                    .post,
                    "\(base)/listings",
                    #"{"listings":[\#(listings.joined(separator: ","))]}"#
                )
                #expect(imported.0 == .ok && imported.1["imported"] as? Int == 7)

                let tooLong = try await call(
                    .put,
                    "\(base)/settings",
                    #"{"mfnStockHubs":["MFN"],"mfnHandlingTime":31}"#
                )
                #expect(tooLong.0 == .badRequest, "\(tooLong.1)")
                let twice = try await call(.put, "\(base)/settings", #"{"mfnStockHubs":["MFN","MFN"]}"#)
                #expect(twice.0 == .badRequest)
                let saved = try await call(.put, "\(base)/settings", #"{"mfnStockHubs":["MFN"],"mfnHandlingTime":2}"#)
                #expect(saved.0 == .ok && saved.1["mfnStockHubs"] as? [String] == ["MFN"])
                #expect(saved.1["mfnHandlingTime"] as? Int == 2)

                let stock = try await call(
                    .put,
                    "/api/v1/stock",
                    #"{"items":[{"hub":"MFN","sku":"E1","quantity":5},{"hub":"MFN","sku":"E9","quantity":3},{"hub":"ELSEWHERE","sku":"E2","quantity":1}]}"#
                )
                #expect(stock.0 == .accepted)
                #expect(stock.1["unmappedHubs"] as? [String] == ["ELSEWHERE"], "an MFN hub is mapped: \(stock.1)")
                try await store.transaction { _ = try await $0.refreshListingItems(connectionID: connection.id) }

                let first = try await call(.get, "\(base)/listing-items?limit=3")
                let items = first.1["items"] as? [[String: Any]] ?? []
                #expect(items.compactMap { $0["merchantSku"] as? String } == ["M1", "M1"], "a page ends at a SKU")
                #expect(items.allSatisfy { $0["hubQuantity"] as? Int == 5 && $0["pending"] as? Bool == true })
                #expect(items.first?["inFeed"] as? Bool == false && items.first?["sentQuantity"] == nil)
                let next = try #require(first.1["next"] as? String)
                let rest = try await call(.get, "\(base)/listing-items?after=\(next)&limit=100")
                let skus = (rest.1["items"] as? [[String: Any]] ?? []).compactMap { $0["merchantSku"] as? String }
                #expect(skus == ["M2", "M2", "M3", "M3"] && rest.1["next"] == nil, "FBA-9 is Amazon-fulfilled")
                #expect(try await call(.get, "/api/v1/connections/nope/listing-items").0 == .notFound)
            }
            try await store.close()
        }
    }
}
