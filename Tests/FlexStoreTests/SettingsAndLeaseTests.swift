import FlexCore
import FlexStore
import FlexStoreTesting
import Foundation
import Testing

@Suite("Settings, change log, catalogue and leases")
struct SettingsAndLeaseTests {
    @Test("a settings change is logged per setting with who, old and new value", arguments: TestEngine.available)
    func changeLog(engine: TestEngine) async throws {
        let clock = TestClock()
        try await withStore(engine, clock: clock) { store, _ in
            let connection = makeConnection()
            try await store.transaction { try await $0.insertConnection(connection, clientSecret: "s", actor: "admin") }
            clock.advance(by: .seconds(60))
            let settings = try await store.transaction { session in
                try await session.updateSettings(of: connection.id, actor: "priya@acme") {
                    $0.inventorySyncEnabled = false
                    $0.safetyStock = 3
                }
            }
            #expect(settings.safetyStock == 3)
            let changes = try await store.read { try await $0.configChanges(connectionID: connection.id) }
            let settingChanges = changes.filter { $0.actor == "priya@acme" }
            #expect(settingChanges.map(\.setting).sorted() == ["inventorySyncEnabled", "safetyStock"])
            let sync = try #require(settingChanges.first { $0.setting == "inventorySyncEnabled" })
            #expect(sync.oldValue == "true")
            #expect(sync.newValue == "false")
            #expect(sync.changedAt == clock.now)
            let stock = try #require(settingChanges.first { $0.setting == "safetyStock" })
            #expect(stock.oldValue == "0")
            #expect(stock.newValue == "3")
            #expect(
                try await store.read { try await $0.connection(connection.id) }?.settings.inventorySyncEnabled == false
            )

            // A change to the same values logs nothing.
            try await store.transaction { session in
                try await session.updateSettings(of: connection.id, actor: "priya@acme") { $0.safetyStock = 3 }
            }
            #expect(
                try await store.read { try await $0.configChanges(connectionID: connection.id) }.count == changes.count
            )
        }
    }

    @Test("invalid settings are refused and change nothing", arguments: TestEngine.available)
    func invalidSettings(engine: TestEngine) async throws {
        try await withStore(engine) { store, _ in
            let connection = makeConnection()
            try await store.transaction { try await $0.insertConnection(connection, clientSecret: "s", actor: "admin") }
            let before = try await store.read { try await $0.configChanges() }
            let error = await #expect(throws: ValidationError.self) {
                try await store.transaction { session in
                    try await session.updateSettings(of: connection.id, actor: "admin") {
                        $0.autoConfirm = true
                        $0.quantityCap = -1
                    }
                }
            }
            #expect(error?.field == "settings.quantityCap")
            #expect(try await store.read { try await $0.connection(connection.id) }?.settings == ConnectionSettings())
            #expect(try await store.read { try await $0.configChanges() } == before)
        }
    }

    @Test("hub mappings and listings round-trip, and mapping changes are logged", arguments: TestEngine.available)
    func catalogue(engine: TestEngine) async throws {
        let clock = TestClock()
        try await withStore(engine, clock: clock) { store, _ in
            let connection = makeConnection()
            try await store.transaction { try await $0.insertConnection(connection, clientSecret: "s", actor: "admin") }
            for location in ["LOC-A", "LOC-B"] {
                try await store.transaction { session in
                    try await session.setLocationMapping(
                        LocationMapping(
                            connectionID: connection.id,
                            hub: "BLR-1",
                            locationID: LocationID(rawValue: location),
                            channel: .fba,
                            createdAt: clock.now
                        ),
                        actor: "ops"
                    )
                }
            }
            let mappings = try await store.read { try await $0.locationMappings(for: connection.id) }
            #expect(mappings.map(\.locationID) == ["LOC-B"])
            let logged = try await store.read { try await $0.configChanges(connectionID: connection.id) }
                .filter { $0.setting == "locationMapping.BLR-1.FBA" }
            #expect(logged.map(\.newValue) == ["\"LOC-B\"", "\"LOC-A\""])

            let listing = Listing(
                connectionID: connection.id,
                marketplaceID: "A21TJRUUN4KGV",
                warehouseSKU: "WMS-1",
                merchantSKU: "MSKU-1",
                asin: "B0CHX1W1XY",
                updatedAt: clock.now
            )
            try await store.transaction { try await $0.upsertListings([listing]) }
            #expect(
                try await store.read { try await $0.listings(for: connection.id, warehouseSKU: "WMS-1") } == [listing]
            )

            var bad = listing
            bad.asin = "nope"
            let error = await #expect(throws: ValidationError.self) {
                try await store.transaction { try await $0.upsertListings([bad]) }
            }
            #expect(error?.field == "channelSerialNo")
        }
    }

    @Test("a lease has one owner until it expires; the next owner gets a higher epoch", arguments: TestEngine.available)
    func leases(engine: TestEngine) async throws {
        let clock = TestClock()
        try await withStore(engine, clock: clock) { store, _ in
            func acquire(_ owner: String) async throws -> Lease? {
                try await store.transaction {
                    try await $0.acquireLease("connection:x", owner: owner, ttl: .seconds(30))
                }
            }
            let first = try #require(try await acquire("node-a"))
            #expect(first.epoch == 1)
            #expect(try await acquire("node-b") == nil)

            clock.advance(by: .seconds(10))
            let renewed = try #require(try await acquire("node-a"))
            #expect(renewed.epoch == 1)
            #expect(renewed.expiresAt > first.expiresAt)

            clock.advance(by: .seconds(31))
            let taken = try #require(try await acquire("node-b"))
            #expect(taken.epoch == 2)
            #expect(try await acquire("node-a") == nil)

            try await store.transaction { try await $0.releaseLease(taken) }
            let back = try #require(try await acquire("node-a"))
            #expect(back.epoch == 3)
            // A release with a stale epoch does nothing.
            try await store.transaction { try await $0.releaseLease(taken) }
            #expect(try await acquire("node-b") == nil)
        }
    }

    @Test("two nodes racing for a free lease: exactly one wins", arguments: TestEngine.available)
    func leaseRace(engine: TestEngine) async throws {
        try await withStore(engine) { store, _ in
            let winners = try await withThrowingTaskGroup(of: Lease?.self) { group in
                for node in 0..<6 {
                    group.addTask {
                        try await store.transaction {
                            try await $0.acquireLease("connection:race", owner: "node-\(node)", ttl: .seconds(30))
                        }
                    }
                }
                return try await group.reduce(into: [Lease]()) { if let lease = $1 { $0.append(lease) } }
            }
            #expect(winners.count == 1)
        }
    }

    @Test(
        "a node's round takes and renews all its leases at once, by the same rule as one: its own renewed at their epoch, free and expired ones taken with the epoch raised, another node's valid one left, a dead node's taken; two nodes racing for 600 free leases split them, none held twice",
        arguments: TestEngine.available
    )
    func leasesAtOnce(engine: TestEngine) async throws {
        let clock = TestClock()
        try await withStore(engine, clock: clock) { store, _ in
            func acquire(_ names: [String], _ owner: String, dead: Set<String> = []) async throws -> [String: Lease] {
                try await store.transaction {
                    try await $0.acquireLeases(names, owner: owner, ttl: .seconds(30), replacing: dead)
                }
            }
            let first = try await acquire(["c:1", "c:2"], "node-a")
            #expect(first.mapValues(\.epoch) == ["c:1": 1, "c:2": 1])
            _ = try await acquire(["c:3"], "node-b")
            _ = try await acquire(["c:4"], "node-c")
            clock.advance(by: .seconds(10))
            let round = try await acquire(["c:1", "c:2", "c:3", "c:4", "c:5"], "node-a", dead: ["node-c"])
            #expect(round.mapValues(\.epoch) == ["c:1": 1, "c:2": 1, "c:4": 2, "c:5": 1], "\(round)")
            #expect(round["c:1"]!.expiresAt > first["c:1"]!.expiresAt)
            clock.advance(by: .seconds(31))
            let later = try await acquire(["c:3"], "node-a")
            #expect(later["c:3"]?.epoch == 2, "node-b's expired lease is taken")

            let names = (0..<600).map { "race:\($0)" }
            let won = try await withThrowingTaskGroup(of: [String: Lease].self) { group in
                for node in ["node-x", "node-y"] {
                    group.addTask { try await acquire(names, node) }
                }
                return try await group.reduce(into: [[String: Lease]]()) { $0.append($1) }
            }
            #expect(won.map(\.count).reduce(0, +) == 600)
            #expect(Set(won[0].keys).isDisjoint(with: won[1].keys))
        }
    }
}
