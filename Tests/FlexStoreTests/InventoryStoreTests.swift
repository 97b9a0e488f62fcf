import FlexCore
import FlexStore
import FlexStoreTesting
import Foundation
import Testing

@Suite("Stock in the store")
struct InventoryStoreTests {
    @Test("one bad level refuses the whole write, naming it; nothing is kept", arguments: TestEngine.available)
    func refusal(engine: TestEngine) async throws {
        try await withStore(engine) { store, _ in
            let levels = [
                StockLevel(hub: "H1", warehouseSKU: "S1", quantity: 1),
                StockLevel(hub: "H1", warehouseSKU: "S2", quantity: -4),
            ]
            await #expect(throws: ValidationError(field: "items[1].quantity", reason: "must be 0 or more, got -4")) {
                try await store.transaction { try await $0.recordStock(levels, account: .default) }
            }
            let status = try await store.read { try await $0.stockStatus(of: "S1", account: .default) }
            #expect(status.hubs.isEmpty)
        }
    }

    @Test(
        "latest wins within a write; stock recorded before a hub is mapped becomes pending when it is",
        arguments: TestEngine.available
    )
    func mappingLater(engine: TestEngine) async throws {
        try await withStore(engine) { store, _ in
            let connection = makeConnection()
            try await store.transaction { session in
                try await session.insertConnection(connection, clientSecret: "s", actor: "test")
                try await session.upsertListings([
                    Listing(
                        connectionID: connection.id,
                        marketplaceID: "A21TJRUUN4KGV",
                        warehouseSKU: "S1",
                        merchantSKU: "M1",
                        asin: "B000000001",
                        updatedAt: Date()
                    )
                ])
            }
            let write = try await store.transaction { session in
                try await session.recordStock(
                    [
                        StockLevel(hub: "H1", warehouseSKU: "S1", quantity: 1),
                        StockLevel(hub: "H1", warehouseSKU: "S1", quantity: 7),
                    ],
                    account: .default
                )
            }
            #expect(write.changedLevels == 1)
            #expect(write.changedItems == 0, "no hub is mapped yet")
            #expect(
                try await store.read { try await $0.stockStatus(of: "S1", account: .default) }.hubs.map(\.quantity) == [
                    7
                ]
            )

            try await store.transaction { session in
                try await session.setLocationMapping(
                    LocationMapping(
                        connectionID: connection.id,
                        hub: "H1",
                        locationID: "LOC1",
                        channel: .mfn,
                        createdAt: Date()
                    ),
                    actor: "test"
                )
            }
            let items = try await store.read { try await $0.stockStatus(of: "S1", account: .default) }.items
            #expect(items.map(\.merchantSKU) == ["M1"])
            #expect(items.first?.pending == true)
            #expect(items.first?.desiredQuantity == 7)
            #expect(try await store.read { try await $0.pendingInventoryCount(connectionID: connection.id) } == 1)
        }
    }

    @Test(
        "a hub a connection sums for MFN stock counts as mapped: from its creation, a settings change, and no longer",
        arguments: TestEngine.available
    )
    func mfnStockHubs(engine: TestEngine) async throws {
        try await withStore(engine) { store, _ in
            var summing = makeConnection(seller: "A2SUMS")
            summing.settings.mfnStockHubs = ["MFN1"]
            let later = makeConnection(seller: "A2LATER")
            try await store.transaction { session in
                try await session.insertConnection(summing, clientSecret: "s", actor: "test")
                try await session.insertConnection(later, clientSecret: "s", actor: "test")
            }
            func unmapped(_ quantity: Int) async throws -> [HubCode] {
                let write = try await store.transaction { session in
                    try await session.recordStock(
                        [
                            StockLevel(hub: "MFN1", warehouseSKU: "S1", quantity: quantity),
                            StockLevel(hub: "MFN2", warehouseSKU: "S1", quantity: quantity),
                        ],
                        account: .default
                    )
                }
                return write.unmappedHubs
            }
            #expect(try await unmapped(1) == ["MFN2"])
            try await store.transaction { session in
                try await session.updateSettings(of: later.id, actor: "test") { $0.mfnStockHubs = ["MFN2"] }
            }
            #expect(try await unmapped(2) == [])
            try await store.transaction { session in
                try await session.updateSettings(of: summing.id, actor: "test") { $0.mfnStockHubs = [] }
            }
            #expect(try await unmapped(3) == ["MFN1"])
        }
    }
}
