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
    typealias Call = (HTTPRequest.Method, String, String?, String) async throws -> (HTTPResponse.Status, [String: Any])

    /// A server on a fresh SQLite store with one connection selling in India and the UK; `call` sends a body of the
    /// content type given (JSON unless named) and reads the JSON answer.
    static func run(
        notificationSecret: String? = nil,
        _ body: @Sendable (Store, Connection, Call) async throws -> Void
    ) async throws {
        try await TestDatabase.with(.sqlite) { database in
            var configuration = FlexBridgeConfiguration(
                database: database.url,
                masterKey: .value(MasterKey.generate()),
                port: 0
            )
            configuration.notificationSecret = notificationSecret
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
                try await body(store, connection) { method, uri, text, contentType in
                    var headers: HTTPFields = [.contentType: contentType]
                    // Amazon's notifications carry the shared secret; the API ignores the header.
                    if let notificationSecret { headers[HTTPField.Name("x-api-key")!] = notificationSecret }
                    return try await client.execute(
                        uri: uri,
                        method: method,
                        headers: headers,
                        body: text.map { ByteBuffer(string: $0) }
                    ) {
                        (
                            $0.status,
                            (try? JSONSerialization.jsonObject(with: Data(String(buffer: $0.body).utf8))
                                as? [String: Any]) ?? [:]
                        )
                    }
                }
            }
            try await store.close()
        }
    }

    @Test(
        "listings say who fulfils them (a wrong value named); MFN hubs and handling time are checked settings; listing items are listed by page"
    )
    func listingItems() async throws {
        try await Self.run { store, connection, send in
            func call(
                _ method: HTTPRequest.Method,
                _ uri: String,
                _ body: String? = nil
            ) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await send(method, uri, body, "application/json")
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
            #expect(items.compactMap { $0["merchantSku"] as? String } == ["M1", "M1", "M2"])
            #expect(items.prefix(2).allSatisfy { $0["hubQuantity"] as? Int == 5 && $0["pending"] as? Bool == true })
            #expect(items.allSatisfy { $0["facet"] as? String == "quantity" })
            #expect(items.first?["inFeed"] as? Bool == false && items.first?["sentQuantity"] == nil)
            let next = try #require(first.1["next"] as? String)
            let rest = try await call(.get, "\(base)/listing-items?after=\(next)&limit=100")
            let skus = (rest.1["items"] as? [[String: Any]] ?? []).compactMap { $0["merchantSku"] as? String }
            #expect(skus == ["M2", "M3", "M3"] && rest.1["next"] == nil, "FBA-9 is Amazon-fulfilled")
            #expect(try await call(.get, "\(base)/listing-items?after=M1").0 == .badRequest)
            #expect(try await call(.get, "/api/v1/connections/nope/listing-items").0 == .notFound)
        }
    }

    @Test(
        "prices: JSON and CSV; a bad row is named by its index or line and reason and nothing is recorded; the same price twice changes nothing; read back by page; each listing of the SKU gets a price item"
    )
    func prices() async throws {
        try await Self.run { store, connection, send in
            func call(
                _ method: HTTPRequest.Method,
                _ uri: String,
                _ body: String? = nil,
                _ type: String = "application/json"
            ) async throws -> (HTTPResponse.Status, [String: Any]) {
                try await send(method, uri, body, type)
            }
            let base = "/api/v1/connections/\(connection.id)"
            let listed = try await call(
                .post,
                "\(base)/listings",
                "clientSkuId,channelSerialNo,channelSkuId,marketplace\nE1,B0ASIN0001,M1,A21TJRUUN4KGV\nE1,B0ASIN0001,M1-UK,A1F83G8C2ARO7P\n",
                "text/csv"
            )
            #expect(listed.0 == .ok, "\(listed.1)")

            func refused(_ items: String) async throws -> String {
                let answer = try await call(.put, "/api/v1/prices", #"{"items":[\#(items)]}"#)
                #expect(answer.0 == .badRequest, "\(items) → \(answer.1)")
                return (answer.1["error"] as? [String: Any])?["message"] as? String ?? ""
            }
            let india = #""sku":"E1","marketplaceId":"A21TJRUUN4KGV""#
            #expect(try await refused(#"{\#(india),"price":-5}"#).contains("price"))
            #expect(try await refused(#"{\#(india),"price":0}"#).contains("items[0].price: must be above 0"))
            #expect(try await refused(#"{\#(india),"price":9.999}"#).contains("at most 2 decimals"))
            #expect(try await refused(#"{\#(india),"price":10,"currency":"EUR"}"#).contains("sells in INR"))
            #expect(
                try await refused(#"{"sku":"E1","marketplaceId":"XX","price":10}"#).contains(
                    "not an Amazon marketplace"
                )
            )
            #expect(try await refused(#"{\#(india),"price":10,"salePrice":8}"#).contains("saleStart"))
            #expect(
                try await refused(
                    #"{\#(india),"price":10,"salePrice":12,"saleStart":"2026-12-24","saleEnd":"2026-12-26"}"#
                )
                .contains("below the price")
            )
            #expect(
                try await refused(#"{\#(india),"price":10,"salePrice":8,"saleStart":"2026-12-24","saleEnd":"soon"}"#)
                    .contains("items[0].saleEnd")
            )
            #expect(try await refused(#"{\#(india),"price":10,"minimumPrice":20}"#).contains("minimumPrice"))
            let twice = try await refused(
                #"{\#(india),"price":10},{"sku":"E2","marketplaceId":"A21TJRUUN4KGV","price":3},{\#(india),"price":11}"#
            )
            #expect(twice.contains("items[2].sku") && twice.contains("line"), "\(twice)")
            let csv = try await call(
                .put,
                "/api/v1/prices",
                "sku,marketplace,price,currency\nE1,A21TJRUUN4KGV,abc,\nE2,A21TJRUUN4KGV,-1,INR\n",
                "text/csv"
            )
            let message = (csv.1["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(csv.0 == .badRequest && message.contains("2 bad rows") && message.contains("line 2"), "\(message)")
            #expect(try await store.read { try await $0.prices(account: connection.accountID) }.isEmpty)

            let good = try await call(
                .put,
                "/api/v1/prices",
                #"{"items":[{\#(india),"price":12.99,"salePrice":9.5,"saleStart":"2026-12-24","saleEnd":"2026-12-26T12:00:00Z","minimumPrice":5,"maximumPrice":50},{"sku":"E1","marketplaceId":"A1F83G8C2ARO7P","price":11},{"sku":"E7","marketplaceId":"A1F83G8C2ARO7P","price":3}]}"#
            )
            #expect(
                good.0 == .accepted && good.1["changed"] as? Int == 3 && good.1["unlisted"] as? Int == 1,
                "\(good.1)"
            )
            let same = try await call(
                .put,
                "/api/v1/prices",
                "sku,marketplace,price\nE1,A1F83G8C2ARO7P,11.00\n",
                "text/csv"
            )
            #expect(same.0 == .accepted && same.1["changed"] as? Int == 0, "\(same.1)")

            let page = try await call(.get, "/api/v1/prices?limit=2")
            let prices = page.1["items"] as? [[String: Any]] ?? []
            #expect(prices.count == 2 && prices.first?["currency"] as? String == "GBP", "\(page.1)")
            let inIndia = try #require(prices.first { $0["marketplaceId"] as? String == "A21TJRUUN4KGV" })
            #expect(inIndia["price"] as? Double == 12.99 && inIndia["salePrice"] as? Double == 9.5)
            let saleStart = inIndia["saleStart"] as? String
            let saleEnd = inIndia["saleEnd"] as? String
            #expect(saleStart == "2026-12-24T00:00:00Z" && saleEnd == "2026-12-26T12:00:00Z")
            let next = try #require(page.1["next"] as? String)
            let rest = try await call(.get, "/api/v1/prices?after=\(next)")
            #expect((rest.1["items"] as? [[String: Any]])?.first?["sku"] as? String == "E7" && rest.1["next"] == nil)
            #expect(try await call(.get, "/api/v1/prices?after=E1").0 == .badRequest)

            try await store.transaction { _ = try await $0.refreshListingItems(connectionID: connection.id) }
            let items = try await call(.get, "\(base)/listing-items")
            let priced = (items.1["items"] as? [[String: Any]] ?? []).filter { $0["facet"] as? String == "price" }
            #expect(priced.compactMap { $0["merchantSku"] as? String }.sorted() == ["M1", "M1-UK"], "\(items.1)")
            #expect(priced.allSatisfy { $0["pending"] as? Bool == true && $0["price"] != nil })
        }
    }

    @Test(
        "listings by ASIN only: counted apart, listed as pending with their ASIN; one ASIN twice is named by its line"
    )
    func asinListings() async throws {
        try await Self.run { _, connection, send in
            let base = "/api/v1/connections/\(connection.id)"
            let twice = try await send(
                .post,
                "\(base)/listings",
                "clientSkuId,channelSerialNo,channelSkuId,marketplace\nE1,B0ASIN0001,,A21TJRUUN4KGV\nE2,B0ASIN0001,,A21TJRUUN4KGV\n",
                "text/csv"
            )
            let message = (twice.1["error"] as? [String: Any])?["message"] as? String ?? ""
            #expect(twice.0 == .badRequest && message.contains("line 3") && message.contains("channelSerialNo"))
            let imported = try await send(
                .post,
                "\(base)/listings",
                #"{"listings":[{"clientSkuId":"E1","channelSerialNo":"B0ASIN0001","marketplace":"A21TJRUUN4KGV","fulfilledBy":"MERCHANT"},{"clientSkuId":"E2","channelSerialNo":"b0asin0002","channelSkuId":"M2","marketplace":"A21TJRUUN4KGV"}]}"#,
                "application/json"
            )
            #expect(imported.0 == .ok && imported.1["imported"] as? Int == 1 && imported.1["awaitingSku"] as? Int == 1)
            let listed = try await send(.get, "\(base)/asin-listings?status=pending", nil, "application/json")
            let items = listed.1["items"] as? [[String: Any]] ?? []
            #expect(items.count == 1 && items.first?["asin"] as? String == "B0ASIN0001", "\(listed.1)")
            #expect(
                items.first?["fulfilledBy"] as? String == "MERCHANT" && items.first?["warehouseSku"] as? String == "E1"
            )
            let none = try await send(.get, "\(base)/asin-listings?status=resolved", nil, "application/json")
            #expect((none.1["items"] as? [[String: Any]])?.isEmpty == true)
            #expect(try await send(.get, "\(base)/asin-listings?after=x", nil, "application/json").0 == .badRequest)
            #expect(try await send(.get, "\(base)/asin-listings?status=lost", nil, "application/json").0 == .badRequest)
        }
    }
}
