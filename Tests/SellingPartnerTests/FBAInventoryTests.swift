import AmazonFBAInventory
import AmazonSimulator
import FlexCore
import Foundation
import SellingPartner
import Testing

@Suite("FBA stock through SellingPartner: getInventorySummaries against the simulator")
struct FBAInventoryTests {
    static let germany: MarketplaceID = "A1PA6795UKMFR9"
    static let france: MarketplaceID = "A13V1IB3VIYZZH"

    @Test(
        "every page read (50 SKUs a page) with Amazon's breakdown; only what changed from startDateTime on; a marketplace's stock its own; a wrong query refused"
    )
    func summaries() async throws {
        try await SimulatedAmazon.run { amazon in
            let client = try await amazon.client()
            let mark = Date().addingTimeInterval(-1)
            _ = try await amazon.simulator.putFBAStock(
                (1...120).map {
                    FBAStockSpecification(
                        sku: String(format: "FBA-%03d", $0),
                        fulfillable: $0,
                        inboundShipped: 2,
                        reserved: 1,
                        unfulfillable: $0 == 7 ? 3 : 0
                    )
                } + [FBAStockSpecification(sku: "EMPTY", fulfillable: 0)],
                merchantID: SimulatedAmazon.merchant,
                marketplaceID: Self.germany.rawValue
            )
            _ = try await amazon.simulator.putFBAStock(
                [FBAStockSpecification(sku: "FBA-001", fulfillable: 40)],
                merchantID: SimulatedAmazon.merchant,
                marketplaceID: Self.france.rawValue
            )
            let all = try await client.fbaStock(marketplaceID: Self.germany, changedSince: nil)
            #expect(all.count == 121, "three pages, every summary")
            let seventh = try #require(all.first { $0.sku == "FBA-007" })
            #expect(seventh.fulfillable == 7 && seventh.inboundShipped == 2 && seventh.reserved == 1)
            #expect(
                seventh.unfulfillable == 3 && seventh.total == 13 && seventh.asin != nil && seventh.updatedAt != nil
            )
            let calls = await amazon.simulator.recordedRequests().filter { $0.operation == "getInventorySummaries" }
            #expect(calls.count == 3)
            #expect(all.first { $0.sku == "EMPTY" }?.total == 0)

            try await Task.sleep(for: .milliseconds(1100))
            let after = Date()
            _ = try await amazon.simulator.putFBAStock(
                [
                    FBAStockSpecification(sku: "FBA-002", fulfillable: 0, reserved: 2),
                    FBAStockSpecification(sku: "FBA-003", inboundShipped: 0, inboundReceiving: 2),
                ],
                merchantID: SimulatedAmazon.merchant,
                marketplaceID: Self.germany.rawValue
            )
            let changed = try await client.fbaStock(marketplaceID: Self.germany, changedSince: after)
            #expect(changed.map(\.sku) == ["FBA-002"], "Amazon does not detect changes of inbound quantities")
            #expect(changed.first?.reserved == 2 && changed.first?.fulfillable == 0)
            #expect(try await client.fbaStock(marketplaceID: Self.germany, changedSince: mark).count == 121)
            let france = try await client.fbaStock(marketplaceID: Self.france, changedSince: nil)
            #expect(france.map(\.fulfillable) == [40])

            await #expect(throws: (any Error).self) {
                _ = try await client.fbaInventory.getInventorySummaries(
                    query: .init(
                        granularityType: .marketplace,
                        granularityId: Self.france.rawValue,
                        marketplaceIds: [Self.germany.rawValue]
                    )
                )
            }
        }
    }
}
