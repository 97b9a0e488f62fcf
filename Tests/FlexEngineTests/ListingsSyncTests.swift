import AmazonSimulator
import FlexCore
import FlexEngine
import FlexStore
import FlexStoreTesting
import Foundation
import Logging
import SellingPartner
import Testing

@Suite("MFN stock to Amazon's listings, by patch and by feed, against the simulator")
struct ListingsSyncTests {
    static let india = InventoryFixture.marketplace

    /// The fixture with MFN listings `skus` in the store (warehouse SKU `W-x`) and at Amazon (0 units), MFN stock
    /// from HUB2 and HUB3, and a worker on a fast client.
    static func run(
        engine: TestEngine,
        skus: [String],
        atAmazon: Set<String>? = nil,
        _ body: @Sendable (InventoryFixture, ListingsWorker, SellingPartnerClient) async throws -> Void
    ) async throws {
        try await InventoryFixture.run(engine: engine) { fixture in
            try await fixture.simulator.setFeedTiming(
                .init(queueSeconds: 0, baseSeconds: 0.05, secondsPerThousandMessages: 0)
            )
            let made = skus.filter { atAmazon?.contains($0) ?? true }
            if !made.isEmpty {
                _ = try await fixture.simulator.putListings(
                    made.map { ListingSpecification(sku: $0, marketplaceIDs: [india], quantity: 0) },
                    merchantID: InventoryFixture.merchant
                )
            }
            try await fixture.store.transaction { session in
                try await session.upsertListings(
                    skus.enumerated().map { index, sku in
                        Listing(
                            connectionID: fixture.connection.id,
                            marketplaceID: MarketplaceID(rawValue: india),
                            warehouseSKU: WarehouseSKU(rawValue: "W-\(sku)"),
                            merchantSKU: MerchantSKU(rawValue: sku),
                            asin: ASIN(rawValue: String(format: "B1%08d", index)),
                            updatedAt: fixture.clock.now,
                            fulfilledBy: .merchant
                        )
                    }
                )
            }
            var limits = RateLimiter.amazonDefaults
            for operation in [
                "patchListingsItem", "getFeed", "getFeeds", "getFeedDocument", "createFeedDocument", "createFeed",
            ] {
                limits[operation] = .init(rate: 1000, burst: 1000)
            }
            let client = try await AmazonClients(
                configuration: .init(retry: .init(maxAttempts: 2, initialDelay: 0.01), rateLimits: limits)
            )
            .client(for: fixture.connection.id, store: fixture.store)
            let worker = ListingsWorker(
                connectionID: fixture.connection.id,
                store: fixture.store,
                client: client,
                configuration: .init(
                    feedCheckInterval: 0,
                    resubmitAfter: 0,
                    feedsPerFiveMinutes: 1000,
                    feedBurst: 1000
                ),
                logger: Logger(label: "test.listings")
            )
            try await body(fixture, worker, client)
        }
    }

    static func atAmazon(_ fixture: InventoryFixture) async -> [String: Int] {
        Dictionary(
            uniqueKeysWithValues: await fixture.simulator.groundTruth().listings.map { ($0.sku, $0.quantity ?? -1) }
        )
    }

    static func items(
        _ fixture: InventoryFixture,
        _ facet: ListingFacet = .quantity
    ) async throws -> [String: ListingItem] {
        Dictionary(
            uniqueKeysWithValues: try await fixture.store.read {
                try await $0.listingItems(connectionID: fixture.connection.id)
            }.filter { $0.facet == facet }.map { ($0.merchantSKU.rawValue, $0) }
        )
    }

    /// Runs rounds until nothing is pending or in a feed (at most `rounds`).
    static func settle(_ worker: ListingsWorker, _ fixture: InventoryFixture, rounds: Int = 200) async throws {
        for _ in 0..<rounds {
            _ = try await worker.round()
            let items = try await fixture.store.read {
                try await $0.listingItems(connectionID: fixture.connection.id)
            }
            if !items.contains(where: { $0.pending || $0.feedID != nil }) { return }
            try await Task.sleep(for: .milliseconds(20))
        }

    }

    static func price(_ amount: Decimal, sale: Decimal? = nil) -> ListingPrice {
        ListingPrice(
            marketplaceID: MarketplaceID(rawValue: india),
            currency: "INR",
            amount: amount,
            salePrice: sale,
            saleStart: sale.map { _ in Date(timeIntervalSince1970: 1_800_000_000) },
            saleEnd: sale.map { _ in Date(timeIntervalSince1970: 1_800_086_400) },
            minimum: 1,
            maximum: 100_000
        )
    }

    @Test(
        "prices reach each listing of the SKU, Amazon-fulfilled too, with MFN stock off: a few by patch, a large upload in a feed; a price Amazon refuses is reported once and holds no quantity back",
        arguments: TestEngine.available
    )
    func prices(engine: TestEngine) async throws {
        let skus = (1...60).map { "MFN-\($0)" }
        try await Self.run(engine: engine, skus: skus + ["GONE"], atAmazon: Set(skus)) { fixture, worker, _ in
            _ = try await fixture.simulator.putListings(
                [ListingSpecification(sku: "SKU-A", marketplaceIDs: [Self.india], fulfillmentChannel: "AMAZON_IN")],
                merchantID: InventoryFixture.merchant
            )
            let write = try await fixture.store.transaction { session in
                try await session.recordPrices(
                    [
                        SKUPrice(warehouseSKU: "W-MFN-1", price: Self.price(199.5, sale: 149)),
                        SKUPrice(warehouseSKU: "W-SKU-A", price: Self.price(20)),
                        SKUPrice(warehouseSKU: "W-GONE", price: Self.price(5)),
                        SKUPrice(warehouseSKU: "W-NOWHERE", price: Self.price(7)),
                    ],
                    account: fixture.connection.accountID
                )
            }
            #expect(write.changed == 4 && write.unlisted == 1, "W-NOWHERE has no listing")
            try await Self.settle(worker, fixture)
            var truth = await fixture.simulator.groundTruth().listings
            let first = truth.first { $0.sku == "MFN-1" }
            #expect(first?.offers.first?.price == "199.5" && first?.offers.first?.salePrice == "149")
            #expect(first?.offers.first?.minimumPrice == "1" && first?.quantity == 0, "the quantity is left alone")
            let flex = truth.first { $0.sku == "SKU-A" }
            #expect(flex?.offers.first?.price == "20" && flex?.fulfillmentChannel == "AMAZON_IN")
            var prices = try await Self.items(fixture, .price)
            #expect(prices["MFN-1"]?.sentRoute == "patch" && prices["MFN-1"]?.sentPrice?.amount == 199.5)
            #expect(prices["GONE"]?.error != nil && prices["GONE"]?.pending == false)
            #expect(try await Self.items(fixture).isEmpty, "no MFN hub is named: no quantity is kept")

            // The same prices again change nothing; 60 new ones go in one feed.
            let again = try await fixture.store.transaction { session in
                try await session.recordPrices(
                    [SKUPrice(warehouseSKU: "W-MFN-1", price: Self.price(199.5, sale: 149))],
                    account: fixture.connection.accountID
                )
            }
            #expect(again.changed == 0)
            _ = try await fixture.store.transaction { session in
                try await session.recordPrices(
                    skus.enumerated().map { index, sku in
                        SKUPrice(
                            warehouseSKU: WarehouseSKU(rawValue: "W-\(sku)"),
                            price: Self.price(Decimal(100 + index))
                        )
                    },
                    account: fixture.connection.accountID
                )
            }
            try await Self.settle(worker, fixture)
            truth = await fixture.simulator.groundTruth().listings
            for (index, sku) in skus.enumerated() {
                #expect(truth.first { $0.sku == sku }?.offers.first?.price == "\(100 + index)", "\(sku)")
            }
            prices = try await Self.items(fixture, .price)
            #expect(prices.values.contains { $0.sentRoute == "feed" }, "a backlog of 60 goes in a feed")
            #expect(await fixture.simulator.groundTruth().feeds.count == 1)
            let patchesBefore = await fixture.simulator.recordedRequests().filter {
                $0.operation == "patchListingsItem"
            }.count

            // MFN stock on: quantities go beside the prices, GONE's refused price holding nothing back.
            try await fixture.stock(["MFN-1": 7], hub: "HUB2")
            try await fixture.settings { $0.mfnStockHubs = ["HUB2"] }
            try await Self.settle(worker, fixture)
            truth = await fixture.simulator.groundTruth().listings
            #expect(truth.first { $0.sku == "MFN-1" }?.quantity == 7)
            #expect(truth.first { $0.sku == "MFN-1" }?.offers.first?.price == "100", "the price stays")
            #expect(try await Self.items(fixture)["MFN-1"]?.sentQuantity == 7)
            #expect(try await Self.items(fixture, .price)["GONE"]?.error != nil)
            let patches = await fixture.simulator.recordedRequests().filter { $0.operation == "patchListingsItem" }
            #expect(
                !patches.dropFirst(patchesBefore).contains { ($0.body ?? "").contains("purchasable_offer") },
                "no price is sent again"
            )
        }
    }

    @Test(
        "a listing given by ASIN only takes the seller's one SKU fulfilled as it says; none or several is said, nothing chosen, and looked at again an hour later",
        arguments: TestEngine.available
    )
    func asinListings(engine: TestEngine) async throws {
        try await Self.run(engine: engine, skus: []) { fixture, worker, _ in
            _ = try await fixture.simulator.putListings(
                [
                    ListingSpecification(sku: "TEE-MFN", marketplaceIDs: [Self.india], asin: "B0TEE00001"),
                    ListingSpecification(
                        sku: "TEE-FBA",
                        marketplaceIDs: [Self.india],
                        asin: "B0TEE00001",
                        fulfillmentChannel: "AMAZON_IN"
                    ),
                    ListingSpecification(sku: "MUG-1", marketplaceIDs: [Self.india], asin: "B0MUG00002"),
                    ListingSpecification(sku: "MUG-2", marketplaceIDs: [Self.india], asin: "B0MUG00002"),
                ],
                merchantID: InventoryFixture.merchant
            )
            func byASIN(_ asin: String, _ sku: String, _ fulfilledBy: Listing.FulfilledBy = .merchant) -> Listing {
                Listing(
                    connectionID: fixture.connection.id,
                    marketplaceID: MarketplaceID(rawValue: Self.india),
                    warehouseSKU: WarehouseSKU(rawValue: sku),
                    merchantSKU: "",
                    asin: ASIN(rawValue: asin),
                    updatedAt: fixture.clock.now,
                    fulfilledBy: fulfilledBy
                )
            }
            try await fixture.store.transaction { session in
                try await session.recordASINListings([
                    byASIN("B0TEE00001", "W-TEE"), byASIN("B0TEE00001", "W-TEE", .amazon),
                    byASIN("B0MUG00002", "W-MUG"), byASIN("B0NONE0003", "W-NONE"),
                ])
            }
            // The same ASIN twice in one write: the later row stands (one per ASIN and marketplace).
            try await fixture.settings { $0.mfnStockHubs = ["HUB2"] }
            try await fixture.stock(["TEE": 6], hub: "HUB2")
            try await Self.settle(worker, fixture)
            var rows = try await fixture.store.read {
                try await $0.asinListings(connectionID: fixture.connection.id)
            }
            let status = Dictionary(uniqueKeysWithValues: rows.map { ($0.asin.rawValue, $0) })
            #expect(status["B0TEE00001"]?.status == .resolved && status["B0TEE00001"]?.merchantSKUs == ["TEE-FBA"])
            #expect(
                status["B0MUG00002"]?.status == .several && status["B0MUG00002"]?.merchantSKUs == ["MUG-1", "MUG-2"]
            )
            #expect(status["B0MUG00002"]?.message?.contains("MUG-1, MUG-2") == true)
            #expect(status["B0NONE0003"]?.status == ASINListing.Status.none)
            let tee = try await fixture.store.read {
                try await $0.listings(for: fixture.connection.id, warehouseSKU: "W-TEE")
            }
            #expect(tee.map(\.merchantSKU) == ["TEE-FBA"] && tee.first?.fulfilledBy == .amazon)
            #expect(
                try await fixture.store.read {
                    try await $0.listings(for: fixture.connection.id, warehouseSKU: "W-MUG")
                }.isEmpty,
                "nothing is chosen among several"
            )

            // Given as merchant-fulfilled, the T-shirt's MFN SKU is taken and gets the MFN hub's stock.
            try await fixture.store.transaction { session in
                try await session.recordASINListings([byASIN("B0TEE00001", "W-TEE")])
            }
            try await Self.settle(worker, fixture)
            let amazon = await Self.atAmazon(fixture)
            #expect(amazon["TEE-MFN"] == 6 && amazon["TEE-FBA"] == -1, "the FBA SKU's quantity is not touched")

            // Not looked up again within the hour; after it, a listing made at Amazon meanwhile is found.
            _ = try await fixture.simulator.putListings(
                [ListingSpecification(sku: "NEW-1", marketplaceIDs: [Self.india], asin: "B0NONE0003")],
                merchantID: InventoryFixture.merchant
            )
            let searches = await fixture.simulator.recordedRequests().filter { $0.operation == "searchListingsItems" }
            _ = try await worker.round()
            #expect(
                await fixture.simulator.recordedRequests().filter { $0.operation == "searchListingsItems" }.count
                    == searches.count
            )
            fixture.clock.advance(by: .seconds(3601))
            try await Self.settle(worker, fixture)
            rows = try await fixture.store.read { try await $0.asinListings(connectionID: fixture.connection.id) }
            #expect(rows.first { $0.asin == "B0NONE0003" }?.merchantSKUs == ["NEW-1"])
            #expect(await Self.atAmazon(fixture)["NEW-1"] == 0, "W-NONE has no stock at the MFN hub")
        }
    }

    @Test(
        "reconciliation reads Amazon's numbers for a sample: a number raised at Amazon is repaired, units taken by an MFN order FlexBridge read are not offered again",
        arguments: TestEngine.available
    )
    func reconciliation(engine: TestEngine) async throws {
        try await Self.run(engine: engine, skus: ["MFN-1", "MFN-2", "MFN-3"]) { fixture, _, client in
            let worker = ListingsWorker(
                connectionID: fixture.connection.id,
                store: fixture.store,
                client: client,
                configuration: .init(feedCheckInterval: 0, resubmitAfter: 0, reconcileInterval: 60),
                logger: Logger(label: "test.listings")
            )
            let orders = MerchantOrderWorker(
                connectionID: fixture.connection.id,
                store: fixture.store,
                client: client,
                logger: Logger(label: "test.mfn")
            )
            try await fixture.settings {
                $0.mfnStockHubs = ["HUB2"]
                $0.mfnOrderSyncEnabled = true
            }
            try await fixture.stock(["MFN-1": 10, "MFN-2": 5, "MFN-3": 8], hub: "HUB2")
            try await Self.settle(worker, fixture)
            #expect(await Self.atAmazon(fixture) == ["MFN-1": 10, "MFN-2": 5, "MFN-3": 8])

            // A buyer orders two MFN-1 (Amazon takes them from the listing; FlexBridge reads the order, the WMS has
            // not lowered its stock yet); the seller raises MFN-2 by hand in Seller Central.
            _ = try await fixture.simulator.createMFNOrder(
                .init(merchantID: InventoryFixture.merchant, marketplaceID: Self.india, items: ["MFN-1": 2])
            )
            #expect(try await orders.poll() == 1)
            _ = try await fixture.simulator.putListings(
                [ListingSpecification(sku: "MFN-2", marketplaceIDs: [Self.india], quantity: 50)],
                merchantID: InventoryFixture.merchant
            )
            #expect(await Self.atAmazon(fixture) == ["MFN-1": 8, "MFN-2": 50, "MFN-3": 8])
            _ = try await worker.round()
            #expect(
                await fixture.simulator.recordedRequests().filter { $0.operation == "searchListingsItems" }.isEmpty,
                "nothing is judged before it has been still for the settle time"
            )

            fixture.clock.advance(by: .seconds(1000))
            try await Self.settle(worker, fixture)
            #expect(await Self.atAmazon(fixture) == ["MFN-1": 8, "MFN-2": 5, "MFN-3": 8])
            let items = try await Self.items(fixture)
            #expect(items["MFN-1"]?.amazonQuantity == 8 && items["MFN-1"]?.drift == nil, "the order explains it")
            #expect(items["MFN-2"]?.drift?.contains("Amazon showed 50, expected 5") == true)
            #expect(items["MFN-2"]?.sentQuantity == 5 && items["MFN-3"]?.reconciledAt != nil)
            let searches = await fixture.simulator.recordedRequests().filter { $0.operation == "searchListingsItems" }
            #expect(searches.count == 1, "one call reads the sample of three")
            _ = try await worker.round()
            #expect(
                await fixture.simulator.recordedRequests().filter { $0.operation == "searchListingsItems" }.count == 1,
                "not again within the interval"
            )
        }
    }

    @Test(
        "off until MFN hubs are named; then a few changes go by patch: the hubs summed less the buffer, with the handling time; a Seller Flex SKU is never sent; a SKU Amazon does not know is refused once",
        arguments: TestEngine.available
    )
    func patches(engine: TestEngine) async throws {
        try await Self.run(
            engine: engine,
            skus: ["MFN-1", "MFN-2", "MFN-3", "MFN-4"],
            atAmazon: ["MFN-1", "MFN-2", "MFN-3"]
        ) {
            fixture,
            worker,
            _ in
            try await fixture.stock(["SKU-A": 4])
            try await fixture.stock(["MFN-1": 7, "MFN-2": 3, "SKU-A": 9, "MFN-4": 1], hub: "HUB2")
            try await fixture.stock(["MFN-1": 2], hub: "HUB3")
            _ = try await worker.round()
            #expect(try await Self.items(fixture).isEmpty, "MFN stock is off until a hub is named")

            try await fixture.settings {
                $0.mfnStockHubs = ["HUB2", "HUB3"]
                $0.mfnHandlingTime = 2
                $0.safetyStock = 1
            }
            try await Self.settle(worker, fixture)
            let sent = await Self.atAmazon(fixture)
            #expect(sent["MFN-1"] == 8 && sent["MFN-2"] == 2 && sent["MFN-3"] == 0, "\(sent)")
            #expect(sent["SKU-A"] == nil, "a Seller Flex location serves SKU-A")
            let truth = await fixture.simulator.groundTruth().listings.first { $0.sku == "MFN-1" }
            #expect(truth?.handlingTime == 2 && truth?.setBy.hasPrefix("patch:") == true)
            let items = try await Self.items(fixture)
            #expect(Set(items.keys) == ["MFN-1", "MFN-2", "MFN-3", "MFN-4"])
            #expect(items["MFN-1"]?.sentRoute == "patch" && items["MFN-1"]?.sentQuantity == 8)
            #expect(items["MFN-4"]?.error?.code == "8560" && items["MFN-4"]?.pending == false)
            let patches = await fixture.simulator.recordedRequests().filter { $0.operation == "patchListingsItem" }
            #expect(patches.count == 4)
            _ = try await worker.round()
            #expect(
                await fixture.simulator.recordedRequests().filter { $0.operation == "patchListingsItem" }.count == 4,
                "nothing is sent again: the refused SKU waits for a new quantity"
            )

            try await fixture.stock(["MFN-2": 10], hub: "HUB2")
            try await Self.settle(worker, fixture)
            #expect(await Self.atAmazon(fixture)["MFN-2"] == 9)
        }
    }

    @Test(
        "a feed Amazon cannot process as a whole is sent again in halves, down to one item, which is then refused",
        arguments: TestEngine.available
    )
    func fatal(engine: TestEngine) async throws {
        let skus = (1...80).map { String(format: "X-%03d", $0) }
        try await Self.run(engine: engine, skus: skus) { fixture, worker, _ in
            try await fixture.simulator.setFeedTiming(
                .init(queueSeconds: 0, baseSeconds: 0.01, secondsPerThousandMessages: 0, fatalAbove: 30)
            )
            try await fixture.settings { $0.mfnStockHubs = ["HUB2"] }
            try await fixture.stock(Dictionary(uniqueKeysWithValues: skus.map { ($0, 4) }), hub: "HUB2")
            try await Self.settle(worker, fixture, rounds: 400)
            let held = await Self.atAmazon(fixture)
            #expect(skus.allSatisfy { held[$0] == 4 }, "every SKU arrives in the end: \(held)")
            let feeds = try await fixture.store.read { try await $0.listingFeeds(connectionID: fixture.connection.id) }
            #expect(feeds.last?.status == "fatal" && feeds.last?.items == 80, "the first, whole, was FATAL: \(feeds)")
            #expect(feeds.contains { $0.status == "fatal" && $0.items == 40 }, "then half: \(feeds.map(\.items))")
            #expect(feeds.filter { $0.status == "done" }.allSatisfy { $0.items <= 30 })
        }
    }

    @Test(
        "a submission status Amazon adds later is neither taken nor refused: the change goes again after a wait, the status said once, until Amazon takes it",
        arguments: TestEngine.available
    )
    func unknownSubmissionStatus(engine: TestEngine) async throws {
        try await Self.run(engine: engine, skus: ["NEW-1", "NEW-2"]) { fixture, worker, _ in
            try await fixture.simulator.forceSubmissionStatus(
                merchantID: InventoryFixture.merchant,
                sku: "NEW-1",
                status: "PENDING_REVIEW"
            )
            try await fixture.settings { $0.mfnStockHubs = ["HUB2"] }
            try await fixture.stock(["NEW-1": 5, "NEW-2": 6], hub: "HUB2")
            func patches() async -> Int {
                await fixture.simulator.recordedRequests().filter {
                    $0.operation == "patchListingsItem" && $0.path.contains("NEW-1")
                }.count
            }
            func said() async throws -> [OutboxEvent] {
                try await fixture.store.read { try await $0.events(after: 0, account: .default, limit: 1000) }.filter {
                    $0.type == "amazon.unknown_value"
                }
            }
            _ = try await worker.round()
            #expect(await patches() == 1)
            var items = try await Self.items(fixture)
            #expect(items["NEW-2"]?.sentQuantity == 6 && items["NEW-2"]?.pending == false)
            #expect(items["NEW-1"]?.pending == true, "not taken: still pending")
            #expect(items["NEW-1"]?.error?.code == "AMAZON_UNKNOWN_STATUS")
            #expect(items["NEW-1"]?.error?.message.contains("PENDING_REVIEW") == true)
            // Not sent again before its wait is over, however many rounds run.
            for _ in 0..<3 { _ = try await worker.round() }
            #expect(await patches() == 1)
            // After it, sent again: the same answer says nothing new.
            for _ in 0..<2 {
                fixture.clock.advance(by: .seconds(61))
                _ = try await worker.round()
            }
            #expect(await patches() == 3)
            let unknown = try await said()
            #expect(unknown.count == 1 && unknown.first?.subject == "NEW-1")
            #expect(unknown.first?.payload.contains(#""field":"listing_submission.status""#) == true)
            #expect(unknown.first?.payload.contains(#""value":"PENDING_REVIEW""#) == true)

            // Amazon answers as its model says again: the change is taken.
            try await fixture.simulator.forceSubmissionStatus(
                merchantID: InventoryFixture.merchant,
                sku: "NEW-1",
                status: nil
            )
            fixture.clock.advance(by: .seconds(61))
            try await Self.settle(worker, fixture)
            items = try await Self.items(fixture)
            #expect(items["NEW-1"]?.sentQuantity == 5 && items["NEW-1"]?.error == nil)
            #expect(await Self.atAmazon(fixture)["NEW-1"] == 5)
            #expect(try await said().count == 1)
        }
    }

    @Test(
        "a feed processing status Amazon adds later is waited on and said once; the feed goes on when Amazon moves it on",
        arguments: TestEngine.available
    )
    func unknownFeedStatus(engine: TestEngine) async throws {
        let skus = (1...80).map { String(format: "U-%03d", $0) }
        try await Self.run(engine: engine, skus: skus) { fixture, worker, _ in
            // Queued at Amazon for an hour: the feed is submitted and stays open.
            try await fixture.simulator.setFeedTiming(.init(queueSeconds: 3600, baseSeconds: 0.01))
            try await fixture.settings { $0.mfnStockHubs = ["HUB2"] }
            try await fixture.stock(Dictionary(uniqueKeysWithValues: skus.map { ($0, 6) }), hub: "HUB2")
            var feedID: String?
            for _ in 0..<50 where feedID == nil {
                _ = try await worker.round()
                feedID = await fixture.simulator.groundTruth().feeds.first?.feedId
            }
            let id = try #require(feedID, "the backlog went in a feed")
            try await fixture.simulator.forceFeedStatus(id, to: "IN_SAFETY_REVIEW")
            func said() async throws -> [OutboxEvent] {
                try await fixture.store.read { try await $0.events(after: 0, account: .default, limit: 1000) }.filter {
                    $0.type == "amazon.unknown_value"
                }
            }
            for _ in 0..<3 { _ = try await worker.round() }
            let unknown = try await said()
            #expect(unknown.count == 1 && unknown.first?.subject == id)
            #expect(unknown.first?.payload.contains(#""field":"feed.processingStatus""#) == true)
            #expect(unknown.first?.payload.contains(#""value":"IN_SAFETY_REVIEW""#) == true)
            let open = try await fixture.store.read {
                try await $0.openListingFeeds(connectionID: fixture.connection.id)
            }
            #expect(open.count == 1 && open.first?.unknownAmazonStatus == "IN_SAFETY_REVIEW", "waited on: \(open)")

            // Amazon moves it on: the feed is processed and its items applied; nothing more is said.
            try await fixture.simulator.setFeedTiming(.init(queueSeconds: 0, baseSeconds: 0.01))
            try await fixture.simulator.forceFeedStatus(id, to: "IN_QUEUE")
            try await Self.settle(worker, fixture)
            let held = await Self.atAmazon(fixture)
            #expect(skus.allSatisfy { held[$0] == 6 }, "\(held)")
            #expect(try await said().count == 1)
        }
    }

    @Test(
        "a backlog goes in a feed: every quantity applied, each item's report read; a feed interrupted before Amazon knew of it is submitted, one Amazon made is adopted, never sent twice",
        arguments: TestEngine.available
    )
    func feeds(engine: TestEngine) async throws {
        let skus = (1...120).map { String(format: "F-%03d", $0) } + ["F-404"]
        try await Self.run(engine: engine, skus: skus, atAmazon: Set(skus.dropLast())) { fixture, worker, client in
            try await fixture.settings { $0.mfnStockHubs = ["HUB2"] }
            try await fixture.stock(
                Dictionary(uniqueKeysWithValues: skus.enumerated().map { ($1, $0 + 1) }),
                hub: "HUB2"
            )
            try await Self.settle(worker, fixture)
            let sent = await Self.atAmazon(fixture)
            #expect((1...120).allSatisfy { sent[String(format: "F-%03d", $0)] == $0 }, "\(sent)")
            let truth = await fixture.simulator.groundTruth()
            #expect(truth.feeds.count == 1 && truth.feeds.first?.messages == 121, "\(truth.feeds)")
            let items = try await Self.items(fixture)
            #expect(items["F-001"]?.sentRoute == "feed" && items["F-001"]?.sentReference == truth.feeds.first?.feedId)
            #expect(items["F-404"]?.error?.code == "8560" && items["F-404"]?.pending == false)
            #expect(
                await fixture.simulator.recordedRequests().filter { $0.operation == "patchListingsItem" }.isEmpty,
                "the whole backlog went in the feed"
            )

            // A node stopped after writing a feed and before Amazon knew of it: the next round submits it.
            try await fixture.stock(Dictionary(uniqueKeysWithValues: skus.prefix(60).map { ($0, 500) }), hub: "HUB2")
            let store = fixture.store
            let connectionID = fixture.connection.id
            try await store.transaction { _ = try await $0.refreshListingItems(connectionID: connectionID) }
            _ = try await store.transaction { session in
                let pending = try await session.pendingListingItems(connectionID: connectionID, limit: 100)
                return try await session.prepareListingFeed(
                    connectionID: connectionID,
                    marketplaceID: MarketplaceID(rawValue: Self.india),
                    items: pending.map { ($0, 500) }
                )
            }
            try await Self.settle(worker, fixture)
            #expect(await fixture.simulator.groundTruth().feeds.count == 2)
            #expect(await Self.atAmazon(fixture)["F-060"] == 500)

            // Stopped after Amazon made the feed and before its id was written: the feed is adopted, not sent again.
            try await fixture.stock(Dictionary(uniqueKeysWithValues: skus.prefix(60).map { ($0, 7) }), hub: "HUB2")
            try await store.transaction { _ = try await $0.refreshListingItems(connectionID: connectionID) }
            let feedID = try await store.transaction { session in
                let pending = try await session.pendingListingItems(connectionID: connectionID, limit: 100)
                return try await session.prepareListingFeed(
                    connectionID: connectionID,
                    marketplaceID: MarketplaceID(rawValue: Self.india),
                    items: pending.map { ($0, 7) }
                )
            }
            let prepared = try await store.read { try await $0.listingFeedItems(feedID: feedID) }
            _ = try await client.submitListingsFeed(
                try ListingRules.feed(
                    sellerID: fixture.connection.sellingPartnerID,
                    updates: prepared.map { ListingUpdate(sku: $0.merchantSKU, quantity: $0.quantity) }
                ),
                marketplaceIDs: [MarketplaceID(rawValue: Self.india)]
            )
            try await Self.settle(worker, fixture)
            let made = await fixture.simulator.groundTruth().feeds
            #expect(made.count == 3, "adopted: no fourth feed \(made)")
            #expect(await Self.atAmazon(fixture)["F-001"] == 7)
            let feeds = try await store.read { try await $0.listingFeeds(connectionID: connectionID) }
            #expect(
                feeds.map(\.status) == ["done", "done", "done"] && Set(feeds.compactMap(\.amazonFeedID)).count == 3
            )
        }
    }
}
