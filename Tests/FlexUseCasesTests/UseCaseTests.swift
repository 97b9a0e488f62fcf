import FlexCore
import FlexStore
import FlexStoreTesting
import FlexUseCases
import Foundation
import Synchronization
import Testing

@Suite("Use cases: one path for the API and the importer")
struct UseCaseTests {
    static func withStore(_ engine: TestEngine, _ body: (Store) async throws -> Void) async throws {
        try await TestDatabase.withStore(engine) { store, _ in try await body(store) }
    }

    static func connection(seller: String) -> Connection {
        Connection(
            name: "Acme",
            sellingPartnerID: SellingPartnerID(rawValue: seller),
            region: .eu,
            marketplaceIDs: ["A21TJRUUN4KGV"],
            applicationClientID: "amzn1.application-oa2-client.test",
            createdAt: Date()
        )
    }

    static func listing(_ connection: Connection, _ index: Int) -> Listing {
        Listing(
            connectionID: connection.id,
            marketplaceID: "A21TJRUUN4KGV",
            warehouseSKU: WarehouseSKU(rawValue: "W-\(index)"),
            merchantSKU: MerchantSKU(rawValue: "M-\(index)"),
            asin: "B000000001",
            updatedAt: Date()
        )
    }

    @Test(
        "listings are written in one transaction and make the recorded stock pending once; a stray listing writes nothing",
        arguments: TestEngine.available
    )
    func importListings(engine: TestEngine) async throws {
        try await Self.withStore(engine) { store in
            let connection = Self.connection(seller: "A1USECASE")
            let other = Self.connection(seller: "A1OTHER")
            try await store.transaction { session in
                try await session.insertConnection(connection, clientSecret: "s", actor: "test")
                try await session.insertConnection(other, clientSecret: "s", actor: "test")
                try await session.setLocationMapping(
                    LocationMapping(
                        connectionID: connection.id,
                        hub: "HUB1",
                        locationID: "LOC-1",
                        channel: .mfn,
                        createdAt: Date()
                    ),
                    actor: "test"
                )
            }
            let inventory = InventoryUseCases(store: store)
            let levels = (0..<12_000).map {
                StockLevel(hub: "HUB1", warehouseSKU: WarehouseSKU(rawValue: "W-\($0)"), quantity: 3)
            }
            let stock = try await inventory.recordStock(levels, account: .default)
            #expect(stock.changedItems == 0, "no listing yet: the stock reaches no Amazon item")

            let listings = (0..<12_000).map { Self.listing(connection, $0) }
            let seen = ProgressLog()
            let result = try await inventory.importListings(listings, connectionID: connection.id) { seen.add($0, $1) }
            #expect(result.imported == 12_000 && result.total == 12_000 && result.pendingItems == 12_000)
            #expect(seen.entries.map(\.0) == [0, 5_000, 10_000, 12_000] && seen.entries.allSatisfy { $0.1 == 12_000 })

            // Listings of another connection among them: refused, nothing of either written.
            let mixed = [Self.listing(connection, 20_000), Self.listing(other, 1)]
            let error = await #expect(throws: ValidationError.self) {
                try await inventory.importListings(mixed, connectionID: connection.id)
            }
            #expect(error?.reason.contains(other.id.rawValue) == true)
            #expect(try await store.read { try await $0.listingCount(for: connection.id) } == 12_000)
            #expect(try await store.read { try await $0.listingCount(for: other.id) } == 0)

            let unknown = ConnectionID.generate()
            let missing = await #expect(throws: StoreError.self) {
                try await inventory.importListings([], connectionID: unknown)
            }
            #expect(missing?.code == .notFound)

            // A resync makes every item pending again and is logged.
            #expect(try await inventory.resync(connectionID: connection.id, actor: "operator") == 12_000)
            let changes = try await store.read { try await $0.configChanges(connectionID: connection.id, limit: 10) }
            #expect(changes.contains { $0.setting == "inventory.resync" && $0.actor == "operator" })
        }
    }

    @Test("a command for an order that does not exist is refused as such")
    func unknownOrder() async throws {
        try await Self.withStore(.sqlite) { store in
            let refusal = await #expect(throws: FulfilmentUseCases.Refusal.self) {
                try await FulfilmentUseCases(store: store).submitCommand(
                    CommandRequest(type: .confirm),
                    to: "NO-SUCH-ORDER",
                    idempotencyKey: "k1"
                )
            }
            #expect(refusal == .orderNotFound("NO-SUCH-ORDER"))
        }
    }
}

/// What a progress callback was told, in order.
final class ProgressLog: Sendable {
    private let log = Mutex<[(Int, Int)]>([])
    func add(_ done: Int, _ total: Int) { log.withLock { $0.append((done, total)) } }
    var entries: [(Int, Int)] { log.withLock { $0 } }
}
