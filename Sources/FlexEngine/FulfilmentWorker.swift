import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import Logging
import SellingPartner
import Tracing

/// Runs one connection's fulfilment commands against Amazon: per order in the order given, different orders side
/// by side.
///
/// Amazon's state-changing calls carry no idempotency key, so a call is never repeated blindly. Each attempt is
/// counted in the store before Amazon is called; an attempt that finds an earlier one (a timeout, a 500, a node
/// killed mid-call) first reads the shipment again and does only what Amazon has not done yet. Every step works
/// from Amazon's current status, so a shipment moved by other means (Seller Central, a second tool) is adopted,
/// never fought. After each change the shipment is read back and stored, with its event.
public struct FulfilmentWorker: Sendable {
    public struct Configuration: Sendable {
        /// Orders worked on at once.
        public var concurrency: Int
        /// Of those, the slots each ``Lane`` keeps for itself (at most a quarter of `concurrency` is kept).
        public var reservedPerLane: Int
        /// Attempts before a command that keeps failing for lack of an answer is given up, with an event.
        public var maxAttempts: Int
        /// The longest wait between attempts.
        public var maximumRetryDelay: TimeInterval

        public init(
            concurrency: Int = 16,
            reservedPerLane: Int = 3,
            maxAttempts: Int = 12,
            maximumRetryDelay: TimeInterval = 60
        ) {
            self.concurrency = concurrency
            self.reservedPerLane = reservedPerLane
            self.maxAttempts = maxAttempts
            self.maximumRetryDelay = maximumRetryDelay
        }
    }

    /// The rate bucket at Amazon a command waits on first. Each of Amazon's operations has its own bucket (one call a
    /// second by default for every state change), so commands are scheduled per lane.
    public enum Lane: CaseIterable, Sendable {
        /// confirm and reject: processShipment.
        case processShipment
        /// pack: createPackages and updatePackage.
        case packages
        /// shipping options, label, labels again, invoice: retrieveShippingOptions, generateInvoice,
        /// generateShipLabels.
        case labelling
        /// ship: updatePackageStatus.
        case handover

        public init(_ type: CommandType) {
            switch type {
            case .confirm, .reject: self = .processShipment
            case .pack: self = .packages
            case .shippingOptions, .label, .regenerateLabels, .invoice: self = .labelling
            case .ship: self = .handover
            }
        }

        /// The command types scheduled in this lane.
        public var types: [CommandType] { CommandType.allCases.filter { Lane($0) == self } }
    }

    /// How many commands each lane runs, and how many more it may start.
    package struct LaneSlots {
        let concurrency: Int
        let reserved: Int
        package var running: [Lane: Int] = [:]
        /// Per lane, the commands due and not started.
        package var waiting: [Lane: Int] = [:]

        package init(concurrency: Int, reserved: Int) {
            self.concurrency = max(1, concurrency)
            self.reserved = min(max(0, reserved), self.concurrency / Lane.allCases.count)
        }

        /// The lane's own slots not yet used, and the free slots no other waiting lane below its reserve is owed,
        /// never more than the free slots: a lane with nothing to do holds nothing back, and one that gets work takes
        /// the next slots that free until it has its reserve.
        package func room(for lane: Lane) -> Int {
            let total = running.values.reduce(0, +)
            let owed = Lane.allCases.reduce(0) { owed, other in
                other == lane
                    ? owed : owed + min(max(0, reserved - running[other, default: 0]), waiting[other, default: 0])
            }
            let own = max(0, reserved - running[lane, default: 0])
            return min(max(0, concurrency - total), own + max(0, concurrency - total - owed - own))
        }
    }

    public let connectionID: ConnectionID
    /// The lease the worker works under; every write checks it is still held (nil: unchecked, for tests).
    public let lease: Lease?
    let store: Store
    /// Amazon's shipments API, as SellingPartner gives it.
    let amazon: any ExternalFulfillmentShipments
    /// Amazon's Orders API, for the ship commands of merchant-fulfilled orders.
    let merchant: (any MerchantFulfilledOrders)?
    let configuration: Configuration
    let logger: Logger

    public init(
        connectionID: ConnectionID,
        store: Store,
        client amazon: any ExternalFulfillmentShipments,
        merchant: (any MerchantFulfilledOrders)? = nil,
        configuration: Configuration = .init(),
        lease: Lease? = nil,
        logger: Logger
    ) {
        self.connectionID = connectionID
        self.lease = lease
        self.store = store
        self.amazon = amazon
        self.merchant = merchant
        self.configuration = configuration
        self.logger = logger
    }

    /// Works until cancelled, another node takes the connection over, or Amazon refuses the seller's refresh token.
    public func run() async {
        await WorkerRuntime(logger: logger).run(self)
    }

    /// Runs the commands due now, one per order, keeping up to `concurrency` in flight: as one ends the next due
    /// command starts, so an answer that is slow to come holds up only its own order. Slots are shared out by
    /// ``Lane``: each lane keeps `reservedPerLane` for itself and takes of the rest while they are free, oldest
    /// command first, so a backlog waiting on one of Amazon's rate buckets (a burst of confirmations behind
    /// processShipment's one call a second) never holds the slots that packs, labels and handovers need — every
    /// bucket stays busy, and the flow runs at the slowest operation's rate rather than their sum. Returns how many
    /// ran.
    @discardableResult
    public func runDue() async throws -> Int {
        try await withThrowingTaskGroup(of: ShipmentID.self) { group in
            var slots = LaneSlots(concurrency: configuration.concurrency, reserved: configuration.reservedPerLane)
            var inFlight: [ShipmentID: Lane] = [:]
            var ran = 0
            while true {
                // Cancelled (a shutdown, a lease lost): no new command starts; those in flight end as cancelled.
                try Task.checkCancellation()
                var due: [FulfilmentCommand] = []
                if slots.running.values.reduce(0, +) < configuration.concurrency {
                    slots.waiting = [:]
                    for lane in Lane.allCases {
                        let limit = configuration.concurrency + slots.running[lane, default: 0]
                        let found = try await store.read { [connectionID] in
                            try await $0.dueCommands(connectionID: connectionID, types: lane.types, limit: limit)
                        }.filter { inFlight[$0.shipmentID] == nil }
                        slots.waiting[lane] = found.count
                        due += found
                    }
                }
                for command in due.sorted(by: { $0.sequence < $1.sequence }) where inFlight[command.shipmentID] == nil {
                    let lane = Lane(command.request.type)
                    guard slots.room(for: lane) > 0 else { continue }
                    slots.running[lane, default: 0] += 1
                    slots.waiting[lane, default: 0] -= 1
                    inFlight[command.shipmentID] = lane
                    ran += 1
                    group.addTask {
                        try await self.perform(command)
                        return command.shipmentID
                    }
                }
                guard let finished = try await group.next() else { return ran }
                if let lane = inFlight.removeValue(forKey: finished) { slots.running[lane, default: 0] -= 1 }
            }
        }
    }

    /// Runs every due command until none is left: for tests and benchmarks.
    public func drain() async throws {
        while try await runDue() > 0 {}
    }

    /// Runs one command in a span of the trace of the request that stored it (a new trace when it was not traced), so
    /// that its Amazon calls show under that request.
    func perform(_ command: FulfilmentCommand) async throws {
        try await withRedactedSpan(
            "order.\(command.request.type.rawValue)",
            context: command.trace.instrumentationContext
        ) {
            span in
            span.attributes["flexbridge.connection"] = connectionID.rawValue
            span.attributes["flexbridge.order"] = command.shipmentID.rawValue
            span.attributes["flexbridge.command"] = command.id.rawValue
            try await run(command, span: span)
        }
    }

    private func run(_ command: FulfilmentCommand, span: any Span) async throws {
        guard let attempt = try await store.transaction(fencedBy: lease, { try await $0.startCommand(command.id) })
        else { return }
        span.attributes["flexbridge.attempt"] = attempt
        let outcome: CommandOutcome
        do {
            outcome = try await execute(command, attempt: attempt)
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as ConnectionNeedsReauthorization {
            try await finish(
                command,
                .retry(
                    at: store.clock.now().addingTimeInterval(60),
                    message: "The seller must authorise FlexBridge again."
                )
            )
            throw error
        } catch {
            outcome = try await classify(error, command: command, attempt: attempt)
        }
        span.attributes["flexbridge.outcome"] = outcome.name
        // Amazon's code only: its message can echo the request.
        if case .failed(let code, _) = outcome { span.setStatus(SpanStatus(code: .error, message: code)) }
        try await finish(command, outcome)
    }

    private func finish(_ command: FulfilmentCommand, _ outcome: CommandOutcome) async throws {
        try await store.transaction(fencedBy: lease) { try await $0.finishCommand(command, outcome) }
        switch outcome {
        case .failed(let code, let message):
            store.activity.record(.commandFailed, for: connectionID, at: store.clock.now())
            logger.warning(
                "a command failed",
                metadata: [
                    "shipment": "\(command.shipmentID)", "command": "\(command.request.type.rawValue)",
                    "code": "\(code)", "error": "\(message)",
                ]
            )
        case .retry(_, let message):
            logger.info(
                "a command will be tried again",
                metadata: [
                    "shipment": "\(command.shipmentID)", "command": "\(command.request.type.rawValue)",
                    "error": "\(message)",
                ]
            )
        default:
            break
        }
    }

    /// Turns a failure into what happens next: another attempt later for a failure that may pass, the command's
    /// end for a refusal — unless the shipment, read again, shows the order cancelled or the work already done.
    func classify(_ error: any Error, command: FulfilmentCommand, attempt: Int) async throws -> CommandOutcome {
        let retryDelay = min(configuration.maximumRetryDelay, pow(2, Double(attempt)))
        let retryAt = store.clock.now().addingTimeInterval(retryDelay)
        switch error {
        case let refusal as FulfilmentRefusal:
            return .failed(code: refusal.code, message: refusal.message)
        case let error as AmazonAPIError where !error.isTransient:
            // Refused. Perhaps because the order moved meanwhile (cancelled, or done by other means): look again.
            if let shipment = try? await refresh(command.shipmentID) {
                if shipment.knownStatus == .cancelled {
                    return .cancelled(message: "The order was cancelled at Amazon.")
                }
                if alreadyDone(command, shipment: shipment) {
                    return .succeeded(
                        result: try JSONText.encode(CommandResult(note: "Amazon already shows this done."))
                    )
                }
            }
            return .failed(code: "amazon_refused", message: error.description)
        default:
            let message = String(describing: error)
            guard attempt < configuration.maxAttempts else {
                return .failed(code: "amazon_unavailable", message: "Gave up after \(attempt) attempts: \(message)")
            }
            return .retry(at: retryAt, message: message)
        }
    }

    // MARK: Carrying out a command

    /// Carries out a command from Amazon's current state; on any attempt after the first, that state is read from
    /// Amazon first, because the earlier attempt may have been applied.
    func execute(_ command: FulfilmentCommand, attempt: Int) async throws -> CommandOutcome {
        if command.request.isMerchantShipment { return try await shipMerchantOrder(command, attempt: attempt) }
        guard attempt == 1 else { return try await carryOut(command, from: try await refresh(command.shipmentID)) }
        do {
            return try await carryOut(command, from: try await stored(command.shipmentID))
        } catch let refusal as FulfilmentRefusal where FulfilmentRefusal.stateCodes.contains(refusal.code) {
            // Decided on the stored copy, which may lag behind Amazon: look at Amazon's before refusing. No call was
            // made, so nothing is sent twice.
            return try await carryOut(command, from: try await refresh(command.shipmentID))
        }
    }

    private func carryOut(_ command: FulfilmentCommand, from start: AmazonShipment) async throws -> CommandOutcome {
        var shipment = start
        if try status(of: shipment).holdsPackages, try shipment.facts().packages?.isEmpty ?? true {
            // A packed shipment without packages is not a copy to act on (labels for no package, a handover of
            // nothing): Amazon's is read instead.
            shipment = try await refresh(shipment.id)
        }
        if shipment.knownStatus == .cancelled, command.request.type != .reject {
            return .cancelled(message: "The order was cancelled at Amazon.")
        }
        let request = command.request
        var result = CommandResult()
        switch request.type {
        case .confirm:
            switch try status(of: shipment) {
            case .created, .accepted:
                try await call { try await amazon.confirm(shipment.id) }
                shipment = try await advance(shipment, ImpliedStep(.confirmed))
            default:
                result.note = "Amazon already shows the order \(shipment.status)."
            }
        case .reject:
            if shipment.knownStatus == .cancelled {
                result.note = "Amazon already shows the order cancelled."
            } else {
                let held = try shipment.facts().lineItems
                let lines = (request.lineItemIds ?? held.map(\.shipmentLineItemId)).map { id in
                    (id: id, quantity: held.first { $0.shipmentLineItemId == id }?.numberOfUnits)
                }
                try await call { [shipment] in
                    try await amazon.reject(shipment.id, lines: lines, reason: request.reason ?? "OUT_OF_STOCK")
                }
                shipment = try await refresh(shipment.id)
            }
        case .pack:
            let packages = request.packages ?? []
            result.packageIds = packages.map(\.id.rawValue)
            switch try status(of: shipment) {
            case .created, .accepted:
                throw FulfilmentRefusal(
                    code: "not_confirmed",
                    message: "Order \(shipment.id) is \(shipment.status) at Amazon; confirm it before packing."
                )
            case .confirmed:
                try await call { [shipment] in try await amazon.createPackages(shipment.id, packages) }
                shipment = try await advance(shipment, ImpliedStep(.packageCreated, createdPackages: packages))
            case .packageCreated, .pickupSlotRetrieved, .invoiceGenerated, .shiplabelGenerated:
                let held = Dictionary(
                    (try shipment.facts().packages ?? []).map { ($0.id, $0) },
                    uniquingKeysWith: { first, _ in first }
                )
                let changed = packages.filter { package in held[package.id].map { !$0.isSame(as: package) } ?? true }
                if let unknown = changed.first(where: { held[$0.id] == nil }) {
                    throw FulfilmentRefusal(
                        code: "packages_differ",
                        message:
                            "Order \(shipment.id) is already packed at Amazon as \(held.keys.sorted().map(\.rawValue).joined(separator: ", ")); package \(unknown.id) is not one of them. Change packages by their ids."
                    )
                }
                for package in changed {
                    try await call { [shipment] in try await amazon.updatePackage(shipment.id, package) }
                }
                if changed.isEmpty {
                    result.note = "Amazon already holds these packages."
                } else {
                    shipment = try await refresh(shipment.id)
                }
            default:
                result.note = "Amazon already shows the order \(shipment.status)."
            }
        case .label, .invoice:
            shipment = try await label(shipment, request: request, result: &result)
        case .shippingOptions:
            switch try status(of: shipment) {
            case .packageCreated, .pickupSlotRetrieved, .invoiceGenerated:
                _ = try await retrieveOptions(shipment, result: &result)
                if shipment.knownStatus == .packageCreated {
                    shipment = try await advance(shipment, ImpliedStep(.pickupSlotRetrieved))
                }
            case .created, .accepted, .confirmed:
                throw FulfilmentRefusal(
                    code: "not_packed",
                    message:
                        "Order \(shipment.id) is \(shipment.status) at Amazon; pack it before asking for shipping options."
                )
            default:
                throw FulfilmentRefusal(
                    code: "already_labelled",
                    message:
                        "Order \(shipment.id) is \(shipment.status) at Amazon; its shipping option was chosen when it was labelled."
                )
            }
        case .regenerateLabels:
            let allowed: Set<ShipmentStatus> = [.pickupSlotRetrieved, .invoiceGenerated, .shiplabelGenerated]
            guard allowed.contains(try status(of: shipment)) else {
                throw FulfilmentRefusal(
                    code: "not_labelled",
                    message: "Order \(shipment.id) is \(shipment.status) at Amazon; it has no labels to issue again."
                )
            }
            shipment = try await generateLabels(
                shipment,
                regenerate: true,
                request: request,
                option: nil,
                result: &result
            )
        case .ship:
            switch try status(of: shipment) {
            case .shiplabelGenerated:
                let packages = try shipment.facts().packages ?? []
                guard !packages.isEmpty else {
                    throw FulfilmentRefusal(
                        code: "no_packages",
                        message: "Order \(shipment.id) is labelled at Amazon but Amazon shows no package to hand over."
                    )
                }
                for package in packages where package.status != ShipmentStatus.shipped.rawValue {
                    try await call { [shipment] in try await amazon.handOver(shipment.id, packageID: package.id) }
                }
                shipment = try await advance(shipment, ImpliedStep(.shipped, packageStatus: .shipped))
            case .shipped, .delivered:
                result.note = "Amazon already shows the order \(shipment.status)."
            default:
                throw FulfilmentRefusal(
                    code: "not_labelled",
                    message: "Order \(shipment.id) is \(shipment.status) at Amazon; label it before handing it over."
                )
            }
        }
        result.status = shipment.status
        return .succeeded(result: try JSONText.encode(result))
    }

    /// The shipment's status; one this version does not know is not a state to act from.
    private func status(of shipment: AmazonShipment) throws -> ShipmentStatus {
        guard let status = shipment.knownStatus else {
            throw FulfilmentRefusal(
                code: "unknown_status",
                message:
                    "Order \(shipment.id) is \(shipment.status) at Amazon, a status FlexBridge does not know; nothing was sent."
            )
        }
        return status
    }

    /// Label and invoice: shipping options, the invoice where required, then the labels (for `label`), each step
    /// taken only if Amazon's status shows it is still to do.
    private func label(
        _ start: AmazonShipment,
        request: CommandRequest,
        result: inout CommandResult
    ) async throws -> AmazonShipment {
        var shipment = start
        var recommended: String?
        let invoiceRequired = try shipment.facts().invoiceRequired
        func invoiceHeld() async throws -> Bool {
            try await store.read { [connectionID, shipment] in
                try await $0.heldDocuments(shipmentID: shipment.id, connectionID: connectionID)
            }.contains { $0.kind == .invoice }
        }
        while true {
            switch try status(of: shipment) {
            case .created, .accepted, .confirmed:
                throw FulfilmentRefusal(
                    code: "not_packed",
                    message: "Order \(shipment.id) is \(shipment.status) at Amazon; pack it before labelling."
                )
            case .packageCreated:
                recommended = try await retrieveOptions(shipment, result: &result)
                shipment = try await advance(shipment, ImpliedStep(.pickupSlotRetrieved))
            case .pickupSlotRetrieved where try invoiceRequired && !shipment.facts().invoiceAvailable:
                let invoice = try await call { [shipment] in try await amazon.generateInvoice(shipment.id) }
                result.invoiceDocumentId = try await storeInvoice(invoice, shipmentID: shipment.id)
                shipment = try await advance(shipment, ImpliedStep(.invoiceGenerated, invoiceAvailable: true))
            case .pickupSlotRetrieved, .invoiceGenerated, .shiplabelGenerated, .shipped, .delivered:
                if invoiceRequired, try shipment.facts().invoiceAvailable, result.invoiceDocumentId == nil,
                    try await !invoiceHeld()
                {
                    let invoice = try await call { [shipment] in try await amazon.retrieveInvoice(shipment.id) }
                    result.invoiceDocumentId = try await storeInvoice(invoice, shipmentID: shipment.id)
                }
                guard request.type == .label else {
                    if !invoiceRequired { result.note = "Order \(shipment.id) needs no invoice." }
                    return shipment
                }
                switch shipment.knownStatus {
                case .pickupSlotRetrieved?, .invoiceGenerated?:
                    return try await generateLabels(
                        shipment,
                        regenerate: false,
                        request: request,
                        option: request.shippingOptionId ?? recommended,
                        result: &result
                    )
                case .shiplabelGenerated?:
                    // Labelled at Amazon: by this command's earlier attempt whose answer was lost, or by other means.
                    // The files are issued again only if FlexBridge does not hold them.
                    let held = try await store.read { [connectionID, shipment] in
                        try await $0.heldDocuments(shipmentID: shipment.id, connectionID: connectionID)
                    }
                    .filter { $0.kind == .label }.compactMap(\.packageID)
                    if try Set(held).isSuperset(of: (shipment.facts().packages ?? []).map(\.id)) {
                        result.note = "Amazon already shows the order labelled."
                        try await store.transaction(fencedBy: lease) { [connectionID, shipment] in
                            try await $0.promoteIfLabelled(connectionID: connectionID, shipmentID: shipment.id)
                        }
                        return shipment
                    }
                    return try await generateLabels(
                        shipment,
                        regenerate: true,
                        request: request,
                        option: nil,
                        result: &result
                    )
                default:
                    result.note = "Amazon already shows the order \(shipment.status)."
                    return shipment
                }
            case .cancelled:
                return shipment
            }
        }
    }

    /// Amazon's shipping options for every package, into the result; returns the recommended one.
    private func retrieveOptions(_ shipment: AmazonShipment, result: inout CommandResult) async throws -> String? {
        var recommended: String?
        for package in try shipment.facts().packages ?? [] {
            let options = try await call { try await amazon.shippingOptions(shipment.id, packageID: package.id) }
            recommended = recommended ?? options.recommendedID
            result.shippingOptions =
                (result.shippingOptions ?? [])
                + options.options.map {
                    .init(
                        packageId: package.id.rawValue,
                        shippingOptionId: $0.id,
                        carrierName: $0.carrierName,
                        shipBy: $0.shipBy,
                        recommended: $0.id == options.recommendedID
                    )
                }
        }
        return recommended
    }

    private func generateLabels(
        _ shipment: AmazonShipment,
        regenerate: Bool,
        request: CommandRequest,
        option: String?,
        result: inout CommandResult
    ) async throws -> AmazonShipment {
        let packageIDs = (try shipment.facts().packages ?? []).map(\.id)
        let courier = request.carrierName.flatMap { carrier in
            request.trackingId.map { Courier(carrierName: carrier, trackingID: $0) }
        }
        let labels = try await call {
            try await amazon.generateLabels(
                shipment.id,
                packageIDs: packageIDs,
                shippingOptionID: option,
                regenerate: regenerate,
                courier: courier
            )
        }
        var stored: [CommandResult.Label] = []
        for label in labels {
            guard !label.failed, let url = label.url, let packageID = label.packageID else {
                throw FulfilmentRefusal(
                    code: "label_failed",
                    message:
                        "Amazon could not label package \(label.packageID ?? "?") of order \(shipment.id): \(label.failure ?? "no reason given")"
                )
            }
            let file = try await call { try await amazon.download(url) }
            let document = StoredDocument(
                id: DocumentID.generate(),
                connectionID: connectionID,
                shipmentID: shipment.id,
                kind: .label,
                packageID: packageID,
                trackingID: label.trackingID,
                carrierName: label.carrierName,
                contentType: file.contentType,
                data: file.data,
                createdAt: store.clock.now()
            )
            try await store.transaction(fencedBy: lease) { try await $0.saveDocument(document) }
            stored.append(
                .init(
                    packageId: packageID.rawValue,
                    trackingId: document.trackingID,
                    carrierName: document.carrierName,
                    documentId: document.id.rawValue
                )
            )
        }
        result.labels = stored
        let labelled =
            regenerate
            ? shipment
            : try await advance(shipment, ImpliedStep(.shiplabelGenerated, packageStatus: .shiplabelGenerated))
        // The files are stored and the order is labelled: whichever copy the store holds now, it is ready to ship.
        try await store.transaction(fencedBy: lease) { [connectionID] in
            try await $0.promoteIfLabelled(connectionID: connectionID, shipmentID: shipment.id)
        }
        return labelled
    }

    private func storeInvoice(_ file: AmazonFile?, shipmentID: ShipmentID) async throws -> String {
        guard let file else {
            throw FulfilmentRefusal(
                code: "invoice_unreadable",
                message: "Amazon's invoice for order \(shipmentID) came without readable content."
            )
        }
        let stored = StoredDocument(
            id: DocumentID.generate(),
            connectionID: connectionID,
            shipmentID: shipmentID,
            kind: .invoice,
            packageID: nil,
            trackingID: nil,
            carrierName: nil,
            contentType: file.contentType,
            data: file.data,
            createdAt: store.clock.now()
        )
        try await store.transaction(fencedBy: lease) { try await $0.saveDocument(stored) }
        return stored.id.rawValue
    }

    /// Whether Amazon's state already shows what the command asks for.
    func alreadyDone(_ command: FulfilmentCommand, shipment: AmazonShipment) -> Bool {
        guard let reached = shipment.knownStatus, reached != .cancelled else {
            return command.request.type == .reject
        }
        let needed: ShipmentStatus? =
            switch command.request.type {
            case .confirm: .confirmed
            case .pack: .packageCreated
            case .label: .shiplabelGenerated
            case .ship: .shipped
            case .reject, .regenerateLabels, .invoice, .shippingOptions: nil
            }
        guard let needed else { return false }
        return reached.hasReached(needed)
    }

    // MARK: Amazon's shipment

    /// The stored copy of the shipment.
    package func stored(_ shipmentID: ShipmentID) async throws -> AmazonShipment {
        guard
            let order = try await store.read({ [connectionID] in
                try await $0.order(shipmentID, connectionID: connectionID)
            })
        else {
            throw FulfilmentRefusal(
                code: "unknown_order",
                message: "No order \(shipmentID) on connection \(connectionID)."
            )
        }
        return AmazonShipment(order)
    }

    /// Records what a call Amazon accepted implies — the status it moves the shipment to, and what it adds — without
    /// reading the shipment back, which would cost a getShipment (2 a second at Amazon's default rate) per step. The
    /// copy keeps Amazon's last `lastUpdatedDateTime`; the store takes it because its status is further on, and the
    /// copy Amazon makes of the change (newer) replaces it when a poll or notification brings it.
    package func advance(_ shipment: AmazonShipment, _ step: ImpliedStep) async throws -> AmazonShipment {
        var newer: AmazonShipment?
        // A copy newer by Amazon's clock may have arrived while the call ran. If it is already as far on (Amazon's
        // own copy of this step, a cancellation), it stands. If it is behind — a poll's page read before this
        // worker's earlier steps, which those steps' copies, keeping an older time, do not outrank — the step is
        // recorded on the worker's own copy, which holds what the earlier steps added (packages, the invoice), at
        // the newer time: the store takes it, and the next call is made from it. (Recording the step on the
        // stale copy instead lost the packages, and the labels were asked for none.)
        if let held = try? await stored(shipment.id),
            held.updatedAt.millisecondsSince1970 > shipment.updatedAt.millisecondsSince1970
        {
            if ShipmentStatus.rank(of: held.status) >= step.status.rank { return held }
            newer = held
        }
        let next = try shipment.recording(step, stampedAs: newer)
        let order = Order(next, connectionID: connectionID, now: store.clock.now())
        _ = try await store.transaction(fencedBy: lease) { try await $0.upsertOrder(order, source: "fulfilment") }
        return next
    }

    /// Reads the shipment from Amazon and stores the copy (with its event if it changed).
    func refresh(_ shipmentID: ShipmentID) async throws -> AmazonShipment {
        let shipment = try await call { try await amazon.shipment(shipmentID) }
        let order = Order(shipment, connectionID: connectionID, now: store.clock.now())
        _ = try await store.transaction(fencedBy: lease) { try await $0.upsertOrder(order, source: "fulfilment") }
        return shipment
    }

    // MARK: Merchant-fulfilled orders

    /// Confirms one package of an MFN order (confirmShipment, which has no idempotency key either). The first
    /// attempt of a package with its items named works from the stored copy; a package of every unit left, and
    /// any later attempt, reads the order from Amazon first, and an order that already
    /// holds the package under the command's reference was confirmed by the attempt whose answer was lost: nothing
    /// is sent twice. A copy that refuses the package (fewer units left than it holds) is read from Amazon before
    /// the command fails. After the call the order is read back by the MFN order worker, with the notification
    /// Amazon sends of it.
    func shipMerchantOrder(_ command: FulfilmentCommand, attempt: Int) async throws -> CommandOutcome {
        guard let merchant else {
            return .failed(code: "no_orders_client", message: "This node has no client for Amazon's Orders API.")
        }
        let request = MerchantShipRequest(command.request)
        // "Every unit left" is counted on Amazon's copy: the stored one may not show a package confirmed a moment
        // ago yet.
        var readFromAmazon = attempt > 1 || request.items == nil
        var facts =
            try await readFromAmazon ? refreshMerchant(command.shipmentID) : storedMerchantFacts(command.shipmentID)
        while true {
            if let package = MerchantShipRules.applied(request, in: facts) {
                var result = CommandResult(
                    note: "Amazon already holds package \(package.referenceID) of order \(facts.orderID)."
                )
                result.status = facts.status
                result.packageIds = [package.referenceID]
                return .succeeded(result: try JSONText.encode(result))
            }
            if MerchantOrderMachine.state(of: facts) == .cancelled {
                return .cancelled(message: "The order was cancelled at Amazon.")
            }
            let confirmation: MerchantShipmentConfirmation
            do {
                confirmation = try MerchantShipRules.confirmation(for: request, facts: facts, now: store.clock.now())
            } catch {
                // Decided on the stored copy, which may lag behind Amazon: look at Amazon's before refusing.
                guard readFromAmazon else {
                    facts = try await refreshMerchant(command.shipmentID)
                    readFromAmazon = true
                    continue
                }
                return .failed(code: "invalid_for_order", message: "\(error.field) \(error.reason)")
            }
            do {
                try await call { [facts] in try await merchant.confirmShipment(orderID: facts.orderID, confirmation) }
            } catch let error as AmazonAPIError where !error.isTransient {
                // Refused: perhaps applied after all, or the order moved (cancelled, shipped by other means), or the
                // package was made from a stored copy behind Amazon's. Amazon's copy decides; a package made from
                // it and refused fails.
                let madeFromAmazon = readFromAmazon
                facts = try await refreshMerchant(command.shipmentID)
                readFromAmazon = true
                if madeFromAmazon, MerchantShipRules.applied(request, in: facts) == nil,
                    MerchantOrderMachine.state(of: facts) != .cancelled
                {
                    return .failed(code: "amazon_refused", message: error.description)
                }
                continue
            }
            // The read-back is in the command's trace.
            let trace = TraceContext.current
            try await store.transaction(fencedBy: lease) { [connectionID] in
                try await $0.requestMerchantOrderFetch(connectionID: connectionID, orderID: facts.orderID, trace: trace)
            }
            let left = facts.items.reduce(0) { $0 + MerchantShipRules.remaining($1, in: facts) }
            let sent = confirmation.items.reduce(0) { $0 + $1.quantity }
            var result = CommandResult()
            result.status = left > sent ? "PARTIALLY_SHIPPED" : "SHIPPED"
            result.packageIds = [confirmation.packageReferenceID]
            return .succeeded(result: try JSONText.encode(result))
        }
    }

    /// The facts of the stored copy of an MFN order.
    private func storedMerchantFacts(_ orderID: ShipmentID) async throws -> MerchantOrderFacts {
        let order = try await store.read { [connectionID] in
            try await $0.order(orderID, connectionID: connectionID)
        }
        guard let order else {
            throw FulfilmentRefusal(
                code: "unknown_order",
                message: "No order \(orderID) on connection \(connectionID)."
            )
        }
        return try MerchantOrderFacts(document: order.shipment)
    }

    /// Reads an MFN order from Amazon and stores the copy (with its event if it changed).
    private func refreshMerchant(_ orderID: ShipmentID) async throws -> MerchantOrderFacts {
        guard let merchant else { throw FulfilmentRefusal(code: "no_orders_client", message: "No Orders API client.") }
        let order = try await call { try await merchant.merchantOrder(orderID.rawValue) }
        _ = try await store.transaction(fencedBy: lease) { [connectionID] in
            try await $0.upsertMerchantOrder(order, connectionID: connectionID, source: "fulfilment")
        }
        return order.facts
    }

    private func call<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        try await callAmazon(store: store, connectionID: connectionID, lease: lease, isolation: nil, body)
    }
}

extension FulfilmentWorker: ConnectionWorker {
    public var name: String { "fulfilment" }
    public var wakeUp: WakeUp? { store.wakeUps.signal(for: connectionID, .fulfilment) }

    /// Runs what is due; then waits for the next retry's time or a queued command (on PostgreSQL, queued on any
    /// node), at most 30 s, a safety net.
    public func round() async throws -> NextRound {
        // Looked at by one read first: a connection with no command open (most, most of the time) costs no more.
        var next = try await store.read { [connectionID] in
            try await $0.nextCommandRetry(connectionID: connectionID)
        }
        if let due = next, due <= store.clock.now() {
            if try await runDue() > 0 { return .now }
            next = try await store.read { [connectionID] in try await $0.nextCommandRetry(connectionID: connectionID) }
        }
        let wait = next.map { max(0.05, min(30, $0.timeIntervalSince(store.clock.now()))) } ?? 30
        return .within(.milliseconds(Int64(wait * 1000)))
    }
}

/// A command FlexBridge cannot carry out in the order's state, or Amazon's answer shows it failed.
struct FulfilmentRefusal: Error, CustomStringConvertible {
    /// Refusals for a step the order is not ready for, thrown before any call is made.
    static let stateCodes: Set<String> = ["not_confirmed", "not_packed", "not_labelled"]

    var code: String
    var message: String
    var description: String { message }
}
