import FlexCore
import FlexStore
import FlexStoreTesting
import Foundation
import Testing

@Suite("What a transaction wrote wakes the workers it concerns, once it commits")
struct WakeUpTests {
    struct Abandoned: Error {}

    @Test(
        "stock, listings and settings wake the inventory worker (and, but for stock, the MFN listings worker); notifications the order worker; consent the leases"
    )
    func notes() async throws {
        try await withStore(.sqlite) { store, _ in
            let connection = makeConnection(seller: "A1WAKE")
            let signals = store.wakeUps
            try await store.transaction {
                try await $0.insertConnection(connection, clientSecret: "s", actor: "test")
            }
            let inventory = signals.signal(for: connection.id, .inventory)
            let orders = signals.signal(for: connection.id, .orders)
            let fulfilment = signals.signal(for: connection.id, .fulfilment)
            let listings = signals.signal(for: connection.id, .listings)
            let mapping = LocationMapping(
                connectionID: connection.id,
                hub: "HUB1",
                locationID: "LOC-1",
                channel: .mfn,
                createdAt: Date()
            )

            // Written and rolled back: nobody is woken.
            await #expect(throws: Abandoned.self) {
                try await store.transaction { session in
                    try await session.setLocationMapping(mapping, actor: "test")
                    throw Abandoned()
                }
            }
            #expect(!inventory.isPending)

            try await store.transaction { session in
                try await session.setLocationMapping(mapping, actor: "test")
                #expect(!inventory.isPending, "woken before the commit")
            }
            #expect(inventory.isPending && listings.isPending)
            #expect(!orders.isPending && !fulfilment.isPending && !signals.events.isPending)
            await inventory.wait()
            await listings.wait()

            try await store.transaction { session in
                try await session.upsertListings([
                    Listing(
                        connectionID: connection.id,
                        marketplaceID: "A21TJRUUN4KGV",
                        warehouseSKU: "W-1",
                        merchantSKU: "M-1",
                        asin: "B000000001",
                        updatedAt: Date()
                    )
                ])
            }
            #expect(inventory.isPending && listings.isPending)
            await inventory.wait()
            await listings.wait()
            let write = try await store.transaction {
                try await $0.recordStock([StockLevel(hub: "HUB1", warehouseSKU: "W-1", quantity: 5)], account: .default)
            }
            #expect(write.connections == [connection.id])
            #expect(inventory.isPending)
            // The connection sums no MFN hub: a stock write is nothing to its listings worker.
            #expect(!listings.isPending)
            await inventory.wait()
            // The same stock again changes nothing, and wakes nobody.
            try await store.transaction {
                try await $0.recordStock([StockLevel(hub: "HUB1", warehouseSKU: "W-1", quantity: 5)], account: .default)
            }
            #expect(!inventory.isPending)
            try await store.transaction {
                try await $0.updateSettings(of: connection.id, actor: "test") { $0.safetyStock = 1 }
            }
            #expect(inventory.isPending)

            let routed = try await store.transaction {
                try await $0.requestShipmentFetch(sellingPartnerID: "A1WAKE", shipmentID: "S-1", region: .eu)
            }
            #expect(routed == [connection.id])
            #expect(orders.isPending)

            #expect(!signals.connections.isPending)
            try await store.transaction { try await $0.authorize(connection.id, refreshToken: "token", actor: "test") }
            #expect(signals.connections.isPending)
            await signals.connections.wait()
            try await store.transaction { try await $0.setStatus(connection.id, to: .disabled, actor: "test") }
            #expect(signals.connections.isPending)
            #expect(!fulfilment.isPending)
        }
    }
}

@Suite("A wake-up signal")
struct WakeUpSignalTests {
    @Test(
        "one wake wakes every waiter; a wake while nobody waits is kept for the next wait; a cancelled wait takes none"
    )
    func waiters() async throws {
        let signal = WakeUp()
        let first = Task { await signal.wait() }
        let second = Task { await signal.wait() }
        // Both wait (a wake now would be kept as pending otherwise, and only one of them would see it).
        try await Task.sleep(for: .milliseconds(100))
        #expect(!signal.isPending)
        signal.wake()
        await first.value
        await second.value
        #expect(!signal.isPending)

        let cancelled = Task { await signal.wait() }
        try await Task.sleep(for: .milliseconds(50))
        cancelled.cancel()
        await cancelled.value
        signal.wake()
        #expect(signal.isPending, "the cancelled waiter took nothing: the wake waits for the next wait")
        await signal.wait()
        #expect(!signal.isPending)
    }
}

@Suite("Wake-ups between nodes on one PostgreSQL")
struct CrossNodeWakeUpTests {
    /// Whether `signal` is woken within five seconds.
    static func woken(_ signal: WakeUp) async throws -> Bool {
        for _ in 0..<100 {
            if signal.isPending { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test(
        "what one node commits wakes the other node's workers, lease keeper and dispatcher (LISTEN/NOTIFY), never for a transaction rolled back; a node does not hear its own twice",
        .enabled(if: TestEngine.available.contains(.postgres))
    )
    func acrossNodes() async throws {
        try await TestDatabase.with(.postgres) { database in
            let key = MasterKey.generate()
            let configuration = Store.Configuration(databaseURL: database.url, masterKey: .value(key))
            let a = try await Store.open(configuration)
            let b = try await Store.open(configuration)
            do {
                let connection = makeConnection(seller: "A1NODES")
                try await a.transaction { try await $0.insertConnection(connection, clientSecret: "s", actor: "test") }
                // B listens from a task started as it opened: consent given on A again until B hears it (a
                // notification sent before B listened reaches nobody), for at most ten tries.
                var heard = false
                for _ in 0..<10 where !heard {
                    try await a.transaction { try await $0.authorize(connection.id, refreshToken: "t", actor: "test") }
                    heard = try await Self.woken(b.wakeUps.connections)
                }
                #expect(heard, "consent given on A wakes B's lease keeper")
                await b.wakeUps.connections.wait()
                await a.wakeUps.connections.wait()

                let mapping = LocationMapping(
                    connectionID: connection.id,
                    hub: "HUB1",
                    locationID: "LOC-1",
                    channel: .mfn,
                    createdAt: Date()
                )
                let inventory = b.wakeUps.signal(for: connection.id, .inventory)
                await #expect(throws: WakeUpTests.Abandoned.self) {
                    try await a.transaction { session in
                        try await session.setLocationMapping(mapping, actor: "test")
                        throw WakeUpTests.Abandoned()
                    }
                }
                try await a.transaction { try await $0.setLocationMapping(mapping, actor: "test") }
                #expect(try await Self.woken(inventory), "a stock worker on B woken by A's write")
                await inventory.wait()
                #expect(try await Self.woken(b.wakeUps.signal(for: connection.id, .listings)))
                // A heard its own write once, from its own commit, not again through the database.
                let own = a.wakeUps.signal(for: connection.id, .inventory)
                #expect(own.isPending)
                await own.wait()
                try await Task.sleep(for: .milliseconds(300))
                #expect(!own.isPending, "A's own notification came back to it")
                #expect(!inventory.isPending, "the rolled-back write woke B")
            } catch {
                try? await a.close()
                try? await b.close()
                throw error
            }
            try await a.close()
            try await b.close()
        }
    }
}
