import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import Logging
import SellingPartner
import Tracing

/// Carries one connection's Send to Amazon plans through Amazon's steps (``InboundPlanStep``).
///
/// Each step is a call that starts an asynchronous operation at Amazon, polled until it ends; its results (options,
/// shipments) are written with the next step in one transaction. Two calls must never reach Amazon twice: creating
/// the plan and each confirmation. Before either, the intent is written (`intentAt`); a node that finds an intent
/// without an operation (it died between the two writes, or Amazon's answer was lost) first reads Amazon's state —
/// the plan by its name, the option Amazon accepted — and adopts it, and calls again only once Amazon still shows
/// nothing `settle` after the intent. Amazon's refusal stops the plan at its step with the reason (failed), until
/// the WMS resumes it.
public struct InboundPlanWorker: ConnectionWorker {
    public struct Configuration: Sendable {
        /// How often an operation in flight is polled.
        public var operationPoll: TimeInterval
        /// How long after an unanswered create or confirm Amazon's state is trusted to show it.
        public var settle: TimeInterval
        /// How often a plan waiting for a choice is looked at (its options may expire).
        public var choiceCheck: TimeInterval
        /// The longest wait when no plan is due.
        public var idle: TimeInterval

        public init(
            operationPoll: TimeInterval = 1,
            settle: TimeInterval = 30,
            choiceCheck: TimeInterval = 300,
            idle: TimeInterval = 60
        ) {
            self.operationPoll = operationPoll
            self.settle = settle
            self.choiceCheck = choiceCheck
            self.idle = idle
        }
    }

    public let connectionID: ConnectionID
    public let lease: Lease?
    let store: Store
    let amazon: any SendToAmazon
    let configuration: Configuration
    let logger: Logger

    public init(
        connectionID: ConnectionID,
        store: Store,
        client amazon: any SendToAmazon,
        configuration: Configuration = .init(),
        lease: Lease? = nil,
        logger: Logger
    ) {
        self.connectionID = connectionID
        self.store = store
        self.amazon = amazon
        self.configuration = configuration
        self.lease = lease
        self.logger = logger
    }

    public var name: String { "Send to Amazon" }
    public var wakeUp: WakeUp? { store.wakeUps.signal(for: connectionID, .inboundPlans) }

    public func round() async throws -> NextRound {
        let (plans, connection) = try await store.read { [connectionID] session in
            (try await session.dueInboundPlans(connectionID: connectionID), try await session.connection(connectionID))
        }
        guard let connection else { return .within(.seconds(configuration.idle)) }
        for due in plans {
            // Each step in the trace of the request that last moved the plan on (its creation, a choice, a resume).
            try await withRedactedSpan("inbound_plan.step", context: due.trace.instrumentationContext) { span in
                span.attributes["flexbridge.connection"] = connectionID.rawValue
                span.attributes["flexbridge.plan"] = due.plan.id
                span.attributes["flexbridge.step"] = due.plan.step.rawValue
                try await work(due.plan, settings: connection.settings)
            }
        }
        let next = try await store.read { [connectionID] in try await $0.nextInboundPlanDue(connectionID: connectionID)
        }
        let wait = min(
            max(next.map { $0.timeIntervalSince(store.clock.now()) } ?? configuration.idle, 0),
            configuration.idle
        )
        return wait <= 0 ? .now : .within(.milliseconds(Int64(wait * 1000)))
    }

    /// Takes one plan one step on; Amazon's refusal fails it with the reason, a transient failure is thrown (the
    /// round is tried again).
    func work(_ held: InboundPlan, settings: ConnectionSettings) async throws {
        var plan = held
        do {
            try await step(&plan, settings: settings)
        } catch let error as AmazonAPIError where !error.isTransient && !error.mayHaveApplied {
            try await fail(
                &plan,
                "Amazon refused \(error.operation): \(error.code ?? "\(error.status)") \(error.message ?? "")"
            )
        } catch let error as ValidationError {
            try await fail(&plan, "\(error.field) \(error.reason)")
        }
    }

    private func step(_ plan: inout InboundPlan, settings: ConnectionSettings) async throws {
        let now = store.clock.now()
        if let operation = plan.operation {
            let state = try await callAmazon { try await amazon.inboundOperation(operation.id) }
            switch state.status {
            case .inProgress:
                plan.dueAt = now.addingTimeInterval(configuration.operationPoll)
                // A status Amazon added later: waited on as in progress, and said when the operation comes into it.
                let unknown = state.unknownStatus.flatMap {
                    UnknownAmazonValue.entered(
                        $0,
                        known: false,
                        held: operation.unknownStatus,
                        field: "inbound_operation.status",
                        subjectKey: "operationId",
                        subject: operation.id
                    )
                }
                plan.operation?.unknownStatus = state.unknownStatus
                try await save(&plan, touch: false, saying: unknown)
            case .failed:
                plan.operation = nil
                plan.intentAt = nil
                try await fail(
                    &plan,
                    "Amazon's \(operation.name) failed: "
                        + (state.problems.isEmpty ? "no reason given" : state.problems.joined(separator: "; "))
                )
            case .succeeded:
                plan.operation = nil
                plan.intentAt = nil
                let event = try await complete(&plan, operation, settings: settings)
                try await save(&plan, event: event)
            }
            return
        }
        if plan.status == .waiting {
            if InboundPlanRules.choicesExpired(plan, now: now) {
                plan.step = plan.step == .choosePlacement ? .placementOptions : .transportationOptions
                plan.status = .working
                plan.dueAt = now
                try await save(&plan, event: "inbound_plan.updated")
            } else {
                plan.dueAt = now.addingTimeInterval(configuration.choiceCheck)
                try await save(&plan, touch: false)
            }
            return
        }
        guard let amazonPlan = plan.amazonPlanID else {
            return try await create(&plan, now: now)
        }
        switch plan.step {
        case .create:
            // Created, its operation's end not on record: Amazon's status says how it went.
            let state = try await callAmazon { try await amazon.inboundPlanState(amazonPlan) }
            guard state.status == "ACTIVE" else {
                return try await fail(&plan, "Amazon could not create the plan: its status is \(state.status)")
            }
            plan.step = .packingOptions
            try await save(&plan, event: "inbound_plan.updated")
        case .packingOptions:
            try await start(&plan, "generatePackingOptions") {
                try await amazon.generatePackingOptions(planID: amazonPlan)
            }
        case .confirmPacking:
            guard let option = plan.packingOptionID else {
                throw ValidationError(field: "packingOptionId", reason: "is missing")
            }
            try await confirm(
                &plan,
                "confirmPackingOption",
                settings: settings,
                confirmed: { try await amazon.inboundPlanState(amazonPlan).acceptedPackingOptionID != nil },
                call: { try await amazon.confirmPackingOption(planID: amazonPlan, optionID: option) }
            )
        case .packingInformation:
            let groupings = try InboundPlanRules.packageGroupings(plan)
            try await start(&plan, "setPackingInformation") {
                try await amazon.setPackingInformation(planID: amazonPlan, groupings: groupings)
            }
        case .placementOptions:
            try await start(&plan, "generatePlacementOptions") {
                try await amazon.generatePlacementOptions(planID: amazonPlan)
            }
        case .confirmPlacement:
            guard let option = plan.placementOptionID else {
                throw ValidationError(field: "placementOptionId", reason: "is missing")
            }
            try await confirm(
                &plan,
                "confirmPlacementOption",
                settings: settings,
                confirmed: { try await amazon.inboundPlanState(amazonPlan).acceptedPlacementOptionID != nil },
                call: { try await amazon.confirmPlacementOption(planID: amazonPlan, optionID: option) }
            )
        case .transportationOptions:
            guard let placement = plan.placementOptionID else {
                throw ValidationError(field: "placementOptionId", reason: "is missing")
            }
            let request = plan.request
            let shipments = plan.shipments.map(\.id)
            try await start(&plan, "generateTransportationOptions") {
                try await amazon.generateTransportationOptions(
                    planID: amazonPlan,
                    placementOptionID: placement,
                    shipmentIDs: shipments,
                    readyToShip: request.readyToShip(now: now),
                    contact: request.sourceAddress,
                    pallets: request.pallets
                )
            }
        case .deliveryWindows:
            try await deliveryWindow(&plan, amazonPlan: amazonPlan, settings: settings)
        case .confirmTransportation:
            let selections = Dictionary(
                plan.shipments.compactMap { shipment in shipment.transportationOptionID.map { (shipment.id, $0) } },
                uniquingKeysWith: { first, _ in first }
            )
            let shipments = plan.shipments.map(\.id)
            let contact = plan.request.sourceAddress
            try await confirm(
                &plan,
                "confirmTransportationOptions",
                settings: settings,
                confirmed: {
                    for shipment in shipments {
                        let state = try await amazon.inboundShipment(planID: amazonPlan, shipmentID: shipment)
                        if state.selectedTransportationOptionID == nil { return false }
                    }
                    return true
                },
                call: {
                    try await amazon.confirmTransportationOptions(
                        planID: amazonPlan,
                        selections: selections,
                        contact: contact
                    )
                }
            )
        case .labels:
            let boxes = plan.request.boxes.reduce(0) { $0 + $1.quantity }
            for index in plan.shipments.indices where !plan.shipments[index].labelsDownloaded {
                guard let confirmation = plan.shipments[index].confirmationID else {
                    throw ValidationError(field: "shipments", reason: "\(plan.shipments[index].id) has no FBA id")
                }
                let pdf = try await callAmazon {
                    try await amazon.inboundLabels(confirmationID: confirmation, boxes: boxes)
                }
                let shipmentID = plan.shipments[index].id
                try await store.transaction(fencedBy: lease) { [id = plan.id] in
                    try await $0.recordInboundPlanLabels(planID: id, shipmentID: shipmentID, pdf: pdf)
                }
                plan.shipments[index].labelsDownloaded = true
            }
            plan.step = .done
            plan.status = .completed
            try await save(&plan, event: "inbound_plan.completed")
            logger.info(
                "inbound plan confirmed at Amazon, labels downloaded",
                metadata: ["connection": "\(connectionID)", "plan": "\(plan.id)", "amazonPlan": "\(amazonPlan)"]
            )
        case .choosePlacement, .chooseTransportation, .done:
            plan.dueAt = now.addingTimeInterval(configuration.choiceCheck)
            try await save(&plan, touch: false)
        }
    }

    /// createInboundPlan, once: a plan whose intent is on record is first looked for at Amazon by its name.
    private func create(_ plan: inout InboundPlan, now: Date) async throws {
        if let intent = plan.intentAt {
            let name = plan.amazonName
            if let found = try await callAmazon({
                try await amazon.findInboundPlan(named: name, since: intent.addingTimeInterval(-300))
            }) {
                plan.amazonPlanID = found.planID
                plan.intentAt = nil
                plan.step = .packingOptions
                plan.dueAt = now
                try await save(&plan, event: "inbound_plan.updated")
                logger.notice(
                    "inbound plan found at Amazon after an interrupted create: adopted",
                    metadata: ["connection": "\(connectionID)", "plan": "\(plan.id)", "amazonPlan": "\(found.planID)"]
                )
                return
            }
            let settled = intent.addingTimeInterval(configuration.settle)
            if now < settled {
                plan.dueAt = settled
                try await save(&plan, touch: false)
                return
            }
        }
        plan.intentAt = now
        plan.dueAt = now.addingTimeInterval(configuration.settle)
        try await save(&plan, touch: false)
        let request = plan
        let (amazonPlan, operation) = try await callAmazon { try await amazon.createInboundPlan(request) }
        plan.amazonPlanID = amazonPlan
        plan.operation = InboundOperation(id: operation, name: "createInboundPlan")
        plan.dueAt = now.addingTimeInterval(configuration.operationPoll)
        try await save(&plan, event: "inbound_plan.updated")
    }

    /// A call Amazon may see twice without harm (generate…, setPackingInformation): made, its operation written.
    private func start(
        _ plan: inout InboundPlan,
        _ name: String,
        shipmentID: String? = nil,
        _ call: () async throws -> String
    )
        async throws
    {
        let operation = try await callAmazon(call)
        plan.operation = InboundOperation(id: operation, name: name, shipmentID: shipmentID)
        plan.dueAt = store.clock.now().addingTimeInterval(configuration.operationPoll)
        try await save(&plan, touch: false)
    }

    /// A confirmation Amazon must see once: after an intent without an operation, Amazon's state is read first and
    /// a confirmation it shows is adopted; otherwise the intent is written, then the call made.
    private func confirm(
        _ plan: inout InboundPlan,
        _ name: String,
        shipmentID: String? = nil,
        settings: ConnectionSettings,
        confirmed: () async throws -> Bool,
        call: () async throws -> String
    ) async throws {
        let now = store.clock.now()
        if let intent = plan.intentAt {
            if try await callAmazon(confirmed) {
                plan.intentAt = nil
                let event = try await complete(
                    &plan,
                    InboundOperation(id: "", name: name, shipmentID: shipmentID),
                    settings: settings
                )
                try await save(&plan, event: event)
                logger.notice(
                    "confirmation found at Amazon after an interruption: adopted, not confirmed again",
                    metadata: ["connection": "\(connectionID)", "plan": "\(plan.id)", "operation": "\(name)"]
                )
                return
            }
            let settled = intent.addingTimeInterval(configuration.settle)
            if now < settled {
                plan.dueAt = settled
                try await save(&plan, touch: false)
                return
            }
        }
        plan.intentAt = now
        plan.dueAt = now.addingTimeInterval(configuration.settle)
        try await save(&plan, touch: false)
        let operation = try await callAmazon(call)
        plan.operation = InboundOperation(id: operation, name: name, shipmentID: shipmentID)
        plan.dueAt = now.addingTimeInterval(configuration.operationPoll)
        try await save(&plan, touch: false)
    }

    /// The delivery windows of the shipments whose chosen carrier needs one, a shipment at a time: generate, take
    /// the earliest, confirm.
    private func deliveryWindow(
        _ plan: inout InboundPlan,
        amazonPlan: String,
        settings: ConnectionSettings
    )
        async throws
    {
        let needing = plan.shipments.firstIndex { shipment in
            shipment.deliveryWindowOptionID == nil
                && plan.transportationOptions.first { $0.id == shipment.transportationOptionID }?.needsDeliveryWindow
                    == true
        }
        guard let index = needing else {
            plan.step = .confirmTransportation
            try await save(&plan, event: "inbound_plan.updated")
            return
        }
        let shipment = plan.shipments[index].id
        guard let choice = plan.shipments[index].deliveryWindowChoice else {
            return try await start(&plan, "generateDeliveryWindowOptions", shipmentID: shipment) {
                try await amazon.generateDeliveryWindowOptions(planID: amazonPlan, shipmentID: shipment)
            }
        }
        try await confirm(
            &plan,
            "confirmDeliveryWindowOptions",
            shipmentID: shipment,
            settings: settings,
            confirmed: {
                try await amazon.inboundShipment(planID: amazonPlan, shipmentID: shipment).deliveryWindowOptionID != nil
            },
            call: {
                try await amazon.confirmDeliveryWindowOption(planID: amazonPlan, shipmentID: shipment, optionID: choice)
            }
        )
    }

    /// Takes what a finished operation made into the plan and moves it to its next step. Returns the event.
    private func complete(
        _ plan: inout InboundPlan,
        _ operation: InboundOperation,
        settings: ConnectionSettings
    ) async throws -> String {
        let now = store.clock.now()
        plan.dueAt = now
        guard let amazonPlan = plan.amazonPlanID else { return "inbound_plan.updated" }
        switch operation.name {
        case "createInboundPlan":
            plan.step = .packingOptions
        case "generatePackingOptions":
            plan.packingOptions = try await callAmazon { try await amazon.packingOptions(planID: amazonPlan) }
            guard let option = InboundPlanRules.packingOption(plan.packingOptions) else {
                throw ValidationError(field: "packingOptions", reason: "Amazon offered no packing option")
            }
            plan.packingOptionID = option.id
            plan.step = .confirmPacking
        case "confirmPackingOption":
            if let accepted = try await callAmazon({ try await amazon.inboundPlanState(amazonPlan) })
                .acceptedPackingOptionID
            {
                plan.packingOptionID = accepted
            }
            plan.step = .packingInformation
        case "setPackingInformation":
            plan.step = .placementOptions
        case "generatePlacementOptions":
            plan.placementOptions = try await callAmazon { try await amazon.placementOptions(planID: amazonPlan) }
            if settings.inboundPlacement == .cheapest,
                let cheapest = InboundPlanRules.cheapestPlacement(plan.placementOptions)
            {
                plan.placementOptionID = cheapest.id
                plan.step = .confirmPlacement
            } else {
                plan.step = .choosePlacement
                plan.status = .waiting
                plan.dueAt = now.addingTimeInterval(configuration.choiceCheck)
                return "inbound_plan.waiting"
            }
        case "confirmPlacementOption":
            let state = try await callAmazon { try await amazon.inboundPlanState(amazonPlan) }
            if let accepted = state.acceptedPlacementOptionID { plan.placementOptionID = accepted }
            let ids = plan.placementOptions.first { $0.id == plan.placementOptionID }?.shipmentIDs ?? []
            var shipments: [InboundPlanShipment] = []
            for id in ids {
                shipments.append(
                    try await callAmazon { try await amazon.inboundShipment(planID: amazonPlan, shipmentID: id) }
                        .shipment
                )
            }
            plan.shipments = shipments
            plan.step = .transportationOptions
        case "generateTransportationOptions":
            guard let placement = plan.placementOptionID else { break }
            plan.transportationOptions = try await callAmazon {
                try await amazon.transportationOptions(planID: amazonPlan, placementOptionID: placement)
            }
            for index in plan.shipments.indices {
                plan.shipments[index].transportationOptionID = nil
                plan.shipments[index].deliveryWindowChoice = nil
            }
            if settings.inboundTransportation == .partnered,
                let chosen = InboundPlanRules.partneredTransportation(plan)
            {
                for index in plan.shipments.indices {
                    plan.shipments[index].transportationOptionID = chosen[plan.shipments[index].id]
                }
                plan.step = InboundPlanRules.afterTransportationChosen(plan)
            } else {
                plan.step = .chooseTransportation
                plan.status = .waiting
                plan.dueAt = now.addingTimeInterval(configuration.choiceCheck)
                return "inbound_plan.waiting"
            }
        case "generateDeliveryWindowOptions":
            guard let shipment = operation.shipmentID,
                let index = plan.shipments.firstIndex(where: { $0.id == shipment })
            else { break }
            let windows = try await callAmazon {
                try await amazon.deliveryWindowOptions(planID: amazonPlan, shipmentID: shipment)
            }
            guard let earliest = windows.filter({ $0.validUntil > now }).min(by: { $0.start < $1.start }) else {
                throw ValidationError(
                    field: "deliveryWindows",
                    reason: "Amazon offered shipment \(shipment) no delivery window"
                )
            }
            plan.shipments[index].deliveryWindowChoice = earliest.id
        case "confirmDeliveryWindowOptions":
            guard let shipment = operation.shipmentID,
                let index = plan.shipments.firstIndex(where: { $0.id == shipment })
            else { break }
            let state = try await callAmazon {
                try await amazon.inboundShipment(planID: amazonPlan, shipmentID: shipment)
            }
            plan.shipments[index].deliveryWindowOptionID =
                state.deliveryWindowOptionID ?? plan.shipments[index].deliveryWindowChoice
            plan.shipments[index].deliveryWindowStart = state.deliveryWindowStart
        case "confirmTransportationOptions":
            var sent: [(String, SentInboundShipment)] = []
            for index in plan.shipments.indices {
                let state = try await callAmazon {
                    try await amazon.inboundShipment(planID: amazonPlan, shipmentID: plan.shipments[index].id)
                }
                plan.shipments[index].transportationConfirmed = true
                plan.shipments[index].transportationOptionID =
                    state.selectedTransportationOptionID ?? plan.shipments[index].transportationOptionID
                plan.shipments[index].status = state.shipment.status
                plan.shipments[index].confirmationID =
                    state.shipment.confirmationID ?? plan.shipments[index].confirmationID
                let shipment = plan.shipments[index]
                let option = plan.transportationOptions.first { $0.id == shipment.transportationOptionID }
                if let confirmation = shipment.confirmationID {
                    sent.append(
                        (
                            confirmation,
                            SentInboundShipment(
                                planID: plan.id,
                                carrierFees: option?.partnered == true ? option?.quote : nil,
                                expectedAt: InboundPlanRules.expectedArrival(
                                    of: shipment,
                                    plan: plan,
                                    pickUpDelayDays: settings.pickUpDelayDays
                                )
                            )
                        )
                    )
                }
            }
            try await store.transaction(fencedBy: lease) { [connectionID, sent] session in
                for (confirmation, shipment) in sent {
                    try await session.recordSentInboundShipment(
                        shipment,
                        connectionID: connectionID,
                        confirmationID: confirmation
                    )
                }
            }
            plan.step = .labels
        default:
            break
        }
        return "inbound_plan.updated"
    }

    private func fail(_ plan: inout InboundPlan, _ reason: String) async throws {
        plan.status = .failed
        plan.problem = reason
        plan.dueAt = store.clock.now()
        try await save(&plan, event: "inbound_plan.failed")
        logger.warning(
            "inbound plan stopped: Amazon refused a step",
            metadata: [
                "connection": "\(connectionID)", "plan": "\(plan.id)", "step": "\(plan.step)", "reason": "\(reason)",
            ]
        )
    }

    /// Writes the plan under the lease; a plan written meanwhile by the API (a choice) is left for the next round.
    /// Stores the plan, with its event; `saying` a value Amazon added, its event too, in the same transaction.
    private func save(
        _ plan: inout InboundPlan,
        event: String? = nil,
        touch: Bool = true,
        saying unknown: UnknownAmazonValue? = nil
    ) async throws {
        let held = plan
        guard
            let saved = try await store.transaction(
                fencedBy: lease,
                { [connectionID] session in
                    let saved = try await session.saveInboundPlan(held, event: event, touch: touch)
                    if saved != nil, let unknown {
                        try await session.appendEvents([try unknown.event(connectionID: connectionID)])
                    }
                    return saved
                }
            )
        else {
            throw InboundPlanChanged(planID: plan.id)
        }
        unknown?.report(logger, connectionID: connectionID)
        plan = saved
    }

    private func callAmazon<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await FlexEngine.callAmazon(store: store, connectionID: connectionID, lease: lease, body)
    }
}

/// The API wrote the plan while the worker held it (a choice, a resume): the worker reads it again next round.
struct InboundPlanChanged: Error, CustomStringConvertible {
    var planID: String
    var description: String { "Inbound plan \(planID) was changed meanwhile; it is read again" }
}
