import FlexCore
import FlexStore
import FlexStoreTesting
import FlexUseCases
import Foundation
import Testing

@Suite("Receiving returns at once")
struct ReturnUseCaseTests {
    @Test(
        "receipts sent at once: under one key, one receipt and the stock raised once; under many keys, one taken and the rest refused",
        arguments: TestEngine.available
    )
    func concurrentReceipts(engine: TestEngine) async throws {
        try await TestDatabase.withStore(engine) { store, _ in
            let connection = UseCaseTests.connection(seller: "A1RETURNS")
            let now = Date()
            try await store.transaction { session in
                try await session.insertConnection(connection, clientSecret: "s", actor: "test")
                try await session.setLocationMapping(
                    LocationMapping(
                        connectionID: connection.id,
                        hub: "HUB1",
                        locationID: "L1",
                        channel: .mfn,
                        createdAt: now
                    ),
                    actor: "test"
                )
                try await session.upsertListings([UseCaseTests.listing(connection, 1)])
                for id in ["R-1", "R-2"] {
                    try await session.upsertReturn(
                        AmazonReturn(
                            facts: ReturnFacts(
                                id: ReturnID(rawValue: id),
                                returnLocationID: "L1",
                                fulfillmentLocationID: "L1",
                                merchantSKU: "M-1",
                                units: 2,
                                status: "DELIVERED",
                                returnType: "CUSTOMER",
                                returnSubType: "NORMAL",
                                reason: "CR-DEFECTIVE",
                                rmaID: "RMA",
                                shipmentID: "SHIP-1",
                                orderID: "402-1",
                                createdAt: now,
                                updatedAt: now
                            ),
                            document: "{}"
                        ),
                        connectionID: connection.id,
                        source: "poll"
                    )
                }
            }
            let returns = ReturnUseCases(store: store)
            let receipt = ReturnUseCases.Receipt(items: [.init(grade: .sellable, quantity: 2)], restock: true)
            let sameKey = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await returns.receive("R-1", of: connection.id, receipt, idempotencyKey: "same").recorded
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(sameKey.filter { $0 }.count == 1, "one receipt; the others are its replay")
            let manyKeys = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        (try? await returns.receive("R-2", of: connection.id, receipt, idempotencyKey: "k\(index)"))
                            != nil
                    }
                }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(manyKeys.filter { $0 }.count == 1, "one taken; seven refused")
            let level = try await store.read { try await $0.stockStatus(of: "W-1", account: .default) }
            #expect(level.hubs.map(\.quantity) == [4], "each return's two units put back once")
            let received = try await store.read { try await $0.events(after: 0, account: .default, limit: 100) }
                .filter { $0.type == "return.received" }
            #expect(received.count == 2)
        }
    }
}
