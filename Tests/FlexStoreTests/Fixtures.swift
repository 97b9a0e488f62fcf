import FlexCore
import FlexStore
import FlexStoreTesting
import Foundation
import Synchronization

/// Opens a store on a test database with a fixed master key, so that each test states its own key handling.
func openStore(
    _ database: TestDatabase,
    key: String = testKey,
    clock: TestClock = TestClock()
) async throws -> Store {
    try await Store.open(
        Store.Configuration(databaseURL: database.url, masterKey: .value(key)),
        clock: clock.wallClock
    )
}

/// Runs `body` with a store opened on a fresh database of `engine`, closing it afterwards.
func withStore(
    _ engine: TestEngine,
    clock: TestClock = TestClock(),
    _ body: (Store, TestDatabase) async throws -> Void
) async throws {
    try await TestDatabase.withStore(engine, masterKey: testKey, clock: clock.wallClock, body)
}

let testKey = MasterKey.generate()

func makeConnection(
    seller: String = "A2SELLER",
    region: Region = .eu,
    createdAt: Date = Date(timeIntervalSince1970: 1_790_000_000)
) -> Connection {
    Connection(
        name: "Acme India",
        sellingPartnerID: SellingPartnerID(rawValue: seller),
        region: region,
        marketplaceIDs: ["A21TJRUUN4KGV"],
        applicationClientID: "amzn1.application-oa2-client.test",
        createdAt: createdAt
    )
}

/// A flag one task raises and another reads.
final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
