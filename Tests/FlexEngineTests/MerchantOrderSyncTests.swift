import AmazonSimulator
import FlexCore
import FlexEngine
import FlexStore
import FlexStoreTesting
import FlexUseCases
import Foundation
import Logging
import SellingPartner
import Testing

@Suite("MFN orders against the simulator")
struct MerchantOrderSyncTests {
    @Test(
        "an MFN order status Amazon adds later (not in its model) is kept as sent and said in an event; the order carries on",
        arguments: TestEngine.available
    )
    func unknownStatus(engine: TestEngine) async throws {
        try await FulfilmentTests.run(engine: engine) { parts in
            let store = parts.amazon.store
            let connection = parts.amazon.connection
            let simulator = parts.amazon.simulator
            let worker = MerchantOrderWorker(
                connectionID: connection.id,
                store: store,
                client: parts.client,
                logger: Logger(label: "test.mfn")
            )
            try await store.transaction {
                _ = try await $0.updateSettings(of: connection.id, actor: "test") { $0.mfnOrderSyncEnabled = true }
            }
            let india = InventoryFixture.marketplace
            let ids = [
                try await simulator.createMFNOrder(.init(merchantID: InventoryFixture.merchant, marketplaceID: india)),
                try await simulator.createMFNOrder(.init(merchantID: InventoryFixture.merchant, marketplaceID: india)),
            ]
            #expect(try await worker.poll() == 2)
            try await simulator.forceMFNOrderStatus(ids[0], to: "ON_HOLD_FOR_REVIEW")
            #expect(try await worker.poll() == 1, "the page with the new status is read whole")
            let held = try #require(try await store.read { try await $0.order(ShipmentID(rawValue: ids[0])) })
            #expect(held.status == "ON_HOLD_FOR_REVIEW")
            let events = try await store.read { try await $0.events(after: 0, account: .default, limit: 1000) }
            let unknown = events.filter { $0.type == "amazon.unknown_value" }
            #expect(unknown.count == 1 && unknown.first?.subject == ids[0])
            #expect(unknown.first?.payload.contains(#""field":"mfn_order.status""#) == true)
            #expect(unknown.first?.payload.contains(#""value":"ON_HOLD_FOR_REVIEW""#) == true)
            #expect(try await worker.poll() == 0, "read again by the overlap: nothing changes, nothing said twice")
            // A newer copy in the same status: taken, and not said again (counted at the end).
            try await simulator.forceMFNOrderStatus(ids[0], to: "ON_HOLD_FOR_REVIEW")
            #expect(try await worker.poll() == 1)
            // Amazon moves it on to a status it knows: the order follows.
            try await simulator.forceMFNOrderStatus(ids[0], to: "UNSHIPPED")
            #expect(try await worker.poll() == 1)
            #expect(try await store.read { try await $0.order(ShipmentID(rawValue: ids[0])) }?.status == "UNSHIPPED")
            let after = try await store.read { try await $0.events(after: 0, account: .default, limit: 1000) }
            #expect(after.filter { $0.type == "amazon.unknown_value" }.count == 1)
        }
    }

    @Test(
        "off by default; on, a poll takes the connection's marketplaces' payable orders once, and a notification brings a cancellation at once",
        arguments: TestEngine.available
    )
    func sync(engine: TestEngine) async throws {
        try await FulfilmentTests.run(engine: engine) { parts in
            let store = parts.amazon.store
            let connection = parts.amazon.connection
            let simulator = parts.amazon.simulator
            let worker = MerchantOrderWorker(
                connectionID: connection.id,
                store: store,
                client: parts.client,
                logger: Logger(label: "test.mfn")
            )
            let merchant = InventoryFixture.merchant
            let india = MarketplaceID(rawValue: InventoryFixture.marketplace)
            let first = try await simulator.createMFNOrder(
                .init(merchantID: merchant, marketplaceID: india.rawValue, items: ["MUG": 2])
            )
            #expect(try await worker.poll() == 0, "MFN sync is off until the connection's setting is on")
            #expect(try await store.read { try await $0.order(ShipmentID(rawValue: first)) } == nil)

            try await store.transaction {
                _ = try await $0.updateSettings(of: connection.id, actor: "test") { $0.mfnOrderSyncEnabled = true }
            }
            let pending = try await simulator.createMFNOrder(
                .init(merchantID: merchant, marketplaceID: india.rawValue, pendingSeconds: 600)
            )
            _ = try await simulator.createMFNOrder(.init(merchantID: merchant, marketplaceID: "ATVPDKIKX0DER"))
            #expect(try await worker.poll() == 1, "the payable order of the connection's marketplace only")
            #expect(try await worker.poll() == 0, "read again by the overlap: nothing changes")
            let stored = try #require(try await store.read { try await $0.order(ShipmentID(rawValue: first)) })
            #expect(stored.source == .mfn && stored.state == .confirmed && stored.status == "UNSHIPPED")
            #expect(
                try await store.read { try await $0.order(ShipmentID(rawValue: pending)) } == nil,
                "PENDING held back"
            )

            // Amazon cancels it; the ORDER_CHANGE is filed and fetched at once, without waiting for the next poll.
            try await simulator.cancelMFNOrder(first, by: "BUYER", reason: "BuyerCanceled")
            let filed = try await store.transaction {
                try await $0.requestMerchantOrderFetch(sellingPartnerID: merchant, orderID: first, marketplaceID: india)
            }
            #expect(filed == [connection.id])
            let elsewhere = try await store.transaction {
                try await $0.requestMerchantOrderFetch(
                    sellingPartnerID: merchant,
                    orderID: "999-0000000-0000000",
                    marketplaceID: "ATVPDKIKX0DER"
                )
            }
            #expect(elsewhere.isEmpty, "no connection syncs that marketplace")
            #expect(try await worker.fetchNotified() == 1)
            #expect(
                try await store.read { try await $0.merchantOrderFetches(connectionID: connection.id, limit: 10) }
                    .isEmpty
            )
            let events = try await store.read { try await $0.events(after: 0, account: .default, limit: 1000) }
                .filter { $0.subject == first }
            #expect(events.map(\.type) == ["order.created", "order.cancelled"])
            #expect(events.last?.payload.contains(#""putBack""#) == true)
            #expect(
                try await store.read {
                    try await $0.orderHistory(ShipmentID(rawValue: first), connectionID: connection.id)
                }
                .map(\.source) == ["poll", "notification"]
            )
        }
    }

    @Test(
        "ship: a package of some units leaves the order partly shipped, the rest ships it; each package confirmed once though its answer is lost; bad requests refused by field, nothing stored",
        arguments: TestEngine.available
    )
    func ship(engine: TestEngine) async throws {
        try await FulfilmentTests.run(engine: engine, maximumRetryDelay: 0) { parts in
            let store = parts.amazon.store
            let connection = parts.amazon.connection
            let simulator = parts.amazon.simulator
            let worker = MerchantOrderWorker(
                connectionID: connection.id,
                store: store,
                client: parts.client,
                logger: Logger(label: "test.mfn")
            )
            let india = MarketplaceID(rawValue: InventoryFixture.marketplace)
            try await store.transaction {
                _ = try await $0.updateSettings(of: connection.id, actor: "test") {
                    $0.mfnOrderSyncEnabled = true
                    $0.shipMethods = [
                        ShipMethodMapping(
                            serviceLevel: "Standard",
                            wmsCarrier: "dhl",
                            wmsMethod: "parcel",
                            carrierCode: "DHL",
                            shippingMethod: "Paket"
                        ),
                        ShipMethodMapping(
                            marketplaceId: india,
                            serviceLevel: "NextDay",
                            wmsCarrier: "bluedart",
                            wmsMethod: "express",
                            carrierCode: "Other",
                            carrierName: "Blue Dart"
                        ),
                    ]
                }
            }
            let id = try await simulator.createMFNOrder(
                .init(
                    merchantID: InventoryFixture.merchant,
                    marketplaceID: india.rawValue,
                    serviceLevel: "Standard",
                    items: ["MUG": 2, "CUP": 1]
                )
            )
            #expect(try await worker.poll() == 1)
            let facts = try MerchantOrderFacts(document: try await parts.order(id).shipment)
            let mug = try #require(facts.items.first { $0.sellerSKU == "MUG" }).orderItemID
            let cup = try #require(facts.items.first { $0.sellerSKU == "CUP" }).orderItemID
            let useCases = FulfilmentUseCases(store: store)
            let shipment = ShipmentID(rawValue: id)

            // Refused before anything is stored, naming the field.
            func refusal(_ request: CommandRequest) async -> String? {
                await Self.refusal(request, to: shipment, by: useCases)
            }
            let ship = CommandRequest(type: .ship, trackingId: "1Z1", items: [.init(lineItemId: mug, quantity: 3)])
            #expect(await refusal(ship) == "items[0].quantity")
            #expect(
                await refusal(.init(type: .ship, trackingId: "1Z1", items: [.init(lineItemId: "nope", quantity: 1)]))
                    == "items[0].lineItemId"
            )
            #expect(await refusal(.init(type: .ship, items: [.init(lineItemId: mug, quantity: 1)])) == "trackingId")
            #expect(
                await refusal(.init(type: .ship, trackingId: "1Z1", wmsCarrier: "ups", wmsMethod: "x")) == "wmsCarrier"
            )
            #expect(await refusal(.init(type: .ship, packages: [], trackingId: "1Z1")) == "packages")
            #expect(
                await refusal(.init(type: .ship, trackingId: "1Z1", shipDate: Date().addingTimeInterval(86_400)))
                    == "shipDate"
            )
            #expect(await refusal(.init(type: .confirm))?.contains("takes ship") == true)
            #expect(try await parts.commands(id).isEmpty, "nothing stored")

            // One mug; the answer is lost after Amazon applied it: the retry reads the order and sends nothing.
            try await simulator.setFaults(FaultSettings(dropAfterApplyRate: 1), operation: "confirmShipment")
            let first = try await useCases.submitCommand(
                .init(type: .ship, trackingId: "1Z1", items: [.init(lineItemId: mug, quantity: 1)]),
                to: shipment,
                idempotencyKey: "first"
            )
            #expect(first.command.request.carrierCode == "DHL" && first.command.request.shippingMethod == "Paket")
            #expect(first.command.request.packageReferenceId?.hasPrefix("FB-") == true)
            try await parts.fulfilment.drain()
            try await simulator.setFaults(FaultSettings(), operation: "confirmShipment")
            let done = try #require(try await store.read { try await $0.command(first.command.id) })
            #expect(done.status == .succeeded && done.attempts == 2)
            // The retry stored Amazon's copy; the read-back it queued finds nothing new and empties the queue.
            #expect(try await parts.order(id).status == "PARTIALLY_SHIPPED")
            #expect(try await worker.fetchNotified() == 0)
            #expect(
                try await store.read { try await $0.merchantOrderFetches(connectionID: connection.id, limit: 10) }
                    .isEmpty
            )

            // The rest, by the WMS's own carrier and method; several packages never share a reference.
            let rest = try await useCases.submitCommand(
                .init(type: .ship, trackingId: "1Z2", wmsCarrier: "DHL", wmsMethod: "PARCEL"),
                to: shipment,
                idempotencyKey: "rest"
            )
            #expect(rest.command.request.packageReferenceId != first.command.request.packageReferenceId)
            let again = try await useCases.submitCommand(
                .init(type: .ship, trackingId: "1Z2", wmsCarrier: "DHL", wmsMethod: "PARCEL"),
                to: shipment,
                idempotencyKey: "rest"
            )
            #expect(!again.created && again.command.id == rest.command.id)
            try await parts.fulfilment.drain()
            _ = try await worker.fetchNotified()
            let order = try await parts.order(id)
            #expect(order.status == "SHIPPED" && order.state == .shipped)

            let truth = try #require(await simulator.groundTruth().mfnOrders.first { $0.id == id })
            #expect(truth.confirmations.count == 2, "each package confirmed once")
            #expect(truth.confirmations.first?.items == [mug: 1])
            #expect(truth.confirmations.last?.items == [mug: 1, cup: 1])
            #expect(truth.confirmations.allSatisfy { $0.carrierCode == "DHL" })
            #expect(
                await simulator.recordedRequests().filter { $0.operation == "confirmShipment" }.count == 2,
                "one call per package: the one whose answer was lost was not sent again"
            )
            #expect(await refusal(.init(type: .ship, trackingId: "1Z3"))?.contains("SHIPPED") == true)
        }
    }

    /// The field a command is refused for (or the refusal's text); nil when it is taken.
    static func refusal(
        _ request: CommandRequest,
        to shipment: ShipmentID,
        by useCases: FulfilmentUseCases
    ) async -> String? {
        do {
            _ = try await useCases.submitCommand(request, to: shipment, idempotencyKey: UUID().uuidString)
            return nil
        } catch let error as ValidationError {
            return error.field
        } catch {
            return "\(error)"
        }
    }
}
