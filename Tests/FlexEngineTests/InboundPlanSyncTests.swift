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

@Suite("Send to Amazon: a stock order carried through Amazon's inbound plan steps, against the simulator")
struct InboundPlanSyncTests {
    static let address = InboundPlanRequest.Address(
        name: "Hub one",
        addressLine1: "1 Dock Road",
        city: "Bengaluru",
        stateOrProvinceCode: "KA",
        postalCode: "560001",
        countryCode: "IN",
        phoneNumber: "+91 80 0000 0000"
    )

    static func request(
        _ reference: String,
        lines: [String: Int] = ["W-SKU-A": 10, "W-SKU-B": 4],
        pallets: Int? = nil
    ) -> InboundPlanRequest {
        let lines = lines.sorted { $0.key < $1.key }
        return InboundPlanRequest(
            reference: reference,
            marketplaceID: MarketplaceID(rawValue: InventoryFixture.marketplace),
            sourceAddress: address,
            lines: lines.map { .init(sku: WarehouseSKU(rawValue: $0.key), quantity: $0.value) },
            // One box per SKU, with its contents.
            boxes: lines.map {
                .init(
                    weight: 5,
                    length: 40,
                    width: 30,
                    height: 20,
                    items: [.init(sku: WarehouseSKU(rawValue: $0.key), quantity: $0.value)]
                )
            },
            pallets: pallets
        )
    }

    /// The fixture with FBA stock at Amazon for its SKUs (so that Amazon takes them in a plan), Amazon's
    /// operations ending at once, and a plan worker on `client`.
    static func run(
        engine: TestEngine,
        client wrap: @escaping @Sendable (SellingPartnerClient) -> any SendToAmazon = { $0 },
        _ body: @Sendable (InventoryFixture, InboundPlanWorker) async throws -> Void
    ) async throws {
        try await InventoryFixture.run(engine: engine, skus: ["SKU-A", "SKU-B", "SKU-C"]) { fixture in
            _ = try await fixture.simulator.putFBAStock(
                ["SKU-A", "SKU-B"].map { sku in FBAStockSpecification(sku: sku, fulfillable: 1) },
                merchantID: InventoryFixture.merchant,
                marketplaceID: InventoryFixture.marketplace
            )
            try await fixture.simulator.setInboundOperationSeconds(0)
            let client = try await AmazonClients(configuration: .init(retry: .init(maxAttempts: 2, initialDelay: 0.01)))
                .client(for: fixture.connection.id, store: fixture.store)
            let worker = InboundPlanWorker(
                connectionID: fixture.connection.id,
                store: fixture.store,
                client: wrap(client),
                configuration: .init(operationPoll: 1, settle: 30, choiceCheck: 300),
                logger: Logger(label: "test.inbound-plans")
            )
            try await body(fixture, worker)
        }
    }

    /// Rounds of the worker, the store's clock moved a second before each, until the plan is at `status` (or 200
    /// rounds).
    static func drive(
        _ worker: InboundPlanWorker,
        _ fixture: InventoryFixture,
        plan id: String,
        until status: InboundPlanStatus
    ) async throws -> InboundPlan {
        for _ in 0..<200 {
            fixture.clock.advance(by: .seconds(1))
            _ = try? await worker.round()
            let plan = try #require(try await fixture.store.read { try await $0.inboundPlan(id: id) })
            if plan.status == status { return plan }
        }
        let plan = try #require(try await fixture.store.read { try await $0.inboundPlan(id: id) })
        Issue.record("plan \(id) stayed at \(plan.step) \(plan.status) (\(plan.problem ?? "no problem"))")
        return plan
    }

    static func amazonPlan(_ fixture: InventoryFixture, _ plan: InboundPlan) async -> GroundTruth.InboundPlan? {
        await fixture.simulator.groundTruth().inboundPlans.first { $0.name == plan.amazonName }
    }

    @Test(
        "an operation status Amazon adds later is waited on as in progress and said once; the plan goes on when Amazon ends the operation",
        arguments: TestEngine.available
    )
    func unknownOperationStatus(engine: TestEngine) async throws {
        try await Self.run(engine: engine) { fixture, worker in
            // Amazon's first operation (the plan's creation) takes an hour.
            try await fixture.simulator.setInboundOperationSeconds(3600)
            let connection = try #require(
                try await fixture.store.read { try await $0.connection(fixture.connection.id) }
            )
            let (made, _) = try await InboundPlanUseCases(store: fixture.store).create(
                Self.request("PO-U"),
                connection: connection
            )
            var operationID: String?
            for _ in 0..<20 where operationID == nil {
                fixture.clock.advance(by: .seconds(1))
                _ = try await worker.round()
                operationID = try await fixture.store.read { try await $0.inboundPlan(id: made.id) }?.operation?.id
            }
            let id = try #require(operationID, "the plan's creation is under way at Amazon")
            try await fixture.simulator.forceInboundOperationStatus(id, to: "IN_REVIEW")
            func said() async throws -> [OutboxEvent] {
                try await fixture.store.read { try await $0.events(after: 0, account: .default, limit: 1000) }.filter {
                    $0.type == "amazon.unknown_value"
                }
            }
            for _ in 0..<3 {
                fixture.clock.advance(by: .seconds(2))
                _ = try await worker.round()
            }
            let unknown = try await said()
            #expect(unknown.count == 1 && unknown.first?.subject == id)
            #expect(unknown.first?.payload.contains(#""field":"inbound_operation.status""#) == true)
            #expect(unknown.first?.payload.contains(#""value":"IN_REVIEW""#) == true)
            let waiting = try #require(try await fixture.store.read { try await $0.inboundPlan(id: made.id) })
            #expect(waiting.status == .working && waiting.operation?.unknownStatus == "IN_REVIEW")

            // Amazon ends it: the plan goes on to its first choice, and nothing more is said.
            try await fixture.simulator.setInboundOperationSeconds(0)
            try await fixture.simulator.forceInboundOperationStatus(id, to: "IN_PROGRESS")
            let plan = try await Self.drive(worker, fixture, plan: made.id, until: .waiting)
            #expect(plan.amazonPlanID != nil && plan.step == .choosePlacement)
            #expect(try await said().count == 1)
        }
    }

    @Test(
        "a stock order goes to labels: packing chosen and confirmed, the WMS chooses placement and each shipment's carrier (own carrier: a delivery window first), each confirmed once; the shipments become stock orders carrying the plan and the partnered carrier's fees",
        arguments: TestEngine.available
    )
    func planToLabels(engine: TestEngine) async throws {
        try await Self.run(engine: engine) { fixture, worker in
            let plans = InboundPlanUseCases(store: fixture.store)
            try await fixture.settings { $0.partneredCarrierFees = true }
            let connection = try #require(
                try await fixture.store.read { try await $0.connection(fixture.connection.id) }
            )
            let (made, created) = try await plans.create(Self.request("PO-1"), connection: connection)
            #expect(created && made.merchantSKUs == ["SKU-A", "SKU-B"] && made.step == .create)

            var plan = try await Self.drive(worker, fixture, plan: made.id, until: .waiting)
            #expect(plan.step == .choosePlacement && plan.packingOptionID != nil && plan.amazonPlanID != nil)
            #expect(plan.placementOptions.count == 2, "one shipment with a fee, or two free: \(plan.placementOptions)")
            let split = try #require(plan.placementOptions.first { $0.shipmentIDs.count == 2 })
            #expect(split.fees.map { $0.amount == 0 } ?? true)
            let visible = [fixture.connection.id]
            plan = try await plans.choosePlacement(split.id, planID: plan.id, visible: visible)
            #expect(plan.step == .confirmPlacement && plan.status == .working)

            plan = try await Self.drive(worker, fixture, plan: plan.id, until: .waiting)
            #expect(plan.step == .chooseTransportation && plan.shipments.count == 2)
            #expect(plan.shipments.allSatisfy { $0.confirmationID?.hasPrefix("FBA") == true && $0.warehouseID != nil })
            // The first shipment by Amazon's partnered carrier, the second by the seller's own.
            let first = plan.shipments[0].id
            let second = plan.shipments[1].id
            let partnered = try #require(
                plan.transportationOptions.first { $0.shipmentID == first && $0.partnered && !$0.freight }
            )
            let own = try #require(
                plan.transportationOptions.first { $0.shipmentID == second && !$0.partnered && !$0.freight }
            )
            #expect(partnered.quote != nil && own.quote == nil && own.needsDeliveryWindow)
            await #expect(throws: ValidationError.self, "an option of another shipment") {
                _ = try await plans.chooseTransportation(
                    [first: own.id, second: own.id],
                    planID: plan.id,
                    visible: visible
                )
            }
            await #expect(throws: ValidationError.self, "a shipment left out") {
                _ = try await plans.chooseTransportation([first: partnered.id], planID: plan.id, visible: visible)
            }
            plan = try await plans.chooseTransportation(
                [first: partnered.id, second: own.id],
                planID: plan.id,
                visible: visible
            )
            #expect(plan.step == .deliveryWindows)

            plan = try await Self.drive(worker, fixture, plan: plan.id, until: .completed)
            #expect(
                plan.step == .done && plan.shipments.allSatisfy { $0.labelsDownloaded && $0.transportationConfirmed }
            )
            #expect(plan.shipments[1].deliveryWindowStart != nil && plan.shipments[0].deliveryWindowOptionID == nil)
            for shipment in plan.shipments {
                let pdf = try #require(
                    try await fixture.store.read {
                        try await $0.inboundPlanLabels(planID: plan.id, shipmentID: shipment.id)
                    }
                )
                #expect(pdf.starts(with: Data("%PDF".utf8)))
            }
            let truth = try #require(await Self.amazonPlan(fixture, plan))
            #expect(truth.createCalls == 1 && truth.confirmCalls.packing == 1 && truth.confirmCalls.placement == 1)
            #expect(truth.confirmCalls.transportation == 1 && truth.confirmCalls.deliveryWindow == 1)
            #expect(
                truth.placementOptionId == split.id && truth.shipments.allSatisfy { $0.transportationOptionId != nil }
            )

            // Amazon's v0 reports the shipments; as stock orders they carry the plan, and the partnered one its fee.
            try await fixture.settings { $0.fbaInboundSyncEnabled = true }
            fixture.clock.advance(by: .seconds(3600))
            let inbound = FBAInboundWorker(
                connectionID: fixture.connection.id,
                store: fixture.store,
                client: try await AmazonClients().client(for: fixture.connection.id, store: fixture.store),
                configuration: .init(pollInterval: 300, overlap: 7200, firstReadDays: 30),
                logger: Logger(label: "test.inbound")
            )
            _ = try await inbound.round()
            let byPartner = try #require(
                try await fixture.store.read {
                    try await $0.stockOrder(
                        connectionID: fixture.connection.id,
                        shipmentID: plan.shipments[0].confirmationID!
                    )
                }
            )
            #expect(byPartner.inboundPlanID == plan.id && byPartner.carrierFees == partnered.quote)
            let byOwn = try #require(
                try await fixture.store.read {
                    try await $0.stockOrder(
                        connectionID: fixture.connection.id,
                        shipmentID: plan.shipments[1].confirmationID!
                    )
                }
            )
            #expect(byOwn.inboundPlanID == plan.id && byOwn.carrierFees == nil)
            #expect(byOwn.expectedAt == plan.shipments[1].deliveryWindowStart, "the delivery window is when it arrives")
            let events = try await fixture.store.read { try await $0.events(after: 0, account: .default, limit: 1000) }
                .map(\.type)
            #expect(events.contains("inbound_plan.created") && events.contains("inbound_plan.waiting"))
            #expect(events.contains("inbound_plan.completed"))
        }
    }

    @Test(
        "the settings choose: the cheapest placement and the partnered freight carrier for a plan with pallets, the stock order expected at the pick-up plus the delay",
        arguments: TestEngine.available
    )
    func automated(engine: TestEngine) async throws {
        try await Self.run(engine: engine) { fixture, worker in
            try await fixture.settings {
                $0.inboundPlacement = .cheapest
                $0.inboundTransportation = .partnered
                $0.pickUpDelayDays = 3
            }
            let connection = try #require(
                try await fixture.store.read { try await $0.connection(fixture.connection.id) }
            )
            let (made, _) = try await InboundPlanUseCases(store: fixture.store)
                .create(Self.request("PO-2", pallets: 2), connection: connection)
            let plan = try await Self.drive(worker, fixture, plan: made.id, until: .completed)
            let cheapest = try #require(InboundPlanRules.cheapestPlacement(plan.placementOptions))
            #expect(plan.placementOptionID == cheapest.id)
            for shipment in plan.shipments {
                let option = try #require(plan.transportationOptions.first { $0.id == shipment.transportationOptionID })
                #expect(option.partnered && option.freight && option.pickUpAt != nil)
                let sent = try #require(
                    try await fixture.store.read {
                        try await $0.inboundPlanShipment(
                            connectionID: fixture.connection.id,
                            confirmationID: shipment.confirmationID!
                        )
                    }
                )
                #expect(sent.expectedAt == option.pickUpAt!.addingTimeInterval(3 * 86_400))
            }
            let truth = try #require(await Self.amazonPlan(fixture, plan))
            #expect(truth.confirmCalls.deliveryWindow == 0 && truth.confirmCalls.transportation == 1)
        }
    }

    @Test(
        "Amazon's answers to create and to each confirmation lost (a node dead right after the call): the plan is found by its name and each confirmation Amazon shows is adopted, never sent twice",
        arguments: TestEngine.available
    )
    func lostAnswers(engine: TestEngine) async throws {
        try await Self.run(engine: engine, client: { LosingAnswers(client: $0) }) { fixture, worker in
            try await fixture.settings {
                $0.inboundPlacement = .cheapest
                $0.inboundTransportation = .partnered
            }
            let connection = try #require(
                try await fixture.store.read { try await $0.connection(fixture.connection.id) }
            )
            let (made, _) = try await InboundPlanUseCases(store: fixture.store)
                .create(Self.request("PO-3"), connection: connection)
            let plan = try await Self.drive(worker, fixture, plan: made.id, until: .completed)
            let truth = try #require(await Self.amazonPlan(fixture, plan))
            #expect(truth.createCalls == 1 && truth.confirmCalls.packing == 1 && truth.confirmCalls.placement == 1)
            #expect(truth.confirmCalls.transportation == 1 && truth.inboundPlanId == plan.amazonPlanID)
            #expect(await fixture.simulator.groundTruth().inboundPlans.count == 1)
        }
    }

    @Test(
        "refused: a SKU without an FBA listing, a merchant-fulfilled one, no units, no city, a box that does not add up; a reference again answers its plan, with another request it is a conflict; a SKU Amazon does not know stops the plan at create with Amazon's reason, resumable",
        arguments: TestEngine.available
    )
    func refusals(engine: TestEngine) async throws {
        try await Self.run(engine: engine) { fixture, worker in
            let plans = InboundPlanUseCases(store: fixture.store)
            try await fixture.store.transaction { session in
                try await session.upsertListings([
                    Listing(
                        connectionID: fixture.connection.id,
                        marketplaceID: MarketplaceID(rawValue: InventoryFixture.marketplace),
                        warehouseSKU: "W-MFN",
                        merchantSKU: "MFN-1",
                        asin: "B000000099",
                        updatedAt: fixture.clock.now,
                        fulfilledBy: .merchant
                    )
                ])
            }
            let connection = try #require(
                try await fixture.store.read { try await $0.connection(fixture.connection.id) }
            )
            func refused(_ request: InboundPlanRequest) async -> ValidationError? {
                do {
                    _ = try await plans.create(request, connection: connection)
                    return nil
                } catch {
                    return error as? ValidationError
                }
            }
            #expect(await refused(Self.request("R1", lines: ["W-NONE": 1]))?.field == "lines[0].sku")
            #expect(
                await refused(Self.request("R2", lines: ["W-MFN": 1]))?.reason.contains("merchant-fulfilled") == true
            )
            var none = Self.request("R3")
            none.lines[0].quantity = 0
            #expect(await refused(none)?.field == "lines[0].quantity")
            var homeless = Self.request("R4")
            homeless.sourceAddress.city = " "
            #expect(await refused(homeless)?.field == "sourceAddress.city")
            var short = Self.request("R5")
            short.boxes[0].items![0].quantity = 9
            #expect(await refused(short)?.reason.contains("hold 9 units of W-SKU-A") == true)
            var heavy = Self.request("R6")
            heavy.boxes[1].weight = .nan
            #expect(await refused(heavy)?.field == "boxes[1].weight")
            #expect(try await fixture.store.read { try await $0.inboundPlans(of: [fixture.connection.id]) }.isEmpty)

            let (first, _) = try await plans.create(Self.request("PO-4"), connection: connection)
            let (again, created) = try await plans.create(Self.request("PO-4"), connection: connection)
            #expect(!created && again.id == first.id)
            await #expect(throws: InboundPlanUseCases.Refusal.self) {
                _ = try await plans.create(Self.request("PO-4", lines: ["W-SKU-A": 10]), connection: connection)
            }

            // SKU-C is listed in FlexBridge but Amazon has nothing of it for FBA.
            let (unknown, _) = try await plans.create(
                Self.request("PO-5", lines: ["W-SKU-C": 3]),
                connection: connection
            )
            let failed = try await Self.drive(worker, fixture, plan: unknown.id, until: .failed)
            #expect(failed.step == .create && failed.problem?.contains("SKU-C") == true, "\(failed.problem ?? "")")
            // Fixed at Amazon (FBA stock of SKU-C), resumed: a new plan is made there.
            _ = try await fixture.simulator.putFBAStock(
                [FBAStockSpecification(sku: "SKU-C", fulfillable: 1)],
                merchantID: InventoryFixture.merchant,
                marketplaceID: InventoryFixture.marketplace
            )
            _ = try await plans.resume(planID: unknown.id, visible: [fixture.connection.id])
            let resumed = try await Self.drive(worker, fixture, plan: unknown.id, until: .waiting)
            #expect(resumed.step == .choosePlacement && resumed.problem == nil)
            await #expect(throws: InboundPlanUseCases.Refusal.self, "only a failed plan resumes") {
                _ = try await plans.resume(planID: unknown.id, visible: [fixture.connection.id])
            }

            // An option that expired: refused by FlexBridge once its time is past; Amazon refusing one FlexBridge
            // still held valid fails the plan at the confirmation, and resuming asks for fresh options.
            let option = try #require(resumed.placementOptions.first)
            _ = try await fixture.simulator.expireInboundPlanOptions(resumed.amazonPlanID!)
            _ = try await plans.choosePlacement(option.id, planID: resumed.id, visible: [fixture.connection.id])
            let refusedAtAmazon = try await Self.drive(worker, fixture, plan: resumed.id, until: .failed)
            #expect(refusedAtAmazon.step == .confirmPlacement && refusedAtAmazon.problem?.contains("expired") == true)
            _ = try await plans.resume(planID: resumed.id, visible: [fixture.connection.id])
            var fresh = try await Self.drive(worker, fixture, plan: resumed.id, until: .waiting)
            #expect(fresh.step == .choosePlacement && !fresh.placementOptions.contains { $0.id == option.id })
            fixture.clock.advance(by: .seconds(2 * 86_400))
            fresh = try #require(try await fixture.store.read { try await $0.inboundPlan(id: resumed.id) })
            await #expect(throws: ValidationError.self, "expired in FlexBridge's eyes") {
                _ = try await plans.choosePlacement(
                    fresh.placementOptions[0].id,
                    planID: fresh.id,
                    visible: [fixture.connection.id]
                )
            }
        }
    }
}

/// Amazon's client whose answers to create and every confirmation are lost once each (the call reaches Amazon, the
/// answer never reaches FlexBridge), as when a node dies between the call and writing its operation.
private final class LosingAnswers: SendToAmazon, @unchecked Sendable {
    let client: SellingPartnerClient
    private let lock = NSLock()
    private var lost: Set<String> = []

    init(client: SellingPartnerClient) {
        self.client = client
    }

    private func once<T>(_ name: String, _ call: () async throws -> T) async throws -> T {
        let value = try await call()
        let first = lock.withLock { lost.insert(name).inserted }
        if first { throw AmazonAPIError(operation: name, status: 504, message: "answer lost") }
        return value
    }

    func createInboundPlan(_ plan: InboundPlan) async throws -> (planID: String, operationID: String) {
        try await once("create") { try await client.createInboundPlan(plan) }
    }
    func findInboundPlan(named name: String, since: Date) async throws -> (planID: String, status: String)? {
        try await client.findInboundPlan(named: name, since: since)
    }
    func inboundOperation(_ operationID: String) async throws -> InboundOperationState {
        try await client.inboundOperation(operationID)
    }
    func inboundPlanState(_ planID: String) async throws -> AmazonInboundPlanState {
        try await client.inboundPlanState(planID)
    }
    func generatePackingOptions(planID: String) async throws -> String {
        try await client.generatePackingOptions(planID: planID)
    }
    func packingOptions(planID: String) async throws -> [InboundPackingOption] {
        try await client.packingOptions(planID: planID)
    }
    func confirmPackingOption(planID: String, optionID: String) async throws -> String {
        try await once("packing") { try await client.confirmPackingOption(planID: planID, optionID: optionID) }
    }
    func setPackingInformation(planID: String, groupings: [InboundPackageGrouping]) async throws -> String {
        try await client.setPackingInformation(planID: planID, groupings: groupings)
    }
    func generatePlacementOptions(planID: String) async throws -> String {
        try await client.generatePlacementOptions(planID: planID)
    }
    func placementOptions(planID: String) async throws -> [InboundPlacementOption] {
        try await client.placementOptions(planID: planID)
    }
    func confirmPlacementOption(planID: String, optionID: String) async throws -> String {
        try await once("placement") { try await client.confirmPlacementOption(planID: planID, optionID: optionID) }
    }
    func inboundShipment(planID: String, shipmentID: String) async throws -> AmazonInboundShipmentState {
        try await client.inboundShipment(planID: planID, shipmentID: shipmentID)
    }
    func generateTransportationOptions(
        planID: String,
        placementOptionID: String,
        shipmentIDs: [String],
        readyToShip: Date,
        contact: InboundPlanRequest.Address,
        pallets: Int?
    ) async throws -> String {
        try await client.generateTransportationOptions(
            planID: planID,
            placementOptionID: placementOptionID,
            shipmentIDs: shipmentIDs,
            readyToShip: readyToShip,
            contact: contact,
            pallets: pallets
        )
    }
    func transportationOptions(
        planID: String,
        placementOptionID: String
    ) async throws
        -> [InboundTransportationOption]
    {
        try await client.transportationOptions(planID: planID, placementOptionID: placementOptionID)
    }
    func generateDeliveryWindowOptions(planID: String, shipmentID: String) async throws -> String {
        try await client.generateDeliveryWindowOptions(planID: planID, shipmentID: shipmentID)
    }
    func deliveryWindowOptions(planID: String, shipmentID: String) async throws -> [InboundDeliveryWindow] {
        try await client.deliveryWindowOptions(planID: planID, shipmentID: shipmentID)
    }
    func confirmDeliveryWindowOption(planID: String, shipmentID: String, optionID: String) async throws -> String {
        try await once("window-\(shipmentID)") {
            try await client.confirmDeliveryWindowOption(planID: planID, shipmentID: shipmentID, optionID: optionID)
        }
    }
    func confirmTransportationOptions(
        planID: String,
        selections: [String: String],
        contact: InboundPlanRequest.Address
    ) async throws -> String {
        try await once("transportation") {
            try await client.confirmTransportationOptions(planID: planID, selections: selections, contact: contact)
        }
    }
    func inboundLabels(confirmationID: String, boxes: Int) async throws -> Data {
        try await client.inboundLabels(confirmationID: confirmationID, boxes: boxes)
    }
}
