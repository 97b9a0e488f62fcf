import AmazonSimulator
import FlexCore
import FlexEngine
import FlexStore
import FlexStoreTesting
import Foundation
import Logging
import SellingPartner
import Testing

@Suite("Inbound shipments to Amazon as stock orders, against the simulator")
struct FBAInboundSyncTests {
    static let india = InventoryFixture.marketplace
    static let uae = "A2VIGQ35RCS4UG"

    @Test(
        "off until the setting is on; shipments made in Seller Central become purchase or transfer orders by the settings (per marketplace), with their WMS SKUs; receipts update them until received; cancelled at Amazon, cancelled here; one not received days after its expected day is ignored; events for each",
        arguments: TestEngine.available
    )
    func stockOrders(engine: TestEngine) async throws {
        try await InventoryFixture.run(engine: engine, otherMarketplaces: [Self.uae]) { fixture in
            let client = try await AmazonClients(configuration: .init(retry: .init(maxAttempts: 2, initialDelay: 0.01)))
                .client(for: fixture.connection.id, store: fixture.store)
            let worker = FBAInboundWorker(
                connectionID: fixture.connection.id,
                store: fixture.store,
                client: client,
                configuration: .init(pollInterval: 300, overlap: 7200, firstReadDays: 30),
                logger: Logger(label: "test.inbound")
            )
            let merchant = InventoryFixture.merchant
            func create(
                _ marketplace: String,
                _ items: [String: Int],
                status: String,
                needBy: String? = nil
            ) async throws
                -> String
            {
                try await fixture.simulator.createInboundShipment(
                    .init(
                        merchantId: merchant,
                        marketplaceId: marketplace,
                        items: items,
                        status: status,
                        needBy: needBy
                    )
                )
            }
            let toIndia = try await create(Self.india, ["SKU-A": 10, "SKU-B": 4], status: "SHIPPED")
            let toUAE = try await create(Self.uae, ["SKU-A": 6], status: "WORKING")
            let late = try await create(Self.india, ["SKU-B": 2], status: "SHIPPED", needBy: "2020-01-01")
            _ = try await worker.round()
            #expect(await fixture.simulator.recordedRequests().filter { $0.operation == "getInboundShipments" }.isEmpty)
            // The store's clock stands still and is moved by minutes, the simulator's runs in real time: the store's
            // is put an hour ahead of what Amazon stamps, and each read reaches back two.
            fixture.clock.advance(by: .seconds(3600))

            try await fixture.settings {
                $0.fbaInboundSyncEnabled = true
                $0.stockOrderTypeByMarketplace = [MarketplaceID(rawValue: Self.uae): .transfer]
                $0.transferSourceWarehouse = "HUB1"
            }
            _ = try await worker.round()
            func order(_ id: String) async throws -> StockOrder? {
                try await fixture.store.read {
                    try await $0.stockOrder(connectionID: fixture.connection.id, shipmentID: id)
                }
            }
            let india = try #require(try await order(toIndia))
            #expect(india.type == .purchase && india.sourceWarehouse == nil && india.state == .open)
            #expect(india.destinationWarehouse == "fba-\(Self.india)" && india.unitsShipped == 14)
            #expect(india.lines.first { $0.merchantSKU == "SKU-A" }?.warehouseSKUs == ["W-SKU-A"])
            let uae = try #require(try await order(toUAE))
            #expect(uae.type == .transfer && uae.sourceWarehouse == "HUB1" && uae.amazonStatus == "WORKING")
            #expect(try await order(late)?.state == .open, "no ignore rule yet")

            // Amazon receives part, then the rest; the UAE shipment is cancelled.
            try await fixture.simulator.progressInboundShipment(
                toIndia,
                .init(status: "RECEIVING", received: ["SKU-A": 6])
            )
            try await fixture.simulator.progressInboundShipment(toUAE, .init(status: "CANCELLED"))
            fixture.clock.advance(by: .seconds(301))
            _ = try await worker.round()
            let partly = try await order(toIndia)
            #expect(partly?.unitsReceived == 6 && partly?.state == .open && partly?.amazonStatus == "RECEIVING")
            #expect(try await order(toUAE)?.state == .cancelled)
            try await fixture.simulator.progressInboundShipment(
                toIndia,
                .init(status: "CLOSED", received: ["SKU-A": 4, "SKU-B": 4])
            )
            fixture.clock.advance(by: .seconds(301))
            _ = try await worker.round()
            #expect(try await order(toIndia)?.state == .received)
            let truth = await fixture.simulator.groundTruth().fbaInventory.first {
                $0.marketplaceId == Self.india && $0.sku == "SKU-A"
            }
            #expect(truth?.fulfillable == 10 && truth?.inboundShipped == 0, "Amazon moved the received units")

            try await fixture.settings { $0.ignoreUnreceivedAfterDays = 3 }
            _ = try await worker.round()
            #expect(try await order(late)?.state == .ignored)
            let events = try await fixture.store.read { try await $0.events(after: 0, account: .default, limit: 1000) }
                .filter { $0.type.hasPrefix("stock_order.") }
            #expect(
                events.filter { $0.subject == toIndia }.map(\.type) == [
                    "stock_order.created", "stock_order.updated", "stock_order.received",
                ]
            )
            #expect(events.filter { $0.subject == late }.map(\.type) == ["stock_order.created", "stock_order.ignored"])
            #expect(events.filter { $0.subject == toUAE }.last?.type == "stock_order.updated")
        }
    }
}
