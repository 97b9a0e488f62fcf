import AmazonSimulator
import FlexCore
import FlexEngine
import FlexStore
import FlexStoreTesting
import Foundation
import Logging
import SellingPartner
import Testing

@Suite("MFN orders against the simulator")
struct MerchantOrderSyncTests {
    @Test(
        "off by default; on, a poll takes the connection's marketplaces' payable orders once, and a notification brings a cancellation at once",
        arguments: TestEngine.available
    )
    func sync(engine: TestEngine) async throws {
        try await FulfilmentTests.run(engine: engine) { parts in
            let store = parts.amazon.store
            let connection = parts.amazon.connection
            let simulator = parts.amazon.simulator
            let worker = MerchantOrderWorker(
                connectionID: connection.id,
                store: store,
                client: parts.client,
                logger: Logger(label: "test.mfn")
            )
            let merchant = InventoryFixture.merchant
            let india = MarketplaceID(rawValue: InventoryFixture.marketplace)
            let first = try await simulator.createMFNOrder(
                .init(merchantID: merchant, marketplaceID: india.rawValue, items: ["MUG": 2])
            )
            #expect(try await worker.poll() == 0, "MFN sync is off until the connection's setting is on")
            #expect(try await store.read { try await $0.order(ShipmentID(rawValue: first)) } == nil)

            try await store.transaction {
                _ = try await $0.updateSettings(of: connection.id, actor: "test") { $0.mfnOrderSyncEnabled = true }
            }
            let pending = try await simulator.createMFNOrder(
                .init(merchantID: merchant, marketplaceID: india.rawValue, pendingSeconds: 600)
            )
            _ = try await simulator.createMFNOrder(.init(merchantID: merchant, marketplaceID: "ATVPDKIKX0DER"))
            #expect(try await worker.poll() == 1, "the payable order of the connection's marketplace only")
            #expect(try await worker.poll() == 0, "read again by the overlap: nothing changes")
            let stored = try #require(try await store.read { try await $0.order(ShipmentID(rawValue: first)) })
            #expect(stored.source == .mfn && stored.state == .confirmed && stored.status == "UNSHIPPED")
            #expect(
                try await store.read { try await $0.order(ShipmentID(rawValue: pending)) } == nil,
                "PENDING held back"
            )

            // Amazon cancels it; the ORDER_CHANGE is filed and fetched at once, without waiting for the next poll.
            try await simulator.cancelMFNOrder(first, by: "BUYER", reason: "BuyerCanceled")
            let filed = try await store.transaction {
                try await $0.requestMerchantOrderFetch(sellingPartnerID: merchant, orderID: first, marketplaceID: india)
            }
            #expect(filed == [connection.id])
            let elsewhere = try await store.transaction {
                try await $0.requestMerchantOrderFetch(
                    sellingPartnerID: merchant,
                    orderID: "999-0000000-0000000",
                    marketplaceID: "ATVPDKIKX0DER"
                )
            }
            #expect(elsewhere.isEmpty, "no connection syncs that marketplace")
            #expect(try await worker.fetchNotified() == 1)
            #expect(
                try await store.read { try await $0.merchantOrderFetches(connectionID: connection.id, limit: 10) }
                    .isEmpty
            )
            let events = try await store.read { try await $0.events(after: 0, account: .default, limit: 1000) }
                .filter { $0.subject == first }
            #expect(events.map(\.type) == ["order.created", "order.cancelled"])
            #expect(events.last?.payload.contains(#""putBack""#) == true)
            #expect(
                try await store.read {
                    try await $0.orderHistory(ShipmentID(rawValue: first), connectionID: connection.id)
                }
                .map(\.source) == ["poll", "notification"]
            )
        }
    }
}
