import AmazonInbound
import AmazonInboundV0
import Foundation

/// What Send to Amazon's operations do when they complete, the control path's settings for them, and the plans as
/// the ground truth reports them.
extension Simulator {
    /// Completes every operation whose time is up, in the order they fall due: their effects apply to the plans
    /// then, as Amazon's do when an operation leaves IN_PROGRESS.
    func settleInboundPlans() {
        let now = now()
        let due = inboundPlans.operations.values.filter { $0.status == "IN_PROGRESS" && $0.dueAt <= now }
            .sorted { ($0.dueAt, $0.sequence) < ($1.dueAt, $1.sequence) }
        for operation in due { complete(operation) }
    }

    /// Puts an operation in any status, one Amazon's model does not have included (a value Amazon adds later):
    /// `POST /_simulator/inbound-operations/{id}/status`. IN_PROGRESS puts it back, to complete after the
    /// operations' time from now (`PUT /_simulator/inbound-operations`), its effect applied then.
    public func forceInboundOperationStatus(_ id: String, to status: String) throws(ControlError) {
        guard var operation = inboundPlans.operations[id] else {
            throw ControlError("No inbound operation with id \(id).", notFound: true)
        }
        guard !status.isEmpty, status.count <= 64 else { throw ControlError("status must be 1 to 64 characters") }
        // SUCCESS carries the operation's effect on the plan, which only completing it applies.
        guard status != "SUCCESS" else {
            throw ControlError("SUCCESS comes from completing the operation: put it IN_PROGRESS instead")
        }
        operation.status = status
        if status == "IN_PROGRESS" { operation.dueAt = now().addingTimeInterval(inboundPlans.operationSeconds) }
        inboundPlans.operations[id] = operation
    }

    func complete(_ operation: InboundPlansWorld.Operation) {
        var operation = operation
        var problems: [IP.OperationProblem]
        if var plan = inboundPlans.plans[operation.planID] {
            problems = apply(operation.action, to: &plan)
            plan.updatedAt = world.stamp(now())
            inboundPlans.plans[plan.id] = plan
        } else {
            problems = [Self.problem("NOT_FOUND", "Inbound plan \(operation.planID) no longer exists")]
        }
        operation.status = problems.isEmpty ? "SUCCESS" : "FAILED"
        operation.problems = problems
        inboundPlans.operations[operation.id] = operation
    }

    static func problem(_ code: String, _ message: String, details: String? = nil) -> IP.OperationProblem {
        IP.OperationProblem(code: code, details: details, message: message, severity: "ERROR")
    }

    /// Applies an operation's effect to its plan; the problems when it fails (the plan then unchanged, but for a
    /// failed creation, which leaves the plan ERRORED).
    func apply(_ action: InboundPlansWorld.Action, to plan: inout InboundPlansWorld.Plan) -> [IP.OperationProblem] {
        if case .createPlan = action { return makePlan(&plan) }
        guard plan.status == "ACTIVE" else {
            return [Self.problem("PLAN_NOT_ACTIVE", "Inbound plan \(plan.id) is \(plan.status)")]
        }
        switch action {
        case .createPlan: return []
        case .generatePackingOptions: return makePackingOptions(&plan)
        case .confirmPackingOption(let id): return acceptPackingOption(id, in: &plan)
        case .setPackingInformation(let boxes): return storePackingInformation(boxes, in: &plan)
        case .generatePlacementOptions: return makePlacementOptions(&plan)
        case .confirmPlacementOption(let id): return acceptPlacementOption(id, in: &plan)
        case .generateTransportationOptions(let placement, let configurations):
            return makeTransportationOptions(placement, configurations, in: &plan)
        case .confirmTransportationOptions(let selections): return acceptTransportation(selections, in: &plan)
        case .generateDeliveryWindowOptions(let shipment): return makeDeliveryWindows(shipment, in: &plan)
        case .confirmDeliveryWindowOptions(let shipment, let option):
            return acceptDeliveryWindow(option, shipment: shipment, in: &plan)
        }
    }

    // MARK: Plans and packing

    /// The plan's SKUs must each be the seller's in the marketplace: a listing there, or FBA stock there.
    func makePlan(_ plan: inout InboundPlansWorld.Plan) -> [IP.OperationProblem] {
        var problems: [IP.OperationProblem] = []
        for index in plan.items.indices {
            let msku = plan.items[index].msku
            let listing = listings.listings[ListingsWorld.key(plan.merchantID, msku)].flatMap {
                $0.marketplaceIDs.contains(plan.marketplaceID) ? $0 : nil
            }
            let stock = fba.stock[FBAWorld.key(plan.merchantID, plan.marketplaceID, msku)]
            guard listing != nil || stock != nil else {
                problems.append(
                    Self.problem(
                        "FBA_INB_0004",
                        "The SKU '\(msku)' is not eligible for FBA in \(plan.marketplaceID)",
                        details: "msku: \(msku)"
                    )
                )
                continue
            }
            plan.items[index].asin = stock?.asin ?? listing?.asin ?? Self.asin(for: msku)
            plan.items[index].fnsku =
                stock?.fnSku ?? "X00" + String(PageToken.digest("fnsku:" + msku).uppercased().prefix(7))
        }
        plan.status = problems.isEmpty ? "ACTIVE" : "ERRORED"
        return problems
    }

    /// Option 1 packs every SKU together; option 2 (several SKUs) packs each SKU on its own.
    func makePackingOptions(_ plan: inout InboundPlansWorld.Plan) -> [IP.OperationProblem] {
        guard plan.confirmedPacking == nil else {
            return [Self.problem("PACKING_CONFIRMED", "A packing option of plan \(plan.id) is already confirmed")]
        }
        let expiration = now().addingTimeInterval(Self.inboundOptionLifetime)
        let mskus = plan.items.map(\.msku)
        var options = [
            InboundPlansWorld.PackingOption(
                id: Self.inboundID("po"),
                groups: [.init(id: Self.inboundID("pg"), mskus: mskus)],
                status: "OFFERED",
                expiration: expiration
            )
        ]
        if mskus.count > 1 {
            options.append(
                .init(
                    id: Self.inboundID("po"),
                    groups: mskus.map { .init(id: Self.inboundID("pg"), mskus: [$0]) },
                    status: "OFFERED",
                    expiration: expiration
                )
            )
        }
        plan.packingOptions = options
        plan.boxes = nil
        return []
    }

    func acceptPackingOption(_ id: String, in plan: inout InboundPlansWorld.Plan) -> [IP.OperationProblem] {
        guard plan.confirmedPacking == nil,
            let index = plan.packingOptions.firstIndex(where: { $0.id == id && $0.status == "OFFERED" })
        else {
            return [Self.problem("OPTION_NOT_OFFERED", "Packing option \(id) is no longer offered for plan \(plan.id)")]
        }
        for position in plan.packingOptions.indices {
            plan.packingOptions[position].status = position == index ? "ACCEPTED" : "EXPIRED"
        }
        return []
    }

    /// Every packing group of the confirmed option must be packed, each SKU's units exactly, in boxes within
    /// Amazon's weight and size limits.
    func storePackingInformation(
        _ boxes: [InboundPlansWorld.Box],
        in plan: inout InboundPlansWorld.Plan
    ) -> [IP.OperationProblem] {
        guard let packing = plan.confirmedPacking, plan.confirmedPlacement == nil else {
            return [Self.problem("PACKING_CLOSED", "Plan \(plan.id) takes no packing information now")]
        }
        var problems: [IP.OperationProblem] = []
        for group in packing.groups {
            let packed = boxes.filter { $0.packingGroupID == group.id }
            guard !packed.isEmpty else {
                problems.append(Self.problem("MISSING_BOXES", "Packing group \(group.id) has no boxes"))
                continue
            }
            for msku in group.mskus {
                let expected = plan.item(msku)?.quantity ?? 0
                let units = packed.reduce(0) { $0 + ($1.contents[msku] ?? 0) }
                if units != expected {
                    problems.append(
                        Self.problem(
                            "QUANTITY_MISMATCH",
                            "The boxes of packing group \(group.id) hold \(units) units of MSKU '\(msku)', the plan \(expected)",
                            details: "msku: \(msku), boxed: \(units), planned: \(expected)"
                        )
                    )
                }
            }
        }
        var reported: Set<String> = []
        for box in boxes where reported.insert(box.origin).inserted {
            let weightLimit = Self.boxWeightLimits[box.weight.unit] ?? 23
            if box.weight.value > weightLimit {
                problems.append(
                    Self.problem(
                        "BOX_OVERWEIGHT",
                        "Box \(box.origin) weighs \(box.weight.value) \(box.weight.unit), over Amazon's \(weightLimit) \(box.weight.unit) a box"
                    )
                )
            }
            let unit = box.dimensions.unitOfMeasurement
            let sideLimit = Self.boxSideLimits[unit] ?? 63.5
            let longest = max(box.dimensions.length, box.dimensions.width, box.dimensions.height)
            if longest > sideLimit {
                problems.append(
                    Self.problem(
                        "BOX_OVERSIZE",
                        "Box \(box.origin) has a side of \(longest) \(unit), over Amazon's \(sideLimit) \(unit)"
                    )
                )
            }
        }
        guard problems.isEmpty else { return problems }
        plan.boxes = boxes
        // Placement options were made for the boxes they replace.
        plan.placementOptions = []
        plan.shipments = []
        return []
    }

    // MARK: Placement

    /// Option 1 sends every box to one fulfilment centre for a fee; with two boxes or more, option 2 splits them
    /// between two centres for free (Amazon-optimized).
    func makePlacementOptions(_ plan: inout InboundPlansWorld.Plan) -> [IP.OperationProblem] {
        guard let boxes = plan.boxes, plan.confirmedPlacement == nil else {
            return [Self.problem("PLACEMENT_CLOSED", "Plan \(plan.id) has no packing information, or a placement")]
        }
        let centers = FulfillmentCenter.centers(
            marketplaceID: plan.marketplaceID,
            country: plan.sourceAddress.countryCode
        )
        let first = plan.id.utf8.reduce(0) { ($0 &* 31 &+ Int($1)) & 0xffff } % centers.count
        let expiration = now().addingTimeInterval(Self.inboundOptionLifetime)
        let units = boxes.reduce(0) { $0 + $1.contents.values.reduce(0, +) }
        var splits: [(boxes: [Int], center: FulfillmentCenter, fee: Double)] = [
            (Array(boxes.indices), centers[first], Self.cents(0.30 * Double(units)))
        ]
        if boxes.count >= 2 {
            let half = (boxes.count + 1) / 2
            splits.append((Array(0..<half), centers[(first + 1) % centers.count], 0))
            splits.append((Array(half..<boxes.count), centers[(first + 2) % centers.count], 0))
        }
        var options: [InboundPlansWorld.PlacementOption] = []
        var shipments: [InboundPlansWorld.Shipment] = []
        for (number, split) in splits.enumerated() {
            let optionID = number < 2 ? Self.inboundID("pl") : options[1].id
            let shipment = InboundPlansWorld.Shipment(
                id: Self.inboundID("sh"),
                placementOptionID: optionID,
                name: "\(plan.name)-\(split.center.id)",
                warehouseID: split.center.id,
                address: split.center.address,
                boxes: split.boxes
            )
            shipments.append(shipment)
            if number < 2 {
                options.append(
                    .init(
                        id: optionID,
                        shipmentIDs: [shipment.id],
                        status: "OFFERED",
                        expiration: expiration,
                        fee: split.fee
                    )
                )
            } else {
                options[1].shipmentIDs.append(shipment.id)
            }
        }
        plan.placementOptions = options
        plan.shipments = shipments
        return []
    }

    /// The chosen option's shipments become WORKING with a confirmation id, their boxes get Amazon's box ids, and
    /// each becomes an inbound shipment of v0 (its units inbound working at the FBA stock), as Amazon shows them.
    func acceptPlacementOption(_ id: String, in plan: inout InboundPlansWorld.Plan) -> [IP.OperationProblem] {
        guard plan.confirmedPlacement == nil,
            let index = plan.placementOptions.firstIndex(where: { $0.id == id && $0.status == "OFFERED" })
        else {
            return [
                Self.problem("OPTION_NOT_OFFERED", "Placement option \(id) is no longer offered for plan \(plan.id)")
            ]
        }
        for position in plan.placementOptions.indices {
            plan.placementOptions[position].status = position == index ? "ACCEPTED" : "EXPIRED"
        }
        let stamp = world.stamp(now())
        for position in plan.shipments.indices where plan.shipments[position].placementOptionID == id {
            let confirmation = World.uniqueID(
                prefix: "FBA",
                length: 9,
                alphabet: "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789",
                using: &random
            ) { self.fba.inbound[$0] != nil }
            plan.shipments[position].status = "WORKING"
            plan.shipments[position].confirmationID = confirmation
            plan.shipments[position].amazonReferenceID = World.uniqueID(length: 8, using: &random) { _ in false }
            for (number, box) in plan.shipments[position].boxes.enumerated() {
                plan.boxes?[box].boxID = confirmation + "U" + String(format: "%06d", number + 1)
            }
            let shipment = plan.shipments[position]
            let inbound = InboundShipment(
                id: confirmation,
                name: shipment.name,
                merchantID: plan.merchantID,
                marketplaceID: plan.marketplaceID,
                status: "WORKING",
                destination: shipment.warehouseID,
                needBy: nil,
                items: plan.units(of: shipment).sorted { $0.key < $1.key }.map { msku, units in
                    .init(sku: msku, fnSku: plan.item(msku)?.fnsku ?? "", shipped: units, received: 0)
                },
                createdAt: stamp,
                updatedAt: stamp,
                shipFrom: Self.inboundAddress(plan.sourceAddress)
            )
            fba.inbound[confirmation] = inbound
            moveInboundStock(inbound, from: nil)
        }
        return []
    }

    /// A plan's source address in v0's shape.
    static func inboundAddress(_ address: IP.Address) -> IB.Address {
        IB.Address(
            name: address.name,
            addressLine1: address.addressLine1,
            addressLine2: address.addressLine2,
            districtOrCounty: address.districtOrCounty,
            city: address.city,
            stateOrProvinceCode: address.stateOrProvinceCode ?? "",
            countryCode: address.countryCode,
            postalCode: address.postalCode
        )
    }

    // MARK: Transportation and delivery windows

    /// Per shipment: UPS small parcel quoted per box and unit, the seller's own carrier (which needs a delivery
    /// window), and with pallets Amazon Freight LTL (quoted per pallet, with a pickup appointment) and the seller's
    /// own LTL carrier. They replace the shipment's earlier options.
    func makeTransportationOptions(
        _ placementID: String,
        _ configurations: [IP.ShipmentTransportationConfiguration],
        in plan: inout InboundPlansWorld.Plan
    ) -> [IP.OperationProblem] {
        guard let placement = plan.placementOptions.first(where: { $0.id == placementID }),
            placement.status != "EXPIRED", !plan.transportationConfirmed
        else {
            return [Self.problem("TRANSPORTATION_CLOSED", "Placement option \(placementID) takes no options now")]
        }
        let now = now()
        let expiration = now.addingTimeInterval(Self.inboundOptionLifetime)
        let currency = ListingRules.currencies[plan.marketplaceID] ?? "USD"
        for configuration in configurations {
            guard let index = plan.shipmentIndex(configuration.shipmentId) else { continue }
            let shipment = plan.shipments[index]
            let boxes = shipment.boxes.count
            let units = plan.units(of: shipment).values.reduce(0, +)
            let ready = configuration.readyToShipWindow.start
            func option(
                _ mode: String,
                _ solution: String,
                _ carrier: (name: String, code: String),
                quote: Double?,
                appointment: IP.CarrierAppointment? = nil
            ) -> IP.TransportationOption {
                IP.TransportationOption(
                    carrier: .init(alphaCode: carrier.code, name: carrier.name),
                    carrierAppointment: appointment,
                    preconditions: quote == nil ? ["CONFIRMED_DELIVERY_WINDOW"] : [],
                    quote: quote.map {
                        .init(
                            cost: .init(amount: Self.cents($0), code: currency),
                            expiration: expiration,
                            voidableUntil: expiration
                        )
                    },
                    shipmentId: shipment.id,
                    shippingMode: mode,
                    shippingSolution: solution,
                    transportationOptionId: Self.inboundID("to")
                )
            }
            var options = [
                option(
                    "GROUND_SMALL_PARCEL",
                    "AMAZON_PARTNERED_CARRIER",
                    ("United Parcel Service Inc", "UPSN"),
                    quote: 4.75 * Double(boxes) + 0.05 * Double(units)
                ),
                option("GROUND_SMALL_PARCEL", "USE_YOUR_OWN_CARRIER", ("Other", "OTHR"), quote: nil),
            ]
            let pallets = (configuration.pallets ?? []).reduce(0) { $0 + $1.quantity }
            if pallets > 0 {
                let pickup = ready.addingTimeInterval(86_400)
                options.append(
                    option(
                        "FREIGHT_LTL",
                        "AMAZON_PARTNERED_CARRIER",
                        ("Amazon Freight", "AMZF"),
                        quote: 150 + 25 * Double(pallets),
                        appointment: .init(endTime: pickup.addingTimeInterval(4 * 3600), startTime: pickup)
                    )
                )
                options.append(option("FREIGHT_LTL", "USE_YOUR_OWN_CARRIER", ("Other", "OTHR"), quote: nil))
            }
            plan.shipments[index].transportationOptions = options
            plan.shipments[index].readyToShip = ready
            plan.shipments[index].contact = configuration.contactInformation ?? plan.shipments[index].contact
            plan.shipments[index].freight = configuration.freightInformation ?? plan.shipments[index].freight
        }
        return []
    }

    /// Each shipment takes its selected option and is READY_TO_SHIP, its v0 shipment too.
    func acceptTransportation(
        _ selections: [IP.TransportationSelection],
        in plan: inout InboundPlansWorld.Plan
    ) -> [IP.OperationProblem] {
        guard plan.confirmedPlacement != nil, !plan.transportationConfirmed else {
            return [Self.problem("TRANSPORTATION_CLOSED", "Transportation of plan \(plan.id) is already confirmed")]
        }
        for selection in selections {
            guard let index = plan.shipmentIndex(selection.shipmentId),
                plan.shipments[index].transportationOptions.contains(where: {
                    $0.transportationOptionId == selection.transportationOptionId
                })
            else {
                return [
                    Self.problem(
                        "OPTION_NOT_OFFERED",
                        "Transportation option \(selection.transportationOptionId) is no longer offered for shipment \(selection.shipmentId)"
                    )
                ]
            }
        }
        for selection in selections {
            guard let index = plan.shipmentIndex(selection.shipmentId) else { continue }
            plan.shipments[index].selectedTransportationOptionID = selection.transportationOptionId
            plan.shipments[index].status = "READY_TO_SHIP"
            if let contact = selection.contactInformation { plan.shipments[index].contact = contact }
            if let confirmation = plan.shipments[index].confirmationID {
                try? progressInboundShipment(confirmation, InboundShipmentProgress(status: "READY_TO_SHIP"))
            }
        }
        return []
    }

    /// Three windows of a week each, starting 3, 5 and 7 days from today.
    func makeDeliveryWindows(_ shipmentID: String, in plan: inout InboundPlansWorld.Plan) -> [IP.OperationProblem] {
        guard let index = plan.shipmentIndex(shipmentID), let placement = plan.confirmedPlacement,
            plan.shipments[index].placementOptionID == placement.id
        else {
            return [Self.problem("SHIPMENT_NOT_CONFIRMED", "Shipment \(shipmentID) is not a confirmed shipment")]
        }
        let now = now()
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let today = calendar.startOfDay(for: now)
        plan.shipments[index].deliveryWindowOptions = [3, 5, 7].map { days in
            let start = today.addingTimeInterval(Double(days) * 86_400)
            return IP.DeliveryWindowOption(
                availabilityType: "AVAILABLE",
                deliveryWindowOptionId: Self.inboundID("dw"),
                endDate: start.addingTimeInterval(6 * 86_400),
                startDate: start,
                validUntil: now.addingTimeInterval(Self.inboundOptionLifetime)
            )
        }
        return []
    }

    func acceptDeliveryWindow(
        _ optionID: String,
        shipment shipmentID: String,
        in plan: inout InboundPlansWorld.Plan
    ) -> [IP.OperationProblem] {
        guard let index = plan.shipmentIndex(shipmentID), plan.shipments[index].selectedDeliveryWindow == nil,
            let option = plan.shipments[index].deliveryWindowOptions.first(where: {
                $0.deliveryWindowOptionId == optionID
            })
        else {
            return [
                Self.problem(
                    "OPTION_NOT_OFFERED",
                    "Delivery window option \(optionID) is no longer offered for shipment \(shipmentID)"
                )
            ]
        }
        plan.shipments[index].selectedDeliveryWindow = IP.SelectedDeliveryWindow(
            availabilityType: option.availabilityType,
            deliveryWindowOptionId: option.deliveryWindowOptionId,
            editableUntil: option.startDate.addingTimeInterval(-86_400),
            endDate: option.endDate,
            startDate: option.startDate
        )
        return []
    }

    // MARK: Control path and ground truth

    /// How long Send to Amazon's operations stay IN_PROGRESS (`PUT /_simulator/inbound-operations`); 0 completes
    /// each at the next look.
    public func setInboundOperationSeconds(_ seconds: Double) throws(ControlError) {
        guard seconds.isFinite, (0...3600).contains(seconds) else {
            throw ControlError("seconds must be 0 to 3600, got \(seconds)")
        }
        inboundPlans.operationSeconds = seconds
    }

    /// Lets every still-offered choice of a plan expire now (`POST /_simulator/inbound-plans/{id}/expire`): packing
    /// and placement options, transportation quotes not selected and delivery windows not confirmed. Returns how
    /// many expired.
    public func expireInboundPlanOptions(_ planID: String) throws(ControlError) -> Int {
        settleInboundPlans()
        guard var plan = inboundPlans.plans[planID] else {
            throw ControlError("No inbound plan with id \(planID)", notFound: true)
        }
        let now = now()
        var expired = 0
        for index in plan.packingOptions.indices where plan.packingOptions[index].status == "OFFERED" {
            plan.packingOptions[index].expiration = min(plan.packingOptions[index].expiration, now)
            expired += 1
        }
        for index in plan.placementOptions.indices where plan.placementOptions[index].status == "OFFERED" {
            plan.placementOptions[index].expiration = min(plan.placementOptions[index].expiration, now)
            expired += 1
        }
        for index in plan.shipments.indices {
            var shipment = plan.shipments[index]
            for option in shipment.transportationOptions.indices
            where shipment.transportationOptions[option].transportationOptionId
                != shipment.selectedTransportationOptionID
            {
                guard let expiration = shipment.transportationOptions[option].quote?.expiration else { continue }
                shipment.transportationOptions[option].quote?.expiration = min(expiration, now)
                expired += 1
            }
            for option in shipment.deliveryWindowOptions.indices
            where shipment.deliveryWindowOptions[option].deliveryWindowOptionId
                != shipment.selectedDeliveryWindow?.deliveryWindowOptionId
            {
                shipment.deliveryWindowOptions[option].validUntil = min(
                    shipment.deliveryWindowOptions[option].validUntil,
                    now
                )
                expired += 1
            }
            plan.shipments[index] = shipment
        }
        inboundPlans.plans[planID] = plan
        return expired
    }

    /// Inbound plans as the ground truth reports them, in creation order.
    func inboundPlansTruth() -> [GroundTruth.InboundPlan] {
        inboundPlans.plans.values.sorted { $0.sequence < $1.sequence }.map { plan in
            GroundTruth.InboundPlan(
                inboundPlanId: plan.id,
                merchantId: plan.merchantID,
                name: plan.name,
                status: plan.status,
                marketplaceId: plan.marketplaceID,
                items: plan.items.map { .init(msku: $0.msku, quantity: $0.quantity) },
                packingOptionId: plan.confirmedPacking?.id,
                placementOptionId: plan.confirmedPlacement?.id,
                shipments: plan.visibleShipments.map { shipment in
                    .init(
                        shipmentId: shipment.id,
                        shipmentConfirmationId: shipment.confirmationID,
                        warehouseId: shipment.warehouseID,
                        status: shipment.status,
                        transportationOptionId: shipment.selectedTransportationOptionID,
                        deliveryWindowOptionId: shipment.selectedDeliveryWindow?.deliveryWindowOptionId,
                        boxes: shipment.boxes.count,
                        units: plan.units(of: shipment).values.reduce(0, +),
                        deliveryWindowConfirmCalls: shipment.deliveryWindowConfirmCalls
                    )
                },
                confirmCalls: .init(
                    packing: plan.confirmCalls.packing,
                    placement: plan.confirmCalls.placement,
                    transportation: plan.confirmCalls.transportation,
                    deliveryWindow: plan.shipments.reduce(0) { $0 + $1.deliveryWindowConfirmCalls }
                ),
                createCalls: inboundPlans.createCalls[InboundPlansWorld.nameKey(plan.merchantID, plan.name)] ?? 0
            )
        }
    }
}
