import AmazonFeeds
import AmazonListings
import AmazonSimulator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

@Suite("Listings Items 2021-08-01 and Feeds 2021-06-30: MFN stock and prices")
struct ListingsTests {
    static let us = LiveSimulator.unitedStates
    static let seller = LiveSimulator.merchant

    /// Makes `skus` as merchant-fulfilled listings with 5 units.
    static func listings(_ live: LiveSimulator, _ skus: [String]) async throws {
        _ = try await live.simulator.putListings(
            skus.map { ListingSpecification(sku: $0, marketplaceIDs: [us], quantity: 5, price: 20) },
            merchantID: seller
        )
    }

    /// Uploads a JSON listings feed with `messages` and submits it; the feed's id.
    static func submit(_ live: LiveSimulator, messages: String, sellerID: String = seller) async throws -> String {
        let document = try await live.call(
            .POST,
            "/feeds/2021-06-30/documents",
            json: #"{"contentType":"application/json"}"#
        )
        #expect(document.status == 201, "\(document.text)")
        let url = try #require(document.json?["url"] as? String)
        let id = try #require(document.json?["feedDocumentId"] as? String)
        let upload = try await RawHTTP.send(
            .PUT,
            url,
            json: #"{"header":{"sellerId":"\#(sellerID)","version":"2.0"},"messages":[\#(messages)]}"#
        )
        #expect(upload.status == 200)
        let feed = try await live.call(
            .POST,
            "/feeds/2021-06-30/feeds",
            json: #"{"feedType":"JSON_LISTINGS_FEED","marketplaceIds":["\#(us)"],"inputFeedDocumentId":"\#(id)"}"#
        )
        #expect(feed.status == 202, "\(feed.text)")
        return try #require(feed.json?["feedId"] as? String)
    }

    /// Waits until the feed is finished; its last state.
    static func finished(_ live: LiveSimulator, _ id: String) async throws -> [String: Any] {
        for _ in 0..<300 {
            let feed = try #require(try await live.call(.GET, "/feeds/2021-06-30/feeds/\(id)").json)
            if let status = feed["processingStatus"] as? String, !["IN_QUEUE", "IN_PROGRESS"].contains(status) {
                return feed
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("feed \(id) did not finish")
        return [:]
    }

    static func report(_ live: LiveSimulator, _ feed: [String: Any]) async throws -> [String: Any] {
        let documentID = try #require(feed["resultFeedDocumentId"] as? String)
        let document = try await live.call(.GET, "/feeds/2021-06-30/documents/\(documentID)")
        let url = try #require(document.json?["url"] as? String)
        return try #require(try await RawHTTP.send(.GET, url).json)
    }

    @Test(
        "a JSON listings feed: UPDATE creates, PATCH changes, PARTIAL_UPDATE of an unknown SKU and bad values are refused by message, DELETE removes"
    )
    func feed() async throws {
        try await LiveSimulator.run { live in
            try await live.simulator.setFeedTiming(
                .init(queueSeconds: 0, baseSeconds: 0.05, secondsPerThousandMessages: 0)
            )
            try await Self.listings(live, ["KEEP", "GONE"])
            let id = try await Self.submit(
                live,
                messages: """
                    {"messageId":1,"sku":"NEW","operationType":"UPDATE","productType":"MUG","attributes":{\
                    "fulfillment_availability":[{"fulfillment_channel_code":"DEFAULT","quantity":3,"lead_time_to_ship_max_days":2}],\
                    "purchasable_offer":[{"marketplace_id":"\(Self.us)","currency":"USD","our_price":[{"schedule":[{"value_with_tax":9.5}]}],\
                    "discounted_price":[{"schedule":[{"value_with_tax":8,"start_at":"2026-12-01","end_at":"2026-12-24"}]}]}]}},
                    {"messageId":2,"sku":"KEEP","operationType":"PATCH","productType":"MUG","patches":[{"op":"merge",\
                    "path":"/attributes/fulfillment_availability","value":[{"fulfillment_channel_code":"DEFAULT","quantity":11}]}]},
                    {"messageId":3,"sku":"NOPE","operationType":"PARTIAL_UPDATE","productType":"MUG","attributes":{"item_name":[{"value":"x"}]}},
                    {"messageId":4,"sku":"KEEP","operationType":"PATCH","productType":"MUG","patches":[{"op":"replace",\
                    "path":"/attributes/fulfillment_availability","value":[{"fulfillment_channel_code":"DEFAULT","quantity":1.5}]}]},
                    {"messageId":5,"sku":"GONE","operationType":"DELETE"},
                    {"messageId":5,"sku":"KEEP","operationType":"DELETE"}
                    """
            )
            let feed = try await Self.finished(live, id)
            #expect(feed["processingStatus"] as? String == "DONE")
            let report = try await Self.report(live, feed)
            let summary = report["summary"] as? [String: Int]
            #expect(
                summary == [
                    "errors": 3, "warnings": 0, "messagesProcessed": 6, "messagesAccepted": 3, "messagesInvalid": 3,
                ]
            )
            let issues = (report["issues"] as? [[String: Any]]) ?? []
            #expect(issues.compactMap { $0["messageId"] as? Int }.sorted() == [3, 4, 5], "\(issues)")
            let truth = await live.simulator.groundTruth()
            let listings = Dictionary(uniqueKeysWithValues: truth.listings.map { ($0.sku, $0) })
            #expect(listings["GONE"] == nil, "deleted")
            #expect(listings["KEEP"]?.quantity == 11 && listings["KEEP"]?.setBy == "feed:\(id)")
            let made = try #require(listings["NEW"])
            #expect(made.quantity == 3 && made.handlingTime == 2 && made.productType == "MUG")
            #expect(made.offers.first?.price == "9.5" && made.offers.first?.salePrice == "8")
            #expect(truth.feeds.first?.accepted == 3 && truth.feeds.first?.invalid == 3)
        }
    }

    @Test("a feed that cannot be read, or of another seller, is FATAL with a report; nothing applies")
    func fatal() async throws {
        try await LiveSimulator.run { live in
            try await live.simulator.setFeedTiming(
                .init(queueSeconds: 0, baseSeconds: 0.05, secondsPerThousandMessages: 0)
            )
            try await Self.listings(live, ["KEEP"])
            let id = try await Self.submit(
                live,
                messages: """
                    {"messageId":1,"sku":"KEEP","operationType":"PATCH","productType":"MUG","patches":[{"op":"replace",\
                    "path":"/attributes/fulfillment_availability","value":[{"fulfillment_channel_code":"DEFAULT","quantity":1}]}]}
                    """,
                sellerID: "A2SOMEONEELSE"
            )
            let feed = try await Self.finished(live, id)
            #expect(feed["processingStatus"] as? String == "FATAL")
            let report = try await Self.report(live, feed)
            #expect(
                ((report["issues"] as? [[String: Any]])?.first?["message"] as? String)?.contains("sellerId") == true
            )
            #expect(await live.simulator.groundTruth().listings.first?.quantity == 5)
        }
    }

    @Test("a signed document URL takes only its content type, and only until it expires")
    func signedURLs() async throws {
        let (clock, time) = SimulatorClock.manual(start: Date())
        try await LiveSimulator.run(clock: clock) { live in
            let document = try await live.call(
                .POST,
                "/feeds/2021-06-30/documents",
                json: #"{"contentType":"text/tab-separated-values; charset=UTF-8"}"#
            )
            let url = try #require(document.json?["url"] as? String)
            let wrongType = try await RawHTTP.send(.PUT, url, json: "{}")
            #expect(wrongType.status == 403 && wrongType.text.contains("SignatureDoesNotMatch"))
            let forged = try await RawHTTP.send(
                .PUT,
                url.replacingOccurrences(of: "signature=", with: "signature=0"),
                headers: ["content-type": "text/tab-separated-values; charset=UTF-8"]
            )
            #expect(forged.status == 403)
            time.advance(seconds: 301)
            let late = try await RawHTTP.send(
                .PUT,
                url,
                headers: ["content-type": "text/tab-separated-values; charset=UTF-8"]
            )
            #expect(late.status == 403 && late.text.contains("expired"))
        }
    }

    @Test("patchListingsItem at 5 a second with a burst of 5; a JSON listings feed has its own five per five minutes")
    func throttled() async throws {
        // The clock stands still, so no token comes back however slowly the calls go.
        let (clock, _) = SimulatorClock.manual(start: Date())
        try await LiveSimulator.run(configuration: .init(throttling: true), clock: clock) { live in
            try await Self.listings(live, ["A"])
            let patch = """
                {"productType":"MUG","patches":[{"op":"replace","path":"/attributes/fulfillment_availability",\
                "value":[{"fulfillment_channel_code":"DEFAULT","quantity":1}]}]}
                """
            var statuses: [Int] = []
            for _ in 0..<8 {
                statuses.append(
                    try await live.call(
                        .PATCH,
                        "/listings/2021-08-01/items/\(Self.seller)/A?marketplaceIds=\(Self.us)",
                        json: patch
                    ).status
                )
            }
            #expect(statuses.filter { $0 == 200 }.count == 5 && statuses.filter { $0 == 429 }.count == 3, "\(statuses)")
            var feeds: [Int] = []
            for _ in 0..<7 {
                feeds.append(
                    try await live.call(
                        .POST,
                        "/feeds/2021-06-30/feeds",
                        json:
                            #"{"feedType":"JSON_LISTINGS_FEED","marketplaceIds":["\#(Self.us)"],"inputFeedDocumentId":"none"}"#
                    ).status
                )
            }
            // Refused as unknown documents (400) while the bucket has tokens, then throttled.
            #expect(feeds == [400, 400, 400, 400, 400, 429, 429], "\(feeds)")
            let other = try await live.call(
                .POST,
                "/feeds/2021-06-30/feeds",
                json: #"{"feedType":"POST_PRODUCT_DATA","marketplaceIds":["\#(Self.us)"],"inputFeedDocumentId":"none"}"#
            )
            #expect(other.status == 400, "other feed types take createFeed's own bucket")
        }
    }

    @Test(
        "an MFN order takes its units from the listing, announced by LISTINGS_ITEM_MFN_QUANTITY_CHANGE; the saved state keeps listings"
    )
    func orders() async throws {
        let received = Mutex<[Data]>([])
        let router = Router()
        router.post("hook") { request, _ -> HTTPResponse.Status in
            let buffer = try await request.body.collect(upTo: 1 << 20)
            received.withLock { $0.append(Data(buffer.readableBytesView)) }
            return .ok
        }
        let receiver = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await receiver.test(.live) { hook in
            try await LiveSimulator.run { live in
                _ = try await live.simulator.addNotificationDestination(
                    url: "http://127.0.0.1:\(hook.port!)/hook",
                    headerName: nil,
                    secret: "s3cret"
                )
                try await Self.listings(live, ["KETTLE"])
                _ = try await live.simulator.createMFNOrder(
                    .init(merchantID: Self.seller, marketplaceID: Self.us, items: ["KETTLE": 2])
                )
                #expect(await live.simulator.groundTruth().listings.first?.quantity == 3)
                var payload: [String: Any]?
                for _ in 0..<200 {
                    payload = received.withLock { $0 }.compactMap {
                        try? JSONSerialization.jsonObject(with: $0) as? [String: Any]
                    }.first { $0["detail-type"] as? String == "LISTINGS_ITEM_MFN_QUANTITY_CHANGE" }
                        .flatMap { ($0["detail"] as? [String: Any])?["Payload"] as? [String: Any] }
                    if payload != nil { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(payload?["Sku"] as? String == "KETTLE" && payload?["Quantity"] as? Int == 3)
                #expect(payload?["SellerId"] as? String == Self.seller)

                let restored = Simulator()
                try await restored.restore(try await live.simulator.savedState())
                #expect(await restored.groundTruth().listings.map(\.quantity) == [3])
            }
        }
    }
}
