import FlexCore
import FlexEngine
import FlexStore
import FlexStoreTesting
import Foundation
import Logging
import Testing

@Suite("What waits to reach Amazon, per connection")
struct BacklogMetricsTests {
    @Test(
        "the backlog counts stock not yet applied, commands queued and notified shipments not fetched, for the connections the node holds, and empties as the workers send",
        arguments: TestEngine.available
    )
    func backlog(engine: TestEngine) async throws {
        try await FulfilmentTests.run(engine: engine) { parts in
            let store = parts.amazon.store
            let connectionID = parts.amazon.connection.id
            let keeper = LeaseKeeper(store: store, configuration: .init(owner: "node-a", ttl: .seconds(30)))
            let metrics = BacklogMetrics(store: store, leases: keeper, logger: Logger(label: "test.backlog"))
            #expect(try await metrics.publish().isEmpty, "no connection held: nothing published")
            _ = try await keeper.tick()

            let empty = try #require(try await metrics.publish()[connectionID])
            #expect(empty == ConnectionBacklog())

            _ = try await parts.amazon.stock(["SKU-A": 5, "SKU-B": 7])
            let id = try await parts.newOrder()
            try await parts.orders.poll()
            try await parts.submit(CommandRequest(type: .confirm), to: id)
            try await store.transaction {
                _ = try await $0.requestShipmentFetch(
                    sellingPartnerID: InventoryFixture.merchant,
                    shipmentID: ShipmentID(rawValue: "not-yet-fetched")
                )
            }
            let waiting = try #require(try await metrics.publish()[connectionID])
            #expect(waiting.stockItems == 2)
            #expect(waiting.oldestStockChange != nil)
            #expect(waiting.commands == 1 && waiting.oldestCommand != nil)
            #expect(waiting.shipmentFetches == 1 && waiting.oldestShipmentFetch != nil)

            try await parts.fulfilment.drain()
            // Amazon's reservation moved with the order: the items go again, once.
            let worker = try await parts.amazon.worker()
            var rounds = 0
            while try await worker.syncRound(), rounds < 5 { rounds += 1 }
            let sent = try #require(try await metrics.publish()[connectionID])
            #expect(sent.stockItems == 0 && sent.oldestStockChange == nil)
            #expect(sent.commands == 0 && sent.oldestCommand == nil)
        }
    }
}
