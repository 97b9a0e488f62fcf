import AmazonSimulator
import FlexCore
import FlexEngine
import FlexStore
import FlexStoreTesting
import FlexUseCases
import Foundation
import InMemoryTracing
import Logging
import SellingPartner
import Testing
import Tracing

@Suite("Traces through the store")
struct TracingTests {
    /// The one span of `trace` named `name`.
    func span(_ name: String, of trace: String) throws -> FinishedInMemorySpan {
        let spans = TestTracing.spans(of: trace).filter { $0.operationName == name }
        #expect(spans.count == 1, "one \(name) span in the trace, found \(spans.map(\.operationName))")
        return try #require(spans.first)
    }

    @Test(
        "a traced stock write, command and notification each continue their trace in the worker that carries them to Amazon, down to each Amazon call",
        arguments: TestEngine.available
    )
    func workCarriesItsTrace(engine: TestEngine) async throws {
        _ = TestTracing.tracer
        try await InventoryFixture.run(engine: engine) { amazon in
            let id = amazon.connection.id
            let client = try await AmazonClients().client(for: id, store: amazon.store)
            let logger = Logger(label: "test.tracing")

            // Stock: the write's trace is kept with the item until its push.
            let stock = try await TestTracing.traced("PUT /api/v1/stock") {
                try await InventoryUseCases(store: amazon.store).recordStock(
                    [StockLevel(hub: InventoryFixture.hub, warehouseSKU: "W-SKU-A", quantity: 7)],
                    account: .default
                )
            }
            let untraced = try await amazon.stock(["SKU-B": 3])
            #expect(stock.value.changedItems == 1 && untraced.changedItems == 1)
            let inventory = InventoryWorker(connectionID: id, store: amazon.store, client: client, logger: logger)
            #expect(try await inventory.syncRound())
            #expect(await amazon.amazon("SKU-A")?.quantity == 7)
            let push = try span("inventory.push", of: stock.traceID)
            #expect(push.attributes["flexbridge.connection"]?.toSpanAttribute() == .string(id.rawValue))
            // Both items went in one call; the untraced one adds no link.
            #expect(push.attributes["flexbridge.skus"]?.toSpanAttribute() == .stringArray(["SKU-A", "SKU-B"]))
            #expect(push.attributes["flexbridge.applied"]?.toSpanAttribute() == .int64(2))
            #expect(push.links.isEmpty)
            let batch = try span("amazon batchInventory", of: stock.traceID)
            #expect(batch.parentSpanID == push.spanID, "the Amazon call is the push's child")
            #expect(batch.kind == .client)
            #expect(batch.attributes["http.response.status_code"]?.toSpanAttribute() == .int64(207))

            // A notification: its fetch continues the notification's trace.
            let orderID = try await amazon.simulator.generateOrder(
                merchantID: InventoryFixture.merchant,
                locationID: amazon.locationID
            )
            /// Files Amazon's notification of `shipment` in a new trace, as the notification endpoint does.
            func notifyTraced(_ shipment: String) async throws -> (traceID: String, value: [ConnectionID]) {
                try await TestTracing.traced("POST /notifications/amazon") {
                    try await amazon.store.transaction {
                        try await $0.requestShipmentFetch(
                            sellingPartnerID: InventoryFixture.merchant,
                            shipmentID: ShipmentID(rawValue: shipment),
                            trace: TraceContext.current
                        )
                    }
                }
            }
            let notified = try await notifyTraced(orderID)
            #expect(notified.value == [id])
            let orders = OrderWorker(connectionID: id, store: amazon.store, client: client, logger: logger)
            #expect(try await orders.fetchNotified() == 1)
            let fetch = try span("order.fetch", of: notified.traceID)
            #expect(fetch.attributes["flexbridge.order"]?.toSpanAttribute() == .string(orderID))
            #expect(fetch.attributes["flexbridge.changed"]?.toSpanAttribute() == .bool(true))
            #expect(try span("amazon getShipment", of: notified.traceID).parentSpanID == fetch.spanID)

            // A call Amazon refuses: its span says the status and Amazon's code, as an error, and no error's text.
            let missing = try await notifyTraced("NO-SUCH-SHIPMENT")
            #expect(try await orders.fetchNotified() == 0)
            let refused = try span("amazon getShipment", of: missing.traceID)
            #expect(refused.attributes["http.response.status_code"]?.toSpanAttribute() == .int64(404))
            #expect(refused.attributes["amazon.error_code"]?.toSpanAttribute() == .string("NotFound"))
            #expect(refused.attributes["error.type"]?.toSpanAttribute() == .string("AmazonAPIError"))
            #expect(refused.status?.code == .error && refused.errors.isEmpty)
            #expect(refused.status?.message == "Amazon answered getShipment with 404 NotFound")

            // A command: its run continues the trace of the request that stored it.
            let confirm = try await TestTracing.traced("POST /api/v1/orders/{id}/commands") {
                try await FulfilmentUseCases(store: amazon.store).submitCommand(
                    CommandRequest(type: .confirm),
                    to: ShipmentID(rawValue: orderID),
                    idempotencyKey: "traced-confirm"
                )
            }
            let fulfilment = FulfilmentWorker(connectionID: id, store: amazon.store, client: client, logger: logger)
            try await fulfilment.drain()
            #expect(
                try await amazon.store.read { try await $0.command(confirm.value.command.id) }?.status == .succeeded
            )
            let run = try span("order.confirm", of: confirm.traceID)
            #expect(run.attributes["flexbridge.order"]?.toSpanAttribute() == .string(orderID))
            #expect(run.attributes["flexbridge.outcome"]?.toSpanAttribute() == .string("succeeded"))
            let calls = TestTracing.spans(of: confirm.traceID).filter { $0.operationName.hasPrefix("amazon ") }
            #expect(calls.map(\.operationName).contains("amazon processShipment"))
            #expect(calls.allSatisfy { $0.parentSpanID == run.spanID })

            // An order confirmed automatically is confirmed in the trace of the notification that brought it.
            try await amazon.settings { $0.autoConfirm = true }
            let second = try await amazon.simulator.generateOrder(
                merchantID: InventoryFixture.merchant,
                locationID: amazon.locationID
            )
            let secondNotified = try await notifyTraced(second)
            #expect(try await orders.fetchNotified() == 1)
            try await fulfilment.drain()
            let autoConfirm = try span("order.confirm", of: secondNotified.traceID)
            #expect(autoConfirm.attributes["flexbridge.order"]?.toSpanAttribute() == .string(second))
            #expect(autoConfirm.attributes["flexbridge.outcome"]?.toSpanAttribute() == .string("succeeded"))

            // A poll is a trace of its own per location and status.
            let polled = try await orders.poll(statuses: [.accepted])
            #expect(polled == 0, "both orders are held already")
            let polls = TestTracing.tracer.finishedSpans.filter {
                $0.operationName == "order.poll"
                    && $0.attributes["flexbridge.connection"]?.toSpanAttribute() == .string(id.rawValue)
            }
            #expect(polls.count == 1)
            #expect(polls.first?.parentSpanID == nil)
            let poll = try #require(polls.first)
            #expect(try span("amazon getShipments", of: poll.traceID).parentSpanID == poll.spanID)
        }
    }

    @Test(
        "an MFN order's notification and the read-back a shipment confirmation queues each continue their trace in the fetch, down to Amazon's getOrder",
        arguments: TestEngine.available
    )
    func merchantOrderFetchCarriesItsTrace(engine: TestEngine) async throws {
        _ = TestTracing.tracer
        try await FulfilmentTests.run(engine: engine) { parts in
            let store = parts.amazon.store
            let connection = parts.amazon.connection
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
                        )
                    ]
                }
            }
            let worker = MerchantOrderWorker(
                connectionID: connection.id,
                store: store,
                client: parts.client,
                logger: Logger(label: "test.tracing")
            )
            let orderID = try await parts.amazon.simulator.createMFNOrder(
                .init(
                    merchantID: InventoryFixture.merchant,
                    marketplaceID: InventoryFixture.marketplace,
                    serviceLevel: "Standard"
                )
            )
            let notified = try await TestTracing.traced("POST /notifications/amazon") {
                try await store.transaction {
                    try await $0.requestMerchantOrderFetch(
                        sellingPartnerID: InventoryFixture.merchant,
                        orderID: orderID,
                        marketplaceID: MarketplaceID(rawValue: InventoryFixture.marketplace),
                        trace: TraceContext.current
                    )
                }
            }
            #expect(notified.value == [connection.id])
            // Filed again without a trace (a second notification of an untraced sender): the first one's stands.
            try await store.transaction {
                try await $0.requestMerchantOrderFetch(connectionID: connection.id, orderID: orderID)
            }
            #expect(try await worker.fetchNotified() == 1)
            let fetch = try span("mfn_order.fetch", of: notified.traceID)
            #expect(fetch.attributes["flexbridge.connection"]?.toSpanAttribute() == .string(connection.id.rawValue))
            #expect(fetch.attributes["flexbridge.order"]?.toSpanAttribute() == .string(orderID))
            #expect(fetch.attributes["flexbridge.changed"]?.toSpanAttribute() == .bool(true))
            let call = try span("amazon getOrder", of: notified.traceID)
            #expect(call.parentSpanID == fetch.spanID && call.kind == .client)

            // Read again untraced: a trace of its own, not the notification's.
            try await store.transaction {
                try await $0.requestMerchantOrderFetch(connectionID: connection.id, orderID: orderID)
            }
            #expect(try await worker.fetchNotified() == 0)
            #expect(TestTracing.spans(of: notified.traceID).filter { $0.operationName == "mfn_order.fetch" }.count == 1)

            // A traced shipment confirmation: the order's read-back it queues is in the command's trace.
            let facts = try MerchantOrderFacts(document: try await parts.order(orderID).shipment)
            let item = try #require(facts.items.first)
            let ship = try await TestTracing.traced("POST /api/v1/orders/{id}/commands") {
                try await FulfilmentUseCases(store: store).submitCommand(
                    .init(
                        type: .ship,
                        trackingId: "1Z1",
                        items: [.init(lineItemId: item.orderItemID, quantity: item.quantityOrdered)]
                    ),
                    to: ShipmentID(rawValue: orderID),
                    idempotencyKey: "traced-ship"
                )
            }
            try await parts.fulfilment.drain()
            #expect(try await store.read { try await $0.command(ship.value.command.id) }?.status == .succeeded)
            let run = try span("order.ship", of: ship.traceID)
            #expect(try span("amazon confirmShipment", of: ship.traceID).parentSpanID == run.spanID)
            let readBack = try #require(
                try await store.read { try await $0.merchantOrderFetches(connectionID: connection.id, limit: 10) }.first
            )
            #expect(readBack.trace?.instrumentationContext.inMemorySpanContext?.spanID == run.spanID)
            #expect(try await worker.fetchNotified() == 1)
            let refetch = try span("mfn_order.fetch", of: ship.traceID)
            #expect(refetch.parentSpanID == run.spanID)
            #expect(try span("amazon getOrder", of: ship.traceID).parentSpanID == refetch.spanID)
        }
    }

    @Test(
        "MFN stock and price writes continue their traces in the listings worker: a feed in the first write's trace linked to the others, a patch in its write's, down to Amazon's calls",
        arguments: TestEngine.available
    )
    func listingsCarryTheirTrace(engine: TestEngine) async throws {
        _ = TestTracing.tracer
        let skus = (1...60).map { "MFN-\($0)" }
        try await ListingsSyncTests.run(engine: engine, skus: skus) { fixture, worker, _ in
            let id = fixture.connection.id
            let inventory = InventoryUseCases(store: fixture.store)
            try await fixture.settings { $0.mfnStockHubs = ["HUB2"] }
            try await ListingsSyncTests.settle(worker, fixture)
            /// A traced stock write of `units` for each SKU in `range`, at HUB2.
            func write(_ range: ClosedRange<Int>, units: Int) async throws -> String {
                try await TestTracing.traced("PUT /api/v1/stock") {
                    try await inventory.recordStock(
                        range.map {
                            StockLevel(
                                hub: "HUB2",
                                warehouseSKU: WarehouseSKU(rawValue: "W-MFN-\($0)"),
                                quantity: units
                            )
                        },
                        account: .default
                    )
                }.traceID
            }

            // Sixty changes from two writes go in one feed, in the trace of the write of the first item (MFN-1).
            let first = try await write(1...40, units: 5)
            let second = try await write(41...60, units: 6)
            try await ListingsSyncTests.settle(worker, fixture)
            #expect(try await ListingsSyncTests.items(fixture).values.allSatisfy { $0.sentRoute == "feed" })
            let feed = try span("listings.feed", of: first)
            #expect(feed.attributes["flexbridge.connection"]?.toSpanAttribute() == .string(id.rawValue))
            #expect(feed.attributes["flexbridge.items"]?.toSpanAttribute() == .int64(60))
            #expect(feed.links.map(\.context.inMemorySpanContext?.traceID) == [second], "linked to the other write")
            #expect(try span("amazon createFeed", of: first).parentSpanID == feed.spanID)
            #expect(TestTracing.spans(of: second).allSatisfy { $0.operationName == "PUT /api/v1/stock" })

            // One change goes by patch, in its write's trace.
            let third = try await write(1...1, units: 9)
            try await ListingsSyncTests.settle(worker, fixture)
            #expect(await ListingsSyncTests.atAmazon(fixture)["MFN-1"] == 9)
            let patch = try span("listings.patch", of: third)
            #expect(patch.attributes["flexbridge.sku"]?.toSpanAttribute() == .string("MFN-1"))
            #expect(patch.attributes["flexbridge.facet"]?.toSpanAttribute() == .string("quantity"))
            #expect(patch.attributes["flexbridge.outcome"]?.toSpanAttribute() == .string("sent"))
            #expect(patch.attributes["amazon.marketplace"]?.toSpanAttribute() == .string(ListingsSyncTests.india))
            #expect(try span("amazon patchListingsItem", of: third).parentSpanID == patch.spanID)

            // A price, the same way.
            let priced = try await TestTracing.traced("PUT /api/v1/prices") {
                try await inventory.recordPrices(
                    [SKUPrice(warehouseSKU: "W-MFN-2", price: ListingsSyncTests.price(42))],
                    account: .default
                )
            }
            #expect(priced.value.changed == 1)
            try await ListingsSyncTests.settle(worker, fixture)
            let pricePatch = try span("listings.patch", of: priced.traceID)
            #expect(pricePatch.attributes["flexbridge.sku"]?.toSpanAttribute() == .string("MFN-2"))
            #expect(pricePatch.attributes["flexbridge.facet"]?.toSpanAttribute() == .string("price"))
            #expect(try span("amazon patchListingsItem", of: priced.traceID).parentSpanID == pricePatch.spanID)

            // A change no write made (the handling time) goes in a trace of its own, not the last write's.
            try await fixture.settings { $0.mfnHandlingTime = 3 }
            try await ListingsSyncTests.settle(worker, fixture)
            #expect(TestTracing.spans(of: third).filter { $0.operationName.hasPrefix("listings.") }.count == 1)
            #expect(TestTracing.spans(of: first).filter { $0.operationName.hasPrefix("listings.") }.count == 1)
        }
    }

    @Test(
        "a Send to Amazon plan's steps continue the trace of the request that made it, then of the choice that moved it on, down to Amazon's calls",
        arguments: TestEngine.available
    )
    func inboundPlanCarriesItsTrace(engine: TestEngine) async throws {
        _ = TestTracing.tracer
        try await InboundPlanSyncTests.run(engine: engine) { fixture, worker in
            let plans = InboundPlanUseCases(store: fixture.store)
            let connection = try #require(
                try await fixture.store.read { try await $0.connection(fixture.connection.id) }
            )
            let made = try await TestTracing.traced("POST /api/v1/inbound-plans") {
                try await plans.create(InboundPlanSyncTests.request("PO-T"), connection: connection)
            }
            var plan = try await InboundPlanSyncTests.drive(worker, fixture, plan: made.value.plan.id, until: .waiting)
            #expect(plan.step == .choosePlacement)
            /// The trace's plan steps, and whether each Amazon call in it is a step's child.
            func steps(of trace: String) -> (steps: [FinishedInMemorySpan], callsUnderSteps: Bool, calls: [String]) {
                let spans = TestTracing.spans(of: trace)
                let steps = spans.filter { $0.operationName == "inbound_plan.step" }
                let calls = spans.filter { $0.operationName.hasPrefix("amazon ") }
                let ids = Set(steps.map(\.spanID))
                return (steps, calls.allSatisfy { ids.contains($0.parentSpanID ?? "") }, calls.map(\.operationName))
            }
            let creation = steps(of: made.traceID)
            #expect(!creation.steps.isEmpty && creation.callsUnderSteps)
            #expect(creation.calls.contains("amazon createInboundPlan"), "\(creation.calls)")
            #expect(
                creation.steps.allSatisfy {
                    $0.attributes["flexbridge.plan"]?.toSpanAttribute() == .string(plan.id)
                        && $0.attributes["flexbridge.connection"]?.toSpanAttribute()
                            == .string(fixture.connection.id.rawValue)
                }
            )

            // The WMS's choice: the steps it sets off are in its trace, no longer in the creation's.
            let split = try #require(plan.placementOptions.first)
            let choice = try await TestTracing.traced("POST /api/v1/inbound-plans/{id}/placement") {
                try await plans.choosePlacement(split.id, planID: plan.id, visible: [fixture.connection.id])
            }
            plan = try await InboundPlanSyncTests.drive(worker, fixture, plan: plan.id, until: .waiting)
            #expect(plan.step == .chooseTransportation)
            let chosen = steps(of: choice.traceID)
            #expect(!chosen.steps.isEmpty && chosen.callsUnderSteps)
            #expect(chosen.calls.contains("amazon confirmPlacementOption"), "\(chosen.calls)")
            #expect(steps(of: made.traceID).steps.count == creation.steps.count)
        }
    }

    @Test(
        "polls of MFN orders and returns and reads of FBA stock are each a trace of their own, Amazon's calls under them",
        arguments: TestEngine.available
    )
    func pollsAreTraces(engine: TestEngine) async throws {
        _ = TestTracing.tracer
        try await InventoryFixture.run(engine: engine) { fixture in
            let id = fixture.connection.id
            let client = try await AmazonClients().client(for: id, store: fixture.store)
            let logger = Logger(label: "test.tracing")
            /// The connection's root spans named `name`, and whether each holds an Amazon call `call` as its child.
            func polls(_ name: String, calling call: String) -> (count: Int, eachCalls: Bool) {
                let roots = TestTracing.tracer.finishedSpans.filter {
                    $0.operationName == name && $0.parentSpanID == nil
                        && $0.attributes["flexbridge.connection"]?.toSpanAttribute() == .string(id.rawValue)
                }
                let eachCalls = roots.allSatisfy { root in
                    TestTracing.spans(of: root.traceID).contains {
                        $0.operationName == call && $0.parentSpanID == root.spanID
                    }
                }
                return (roots.count, eachCalls)
            }
            try await fixture.settings { $0.orderSyncEnabled = true }
            let returns = ReturnWorker(connectionID: id, store: fixture.store, client: client, logger: logger)
            _ = try await returns.poll(statuses: false)
            let returnPolls = polls("return.poll", calling: "amazon listReturns")
            #expect(returnPolls.count == 1 && returnPolls.eachCalls, "one location, new returns only")

            try await fixture.settings { $0.mfnOrderSyncEnabled = true }
            let orders = MerchantOrderWorker(connectionID: id, store: fixture.store, client: client, logger: logger)
            _ = try await orders.poll()
            let orderPolls = polls("mfn_order.poll", calling: "amazon searchOrders")
            #expect(orderPolls.count == 1 && orderPolls.eachCalls)

            let fba = FBAStockWorker(connectionID: id, store: fixture.store, client: client, logger: logger)
            _ = try await fba.read(MarketplaceID(rawValue: InventoryFixture.marketplace))
            let reads = polls("fba_stock.read", calling: "amazon getInventorySummaries")
            #expect(reads.count == 1 && reads.eachCalls)
            _ = try await fba.read(MarketplaceID(rawValue: InventoryFixture.marketplace))
            #expect(polls("fba_stock.read", calling: "amazon getInventorySummaries").count == 1, "not due: no read")
        }
    }

    @Test("a stored trace reads back as written; text that is not one is no trace")
    func storedForm() {
        let trace = TraceContext(fields: ["traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"])
        #expect(trace.stored == #"{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}"#)
        #expect(TraceContext(stored: trace.stored) == trace)
        for damaged in [nil, "", "{}", "[1]", "{\"a\":1}", "not json"] {
            #expect(TraceContext(stored: damaged) == nil, "\(String(describing: damaged))")
        }
    }
}
