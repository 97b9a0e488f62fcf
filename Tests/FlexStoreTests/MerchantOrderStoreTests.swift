import FlexCore
import FlexStore
import FlexStoreTesting
import Foundation
import Testing

/// An Orders API document as SellingPartner stores it.
func merchantOrder(
    _ id: String = "111-2223333-4445555",
    status: String,
    updated: String,
    shipped: Int = 0,
    cancelledBy: String? = nil
) throws -> AmazonMerchantOrder {
    let cancellation = cancelledBy.map { #","cancellation":{"cancellationExecution":{"cancelledBy":"\#($0)"}}"# } ?? ""
    let document = """
        {"orderId":"\(id)","createdTime":"2026-12-01T10:00:00.000Z","lastUpdatedTime":"\(updated)",\
        "salesChannel":{"channelName":"Amazon","marketplaceId":"ATVPDKIKX0DER"},\
        "fulfillment":{"fulfillmentStatus":"\(status)","fulfilledBy":"MERCHANT","fulfillmentServiceLevel":"Expedited",\
        "shipByWindow":{"latestDateTime":"2026-12-03T10:00:00.000Z"}},\
        "orderItems":[{"orderItemId":"OI-1","quantityOrdered":2,"product":{"sellerSku":"MUG","asin":"B000000001"},\
        "fulfillment":{"quantityFulfilled":\(shipped),"quantityUnfulfilled":\(cancelledBy == nil ? 2 - shipped : 0)}\(cancellation)}],\
        "packages":[]}
        """
    return AmazonMerchantOrder(facts: try MerchantOrderFacts(document: document), document: document)
}

@Suite("MFN orders in the store: one order model, exactly once")
struct MerchantOrderStoreTests {
    @Test(
        "an MFN order is stored once with its source, its history and one event per change; PENDING is held back; a cancellation says what to put back",
        arguments: TestEngine.available
    )
    func upsert(_ engine: TestEngine) async throws {
        try await withStore(engine) { store, _ in
            let connection = makeConnection(seller: "A1MFNSTORE")
            try await store.transaction { try await $0.insertConnection(connection, clientSecret: "s", actor: "test") }
            func take(_ order: AmazonMerchantOrder) async throws -> OrderChange {
                try await store.transaction {
                    try await $0.upsertMerchantOrder(order, connectionID: connection.id, source: "poll")
                }
            }
            #expect(
                try await take(try merchantOrder(status: "PENDING", updated: "2026-12-01T10:00:00.000Z")) == .unchanged
            )
            #expect(
                try await store.read { try await $0.order("111-2223333-4445555") } == nil,
                "held back while PENDING"
            )
            let unshipped = try merchantOrder(status: "UNSHIPPED", updated: "2026-12-01T10:05:00.000Z")
            #expect(try await take(unshipped) == .created)
            #expect(try await take(unshipped) == .unchanged, "the same copy read twice")
            let stored = try #require(try await store.read { try await $0.order("111-2223333-4445555") })
            #expect(stored.source == .mfn && stored.program == .merchantFulfilled && stored.state == .confirmed)
            #expect(stored.locationID == "ATVPDKIKX0DER" && stored.channel == "MFN" && stored.expectedShipAt != nil)
            #expect(try MerchantOrderFacts(document: stored.shipment).items.first?.sellerSKU == "MUG")
            #expect(
                try await store.read {
                    try await $0.orders(connectionID: connection.id, status: nil, after: nil, limit: 10)
                }.map(\.source) == [.mfn]
            )
            let partial = try merchantOrder(
                status: "PARTIALLY_SHIPPED",
                updated: "2026-12-01T11:00:00.000Z",
                shipped: 1
            )
            #expect(try await take(partial) == .updated(previousStatus: "UNSHIPPED"))
            let cancelled = try merchantOrder(
                status: "CANCELLED",
                updated: "2026-12-01T12:00:00.000Z",
                shipped: 1,
                cancelledBy: "BUYER"
            )
            #expect(try await take(cancelled) == .updated(previousStatus: "PARTIALLY_SHIPPED"))
            let history = try await store.read {
                try await $0.orderHistory("111-2223333-4445555", connectionID: connection.id)
            }
            #expect(history.map(\.status) == ["UNSHIPPED", "PARTIALLY_SHIPPED", "CANCELLED"])
            let events = try await store.read { try await $0.events(after: 0, account: .default) }
                .filter { $0.subject == "111-2223333-4445555" }
            #expect(events.map(\.type) == ["order.created", "order.updated", "order.cancelled"])
            let last = try #require(
                events.last.map { try JSONDecoder().decode(JSONValue.self, from: Data($0.payload.utf8)) }
            )
            guard case .object(let payload) = last, case .object(let putBack)? = payload["putBack"],
                case .array(let items)? = putBack["items"]
            else {
                Issue.record("no putBack in \(last)")
                return
            }
            #expect(payload["source"] == .string("mfn") && items.count == 1)
            #expect(
                items.first
                    == .object(["orderItemId": .string("OI-1"), "merchantSku": .string("MUG"), "quantity": .number(1)])
            )
        }
    }
}
