import AmazonSimulator
import FlexCore
import FlexEngine
import FlexStore
import FlexStoreTesting
import Foundation
import Logging
import SellingPartner
import Testing

@Suite("Fencing: a node that lost a connection's lease writes nothing for it")
struct FencingTests {
    /// Node A holds the connection's lease; node B then takes it over (A is known dead), raising the epoch.
    func takeover(_ amazon: InventoryFixture) async throws -> (stale: Lease, current: Lease) {
        let name = Lease.name(for: amazon.connection.id)
        let stale = try #require(
            try await amazon.store.transaction { try await $0.acquireLease(name, owner: "node-a", ttl: .seconds(60)) }
        )
        let current = try #require(
            try await amazon.store.transaction {
                try await $0.acquireLease(name, owner: "node-b", ttl: .seconds(60), replacing: "node-a")
            }
        )
        #expect(current.epoch == stale.epoch + 1)
        return (stale, current)
    }

    @Test(
        "workers under a stale epoch are refused every write; under the current one they work",
        arguments: TestEngine.available
    )
    func staleWorkers(engine: TestEngine) async throws {
        try await InventoryFixture.run(engine: engine) { amazon in
            let (stale, current) = try await takeover(amazon)
            let client = try await AmazonClients().client(for: amazon.connection.id, store: amazon.store)
            let logger = Logger(label: "test.fencing")
            let id = amazon.connection.id
            let eventsBefore = try await amazon.store.read {
                try await $0.events(after: 0, account: .default, limit: 1000)
            }.count

            // Stock waiting to go out: the stale inventory worker claims nothing and sends nothing.
            try await amazon.stock(["SKU-A": 4])
            let staleInventory = InventoryWorker(
                connectionID: id,
                store: amazon.store,
                client: client,
                lease: stale,
                logger: logger
            )
            await #expect { try await staleInventory.syncRound() } throws: { $0.isLeaseLost }
            #expect(await amazon.inventoryCalls() == 0)
            #expect(try await amazon.store.read { try await $0.pendingInventoryCount(connectionID: id) } == 1)

            // Orders waiting at Amazon: the stale order worker reads them but stores none of them.
            let orderID = try await amazon.simulator.generateOrder(
                merchantID: InventoryFixture.merchant,
                locationID: amazon.locationID
            )
            let staleOrders = OrderWorker(
                connectionID: id,
                store: amazon.store,
                client: client,
                lease: stale,
                logger: logger
            )
            await #expect { try await staleOrders.poll() } throws: { $0.isLeaseLost }
            #expect(try await amazon.store.read { try await $0.order(ShipmentID(rawValue: orderID)) } == nil)
            #expect(
                try await amazon.store.read { try await $0.events(after: 0, account: .default, limit: 1000) }.count
                    == eventsBefore
            )

            // The current holder does all of it.
            let inventory = InventoryWorker(
                connectionID: id,
                store: amazon.store,
                client: client,
                lease: current,
                logger: logger
            )
            #expect(try await inventory.syncRound())
            #expect(await amazon.amazon("SKU-A")?.quantity == 4)
            let orders = OrderWorker(
                connectionID: id,
                store: amazon.store,
                client: client,
                lease: current,
                logger: logger
            )
            #expect(try await orders.poll() == 1)

            // A command queued by the WMS is not started by the stale fulfilment worker: it stays queued, untouched.
            let order = try #require(try await amazon.store.read { try await $0.order(ShipmentID(rawValue: orderID)) })
            let command = try await amazon.store.transaction { session in
                try await session.submitCommand(
                    CommandRequest(type: .confirm),
                    fingerprint: "confirm",
                    for: order,
                    idempotencyKey: "fencing"
                ).command
            }
            let staleFulfilment = FulfilmentWorker(
                connectionID: id,
                store: amazon.store,
                client: client,
                lease: stale,
                logger: logger
            )
            await #expect { try await staleFulfilment.runDue() } throws: { $0.isLeaseLost }
            let held = try #require(try await amazon.store.read { try await $0.command(command.id) })
            #expect(held.status == .queued && held.attempts == 0)
            #expect(await amazon.simulator.recordedRequests().filter { $0.operation == "processShipment" }.isEmpty)

            let fulfilment = FulfilmentWorker(
                connectionID: id,
                store: amazon.store,
                client: client,
                lease: current,
                logger: logger
            )
            try await fulfilment.drain()
            #expect(try await amazon.store.read { try await $0.command(command.id) }?.status == .succeeded)
        }
    }

    @Test("a transaction fenced by a stale lease keeps nothing it wrote", arguments: TestEngine.available)
    func staleTransaction(engine: TestEngine) async throws {
        try await InventoryFixture.run(engine: engine) { amazon in
            let (stale, current) = try await takeover(amazon)
            await #expect {
                try await amazon.store.transaction(fencedBy: stale) { session in
                    try await session.recordStock(
                        [
                            StockLevel(hub: InventoryFixture.hub, warehouseSKU: "W-SKU-A", quantity: 9)
                        ],
                        account: .default
                    )
                }
            } throws: { $0.isLeaseLost }
            #expect(try await amazon.item("SKU-A") == nil)
            try await amazon.store.transaction(fencedBy: current) { session in
                try await session.recordStock(
                    [
                        StockLevel(hub: InventoryFixture.hub, warehouseSKU: "W-SKU-A", quantity: 9)
                    ],
                    account: .default
                )
            }
            #expect(try await amazon.item("SKU-A")?.desiredQuantity == 9)
        }
    }
}
