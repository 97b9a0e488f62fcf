import FlexCore
import FlexEngine
import FlexStore
import FlexStoreTesting
import Foundation
import Logging
import Synchronization
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

    /// `count` active connections in `store`.
    static func activeConnections(_ count: Int, in store: Store, at now: Date) async throws -> [ConnectionID] {
        try await store.transaction { session in
            var ids: [ConnectionID] = []
            for index in 0..<count {
                let connection = Connection(
                    name: "Seller \(index)",
                    sellingPartnerID: SellingPartnerID(rawValue: "S\(index)"),
                    region: .eu,
                    marketplaceIDs: ["M"],
                    applicationClientID: "c",
                    createdAt: now
                )
                try await session.insertConnection(connection, clientSecret: "s", actor: "test")
                try await session.authorize(connection.id, refreshToken: "r", actor: "test")
                ids.append(connection.id)
            }
            return ids
        }
    }

    /// Which node holds each connection's lease, as stored.
    static func holders(_ ids: [ConnectionID], in store: Store, at now: Date) async throws -> [ConnectionID: String] {
        let leases = try await store.read { try await $0.leases() }
        var holders: [ConnectionID: String] = [:]
        for id in ids {
            if let lease = leases[Lease.name(for: id)], lease.expiresAt > now { holders[id] = lease.owner }
        }
        return holders
    }

    @Test(
        "nodes share the connections: a node alone takes all, a second and a third joining get their share as the others hand over their surplus, a leaving node's share is taken at once",
        arguments: TestEngine.available
    )
    func fairShares(engine: TestEngine) async throws {
        let clock = TestClock()
        try await TestDatabase.with(engine) { database in
            let store = try await Store.open(
                Store.Configuration(databaseURL: database.url, masterKey: .value(MasterKey.generate())),
                clock: clock.wallClock
            )
            let ids = try await Self.activeConnections(9, in: store, at: clock.now)
            let a = LeaseKeeper(store: store, configuration: .init(owner: "node-a", ttl: .seconds(30)))
            let b = LeaseKeeper(store: store, configuration: .init(owner: "node-b", ttl: .seconds(30)))
            let c = LeaseKeeper(store: store, configuration: .init(owner: "node-c", ttl: .seconds(30)))
            let keepers = ["node-a": a, "node-b": b, "node-c": c]
            /// A round of each keeper given, each hand-over finished as ConnectionSync would once the work stopped.
            func round(_ nodes: [LeaseKeeper]) async throws {
                for node in nodes {
                    let before = Set(await node.leases.keys)
                    let changes = try await node.tick()
                    let after = Set(await node.leases.keys)
                    for id in changes.lost.subtracting(after) where before.contains(id) {
                        try await node.finishHandOver(id)
                    }
                }
            }
            func shares() async throws -> [String: Int] {
                var counts: [String: Int] = [:]
                for (_, owner) in try await Self.holders(ids, in: store, at: clock.now) {
                    counts[owner, default: 0] += 1
                }
                // What each keeper believes it holds is what the store says.
                for (name, keeper) in keepers {
                    #expect(await keeper.leases.count == counts[name, default: 0], "\(name)")
                }
                return counts
            }

            try await round([a])
            #expect(try await shares() == ["node-a": 9])
            // B announces itself; A hands over its surplus (4) at its next round, B takes it at its next.
            try await round([b])
            #expect(try await shares() == ["node-a": 9])
            try await round([a, b])
            #expect(try await shares() == ["node-a": 5, "node-b": 4])
            // C joins: each hands over down to ⌈9/3⌉ = 3, and C takes what was given up.
            try await round([c, a, b, c])
            #expect(try await shares() == ["node-a": 3, "node-b": 3, "node-c": 3])
            try await round([a, b, c])
            #expect(try await shares() == ["node-a": 3, "node-b": 3, "node-c": 3], "stable")
            // B leaves cleanly: its connections and its node lease are given up, so A and C share them at once.
            try await b.releaseAll()
            try await round([a, c])
            let after = try await shares()
            #expect(after["node-b"] == nil && after.values.reduce(0, +) == 9)
            #expect(after.values.allSatisfy { $0 <= 5 })
            let epochs = try await store.read { try await $0.leases() }
            #expect(ids.allSatisfy { (epochs[Lease.name(for: $0)]?.epoch ?? 0) >= 1 })
            try await store.close()
        }
    }

    @Test(
        "on PostgreSQL a killed node is seen dead at once: its presence lock is gone, and its connections are taken before its leases expire"
    )
    func presence() async throws {
        guard TestEngine.available.contains(.postgres) else { return }
        let clock = TestClock()
        try await TestDatabase.with(.postgres) { database in
            let key = MasterKey.generate()
            let store = try await Store.open(
                Store.Configuration(databaseURL: database.url, masterKey: .value(key)),
                clock: clock.wallClock
            )
            // Another process's store, as the killed node would have: its presence lock on a connection of its own.
            let killedStore = try await Store.open(
                Store.Configuration(databaseURL: database.url, masterKey: .value(key)),
                clock: clock.wallClock
            )
            let ids = try await Self.activeConnections(4, in: store, at: clock.now)
            let held = WakeUp()
            let presence = Task { await killedStore.holdPresence(of: "node-killed") { held.wake() } }
            await held.wait(timeout: .seconds(10))
            let killed = LeaseKeeper(store: killedStore, configuration: .init(owner: "node-killed", ttl: .seconds(30)))
            await killed.markPresenceHeld()
            let survivor = LeaseKeeper(store: store, configuration: .init(owner: "node-survivor", ttl: .seconds(30)))
            #expect(try await killed.tick().gained.count == 4)
            // Alive: the survivor sees the lock and waits (it takes its share only once the other hands over).
            #expect(try await survivor.tick().gained.isEmpty)
            // The killed node's connection to PostgreSQL drops: the lock goes with it, the leases stay valid.
            presence.cancel()
            try await killedStore.close()
            clock.advance(by: .seconds(1))
            let taken = try await survivor.tick()
            #expect(taken.gained == Set(ids), "taken 1 s after the kill, not after the 30 s lease")
            #expect(try await Self.holders(ids, in: store, at: clock.now).values.allSatisfy { $0 == "node-survivor" })
            try await store.close()
        }
    }

    @Test(
        "a node holding many connections on the C library's malloc says once that jemalloc would serve it better",
        arguments: TestEngine.available
    )
    func allocatorAdvice(engine: TestEngine) async throws {
        for (allocator, threshold, expected) in [
            (MemoryAllocator.system, 3, 1), (.system, 4, 0), (.jemalloc, 1, 0),
        ] {
            try await TestDatabase.with(engine) { database in
                let store = try await Store.open(
                    Store.Configuration(databaseURL: database.url, masterKey: .value(MasterKey.generate()))
                )
                _ = try await Self.activeConnections(3, in: store, at: Date())
                let notices = NoticeLog()
                let keeper = LeaseKeeper(
                    store: store,
                    configuration: .init(
                        owner: "node-a",
                        allocator: allocator,
                        allocatorAdviceConnections: threshold
                    ),
                    logger: Logger(label: "leases") { _ in notices }
                )
                #expect(try await keeper.tick().gained.count == 3)
                try await keeper.tick()
                let advice = notices.messages.filter { $0.contains("jemalloc") }
                #expect(advice.count == expected, "\(allocator), advice from \(threshold) connections")
                try await store.close()
            }
        }
    }
}

/// Keeps the messages logged at notice and above.
private struct NoticeLog: LogHandler {
    private let box: Box

    init() { box = Box() }

    var messages: [String] { box.messages.withLock { $0 } }

    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .notice

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        box.messages.withLock { $0.append(event.message.description) }
    }

    private final class Box: Sendable {
        let messages = Mutex<[String]>([])
    }
}
