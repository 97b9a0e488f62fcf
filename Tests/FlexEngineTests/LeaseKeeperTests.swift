import FlexCore
import FlexEngine
import FlexStore
import FlexStoreTesting
import Foundation
import Testing

@Suite("Lease keeper")
struct LeaseKeeperTests {
    @Test(
        "each active connection is held by one node; a released one moves to the other",
        arguments: TestEngine.available
    )
    func ownership(engine: TestEngine) async throws {
        let clock = TestClock()
        try await TestDatabase.with(engine) { database in
            let store = try await Store.open(
                Store.Configuration(databaseURL: database.url, masterKey: .value(MasterKey.generate())),
                clock: clock.wallClock
            )
            let active = Connection(
                name: "A",
                sellingPartnerID: "S1",
                region: .eu,
                marketplaceIDs: ["M"],
                applicationClientID: "c",
                createdAt: clock.now
            )
            let pending = Connection(
                name: "B",
                sellingPartnerID: "S2",
                region: .eu,
                marketplaceIDs: ["M"],
                applicationClientID: "c",
                createdAt: clock.now
            )
            try await store.transaction { session in
                try await session.insertConnection(active, clientSecret: "s", actor: "test")
                try await session.authorize(active.id, refreshToken: "r", actor: "test")
                try await session.insertConnection(pending, clientSecret: "s", actor: "test")
            }
            let nodeA = LeaseKeeper(store: store, configuration: .init(owner: "node-a", ttl: .seconds(30)))
            let nodeB = LeaseKeeper(store: store, configuration: .init(owner: "node-b", ttl: .seconds(30)))

            #expect(try await nodeA.tick().gained == [active.id])
            #expect(try await nodeB.tick().gained.isEmpty)
            #expect(try await nodeA.tick() == LeaseKeeper.Changes())

            // Node A stops cleanly: node B takes over on its next round, with a higher epoch.
            try await nodeA.releaseAll()
            #expect(try await nodeB.tick().gained == [active.id])
            #expect(await nodeB.leases[active.id]?.epoch == 2)

            // Node B pauses past its lease: node A takes the connection, and B learns it lost it.
            clock.advance(by: .seconds(31))
            #expect(try await nodeA.tick().gained == [active.id])
            let changes = try await nodeB.tick()
            #expect(changes.lost == [active.id])
            #expect(await nodeB.leases.isEmpty)

            // A connection that stops being active is let go.
            try await store.transaction { try await $0.setStatus(active.id, to: .needsReauthorization, actor: "test") }
            #expect(try await nodeA.tick().lost == [active.id])
            #expect(await nodeA.leases.isEmpty)
            try await store.close()
        }
    }

    @Test(
        "a node restarted after a kill takes its dead predecessor's leases at once; a live node's it waits for",
        arguments: TestEngine.available
    )
    func deadPredecessor(engine: TestEngine) async throws {
        let clock = TestClock()
        try await TestDatabase.with(engine) { database in
            let store = try await Store.open(
                Store.Configuration(databaseURL: database.url, masterKey: .value(MasterKey.generate())),
                clock: clock.wallClock
            )
            let connection = Connection(
                name: "A",
                sellingPartnerID: "S1",
                region: .eu,
                marketplaceIDs: ["M"],
                applicationClientID: "c",
                createdAt: clock.now
            )
            try await store.transaction { session in
                try await session.insertConnection(connection, clientSecret: "s", actor: "test")
                try await session.authorize(connection.id, refreshToken: "r", actor: "test")
            }
            // The first run holds the connection, then is killed: its lease is still valid for 30 s.
            let killed = LeaseKeeper(store: store, configuration: .init(owner: "host-101", ttl: .seconds(30)))
            #expect(try await killed.tick().gained == [connection.id])
            let epoch = try #require(await killed.leases[connection.id]?.epoch)

            // Another node, which cannot tell whether host-101 lives, waits for the lease to expire.
            let other = LeaseKeeper(store: store, configuration: .init(owner: "host-202", ttl: .seconds(30)))
            #expect(try await other.tick().gained.isEmpty)
            // The restarted node knows host-101 is dead: it takes the lease at once, under a new epoch.
            let restarted = LeaseKeeper(
                store: store,
                configuration: .init(owner: "host-303", ttl: .seconds(30), isDeadOwner: { $0 == "host-101" })
            )
            #expect(try await restarted.tick().gained == [connection.id])
            #expect(try #require(await restarted.leases[connection.id]?.epoch) > epoch)
            // A dead-owner check never takes a live node's lease.
            let rival = LeaseKeeper(
                store: store,
                configuration: .init(owner: "host-404", ttl: .seconds(30), isDeadOwner: { $0 == "host-101" })
            )
            #expect(try await rival.tick().gained.isEmpty)
            try await store.close()
        }
    }

    @Test("a connection authorised on this node is taken at once, not at the keeper's next round")
    func wokenByAuthorization() async throws {
        try await TestDatabase.with(.sqlite) { database in
            let store = try await Store.open(
                Store.Configuration(databaseURL: database.url, masterKey: .value(MasterKey.generate()))
            )
            let connection = Connection(
                name: "A",
                sellingPartnerID: "S1",
                region: .eu,
                marketplaceIDs: ["M"],
                applicationClientID: "c",
                createdAt: Date()
            )
            try await store.transaction { try await $0.insertConnection(connection, clientSecret: "s", actor: "test") }
            let keeper = LeaseKeeper(
                store: store,
                configuration: .init(owner: "node-a", ttl: .seconds(600), interval: .seconds(300))
            )
            let running = Task { try await keeper.run() }
            // The keeper's first round finds nothing to hold; its next would be five minutes away.
            try await Task.sleep(for: .milliseconds(200))
            // The store wakes the keeper once the authorisation commits.
            try await store.transaction { try await $0.authorize(connection.id, refreshToken: "r", actor: "test") }
            var held = false
            for _ in 0..<100 where !held {
                held = await keeper.leases[connection.id] != nil
                if !held { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(held)
            running.cancel()
            _ = await running.result
            try await store.close()
        }
    }

    @Test("another node's authorisation is seen at the keeper's next round, on the keeper's clock")
    func nextRound() async throws {
        try await TestDatabase.with(.sqlite) { database in
            let configuration = Store.Configuration(databaseURL: database.url, masterKey: .value(MasterKey.generate()))
            let store = try await Store.open(configuration)
            // Another node: its own store on the same database, whose writes wake nobody here.
            let otherNode = try await Store.open(configuration)
            let connection = Connection(
                name: "A",
                sellingPartnerID: "S1",
                region: .eu,
                marketplaceIDs: ["M"],
                applicationClientID: "c",
                createdAt: Date()
            )
            try await store.transaction { try await $0.insertConnection(connection, clientSecret: "s", actor: "test") }
            let clock = ManualClock()
            let keeper = LeaseKeeper(
                store: store,
                configuration: .init(owner: "node-a", ttl: .seconds(600), interval: .seconds(300)),
                clock: AnyClock(clock)
            )
            let running = Task { try await keeper.run() }
            try await clock.waitForSleepers(1)  // the first round is done: nothing to hold
            try await otherNode.transaction {
                try await $0.authorize(connection.id, refreshToken: "r", actor: "test")
            }
            try await Task.sleep(for: .milliseconds(200))
            #expect(await keeper.leases[connection.id] == nil, "not before the next round")
            clock.advance(by: .seconds(300))
            var held = false
            for _ in 0..<100 where !held {
                held = await keeper.leases[connection.id] != nil
                if !held { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(held, "taken at the next round")
            running.cancel()
            _ = await running.result
            try await otherNode.close()
            try await store.close()
        }
    }
}
