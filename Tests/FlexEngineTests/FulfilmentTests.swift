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

@Suite("Fulfilment commands against the simulator")
struct FulfilmentTests {
    struct Parts {
        var amazon: InventoryFixture
        var orders: OrderWorker
        var fulfilment: FulfilmentWorker
        var client: SellingPartnerClient

        /// A new Easy Ship order at the simulator, polled into the store.
        func newOrder(
            types: [Components.Schemas.CreateSandboxShipmentRequest.OrderTypePayloadPayload]? = nil
        ) async throws -> String {
            let id = try await client.shipments.createSandboxShipment(
                body: .json(
                    .init(
                        locationId: amazon.locationID,
                        marketplaceId: InventoryFixture.marketplace,
                        marketplaceChannel: .mfn,
                        shippingType: .marketplace,
                        orderType: types
                    )
                )
            ).ok.body.json.shipmentId
            try await orders.poll()
            return id
        }

        /// A new order carried through `steps` (each a command with its defaults), every command run.
        func newOrder(through steps: [CommandType]) async throws -> String {
            let id = try await newOrder()
            for type in steps { try await submit(CommandRequest(type: type), to: id) }
            try await fulfilment.drain()
            return id
        }

        /// Stores a command as the API does: checked against the order, resolved, under a key.
        @discardableResult
        func submit(
            _ request: CommandRequest,
            to shipmentID: String,
            key: String? = nil
        ) async throws -> FulfilmentCommand {
            let order = try #require(
                try await amazon.store.read { try await $0.order(ShipmentID(rawValue: shipmentID)) }
            )
            let resolved = try CommandRules.resolve(request, for: try ShipmentFacts(json: order.shipment))
            return try await amazon.store.transaction {
                try await $0.submitCommand(
                    resolved,
                    fingerprint: "\(request)",
                    for: order,
                    idempotencyKey: key ?? UUID().uuidString
                )
            }.command
        }

        func order(_ id: String) async throws -> Order {
            try #require(try await amazon.store.read { try await $0.order(ShipmentID(rawValue: id)) })
        }

        func commands(_ id: String) async throws -> [FulfilmentCommand] {
            try await amazon.store.read { [amazon] in
                try await $0.commands(shipmentID: ShipmentID(rawValue: id), connectionID: amazon.connection.id)
            }
        }

        func events(_ type: String) async throws -> [OutboxEvent] {
            try await amazon.store.read { try await $0.events(after: 0, account: .default, limit: 10_000) }.filter {
                $0.type == type
            }
        }

        /// The state-changing calls the simulator received for a shipment, by operation.
        func writes(_ shipmentID: String) async -> [String: Int] {
            let writes: Set<String> = [
                "processShipment", "createPackages", "updatePackage", "generateInvoice", "generateShipLabels",
                "updatePackageStatus",
            ]
            var counts: [String: Int] = [:]
            for request in await amazon.simulator.recordedRequests()
            where writes.contains(request.operation) && request.path.contains(shipmentID) {
                counts[request.operation, default: 0] += 1
            }
            return counts
        }
    }

    static func run(
        engine: TestEngine = .sqlite,
        maximumRetryDelay: TimeInterval = 60,
        concurrency: Int = 16,
        reservedPerLane: Int = 3,
        rateLimits: [String: RateLimiter.Limit] = [:],
        _ body: @Sendable (Parts) async throws -> Void
    ) async throws {
        try await InventoryFixture.run(engine: engine) { amazon in
            var limits = RateLimiter.amazonDefaults
            for operation in [
                "getShipments", "getShipment", "processShipment", "createPackages", "retrieveShippingOptions",
                "generateInvoice", "generateShipLabels", "updatePackageStatus", "createSandboxShipment", "getOrder",
                "confirmShipment",
            ] {
                limits[operation] = rateLimits[operation] ?? .init(rate: 500, burst: 500)
            }
            let client = try await AmazonClients(
                configuration: .init(retry: .init(maxAttempts: 2, initialDelay: 0.01), rateLimits: limits)
            )
            .client(for: amazon.connection.id, store: amazon.store)
            let logger = Logger(label: "test.fulfilment")
            try await body(
                Parts(
                    amazon: amazon,
                    orders: OrderWorker(
                        connectionID: amazon.connection.id,
                        store: amazon.store,
                        client: client,
                        logger: logger
                    ),
                    fulfilment: FulfilmentWorker(
                        connectionID: amazon.connection.id,
                        store: amazon.store,
                        client: client,
                        merchant: client,
                        configuration: .init(
                            concurrency: concurrency,
                            reservedPerLane: reservedPerLane,
                            maximumRetryDelay: maximumRetryDelay
                        ),
                        logger: logger
                    ),
                    client: client
                )
            )
        }
    }

    @Test(
        "confirm, pack (Amazon's recommended package), label with invoice, ship: each call once, files stored",
        arguments: TestEngine.available
    )
    func lifecycle(engine: TestEngine) async throws {
        try await Self.run(engine: engine) { parts in
            let id = try await parts.newOrder()
            for type in [CommandType.confirm, .pack, .label, .ship] {
                try await parts.submit(CommandRequest(type: type), to: id)
            }
            try await parts.fulfilment.drain()

            let commands = try await parts.commands(id)
            #expect(
                commands.map(\.status) == [.succeeded, .succeeded, .succeeded, .succeeded],
                "\(commands.map(\.errorMessage))"
            )
            let order = try await parts.order(id)
            #expect(order.status == "SHIPPED" && order.state == .shipped && order.error == nil)
            #expect(await parts.amazon.simulator.groundTruth().shipments.first { $0.id == id }?.status == "SHIPPED")
            let documents = try await parts.amazon.store.read {
                try await $0.documents(shipmentID: ShipmentID(rawValue: id), connectionID: parts.amazon.connection.id)
            }
            let label = try #require(documents.first { $0.kind == .label })
            #expect(label.trackingID?.hasPrefix("SIM") == true && !label.data.isEmpty)
            let invoice = try #require(documents.first { $0.kind == .invoice }, "the marketplace requires an invoice")
            #expect(String(decoding: invoice.data.prefix(5), as: UTF8.self) == "%PDF-")
            let writes = await parts.writes(id)
            #expect(
                writes == [
                    "processShipment": 1, "createPackages": 1, "generateInvoice": 1, "generateShipLabels": 1,
                    "updatePackageStatus": 1,
                ]
            )
            #expect(try await parts.events("order.command_succeeded").count == 4)
        }
    }

    @Test("shipping options are offered before labelling, and the one chosen is used")
    func shippingOptions() async throws {
        try await Self.run { parts in
            let id = try await parts.newOrder()
            for type in [CommandType.confirm, .pack] { try await parts.submit(CommandRequest(type: type), to: id) }
            let asked = try await parts.submit(CommandRequest(type: .shippingOptions), to: id)
            try await parts.fulfilment.drain()
            let answered = try #require(try await parts.amazon.store.read { try await $0.command(asked.id) })
            struct Result: Decodable {
                struct Option: Decodable {
                    var shippingOptionId: String?
                    var recommended: Bool
                }
                var shippingOptions: [Option]
            }
            let options = try JSONDecoder().decode(Result.self, from: Data(try #require(answered.result).utf8))
                .shippingOptions
            #expect(options.count == 2 && options.filter(\.recommended).count == 1)
            let other = try #require(options.first { !$0.recommended }?.shippingOptionId)
            #expect(try await parts.order(id).status == "PICKUP_SLOT_RETRIEVED")
            try await parts.submit(CommandRequest(type: .label, shippingOptionId: other), to: id)
            try await parts.fulfilment.drain()
            #expect(try await parts.order(id).status == "SHIPLABEL_GENERATED")
            let labelled = await parts.amazon.simulator.recordedRequests().filter {
                $0.operation == "generateShipLabels" && $0.path.contains(id)
            }
            #expect(labelled.count == 1 && labelled.first?.path.contains("shippingOptionId=\(other)") == true)
        }
    }

    @Test("a command cut short by a shutdown is neither failed nor marked with an error: the next node reads it back")
    func cancelledInFlight() async throws {
        try await Self.run { parts in
            let id = try await parts.newOrder()
            try await parts.amazon.simulator.setFaults(
                FaultSettings(latencyMilliseconds: 5_000),
                operation: "processShipment"
            )
            let command = try await parts.submit(CommandRequest(type: .confirm), to: id)
            let running = Task { try await parts.fulfilment.runDue() }
            var started = false
            for _ in 0..<100 where !started {
                started = try await parts.amazon.store.read { try await $0.command(command.id) }?.attempts == 1
                if !started { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(started)
            try await Task.sleep(for: .milliseconds(200))
            running.cancel()
            await #expect(throws: CancellationError.self) { _ = try await running.value }
            let after = try #require(try await parts.amazon.store.read { try await $0.command(command.id) })
            #expect(
                after.status == .running && after.errorMessage == nil,
                "\(after.status): \(after.errorMessage ?? "")"
            )
            #expect(try await parts.order(id).error == nil)
            try await parts.amazon.simulator.setFaults(FaultSettings(), operation: "processShipment")
        }
    }

    @Test("a confirmation whose answer was lost is read back, not sent again")
    func lostAnswer() async throws {
        try await Self.run { parts in
            let id = try await parts.newOrder()
            try await parts.amazon.simulator.setFaults(
                FaultSettings(dropAfterApplyRate: 1),
                operation: "processShipment"
            )
            let command = try await parts.submit(CommandRequest(type: .confirm), to: id)
            try await parts.fulfilment.runDue()
            let first = try #require(try await parts.amazon.store.read { try await $0.command(command.id) })
            #expect(first.status == .queued && first.attempts == 1, "no answer: tried again later")
            try await parts.amazon.simulator.setFaults(FaultSettings(), operation: "processShipment")
            parts.amazon.clock.advance(by: .seconds(5))
            try await parts.fulfilment.drain()
            let done = try #require(try await parts.amazon.store.read { try await $0.command(command.id) })
            #expect(done.status == .succeeded && done.attempts == 2)
            #expect(done.result?.contains("already") == true)
            #expect(await parts.writes(id) == ["processShipment": 1], "the confirmation went to Amazon once")
        }
    }

    @Test(
        "an order's command waiting for its retry holds back the commands after it, and the worker waits for that retry rather than looking again every 50 ms"
    )
    func retryHoldsBack() async throws {
        try await Self.run { parts in
            let id = try await parts.newOrder()
            try await parts.amazon.simulator.setFaults(
                FaultSettings(dropAfterApplyRate: 1),
                operation: "processShipment"
            )
            _ = try await parts.submit(CommandRequest(type: .confirm), to: id)
            _ = try await parts.submit(CommandRequest(type: .pack), to: id)
            try await parts.fulfilment.runDue()
            let now = parts.amazon.clock.now
            let next = try #require(
                try await parts.amazon.store.read {
                    try await $0.nextCommandRetry(connectionID: parts.amazon.connection.id)
                }
            )
            #expect(next > now, "the confirmation's retry, not the pack queued behind it")
            let round = try await parts.fulfilment.round()
            #expect(round == .within(.milliseconds(Int64((next.timeIntervalSince(now) * 1000).rounded(.down)))))
        }
    }

    @Test("ready_to_ship is announced only once the labels are stored, even when Amazon's answer was lost")
    func labelEventAfterFiles() async throws {
        try await Self.run { parts in
            let id = try await parts.newOrder(through: [.confirm, .pack])
            try await parts.amazon.simulator.setFaults(
                FaultSettings(dropAfterApplyRate: 1),
                operation: "generateShipLabels"
            )
            let label = try await parts.submit(CommandRequest(type: .label), to: id)
            try await parts.fulfilment.runDue()
            #expect(try await parts.amazon.store.read { try await $0.command(label.id) }?.status == .queued)
            // Amazon made the labels; its copy arrives by a poll before FlexBridge holds the files.
            try await parts.orders.poll()
            var order = try await parts.order(id)
            #expect(order.status == "SHIPLABEL_GENERATED")
            #expect(order.state == .packed, "not ready to ship without its labels")
            func readyEvents() async throws -> [OutboxEvent] {
                try await parts.events("order.updated").filter { $0.payload.contains("\"state\":\"ready_to_ship\"") }
            }
            #expect(try await readyEvents().isEmpty)

            try await parts.amazon.simulator.setFaults(FaultSettings(), operation: "generateShipLabels")
            parts.amazon.clock.advance(by: .seconds(5))
            try await parts.fulfilment.drain()
            order = try await parts.order(id)
            #expect(order.state == .readyToShip)
            #expect(try await readyEvents().count == 1)
            let labels = try await parts.amazon.store.read {
                try await $0.documents(shipmentID: ShipmentID(rawValue: id), connectionID: parts.amazon.connection.id)
            }.filter { $0.kind == .label }
            #expect(!labels.isEmpty)
            #expect(try await parts.amazon.store.read { try await $0.command(label.id) }?.status == .succeeded)
        }
    }

    @Test("a refused command leaves the error on the order, an event, and fails what was queued after it")
    func refusal() async throws {
        try await Self.run { parts in
            let id = try await parts.newOrder()
            let label = try await parts.submit(CommandRequest(type: .label), to: id)
            let ship = try await parts.submit(CommandRequest(type: .ship), to: id)
            try await parts.fulfilment.drain()
            let commands = try await parts.commands(id)
            #expect(commands.map(\.status) == [.failed, .failed])
            #expect(commands.first?.errorCode == "not_packed")
            #expect(commands.last?.errorCode == "earlier_command_failed" && commands.last?.id == ship.id)
            let order = try await parts.order(id)
            #expect(order.error?.commandID == label.id && order.error?.code == "not_packed")
            let failed = try #require(try await parts.events("order.command_failed").first)
            #expect(failed.payload.contains(ship.id.rawValue) && failed.subject == id)
            #expect(await parts.writes(id).isEmpty, "nothing was sent to Amazon")

            // A later success clears the error.
            try await parts.submit(CommandRequest(type: .confirm), to: id)
            try await parts.fulfilment.drain()
            #expect(try await parts.order(id).error == nil)
        }
    }

    @Test("slots: each lane keeps its reserve while it has work; a lane alone takes every slot")
    func laneSlots() {
        var slots = FulfilmentWorker.LaneSlots(concurrency: 16, reserved: 3)
        slots.waiting = [.processShipment: 300]
        #expect(slots.room(for: .processShipment) == 16, "alone, confirmations take every slot")
        slots.waiting = [.processShipment: 300, .packages: 1, .handover: 10]
        #expect(slots.room(for: .processShipment) == 12, "one slot owed to the pack, three to the handovers")
        slots.running = [.processShipment: 12]
        #expect(slots.room(for: .processShipment) == 0)
        #expect(slots.room(for: .packages) == 3)
        #expect(slots.room(for: .handover) == 3)
        slots.running = [.processShipment: 16]
        #expect(slots.room(for: .packages) == 0, "never more than the slots")
        slots.running = [.processShipment: 15]
        #expect(slots.room(for: .packages) == 1, "the next free slot goes to a lane below its reserve")
        #expect(slots.room(for: .processShipment) == 0, "not to the lane above it")
        #expect(FulfilmentWorker.LaneSlots(concurrency: 4, reserved: 3).room(for: .labelling) == 4)
        var small = FulfilmentWorker.LaneSlots(concurrency: 4, reserved: 3)
        small.waiting = [.processShipment: 5, .packages: 5, .labelling: 5, .handover: 5]
        #expect(small.room(for: .processShipment) == 1, "the reserve is at most a quarter of the slots")
    }

    @Test("a backlog of confirmations behind processShipment's bucket does not hold up another order's pack")
    func lanes() async throws {
        // processShipment at 5 calls a second; 8 slots, 2 kept per lane. Before lanes, the 12 confirmations (queued
        // first) held all 8 slots and the pack started only once 5 of them had gone through.
        try await Self.run(
            concurrency: 8,
            reservedPerLane: 2,
            rateLimits: ["processShipment": .init(rate: 5, burst: 1)]
        ) { parts in
            let packed = try await parts.newOrder()
            try await parts.submit(CommandRequest(type: .confirm), to: packed)
            try await parts.fulfilment.drain()
            var backlog: [String] = []
            for _ in 0..<12 { backlog.append(try await parts.newOrder()) }
            for id in backlog { try await parts.submit(CommandRequest(type: .confirm), to: id) }
            let pack = try await parts.submit(CommandRequest(type: .pack), to: packed)
            try await parts.fulfilment.drain()
            let done = try #require(try await parts.amazon.store.read { try await $0.command(pack.id) })
            #expect(done.status == .succeeded)
            for id in backlog { #expect(try await parts.commands(id).first?.status == .succeeded) }
            // In the order Amazon received them: the confirmations that went through before the pack.
            let calls = await parts.amazon.simulator.recordedRequests().map(\.operation)
            let packedAt = try #require(calls.firstIndex(of: "createPackages"))
            let confirmedBefore = calls[..<packedAt].filter { $0 == "processShipment" }.count - 1
            #expect(confirmedBefore < 3, "the pack waited for \(confirmedBefore) confirmations")
        }
    }

    @Test("a poll's copy newer by Amazon's clock but behind the worker's steps does not lose the packages")
    func stalePollCopy() async throws {
        try await Self.run { parts in
            let id = try await parts.newOrder(through: [.confirm, .pack])
            // The worker's copy: packed, with the packages, at the time Amazon last stamped (before the steps).
            let packed = try await parts.fulfilment.stored(ShipmentID(rawValue: id))
            #expect(packed.knownStatus == .packageCreated)
            let packages = try #require(try Self.document(packed).packages)
            // A poll's page read after the confirmation and before the packing arrives late: CONFIRMED, no packages,
            // a second newer by Amazon's clock. The store takes it (newer).
            var stale = try Self.document(packed)
            stale.status = "CONFIRMED"
            stale.packages = nil
            stale.lastUpdatedDateTime = packed.updatedAt.addingTimeInterval(1).formatted(.iso8601)
            let connectionID = parts.amazon.connection.id
            let order = Order(try AmazonShipment(stale), connectionID: connectionID, now: Date())
            _ = try await parts.amazon.store.transaction { try await $0.upsertOrder(order, source: "poll") }
            #expect(try await parts.order(id).status == "CONFIRMED")

            // The label command's next step is recorded on the worker's copy at the newer time: packages kept.
            let next = try await parts.fulfilment.advance(packed, ImpliedStep(.pickupSlotRetrieved))
            #expect(next.knownStatus == .pickupSlotRetrieved)
            #expect(try Self.document(next).packages == packages)
            #expect(try Self.document(next).lastUpdatedDateTime == stale.lastUpdatedDateTime)
            let stored = try await parts.fulfilment.stored(ShipmentID(rawValue: id))
            #expect(stored.knownStatus == .pickupSlotRetrieved)
            #expect(try Self.document(stored).packages == packages)

            // A newer copy already as far on (a cancellation) stands as it is.
            var cancelled = stale
            cancelled.status = "CANCELLED"
            cancelled.lastUpdatedDateTime = packed.updatedAt.addingTimeInterval(2).formatted(.iso8601)
            let cancelledOrder = Order(try AmazonShipment(cancelled), connectionID: connectionID, now: Date())
            _ = try await parts.amazon.store.transaction { try await $0.upsertOrder(cancelledOrder, source: "poll") }
            let after = try await parts.fulfilment.advance(next, ImpliedStep(.invoiceGenerated, invoiceAvailable: true))
            #expect(after.knownStatus == .cancelled)
            #expect(try await parts.order(id).status == "CANCELLED")
        }
    }

    /// Amazon's document of a copy, to build copies as Amazon would send them.
    static func document(_ shipment: AmazonShipment) throws -> Components.Schemas.Shipment {
        try JSONDecoder().decode(Components.Schemas.Shipment.self, from: Data(shipment.document.utf8))
    }

    @Test("serial numbers are enforced before anything is stored; sent with the package when given")
    func serialNumbers() async throws {
        try await Self.run { parts in
            let id = try await parts.newOrder(types: [.serial])
            let order = try await parts.order(id)
            let facts = try ShipmentFacts(json: order.shipment)
            #expect(throws: ValidationError.self) { try CommandRules.resolve(CommandRequest(type: .pack), for: facts) }
            let line = try #require(facts.lineItems.first)
            let package = PackageSpec(
                id: "BOX1",
                length: 20,
                width: 15,
                height: 10,
                dimensionUnit: "CM",
                weight: 500,
                weightUnit: "G",
                items: facts.lineItems.map { .init(lineItemId: $0.shipmentLineItemId, quantity: $0.numberOfUnits) }
            )
            do {
                _ = try CommandRules.resolve(CommandRequest(type: .pack, packages: [package]), for: facts)
                Issue.record("a package without serial numbers was accepted")
            } catch let error as ValidationError {
                #expect(error.field == "packages[0].items[0].serialNumbers" && error.reason.contains(line.merchantSku))
            }
            var serialised = package
            serialised.items = facts.lineItems.map { line in
                .init(
                    lineItemId: line.shipmentLineItemId,
                    quantity: line.numberOfUnits,
                    serialNumbers: (0..<line.numberOfUnits).map { "SN-\(line.shipmentLineItemId)-\($0)" }
                )
            }
            try await parts.submit(CommandRequest(type: .confirm), to: id)
            try await parts.submit(CommandRequest(type: .pack, packages: [serialised]), to: id)
            try await parts.fulfilment.drain()
            #expect(try await parts.order(id).status == "PACKAGE_CREATED")
        }
    }

    @Test("a marketplace cancellation cancels queued commands and says what to put back")
    func cancellation() async throws {
        try await Self.run { parts in
            let id = try await parts.newOrder()
            try await parts.submit(CommandRequest(type: .confirm), to: id)
            try await parts.fulfilment.drain()
            let pack = try await parts.submit(CommandRequest(type: .pack), to: id)
            _ = try await parts.client.shipments.updateSandboxShipment(
                path: .init(shipmentId: id),
                body: .json(.init(updateType: .shipmentStatusChange, updates: .init(status: .cancelled)))
            ).noContent
            try await parts.orders.poll()
            let cancelled = try #require(try await parts.events("order.cancelled").first)
            #expect(cancelled.payload.contains(pack.id.rawValue))
            #expect(cancelled.payload.contains("\"stage\":\"picked\""), "confirmed, so picked: \(cancelled.payload)")
            try await parts.fulfilment.drain()
            #expect(try await parts.commands(id).last?.status == .cancelled)
            #expect(try await parts.order(id).state == .cancelled)
            #expect(await parts.writes(id) == ["processShipment": 1])
        }
    }

    /// How an order stops holding Amazon's reservation of its units.
    enum Release: String, CaseIterable, Sendable, CustomStringConvertible {
        case shipped, rejected, cancelled
        var description: String { rawValue }
    }

    @Test(
        "a shipped, rejected or cancelled order's released reservation goes out at once: Amazon sells the WMS's free units, no reconciliation",
        arguments: Release.allCases
    )
    func releasedReservation(release: Release) async throws {
        try await Self.run { parts in
            let amazon = parts.amazon
            try await amazon.stock(["SKU-A": 10, "SKU-B": 10])
            let inventory = try await amazon.worker()
            try await inventory.syncRound()
            let id = try await parts.newOrder()
            // The WMS allocates the order: its free units drop by what Amazon now reserves.
            var free: [String: Int] = [:]
            for sku in ["SKU-A", "SKU-B"] { free[sku] = 10 - (await amazon.amazon(sku)?.reserved ?? 0) }
            try #require(free.values.contains { $0 < 10 }, "the order reserves units")
            try await amazon.stock(free)
            for _ in 0..<10 { if try await !inventory.syncRound() { break } }
            for sku in ["SKU-A", "SKU-B"] {
                let held = try #require(await amazon.amazon(sku))
                #expect(held.quantity - held.reserved == free[sku], "before: \(sku) \(held)")
            }

            switch release {
            case .shipped:
                for type in [CommandType.confirm, .pack, .label, .ship] {
                    try await parts.submit(CommandRequest(type: type), to: id)
                }
                try await parts.fulfilment.drain()
            case .rejected:
                try await parts.submit(CommandRequest(type: .reject, reason: "OUT_OF_STOCK"), to: id)
                try await parts.fulfilment.drain()
            case .cancelled:
                _ = try await parts.client.shipments.updateSandboxShipment(
                    path: .init(shipmentId: id),
                    body: .json(.init(updateType: .shipmentStatusChange, updates: .init(status: .cancelled)))
                ).noContent
                try await parts.orders.poll()
            }
            #expect(try await parts.order(id).state.rawValue == release.rawValue)
            // The WMS's free number did not change (a rejected or cancelled order's units wait to be put back), and
            // Amazon must sell exactly that, after sync rounds alone.
            for _ in 0..<10 { if try await !inventory.syncRound() { break } }
            for sku in ["SKU-A", "SKU-B"] {
                let held = try #require(await amazon.amazon(sku))
                #expect(held.reserved == 0, "\(sku) \(held)")
                #expect(
                    held.quantity - held.reserved == free[sku],
                    "after \(release): \(sku) \(held), WMS free \(free[sku] ?? -1)"
                )
                #expect(try await amazon.item(sku)?.pending == false)
            }
        }
    }

    @Test("a rejection succeeds, leaves the order rejected and cancels what was queued after it")
    func rejection() async throws {
        try await Self.run { parts in
            let id = try await parts.newOrder()
            let reject = try await parts.submit(CommandRequest(type: .reject, reason: "OUT_OF_STOCK"), to: id)
            let pack = try await parts.submit(CommandRequest(type: .pack), to: id)
            try await parts.fulfilment.drain()
            let commands = try await parts.commands(id)
            #expect(commands.first { $0.id == reject.id }?.status == .succeeded)
            #expect(commands.first { $0.id == pack.id }?.status == .cancelled)
            let order = try await parts.order(id)
            #expect(order.status == "CANCELLED" && order.state == .rejected)
            let rejected = try #require(try await parts.events("order.rejected").first)
            #expect(rejected.payload.contains("OUT_OF_STOCK") && rejected.payload.contains(pack.id.rawValue))
            #expect(try await parts.events("order.cancelled").isEmpty, "order.cancelled is the marketplace's alone")
            #expect(await parts.writes(id) == ["processShipment": 1])
        }
    }

    @Test("the same idempotency key returns the first command; with another request it is refused")
    func idempotency() async throws {
        try await Self.run { parts in
            let id = try await parts.newOrder()
            let order = try await parts.order(id)
            let first = try await parts.amazon.store.transaction {
                try await $0.submitCommand(
                    CommandRequest(type: .confirm),
                    fingerprint: "confirm",
                    for: order,
                    idempotencyKey: "k1"
                )
            }
            let again = try await parts.amazon.store.transaction {
                try await $0.submitCommand(
                    CommandRequest(type: .confirm),
                    fingerprint: "confirm",
                    for: order,
                    idempotencyKey: "k1"
                )
            }
            #expect(first.created && !again.created && first.command.id == again.command.id)
            await #expect(throws: StoreError.self) {
                try await parts.amazon.store.transaction {
                    try await $0.submitCommand(
                        CommandRequest(type: .ship),
                        fingerprint: "ship",
                        for: order,
                        idempotencyKey: "k1"
                    )
                }
            }
            #expect(try await parts.commands(id).count == 1)
        }
    }

    @Test("automatic confirmation queues one confirm per new order")
    func autoConfirm() async throws {
        try await Self.run { parts in
            try await parts.amazon.settings { $0.autoConfirm = true }
            let ids = [try await parts.newOrder(), try await parts.newOrder(), try await parts.newOrder()]
            try await parts.orders.poll()
            try await parts.fulfilment.drain()
            for id in ids {
                #expect(try await parts.commands(id).map(\.status) == [.succeeded])
                #expect(try await parts.order(id).status == "CONFIRMED")
            }
        }
    }

    @Test(
        "a manifest gathers labelled orders; its PDF lists them; handing it over ships them all",
        arguments: TestEngine.available
    )
    func manifest(engine: TestEngine) async throws {
        try await Self.run(engine: engine) { parts in
            var ids: [String] = []
            for _ in 0..<3 {
                let id = try await parts.newOrder()
                for type in [CommandType.confirm, .pack, .label] {
                    try await parts.submit(CommandRequest(type: type), to: id)
                }
                ids.append(id)
            }
            try await parts.fulfilment.drain()
            let location = LocationID(rawValue: parts.amazon.locationID)
            let connection = parts.amazon.connection.id
            let store = parts.amazon.store
            func needingManifest() async throws -> [String] {
                try await store.read {
                    try await $0.orders(
                        connectionID: connection,
                        status: nil,
                        state: .readyToShip,
                        locationID: location,
                        inManifest: false,
                        after: nil,
                        limit: 100
                    )
                }.map(\.shipmentID.rawValue)
            }
            #expect(Set(try await needingManifest()) == Set(ids), "labelled, in no manifest yet")
            let (manifest, created) = try await store.transaction {
                try await $0.createManifest(
                    connectionID: connection,
                    locationID: location,
                    carrierName: nil,
                    shipmentIDs: nil,
                    idempotencyKey: "wave-1"
                )
            }
            #expect(created && manifest.idempotencyKey == "wave-1")
            #expect(Set(manifest.entries.map(\.shipmentID.rawValue)) == Set(ids) && manifest.carrierName == "ATS")
            for id in ids { #expect(try await parts.order(id).manifestID == manifest.id) }
            #expect(try await needingManifest().isEmpty)
            // The same request again under the same key: the first manifest, nothing created.
            let again = try await store.transaction {
                try await $0.createManifest(
                    connectionID: connection,
                    locationID: location,
                    carrierName: "ATS",
                    shipmentIDs: ids.map(ShipmentID.init(rawValue:)),
                    idempotencyKey: "wave-1"
                )
            }
            #expect(!again.created && again.manifest.id == manifest.id)
            await #expect(throws: StoreError.self, "the key with another request") {
                try await store.transaction {
                    try await $0.createManifest(
                        connectionID: connection,
                        locationID: location,
                        carrierName: "OTHER",
                        shipmentIDs: nil,
                        idempotencyKey: "wave-1"
                    )
                }
            }
            #expect(try await store.read { try await $0.manifests(connectionID: connection, limit: 10) }.count == 1)
            #expect(manifest.entries.allSatisfy { $0.packages.first?.trackingID != nil })
            let pdf = String(decoding: manifest.pdf(), as: UTF8.self)
            #expect(pdf.hasPrefix("%PDF-") && ids.allSatisfy(pdf.contains) && pdf.contains("Received by"))
            await #expect(throws: StoreError.self, "every labelled order is in a manifest already") {
                try await parts.amazon.store.transaction {
                    try await $0.createManifest(
                        connectionID: parts.amazon.connection.id,
                        locationID: location,
                        carrierName: nil,
                        shipmentIDs: nil
                    )
                }
            }
            #expect(
                try await store.read {
                    try await $0.manifests(connectionID: connection, status: .handedOver, limit: 10)
                }
                .isEmpty
            )
            _ = try await ManifestUseCases(store: parts.amazon.store).handOver(manifest.id)
            _ = try await ManifestUseCases(store: parts.amazon.store).handOver(manifest.id)
            try await parts.fulfilment.drain()
            for id in ids {
                #expect(try await parts.order(id).state == .shipped)
                #expect(await parts.writes(id)["updatePackageStatus"] == 1)
            }
            #expect(
                try await store.read {
                    try await $0.manifests(connectionID: connection, status: .handedOver, limit: 10)
                }
                .map(\.id) == [manifest.id]
            )
            #expect(
                try await store.read { try await $0.manifests(connectionID: connection, status: .open, limit: 10) }
                    .isEmpty
            )
        }
    }

    @Test("manifests are listed newest first a page at a time; an unknown cursor is refused")
    func manifestPages() async throws {
        try await Self.run { parts in
            let connection = parts.amazon.connection.id
            let location = LocationID(rawValue: parts.amazon.locationID)
            var created: [ManifestID] = []
            for _ in 0..<3 {
                let id = try await parts.newOrder(through: [.confirm, .pack, .label])
                created.append(
                    try await parts.amazon.store.transaction {
                        try await $0.createManifest(
                            connectionID: connection,
                            locationID: location,
                            carrierName: nil,
                            shipmentIDs: [ShipmentID(rawValue: id)]
                        )
                    }.manifest.id
                )
                parts.amazon.clock.advance(by: .seconds(1))
            }
            let store = parts.amazon.store
            let first = try await store.read { try await $0.manifests(connectionID: connection, limit: 2) }
            #expect(first.map(\.id) == [created[2], created[1]])
            let second = try await store.read {
                try await $0.manifests(connectionID: connection, before: first.last?.id, limit: 2)
            }
            #expect(second.map(\.id) == [created[0]])
            #expect(
                try await store.read {
                    try await $0.manifests(connectionID: connection, locationID: location, limit: 5)
                }.count == 3
            )
            await #expect(throws: ValidationError.self) {
                try await store.read { try await $0.manifests(connectionID: connection, before: "MAN-none", limit: 2) }
            }
        }
    }

    @Test("orders at risk: due soon, late, or stuck on a failed command")
    func atRisk() async throws {
        try await Self.run { parts in
            let id = try await parts.newOrder()
            let order = try await parts.order(id)
            let expected = try #require(order.expectedShipAt)
            let store = parts.amazon.store
            let connection = parts.amazon.connection.id
            #expect(
                try await store.read {
                    try await $0.ordersAtRisk(
                        connectionID: connection,
                        before: expected.addingTimeInterval(-60),
                        limit: 10
                    )
                }.isEmpty
            )
            #expect(
                try await store.read {
                    try await $0.ordersAtRisk(
                        connectionID: connection,
                        before: expected.addingTimeInterval(60),
                        limit: 10
                    )
                }.map(\.shipmentID.rawValue) == [id]
            )
            try await parts.submit(CommandRequest(type: .ship), to: id)
            try await parts.fulfilment.drain()
            #expect(
                try await store.read {
                    try await $0.ordersAtRisk(connectionID: connection, before: .distantPast, limit: 10)
                }.map(\.shipmentID.rawValue) == [id]
            )
        }
    }
}
