import AmazonSimulator
import FlexCore
import FlexEngine
import FlexStore
import FlexStoreTesting
import Foundation
import Logging
import SellingPartner
import Testing

@Suite("FBA stock per marketplace against the simulator")
struct FBAStockSyncTests {
    static let india = InventoryFixture.marketplace
    static let uae = "A2VIGQ35RCS4UG"

    @Test(
        "off until the setting is on; then every SKU of both marketplaces as the ground truth says, quietly; changes since the last read with an event each; a SKU gone from a full read holds nothing; a restart carries on from the stored watermark",
        arguments: TestEngine.available
    )
    func sync(engine: TestEngine) async throws {
        try await InventoryFixture.run(engine: engine, otherMarketplaces: [Self.uae]) { fixture in
            let client = try await AmazonClients(configuration: .init(retry: .init(maxAttempts: 2, initialDelay: 0.01)))
                .client(for: fixture.connection.id, store: fixture.store)
            func worker() -> FBAStockWorker {
                FBAStockWorker(
                    connectionID: fixture.connection.id,
                    store: fixture.store,
                    client: client,
                    configuration: .init(pollInterval: 60, fullInterval: 3600, overlap: 120),
                    logger: Logger(label: "test.fba")
                )
            }
            let merchant = InventoryFixture.merchant
            _ = try await fixture.simulator.putFBAStock(
                (1...60).map { (index: Int) in
                    FBAStockSpecification(sku: "SKU-\(index)", fulfillable: index, inboundShipped: 1)
                },
                merchantID: merchant,
                marketplaceID: Self.india
            )
            _ = try await fixture.simulator.putFBAStock(
                [FBAStockSpecification(sku: "SKU-1", fulfillable: 9, reserved: 2)],
                merchantID: merchant,
                marketplaceID: Self.uae
            )
            try await fixture.store.transaction { session in
                try await session.upsertListings([
                    Listing(
                        connectionID: fixture.connection.id,
                        marketplaceID: MarketplaceID(rawValue: Self.uae),
                        warehouseSKU: "EAN-1",
                        merchantSKU: "SKU-1",
                        asin: "B0FBA00001",
                        updatedAt: fixture.clock.now
                    )
                ])
            }
            _ = try await worker().round()
            #expect(
                await fixture.simulator.recordedRequests().filter { $0.operation == "getInventorySummaries" }.isEmpty
            )

            try await fixture.settings { $0.fbaStockSyncEnabled = true }
            _ = try await worker().round()
            func held(_ marketplace: String) async throws -> [String: StoredFBAStock] {
                Dictionary(
                    uniqueKeysWithValues: try await fixture.store.read {
                        try await $0.fbaStock(
                            connectionID: fixture.connection.id,
                            marketplaceID: MarketplaceID(rawValue: marketplace)
                        )
                    }.map { ($0.stock.sku.rawValue, $0) }
                )
            }
            func matchesTruth() async throws -> Bool {
                let truth = await fixture.simulator.groundTruth().fbaInventory.filter { $0.total > 0 }
                for entry in truth {
                    let mine = try await held(entry.marketplaceId)[entry.sku]?.stock
                    guard mine?.fulfillable == entry.fulfillable, mine?.reserved == entry.reserved,
                        mine?.inboundShipped == entry.inboundShipped, mine?.total == entry.total
                    else { return false }
                }
                return true
            }
            let india = try await held(Self.india)
            let uae = try await held(Self.uae)
            #expect(india.count == 60 && uae.count == 1)
            #expect(try await matchesTruth())
            #expect(uae["SKU-1"]?.warehouseSKUs == ["EAN-1"])
            var events = try await fixture.store.read { try await $0.events(after: 0, account: .default, limit: 1000) }
            #expect(!events.contains { $0.type == "stock.fba_changed" }, "the first read announces nothing")

            // Amazon sells and receives; the next read, a minute on, asks for what changed since the last one.
            _ = try await fixture.simulator.putFBAStock(
                [
                    FBAStockSpecification(sku: "SKU-2", fulfillable: 0, reserved: 2),
                    FBAStockSpecification(sku: "SKU-61", fulfillable: 5),
                ],
                merchantID: merchant,
                marketplaceID: Self.india
            )
            _ = try await worker().round()
            #expect(
                await fixture.simulator.recordedRequests().filter { $0.operation == "getInventorySummaries" }.count
                    == 3,
                "not due yet: two pages of India and one of the UAE so far"
            )
            fixture.clock.advance(by: .seconds(61))
            _ = try await worker().round()
            #expect(try await matchesTruth())
            events = try await fixture.store.read { try await $0.events(after: 0, account: .default, limit: 1000) }
                .filter { $0.type == "stock.fba_changed" }
            #expect(Set(events.compactMap(\.subject)) == ["fba-\(Self.india)/SKU-2", "fba-\(Self.india)/SKU-61"])
            let startTimes = await fixture.simulator.recordedRequests().filter {
                $0.operation == "getInventorySummaries" && $0.path.contains("startDateTime")
            }
            #expect(startTimes.count >= 2, "changes-only reads of both marketplaces")

            // An hour on, a full read: a SKU Amazon no longer lists holds nothing (a new worker: a restart).
            _ = try await fixture.simulator.putFBAStock(
                [FBAStockSpecification(sku: "SKU-3", fulfillable: 0, inboundShipped: 0)],
                merchantID: merchant,
                marketplaceID: Self.india
            )
            fixture.clock.advance(by: .seconds(3600))
            _ = try await worker().round()
            let gone = try await held(Self.india)["SKU-3"]
            #expect(gone?.stock.total == 0 && gone?.stock.fulfillable == 0)
            #expect(try await matchesTruth())
        }
    }
}
