import FlexCore
import FlexStore
import FlexStoreTesting
import Foundation
import Testing

@Suite("Accounts: tenants that cannot see each other")
struct AccountTests {
    /// Two accounts, each with a connection that maps a hub both call HUB1 and lists warehouse SKU W-1.
    func twoAccounts(_ store: Store) async throws -> (first: Connection, second: Connection) {
        let other = Account(id: "acct_other", name: "Another seller", createdAt: Date())
        var first = makeConnection(seller: "A1FIRST")
        first.accountID = .default
        var second = makeConnection(seller: "A1SECOND")
        second.accountID = other.id
        try await store.transaction { session in
            try await session.insertAccount(other)
            for (connection, location) in [(first, "LOC-1"), (second, "LOC-2")] {
                try await session.insertConnection(connection, clientSecret: "s", actor: "test")
                try await session.setLocationMapping(
                    LocationMapping(
                        connectionID: connection.id,
                        hub: "HUB1",
                        locationID: LocationID(rawValue: location),
                        channel: .mfn,
                        createdAt: Date()
                    ),
                    actor: "test"
                )
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
        }
        return (first, second)
    }

    @Test("the migration puts what existed in the default account; account names are checked")
    func defaultAccount() async throws {
        try await withStore(.sqlite) { store, _ in
            let accounts = try await store.read { try await $0.accounts() }
            #expect(accounts.map(\.id) == [AccountID.default])
            let error = await #expect(throws: StoreError.self) {
                try await store.transaction { try await $0.insertAccount(Account(name: " ", createdAt: Date())) }
            }
            #expect(error?.code == .invalidInput)
            let taken = await #expect(throws: StoreError.self) {
                try await store.transaction {
                    try await $0.insertAccount(Account(id: .default, name: "Again", createdAt: Date()))
                }
            }
            #expect(taken?.code == .conflict)
        }
    }

    @Test(
        "two accounts' hubs of the same name keep their own stock, feeding only their own connections",
        arguments: TestEngine.available
    )
    func stock(engine: TestEngine) async throws {
        try await withStore(engine) { store, _ in
            let (first, second) = try await twoAccounts(store)
            let level = { (quantity: Int) in [StockLevel(hub: "HUB1", warehouseSKU: "W-1", quantity: quantity)] }
            let firstWrite = try await store.transaction { try await $0.recordStock(level(5), account: .default) }
            #expect(firstWrite.connections == [first.id])
            let secondWrite = try await store.transaction {
                try await $0.recordStock(level(9), account: second.accountID)
            }
            #expect(secondWrite.connections == [second.id])

            let seenByFirst = try await store.read { try await $0.stockStatus(of: "W-1", account: .default) }
            #expect(seenByFirst.hubs.map(\.quantity) == [5])
            #expect(seenByFirst.items.map(\.connectionID) == [first.id])
            #expect(seenByFirst.items.map(\.desiredQuantity) == [5])
            let seenBySecond = try await store.read { try await $0.stockStatus(of: "W-1", account: second.accountID) }
            #expect(seenBySecond.hubs.map(\.quantity) == [9])
            #expect(seenBySecond.items.map(\.connectionID) == [second.id])
            let listed = try await store.read {
                try await $0.inventoryItems(.init(accountID: second.accountID), after: nil, limit: 100)
            }
            #expect(listed.map(\.connectionID) == [second.id])
        }
    }

    @Test(
        "each account reads only its own events and webhooks; a webhook is due only for its account's events",
        arguments: TestEngine.available
    )
    func eventsAndWebhooks(engine: TestEngine) async throws {
        try await withStore(engine) { store, _ in
            let (first, second) = try await twoAccounts(store)
            let (firstHook, secondHook) = try await store.transaction { session in
                (
                    try await session.createWebhook(
                        account: .default,
                        url: URL(string: "https://first.example/hook")!,
                        secret: "first-secret-long-enough",
                        eventTypes: [],
                        fromStart: true
                    ),
                    try await session.createWebhook(
                        account: second.accountID,
                        url: URL(string: "https://second.example/hook")!,
                        secret: "second-secret-long-enough",
                        eventTypes: [],
                        fromStart: true
                    )
                )
            }
            #expect(firstHook.accountID == .default && secondHook.accountID == second.accountID)
            try await store.transaction { session in
                try await session.appendEvents([
                    NewEvent(.orderCreated, connectionID: second.id, subject: "S-2"),
                    NewEvent(type: "account.note", accountID: second.accountID),
                ])
            }
            // Only the second account has events: only its webhook is due.
            #expect(try await store.read { try await $0.dueWebhooks() }.map(\.id) == [secondHook.id])
            try await store.transaction {
                try await $0.appendEvents([NewEvent(.orderCreated, connectionID: first.id, subject: "S-1")])
            }
            #expect(
                Set(try await store.read { try await $0.dueWebhooks() }.map(\.id)) == [firstHook.id, secondHook.id]
            )

            let firstFeed = try await store.read { try await $0.events(after: 0, account: .default) }
            #expect(firstFeed.map(\.subject) == ["S-1"])
            #expect(firstFeed.allSatisfy { $0.accountID == .default })
            let secondFeed = try await store.read { try await $0.events(after: 0, account: second.accountID) }
            #expect(secondFeed.map(\.type) == ["order.created", "account.note"])
            #expect(secondFeed.allSatisfy { $0.accountID == second.accountID })

            #expect(try await store.read { try await $0.webhooks(account: .default) }.map(\.id) == [firstHook.id])
            #expect(try await store.read { try await $0.webhook(secondHook.id, account: .default) } == nil)
            #expect(
                try await store.transaction { try await $0.retryWebhookNow(secondHook.id, account: .default) } == nil
            )
            #expect(
                try await store.transaction { try await $0.deleteWebhook(secondHook.id, account: .default) } == false
            )
            #expect(
                try await store.read { try await $0.webhooks(account: second.accountID) }.map(\.id) == [secondHook.id]
            )
        }
    }
}
