import AmazonEFReturns
import AmazonEFShipments
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

@Suite("Returns and locations' modes against the simulator")
struct ReturnSyncTests {
    /// A return worker on the fixture's connection, reading `pageSize` returns per call.
    static func returnWorker(_ parts: FulfilmentTests.Parts, pageSize: Int = 100) -> ReturnWorker {
        ReturnWorker(
            connectionID: parts.amazon.connection.id,
            store: parts.amazon.store,
            client: parts.client,
            configuration: .init(pageSize: pageSize),
            logger: Logger(label: "test.returns")
        )
    }

    static func events(_ parts: FulfilmentTests.Parts, prefix: String) async throws -> [OutboxEvent] {
        try await parts.amazon.store.read { try await $0.events(after: 0, account: .default, limit: 10_000) }.filter {
            $0.type.hasPrefix(prefix)
        }
    }

    static func stored(_ parts: FulfilmentTests.Parts, _ id: String) async throws -> FlexCore.Return {
        try #require(try await parts.amazon.store.read { try await $0.returnRecord(ReturnID(rawValue: id)) })
    }

    /// Moves a return at the simulator along `statuses`.
    static func advance(_ parts: FulfilmentTests.Parts, _ id: String, _ statuses: [String]) async throws {
        for status in statuses { _ = try await parts.amazon.simulator.advanceReturn(id: id, to: status) }
    }

    static let toDelivered = [
        "CARRIER_NOTIFIED_TO_PICK_UP_FROM_CUSTOMER", "CARRIER_OUT_FOR_PICK_UP_FROM_CUSTOMER", "PICKED_FROM_CUSTOMER",
        "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED",
    ]

    @Test(
        "returns of shipped orders arrive once, across pages, linked to their orders, with every status change",
        arguments: TestEngine.available
    )
    func polling(engine: TestEngine) async throws {
        try await FulfilmentTests.run(engine: engine) { parts in
            var shipments: [String] = []
            for _ in 0..<3 { shipments.append(try await parts.newOrder(through: [.confirm, .pack, .label, .ship])) }
            var returnIDs: [String] = []
            for (index, shipment) in shipments.enumerated() {
                let made = try await parts.amazon.simulator.createReturns(
                    ReturnRequest(shipmentId: shipment, returnType: index == 2 ? "REJECT" : nil)
                )
                returnIDs += made.map(\.id)
            }
            let worker = Self.returnWorker(parts, pageSize: 1)
            #expect(try await worker.poll() == returnIDs.count)
            #expect(try await worker.poll() == 0, "the overlap reads them again, page by page; nothing changes")
            let truth = await parts.amazon.simulator.groundTruth().returns
            for expected in truth {
                let held = try await Self.stored(parts, expected.id)
                #expect(held.facts.shipmentID?.rawValue == expected.shipmentId)
                #expect(held.facts.rmaID == expected.rmaId)
                #expect(held.facts.merchantSKU.rawValue == expected.merchantSku)
                #expect(held.facts.units == expected.units && held.facts.status == "CREATED")
                #expect(held.facts.returnType == expected.returnType)
                #expect(held.facts.returnLocationID.rawValue == parts.amazon.locationID)
                #expect(held.facts.orderID != nil && held.facts.reverseTracking != nil)
            }
            let created = try await Self.events(parts, prefix: "return.")
            #expect(created.map(\.type) == Array(repeating: "return.created", count: returnIDs.count))
            #expect(Set(created.compactMap(\.subject)) == Set(returnIDs))

            // One return on its way, one called off by the customer, one cancelled outright.
            try await Self.advance(parts, returnIDs[0], Array(Self.toDelivered.prefix(3)))
            try await Self.advance(parts, returnIDs[1], ["CARRIER_NOTIFIED_TO_PICK_UP_FROM_CUSTOMER"])
            try await Self.advance(parts, returnIDs[1], ["CUSTOMER_CANCELLED_PICK_UP"])
            try await Self.advance(parts, returnIDs.last!, ["CANCELLED"])
            #expect(try await worker.poll() == 3)
            #expect(try await worker.poll() == 0)
            let changes = try await Self.events(parts, prefix: "return.").dropFirst(returnIDs.count)
            #expect(changes.map(\.type).sorted() == ["return.cancelled", "return.cancelled", "return.updated"])
            #expect(changes.first { $0.subject == returnIDs[0] }?.payload.contains("PICKED_FROM_CUSTOMER") == true)
            // Each change polled once is one history line; what happened between two polls is Amazon's to tell.
            let history = try await parts.amazon.store.read { [connection = parts.amazon.connection] in
                try await $0.returnHistory(ReturnID(rawValue: returnIDs[1]), connectionID: connection.id)
            }
            #expect(history.map(\.status) == ["CREATED", "CUSTOMER_CANCELLED_PICK_UP"])
            let filtered = try await parts.amazon.store.read {
                try await $0.returns(ReturnFilter(shipmentID: ShipmentID(rawValue: shipments[0])), limit: 10)
            }
            #expect(Set(filtered.map(\.id.rawValue)) == Set(truth.filter { $0.shipmentId == shipments[0] }.map(\.id)))
        }
    }

    @Test(
        "a return status Amazon adds later (not in its model) neither stops the page nor the seller's returns: it is kept as Amazon sent it, said in an event, and the return carries on along the known statuses",
        arguments: TestEngine.available
    )
    func unknownStatus(engine: TestEngine) async throws {
        try await FulfilmentTests.run(engine: engine) { parts in
            var shipments: [String] = []
            for _ in 0..<2 { shipments.append(try await parts.newOrder(through: [.confirm, .pack, .label, .ship])) }
            var ids: [String] = []
            for shipment in shipments {
                ids += try await parts.amazon.simulator.createReturns(ReturnRequest(shipmentId: shipment)).map(\.id)
            }
            let worker = Self.returnWorker(parts, pageSize: 10)
            #expect(try await worker.poll() == 2)
            _ = try await parts.amazon.simulator.advanceReturn(id: ids[0], to: "RETURN_IN_REVIEW", force: true)
            try await Self.advance(parts, ids[1], ["CARRIER_NOTIFIED_TO_PICK_UP_FROM_CUSTOMER"])
            #expect(try await worker.poll() == 2, "the page with the new status is read whole")
            #expect(try await Self.stored(parts, ids[0]).facts.status == "RETURN_IN_REVIEW")
            #expect(try await Self.stored(parts, ids[1]).facts.status == "CARRIER_NOTIFIED_TO_PICK_UP_FROM_CUSTOMER")
            let said = try await Self.events(parts, prefix: "").filter { $0.subject == ids[0] }.map(\.type)
            #expect(said.contains("return.updated") && said.contains("amazon.unknown_value"), "\(said)")
            let unknown = try await Self.events(parts, prefix: "amazon.unknown_value")
            #expect(unknown.count == 1 && unknown[0].payload.contains(#""field":"return.status""#))
            _ = try await parts.amazon.simulator.advanceReturn(id: ids[0], to: "DELIVERED", force: true)
            #expect(try await worker.poll() == 1)
            #expect(try await Self.stored(parts, ids[0]).facts.status == "DELIVERED")
        }
    }

    @Test("the worker's round asks for changes in every status at its first round, then only for new returns")
    func pollingRounds() async throws {
        try await FulfilmentTests.run { parts in
            let shipment = try await parts.newOrder(through: [.confirm, .pack, .label, .ship])
            let id = try #require(
                try await parts.amazon.simulator.createReturns(ReturnRequest(shipmentId: shipment)).first?.id
            )
            let worker = Self.returnWorker(parts)
            func polls(_ round: () async throws -> Void) async throws -> [String?] {
                let before = await parts.amazon.simulator.recordedRequests().count
                try await round()
                return await parts.amazon.simulator.recordedRequests(after: before).filter {
                    $0.operation == "listReturns"
                }.map { request in
                    URLComponents(string: request.path)?.queryItems?.first { $0.name == "status" }?.value
                }
            }
            let first = try await polls { _ = try await worker.round() }
            #expect(first.count == 1 + ReturnStatus.allCases.count)
            #expect(Set(first.compactMap { $0 }) == Set(ReturnStatus.allCases.map(\.rawValue)))
            #expect(try await polls { _ = try await worker.round() } == [nil], "new returns only")
            #expect(try await polls { _ = try await worker.poll() }.count == 1 + ReturnStatus.allCases.count)
            #expect(try await Self.stored(parts, id).facts.status == "CREATED")
        }
    }

    @Test("a sellable return put back raises the hub's stock, and the next push offers it on Amazon")
    func restock() async throws {
        try await FulfilmentTests.run { parts in
            let amazon = parts.amazon
            try await amazon.stock(["SKU-A": 10, "SKU-B": 10])
            let inventory = try await amazon.worker()
            try await inventory.syncRound()
            let shipment = try await parts.newOrder(through: [.confirm, .pack, .label, .ship])
            let made = try await amazon.simulator.createReturns(ReturnRequest(shipmentId: shipment))
            let id = made[0].id
            try await Self.advance(parts, id, Self.toDelivered)
            try await Self.returnWorker(parts).poll()
            let held = try await Self.stored(parts, id)
            #expect(held.facts.status == "DELIVERED" && held.facts.deliveredAt != nil)
            let sku = held.facts.merchantSKU.rawValue
            for _ in 0..<10 { if try await !inventory.syncRound() { break } }
            let before = try #require(await amazon.amazon(sku))
            let units = held.facts.units

            let returns = ReturnUseCases(store: amazon.store)
            let connectionID = amazon.connection.id
            // Quantities that do not add up, or one grade twice: refused, naming the field, nothing stored.
            await #expect(throws: ValidationError.self) {
                try await returns.receive(
                    ReturnID(rawValue: id),
                    of: connectionID,
                    .init(items: [.init(grade: .sellable, quantity: units + 1)], restock: true),
                    idempotencyKey: "bad"
                )
            }
            #expect(try await Self.stored(parts, id).receipt == nil)
            let receipt = ReturnUseCases.Receipt(items: [.init(grade: .sellable, quantity: units)], restock: true)
            let (received, recorded) = try await returns.receive(
                ReturnID(rawValue: id),
                of: connectionID,
                receipt,
                idempotencyKey: "r1"
            )
            #expect(recorded && received.receipt?.restockedUnits == units)
            #expect(received.receipt?.restockedHub == InventoryFixture.hub)
            let level = try await amazon.store.read {
                try await $0.stockStatus(of: WarehouseSKU(rawValue: "W-\(sku)"), account: .default)
            }
            #expect(level.hubs.first?.quantity == 10 + units)
            // The same request again is the same receipt; another is refused: a return is received once.
            let replay = try await returns.receive(
                ReturnID(rawValue: id),
                of: connectionID,
                receipt,
                idempotencyKey: "r1"
            )
            #expect(!replay.recorded && replay.return.receipt == received.receipt)
            await #expect(throws: ReturnUseCases.Refusal.self) {
                try await returns.receive(ReturnID(rawValue: id), of: connectionID, receipt, idempotencyKey: "r2")
            }
            for _ in 0..<10 { if try await !inventory.syncRound() { break } }
            let after = try #require(await amazon.amazon(sku))
            #expect(
                after.quantity - after.reserved == before.quantity - before.reserved + units,
                "\(before) → \(after)"
            )
            #expect(try await Self.events(parts, prefix: "return.received").count == 1)
        }
    }

    @Test("a replacement names its original: in its order.created event, and the original lists it")
    func replacement() async throws {
        try await FulfilmentTests.run { parts in
            let original = try await parts.newOrder(through: [.confirm, .pack, .label, .ship])
            let replacement = try await parts.amazon.simulator.replaceShipment(id: original, type: "REPLACEMENT")
            try await parts.orders.poll()
            let order = try await parts.order(replacement)
            #expect(order.originalShipmentID?.rawValue == original && order.shipmentType == "REPLACEMENT")
            let created = try #require(try await parts.events("order.created").first { $0.subject == replacement })
            #expect(created.payload.contains("\"originalShipmentId\":\"\(original)\""))
            #expect(created.payload.contains("\"shipmentType\":\"REPLACEMENT\""))
            let replacements = try await parts.amazon.store.read { [connection = parts.amazon.connection] in
                try await $0.replacements(of: ShipmentID(rawValue: original), connectionID: connection.id)
            }
            #expect(replacements.map(\.rawValue) == [replacement])
        }
    }

    @Test(
        "go-live: a pilot offers only its SKUs, capped, and 0 of the rest; live waits for the checklist; a hand-over offers 0 and ends clean",
        arguments: TestEngine.available
    )
    func goLiveAndHandover(engine: TestEngine) async throws {
        try await FulfilmentTests.run(engine: engine) { parts in
            let amazon = parts.amazon
            let store = amazon.store
            let location = LocationID(rawValue: amazon.locationID)
            let locations = LocationUseCases(store: store)
            let connectionID = amazon.connection.id
            try await amazon.stock(["SKU-A": 10, "SKU-B": 10])
            let inventory = try await amazon.worker()
            func sync() async throws { for _ in 0..<10 { if try await !inventory.syncRound() { break } } }
            func offered(_ sku: String) async throws -> Int {
                let held = try #require(await amazon.amazon(sku))
                return held.quantity - held.reserved
            }
            try await sync()
            // The test orders, placed while the location still had stock for both SKUs.
            let toShip = try await parts.newOrder()
            let toReject = try await parts.newOrder()
            let toCancel = try await parts.newOrder()
            amazon.clock.advance(by: .seconds(1))

            let pilot = try await locations.setMode(
                LocationModeChange(mode: .pilot, pilotSKUs: [PilotSKU(merchantSKU: "SKU-A", maximumQuantity: 2)]),
                of: location,
                connectionID: connectionID
            )
            #expect(pilot.state.mode == .pilot && !pilot.checklist.isComplete)
            try await sync()
            #expect(try await offered("SKU-A") == 2, "the pilot SKU, at most its cap")
            #expect(await amazon.amazon("SKU-B")?.quantity == 0, "every other item is offered 0")
            await #expect(throws: LocationUseCases.Refusal.self, "live before the checklist holds") {
                try await locations.setMode(LocationModeChange(mode: .live), of: location, connectionID: connectionID)
            }

            for type in [CommandType.confirm, .pack, .label, .ship] {
                try await parts.submit(CommandRequest(type: type), to: toShip)
            }
            try await parts.submit(CommandRequest(type: .reject, reason: "OUT_OF_STOCK"), to: toReject)
            try await parts.fulfilment.drain()
            _ = try await parts.client.shipments.updateSandboxShipment(
                path: .init(shipmentId: toCancel),
                body: .json(.init(updateType: .shipmentStatusChange, updates: .init(status: .cancelled)))
            ).noContent
            try await parts.orders.poll()
            let proved = try #require(try await locations.location(location, of: connectionID)).checklist
            #expect(proved.shippedOrder?.rawValue == toShip)
            #expect(proved.sellerCancellation?.rawValue == toReject)
            #expect(proved.customerCancellation?.rawValue == toCancel)

            let live = try await locations.setMode(
                LocationModeChange(mode: .live),
                of: location,
                connectionID: connectionID
            )
            #expect(live.state.mode == .live && live.state.wentLiveWith?.isComplete == true)
            try await sync()
            #expect(try await offered("SKU-A") == 10, "the whole catalogue")
            #expect(try await offered("SKU-B") == 10, "the whole catalogue")

            // Handing over: an order still open keeps the location from being clean.
            let open = try await parts.newOrder()
            let outgoing = try await locations.setMode(
                LocationModeChange(mode: .outgoing),
                of: location,
                connectionID: connectionID
            )
            #expect(outgoing.handover.openOrders.map(\.rawValue) == [open])
            try await sync()
            #expect(await amazon.amazon("SKU-A")?.quantity == 0)
            #expect(await amazon.amazon("SKU-B")?.quantity == 0)
            do {
                _ = try await locations.setMode(
                    LocationModeChange(mode: .handedOver),
                    of: location,
                    connectionID: connectionID
                )
                Issue.record("handed over with an order open")
            } catch let LocationUseCases.Refusal.notNow(message) {
                #expect(message.contains("1 open order (\(open))"), "\(message)")
            }
            // The open order is still FlexBridge's to finish.
            try await parts.submit(CommandRequest(type: .reject, reason: "OUT_OF_STOCK"), to: open)
            try await parts.fulfilment.drain()
            try await sync()
            amazon.clock.advance(by: .seconds(1))
            let clean = try #require(try await locations.location(location, of: connectionID))
            #expect(clean.handover.isClean, "\(clean.handover)")
            let handedOver = try await locations.setMode(
                LocationModeChange(mode: .handedOver),
                of: location,
                connectionID: connectionID
            )
            #expect(handedOver.state.mode == .handedOver)
            // The other connector's orders are not FlexBridge's: not mirrored, and no command runs there.
            let theirs = try await parts.newOrder()
            #expect(try await store.read { try await $0.order(ShipmentID(rawValue: theirs)) } == nil)
            var late = try await parts.order(open)
            late.shipmentID = "LATE-1"
            late.status = "ACCEPTED"
            late.state = .awaitingConfirmation
            _ = try await store.transaction { [late] in try await $0.upsertOrder(late, source: "poll") }
            do {
                _ = try await FulfilmentUseCases(store: store).submitCommand(
                    CommandRequest(type: .confirm),
                    to: "LATE-1",
                    idempotencyKey: "late"
                )
                Issue.record("a command ran at a handed-over location")
            } catch let FulfilmentUseCases.Refusal.notNow(message) {
                #expect(message.contains("handed over"), "\(message)")
            }
            // Taken back without a new pilot: only forced, with the reason in the change log.
            await #expect(throws: ValidationError.self, "forcing needs a reason") {
                try await locations.setMode(
                    LocationModeChange(mode: .live, force: true),
                    of: location,
                    connectionID: connectionID
                )
            }
            _ = try await locations.setMode(
                LocationModeChange(mode: .live, force: true, reason: "moved back after the other connector's outage"),
                of: location,
                connectionID: connectionID
            )
            let changes = try await store.read { try await $0.configChanges(connectionID: connectionID, limit: 20) }
            #expect(
                changes.contains {
                    $0.setting == "location.\(location).forcedLive" && $0.newValue?.contains("outage") == true
                }
            )
        }
    }
}
