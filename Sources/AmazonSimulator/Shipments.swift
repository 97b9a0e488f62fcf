import AmazonEFShipments
import Foundation

/// Amazon's Shipments API and its sandbox operations, with the shipment state machine of docs/simulator.md:
///
///     CREATED/ACCEPTED → CONFIRMED → PACKAGE_CREATED → PICKUP_SLOT_RETRIEVED → [INVOICE_GENERATED]
///         → SHIPLABEL_GENERATED → SHIPPED → DELIVERED
///
/// REJECT (from the states in `orderStatesEligibleForRejection`) and a marketplace cancellation (before SHIPPED)
/// lead to CANCELLED. A call in the wrong state answers 409, a well-formed call that does not fit the shipment 422,
/// a malformed value 400, an unknown id 404.
extension Simulator: AmazonEFShipments.APIProtocol {
    public func getShipments(
        _ input: Operations.GetShipments.Input
    ) async throws -> Operations.GetShipments.Output {
        let merchantID = try RequestScope.merchant()
        let query = input.query
        let maxResults = query.maxResults ?? 10
        guard (1...100).contains(maxResults) else {
            throw AmazonError.invalidInput("Invalid input \(maxResults) for parameter maxResults: must be 1 to 100")
        }
        if let location = query.locationId {
            guard location.count <= 36 else {
                throw AmazonError.invalidInput("Invalid input for parameter locationId: longer than 36 characters")
            }
            guard world.locations[location]?.merchantIDs.contains(merchantID) == true else {
                throw AmazonError.notFound("locationId", location)
            }
        }
        if let after = query.lastUpdatedAfter, let before = query.lastUpdatedBefore, after > before {
            throw AmazonError.invalidInput("lastUpdatedAfter must not be later than lastUpdatedBefore")
        }
        let filter = [
            query.status.rawValue, query.locationId ?? "", query.marketplaceId ?? "", query.channelName ?? "",
            query.lastUpdatedAfter.map { Self.timestamp($0) } ?? "",
            query.lastUpdatedBefore.map { Self.timestamp($0) } ?? "",
        ].joined(separator: "|")
        var position = 0
        if let token = query.paginationToken {
            position = try PageToken.decode(token, filter: filter, parameter: "paginationToken")
        }
        let matching = world.shipments.values
            .filter { record in
                let shipment = record.shipment
                guard record.merchantID == merchantID, record.sequence > position,
                    shipment.status == query.status.rawValue
                else { return false }
                if let location = query.locationId, shipment.locationId != location { return false }
                if let marketplace = query.marketplaceId, shipment.marketplaceAttributes.marketplaceId != marketplace {
                    return false
                }
                if let channel = query.channelName, shipment.marketplaceAttributes.channelName != channel {
                    return false
                }
                let updated = Self.date(shipment.lastUpdatedDateTime)
                if let after = query.lastUpdatedAfter, updated < after { return false }
                if let before = query.lastUpdatedBefore, updated > before { return false }
                return true
            }
        let (page, nextToken) = PageToken.page(Array(matching), sequence: \.sequence, limit: maxResults, filter: filter)
        return .ok(
            .init(body: .json(.init(shipments: page.map(\.shipment), pagination: .init(nextToken: nextToken))))
        )
    }

    public func getShipment(_ input: Operations.GetShipment.Input) async throws -> Operations.GetShipment.Output {
        let record = try shipmentRecord(input.path.shipmentId)
        return .ok(.init(body: .json(record.shipment)))
    }

    public func processShipment(
        _ input: Operations.ProcessShipment.Input
    ) async throws -> Operations.ProcessShipment.Output {
        var record = try shipmentRecord(input.path.shipmentId)
        let status = record.shipment.status
        let request: EF.ShipmentAcknowledgementRequest? =
            switch input.body {
            case .json(let body): body
            case nil: nil
            }
        switch input.query.operation {
        case .confirm:
            guard status == .created || status == .accepted else {
                throw AmazonError.conflict(
                    "Shipment \(record.shipment.id) is \(status); only CREATED or ACCEPTED shipments can be confirmed"
                )
            }
            try change(&record, to: .confirmed)
        case .reject:
            let eligible = record.shipment.shipmentInfo.orderStatesEligibleForRejection ?? []
            guard eligible.contains(status) else {
                throw AmazonError.conflict(
                    "Shipment \(record.shipment.id) is \(status), which is not in orderStatesEligibleForRejection"
                )
            }
            var reasons: [String: String] = [:]
            for line in request?.lineItems ?? [] {
                guard record.shipment.lineItems.contains(where: { $0.shipmentLineItemId == line.lineItem.id }) else {
                    throw AmazonError.unprocessable(
                        "Line item \(line.lineItem.id) is not part of shipment \(record.shipment.id)"
                    )
                }
                try PackageRules.requireKnown(line.reason, of: ["OUT_OF_STOCK", "CUSTOMER_REQUESTED"], for: "reason")
                reasons[line.lineItem.id] = line.reason
            }
            let reason = reasons.values.first ?? "OUT_OF_STOCK"
            cancel(&record, type: .sellerRejected, reason: { reasons[$0] ?? reason })
            record.shipment.reason = reason
            try change(&record, to: .cancelled)
        }
        return .noContent(.init())
    }

    public func createPackages(
        _ input: Operations.CreatePackages.Input
    ) async throws -> Operations.CreatePackages.Output {
        var record = try shipmentRecord(input.path.shipmentId)
        guard record.shipment.status == .confirmed else {
            throw AmazonError.conflict(
                record.shipment.packages?.isEmpty == false
                    ? "Shipment \(record.shipment.id) already has packages; change one with updatePackage"
                    : "Shipment \(record.shipment.id) is \(record.shipment.status); confirm it before creating packages"
            )
        }
        guard case .json(let body) = input.body else { throw AmazonError.invalidInput("A JSON body is required") }
        guard !body.packages.isEmpty else { throw AmazonError.invalidInput("packages must hold at least one package") }
        let ids = body.packages.map(\.id)
        guard Set(ids).count == ids.count else {
            throw AmazonError.invalidInput("Package ids must be unique within a shipment")
        }
        try PackageRules.check(body.packages, against: record.shipment)
        record.shipment.packages = body.packages.map { package in
            var package = package
            package.status = .created
            return package
        }
        try change(&record, to: .packageCreated)
        return .noContent(.init())
    }

    public func updatePackage(
        _ input: Operations.UpdatePackage.Input
    ) async throws -> Operations.UpdatePackage.Output {
        var record = try shipmentRecord(input.path.shipmentId)
        let packageID = input.path.packageId
        guard let index = record.shipment.packages?.firstIndex(where: { $0.id == packageID }) else {
            throw AmazonError.notFound("packageId", packageID)
        }
        let editable: Set<ShipmentStatus> = [
            .packageCreated, .pickupSlotRetrieved, .invoiceGenerated, .shiplabelGenerated,
        ]
        guard editable.contains(record.shipment.status) else {
            throw AmazonError.conflict(
                "Shipment \(record.shipment.id) is \(record.shipment.status); packages can change only between PACKAGE_CREATED and SHIPLABEL_GENERATED"
            )
        }
        guard case .json(var package) = input.body else { throw AmazonError.invalidInput("A JSON body is required") }
        guard package.id == packageID else {
            throw AmazonError.invalidInput("The body's package id \(package.id) differs from the path's \(packageID)")
        }
        var packages = record.shipment.packages ?? []
        package.status = .created
        packages[index] = package
        try PackageRules.check(packages, against: record.shipment)
        record.shipment.packages = packages.map { package in
            var package = package
            package.status = .created
            return package
        }
        // A changed package needs its shipping options and labels again.
        record.offeredOptions = [:]
        for label in record.labels.values { world.documents[label.documentID] = nil }
        record.labels = [:]
        try change(&record, to: .packageCreated, force: true)
        return .noContent(.init())
    }

    public func updatePackageStatus(
        _ input: Operations.UpdatePackageStatus.Input
    ) async throws -> Operations.UpdatePackageStatus.Output {
        var record = try shipmentRecord(input.path.shipmentId)
        let packageID = input.path.packageId
        guard let index = record.shipment.packages?.firstIndex(where: { $0.id == packageID }) else {
            throw AmazonError.notFound("packageId", packageID)
        }
        let body: EF.PackageDeliveryStatus? =
            switch input.body {
            case .json(let body): body
            case nil: nil
            }
        try PackageRules.requireKnown(body?.status, of: PackageRules.packageStatuses, for: "status")
        try PackageRules.requireKnown(
            body?.subStatus,
            of: ["OUT_FOR_DELIVERY", "DELIVERED", "NOT_DELIVERED", "UNDELIVERABLE"],
            for: "subStatus"
        )
        let requested = body?.status ?? input.query.status?.rawValue
        if let reason = body?.reason, reason.count > 128 {
            throw AmazonError.invalidInput("reason must be at most 128 characters")
        }
        guard requested != nil || body?.subStatus != nil else {
            throw AmazonError.invalidInput("A status or a subStatus is required")
        }
        let shipment = record.shipment
        switch requested {
        case "SHIPPED":
            guard shipment.status == .shiplabelGenerated, record.labels[packageID] != nil else {
                throw AmazonError.conflict(
                    "Package \(packageID) of shipment \(shipment.id) has no label (shipment is \(shipment.status)); generate labels before shipping"
                )
            }
            record.shipment.packages![index].status = .shipped
            if record.shipment.packages!.allSatisfy({ $0.status == .shipped }) {
                try change(&record, to: .shipped)
            } else {
                try touch(&record)
            }
        case "DELIVERED":
            guard record.carriage != .marketplace else {
                throw AmazonError.unprocessable(
                    "Shipment \(shipment.id) is carried by the marketplace; only self-delivered shipments take DELIVERED from the seller"
                )
            }
            guard shipment.status == .shipped else {
                throw AmazonError.conflict(
                    "Shipment \(shipment.id) is \(shipment.status); it must be SHIPPED before DELIVERED"
                )
            }
            record.shipment.packages![index].status = .delivered
            if record.shipment.packages!.allSatisfy({ $0.status == .delivered }) {
                try change(&record, to: .delivered)
            } else {
                try touch(&record)
            }
        case nil:
            guard body?.subStatus == .outForDelivery, record.carriage != .marketplace, shipment.status == .shipped
            else {
                throw AmazonError.conflict(
                    "subStatus \(body?.subStatus ?? "") does not apply to shipment \(shipment.id) in \(shipment.status)"
                )
            }
            record.shipment.subStatus = .outForDelivery
            try touch(&record)
        case let other?:
            throw AmazonError.unprocessable("A seller cannot set a package to \(other)")
        }
        return .noContent(.init())
    }

    public func retrieveShippingOptions(
        _ input: Operations.RetrieveShippingOptions.Input
    ) async throws -> Operations.RetrieveShippingOptions.Output {
        var record = try shipmentRecord(input.path.shipmentId)
        let packageID = input.query.packageId
        guard record.shipment.packages?.contains(where: { $0.id == packageID }) == true else {
            throw AmazonError.notFound("packageId", packageID)
        }
        let allowed: Set<ShipmentStatus> = [.packageCreated, .pickupSlotRetrieved, .invoiceGenerated]
        guard allowed.contains(record.shipment.status) else {
            throw AmazonError.conflict(
                "Shipment \(record.shipment.id) is \(record.shipment.status); shipping options are offered between PACKAGE_CREATED and INVOICE_GENERATED"
            )
        }
        let options = record.offeredOptions[packageID] ?? shippingOptions(for: record, packageID: packageID)
        record.offeredOptions[packageID] = options
        if record.shipment.status == .packageCreated {
            try change(&record, to: .pickupSlotRetrieved)
        } else {
            save(record)
        }
        return .ok(.init(body: .json(.init(shippingOptions: options, recommendedShippingOption: options.first))))
    }

    public func generateInvoice(
        _ input: Operations.GenerateInvoice.Input
    ) async throws -> Operations.GenerateInvoice.Output {
        var record = try shipmentRecord(input.path.shipmentId)
        guard record.shipment.shipmentRequirements.invoice.requirement == .required else {
            throw AmazonError.unprocessable("Shipment \(record.shipment.id) needs no invoice in its marketplace")
        }
        switch record.shipment.status {
        case .pickupSlotRetrieved:
            let id = issueInvoice(&record)
            try change(&record, to: .invoiceGenerated)
            return .ok(.init(body: .json(.init(document: invoiceDocument(id)))))
        case .invoiceGenerated, .shiplabelGenerated:
            let id = record.invoiceDocumentID ?? issueInvoice(&record)
            save(record)
            return .ok(.init(body: .json(.init(document: invoiceDocument(id)))))
        default:
            throw AmazonError.conflict(
                "Shipment \(record.shipment.id) is \(record.shipment.status); retrieve shipping options before generating the invoice"
            )
        }
    }

    public func retrieveInvoice(
        _ input: Operations.RetrieveInvoice.Input
    ) async throws -> Operations.RetrieveInvoice.Output {
        let record = try shipmentRecord(input.path.shipmentId)
        guard let id = record.invoiceDocumentID else {
            throw AmazonError.notFound("invoice for shipmentId", record.shipment.id)
        }
        return .ok(.init(body: .json(.init(document: invoiceDocument(id)))))
    }

    public func generateShipLabels(
        _ input: Operations.GenerateShipLabels.Input
    ) async throws -> Operations.GenerateShipLabels.Output {
        var record = try shipmentRecord(input.path.shipmentId)
        let shipment = record.shipment
        let body: EF.ShipLabelsInput? =
            switch input.body {
            case .json(let body): body
            case nil: nil
            }
        let invoiceNeeded = shipment.shipmentRequirements.invoice.requirement == .required
        let invoiceReady = record.invoiceDocumentID != nil
        switch input.query.operation {
        case .generate:
            if shipment.status == .shiplabelGenerated {
                throw AmazonError.conflict("Shipment \(shipment.id) is already labelled; use operation=REGENERATE")
            }
            let allowed: Set<ShipmentStatus> =
                invoiceNeeded ? [.invoiceGenerated] : [.pickupSlotRetrieved, .invoiceGenerated]
            guard allowed.contains(shipment.status) || (shipment.status == .pickupSlotRetrieved && invoiceReady) else {
                throw AmazonError.conflict(
                    invoiceNeeded && shipment.status == .pickupSlotRetrieved
                        ? "Shipment \(shipment.id) needs its invoice before labels; call generateInvoice"
                        : "Shipment \(shipment.id) is \(shipment.status); retrieve shipping options before generating labels"
                )
            }
        case .regenerate:
            let allowed: Set<ShipmentStatus> = [.pickupSlotRetrieved, .invoiceGenerated, .shiplabelGenerated]
            guard allowed.contains(shipment.status) else {
                throw AmazonError.conflict(
                    "Shipment \(shipment.id) is \(shipment.status); labels cannot be regenerated"
                )
            }
        }
        let packages = shipment.packages ?? []
        let packageIDs = body?.packageIds ?? packages.map(\.id)
        guard !packageIDs.isEmpty, packageIDs.count <= 50 else {
            throw AmazonError.invalidInput("packageIds must hold 1 to 50 package ids")
        }
        for id in packageIDs where !packages.contains(where: { $0.id == id }) {
            throw AmazonError.unprocessable("Package \(id) is not part of shipment \(shipment.id)")
        }
        for id in packageIDs {
            switch (input.query.operation, record.labels[id]) {
            case (.generate, .some):
                throw AmazonError.conflict("Package \(id) already has a label; use operation=REGENERATE")
            case (.regenerate, nil):
                throw AmazonError.conflict("Package \(id) has no label to regenerate; use operation=GENERATE")
            default:
                break
            }
        }
        if record.carriage == .thirdPartyCarrier, body?.courierSupportedAttributes == nil,
            input.query.operation == .generate
        {
            throw AmazonError.unprocessable(
                "Shipment \(shipment.id) ships with the seller's carrier; courierSupportedAttributes (carrierName, trackingId) are required"
            )
        }
        var results: [EF.PackageShipLabel] = []
        for id in packageIDs {
            let offered = record.offeredOptions[id] ?? []
            var option = offered.first
            if let chosen = input.query.shippingOptionId {
                guard let match = offered.first(where: { $0.shippingOptionId == chosen }) else {
                    throw AmazonError.unprocessable("Shipping option \(chosen) was not offered for package \(id)")
                }
                option = match
            } else if let existing = record.labels[id]?.shippingOptionID {
                option = offered.first { $0.shippingOptionId == existing } ?? option
            }
            let label = issueLabel(&record, packageID: id, option: option, courier: body?.courierSupportedAttributes)
            results.append(
                EF.PackageShipLabel(
                    packageId: id,
                    shipLabelMetadata: EF.ShipLabelMetadata(
                        shippingOptionId: label.shippingOptionID,
                        carrierName: label.carrierName,
                        trackingId: label.trackingID,
                        pickupWindow: option?.pickupWindow,
                        timeSlot: option?.timeSlot,
                        handoverLocation: option?.handoverLocation
                    ),
                    fileData: EF.DocumentV2(url: documentURL(label.documentID)),
                    status: .success
                )
            )
        }
        if packages.allSatisfy({ record.labels[$0.id] != nil }) && record.shipment.status != .shiplabelGenerated {
            for index in record.shipment.packages!.indices {
                record.shipment.packages![index].status = .shiplabelGenerated
            }
            try change(&record, to: .shiplabelGenerated)
        } else {
            try touch(&record)
        }
        return .ok(.init(body: .json(.init(packageShipLabelList: results))))
    }

    public func createSandboxShipment(
        _ input: Operations.CreateSandboxShipment.Input
    ) async throws -> Operations.CreateSandboxShipment.Output {
        let merchantID = try RequestScope.merchant()
        guard case .json(let body) = input.body else { throw AmazonError.invalidInput("A JSON body is required") }
        guard let location = world.locations[body.locationId], location.merchantIDs.contains(merchantID) else {
            throw AmazonError.notFound("locationId", body.locationId)
        }
        guard location.marketplaceID == body.marketplaceId else {
            throw AmazonError.invalidInput(
                "Location \(location.id) serves marketplace \(location.marketplaceID), not \(body.marketplaceId)"
            )
        }
        guard location.channel == body.marketplaceChannel.rawValue else {
            throw AmazonError.invalidInput(
                "Location \(location.id) is a \(location.channel) location, not \(body.marketplaceChannel.rawValue)"
            )
        }
        let types = Set((body.orderType ?? []).compactMap { ShipmentSpecification.OrderType(rawValue: $0.rawValue) })
        if types.contains(.replacement) && types.contains(.exchange) {
            throw AmazonError.invalidInput("orderType cannot hold both REPLACEMENT and EXCHANGE")
        }
        let spec = ShipmentSpecification(
            location: location,
            merchantID: merchantID,
            marketplaceID: body.marketplaceId,
            channel: body.marketplaceChannel.rawValue,
            carriage: World.Carriage(rawValue: body.shippingType.rawValue) ?? .marketplace,
            orderTypes: types,
            multipleLineItems: body.lineItemCount == .multiple,
            multipleUnits: body.quantityCount == .multiple,
            skus: Array(catalogSKUs(merchantID: merchantID, marketplaceID: body.marketplaceId))
        )
        let shipment = createShipment(spec)
        return .ok(.init(body: .json(.init(shipmentId: shipment.id))))
    }

    public func updateSandboxShipment(
        _ input: Operations.UpdateSandboxShipment.Input
    ) async throws -> Operations.UpdateSandboxShipment.Output {
        var record = try shipmentRecord(input.path.shipmentId)
        guard case .json(let body) = input.body else { throw AmazonError.invalidInput("A JSON body is required") }
        let updates = body.updates
        let id = record.shipment.id
        let status = record.shipment.status
        switch body.updateType {
        case .shipmentStatusChange:
            switch (updates?.status, updates?.subStatus) {
            case (nil, nil), (.some, .some):
                throw AmazonError.invalidInput(
                    "SHIPMENT_STATUS_CHANGE takes exactly one of updates.status and updates.subStatus"
                )
            case (.shipped?, nil):
                guard status == .shiplabelGenerated else {
                    throw AmazonError.conflict(
                        "Shipment \(id) is \(status); only a labelled shipment can be picked up"
                    )
                }
                for index in (record.shipment.packages ?? []).indices {
                    record.shipment.packages![index].status = .shipped
                }
                record.shipment.subStatus = .pickedUp
                try change(&record, to: .shipped)
            case (.delivered?, nil):
                guard status == .shipped else {
                    throw AmazonError.conflict(
                        "Shipment \(id) is \(status); only a shipped shipment can be delivered"
                    )
                }
                for index in (record.shipment.packages ?? []).indices {
                    record.shipment.packages![index].status = .delivered
                }
                record.shipment.subStatus = .delivered
                try change(&record, to: .delivered)
            case (.cancelled?, nil):
                try cancelAtMarketplace(&record)
            case (nil, .outForDelivery?):
                guard status == .shipped else {
                    throw AmazonError.conflict(
                        "Shipment \(id) is \(status); only a shipped shipment goes out for delivery"
                    )
                }
                record.shipment.subStatus = .outForDelivery
                try touch(&record)
            }
        case .invoiceAvailabilityChange:
            guard record.shipment.shipmentRequirements.invoice.requirement == .required else {
                throw AmazonError.unprocessable("Shipment \(id) needs no invoice in its marketplace")
            }
            guard record.invoiceDocumentID == nil else {
                throw AmazonError.conflict("Shipment \(id) already has an invoice")
            }
            _ = issueInvoice(&record)
            try touch(&record)
        case .transportCapacityChange:
            guard let text = updates?.timestamp, let date = Self.parseTimestamp(text) else {
                throw AmazonError.invalidInput(
                    "TRANSPORT_CAPACITY_CHANGE needs updates.timestamp as an ISO-8601 date-time"
                )
            }
            guard World.reservesStock(status) else {
                throw AmazonError.conflict("Shipment \(id) is \(status); its pickup can no longer move")
            }
            record.shipment.shippingInfo.expectedShippingDateTimeInUTC = Self.timestamp(date)
            try touch(&record)
        }
        return .noContent(.init())
    }

    // MARK: The state machine's helpers

    func shipmentRecord(_ id: String) throws -> World.ShipmentRecord {
        let merchantID = try RequestScope.merchant()
        guard let record = world.shipments[id] else { throw AmazonError.notFound("shipmentId", id) }
        guard record.merchantID == merchantID else {
            throw AmazonError.unauthorized("Shipment \(id) belongs to another seller.")
        }
        return record
    }

    func save(_ record: World.ShipmentRecord) {
        world.shipments[record.shipment.id] = record
    }

    /// Moves a shipment to `status`, stamps it and tells the notification destinations.
    func change(_ record: inout World.ShipmentRecord, to status: ShipmentStatus, force: Bool = false) throws {
        let changed = record.shipment.status != status
        record.shipment.status = status
        try touch(&record)
        if changed {
            record.history.append(.init(status: status, at: record.shipment.lastUpdatedDateTime))
            save(record)
        }
        if changed || force { notifyStatusChange(record.shipment) }
    }

    /// Records a change that keeps the status: a new `lastUpdatedDateTime`, so that pollers see it.
    func touch(_ record: inout World.ShipmentRecord) throws {
        record.shipment.lastUpdatedDateTime = Self.timestamp(world.stamp(now()))
        save(record)
    }

    /// The marketplace (the buyer) cancels the shipment: while it still reserves stock, that is until it ships.
    func cancelAtMarketplace(_ record: inout World.ShipmentRecord, reason: String = "Cancelled by the customer") throws
    {
        let status = record.shipment.status
        guard World.reservesStock(status) else {
            throw AmazonError.conflict(
                "Shipment \(record.shipment.id) is \(status); the marketplace cannot cancel it any more"
            )
        }
        cancel(&record, type: .marketplaceCancelled, reason: { _ in reason })
        record.shipment.reason = "MARKETPLACE_CANCELLED"
        if record.shipment.subStatus == nil, !record.labels.isEmpty { record.shipment.subStatus = .labelCanceled }
        try change(&record, to: .cancelled)
    }

    /// `POST /_simulator/shipments/{id}/cancel`: a marketplace cancellation on the control path, neither throttled
    /// nor faulted (the sandbox's updateSandboxShipment is both, like any API call).
    public func cancelShipment(id: String, reason: String?) throws(ControlError) -> String {
        guard var record = world.shipments[id] else { throw ControlError("No shipment with id \(id).", notFound: true) }
        if let reason, reason.isEmpty || reason.count > 500 {
            throw ControlError("reason must be 1 to 500 characters when given")
        }
        do {
            try cancelAtMarketplace(&record, reason: reason ?? "Cancelled by the customer")
        } catch {
            throw ControlError((error as? AmazonError)?.message ?? "\(error)")
        }
        return record.shipment.status
    }

    /// `POST /_simulator/shipments/{id}/status`: puts a shipment in any status, one Amazon's model does not have
    /// included (a value Amazon adds later), stamped and notified as Amazon would: how tests see that FlexBridge
    /// keeps such a shipment and carries on.
    public func forceShipmentStatus(_ id: String, to status: String) throws(ControlError) {
        guard var record = world.shipments[id] else { throw ControlError("No shipment with id \(id).", notFound: true) }
        guard !status.isEmpty, status.count <= 64 else { throw ControlError("status must be 1 to 64 characters") }
        do {
            try change(&record, to: status)
        } catch {
            throw ControlError((error as? AmazonError)?.message ?? "\(error)")
        }
    }

    func cancel(
        _ record: inout World.ShipmentRecord,
        type: String,
        reason: (String) -> String
    ) {
        let time = Self.timestamp(now())
        for index in record.shipment.lineItems.indices {
            let line = record.shipment.lineItems[index]
            record.shipment.lineItems[index].cancellations = [
                EF.Cancellation(
                    cancelledQuantity: line.numberOfUnits,
                    cancelledTimestamp: time,
                    cancellationType: type,
                    cancellationReason: reason(line.shipmentLineItemId)
                )
            ]
        }
        for index in (record.shipment.packages ?? []).indices { record.shipment.packages![index].status = .cancelled }
    }

    /// Creates and stores a shipment; the order generator and createSandboxShipment both come here.
    @discardableResult
    func createShipment(_ spec: ShipmentSpecification, original named: EF.Shipment? = nil) -> EF.Shipment {
        let id = World.uniqueID(length: 9, using: &random) { self.world.shipments[$0] != nil }
        var original = named
        if original == nil, spec.orderTypes.contains(.replacement) || spec.orderTypes.contains(.exchange) {
            original =
                world.shipments.values
                .filter { $0.merchantID == spec.merchantID && $0.shipment.locationId == spec.location.id }
                .filter { $0.shipment.status == .shipped || $0.shipment.status == .delivered }
                .max { $0.sequence < $1.sequence }?.shipment
            if original == nil {
                // Amazon's sandbox invents the original order; so does the simulator.
                var forward = spec
                forward.orderTypes = []
                original = ShipmentFactory.build(
                    forward,
                    id: World.uniqueID(length: 9, using: &random) { self.world.shipments[$0] != nil },
                    original: nil,
                    now: now().addingTimeInterval(-7 * 86_400),
                    stamp: now(),
                    using: &random
                )
            }
        }
        let stamp = world.stamp(now())
        var shipment = ShipmentFactory.build(spec, id: id, original: original, now: now(), stamp: stamp, using: &random)
        world.addToCatalog(
            shipment.lineItems.map(\.merchantSku),
            merchantID: spec.merchantID,
            marketplaceID: spec.marketplaceID
        )
        if spec.channel == "MFN", !hasStock(for: shipment) { shipment.status = .created }
        world.shipmentCount += 1
        world.shipments[id] = World.ShipmentRecord(
            shipment: shipment,
            merchantID: spec.merchantID,
            sequence: world.shipmentCount,
            carriage: spec.carriage,
            history: [.init(status: shipment.status, at: shipment.lastUpdatedDateTime)]
        )
        notifyStatusChange(shipment)
        return shipment
    }

    /// Whether sellable stock covers the shipment; shipments on SKUs never stocked are accepted, as a seller that
    /// does not send stock for a location lets Amazon assume availability.
    func hasStock(for shipment: EF.Shipment) -> Bool {
        shipment.lineItems.allSatisfy { line in
            let key = World.StockKey(
                locationID: shipment.locationId,
                sku: line.merchantSku,
                channel: shipment.marketplaceAttributes.channelName
            )
            guard let stock = world.stock[key] else { return true }
            return stock.quantity - world.reserved(key) >= line.numberOfUnits
        }
    }

    func catalogSKUs(merchantID: String, marketplaceID: String) -> Set<String> {
        world.catalog[World.catalogKey(merchantID: merchantID, marketplaceID: marketplaceID)] ?? []
    }

    func shippingOptions(for record: World.ShipmentRecord, packageID: String) -> [EF.ShippingOptions] {
        let base = Self.date(record.shipment.shippingInfo.expectedShippingDateTimeInUTC)
        func slot(_ hours: Double, _ method: String) -> EF.TimeWindow {
            let start = Int64(base.addingTimeInterval(hours * 3600).timeIntervalSince1970)
            return EF.TimeWindow(startTime: start, endTime: start + 3 * 3600, handoverMethod: method)
        }
        let optionID = { (suffix: String) in "\(record.shipment.id)-\(packageID)-\(suffix)" }
        switch record.carriage {
        case .marketplace:
            return [
                EF.ShippingOptions(
                    shippingOptionId: optionID("ATS-PICKUP-1"),
                    shipBy: .marketplace,
                    carrierName: "ATS",
                    pickupWindow: slot(-4, .pickup),
                    timeSlot: slot(-4, .pickup)
                ),
                EF.ShippingOptions(
                    shippingOptionId: optionID("ATS-PICKUP-2"),
                    shipBy: .marketplace,
                    carrierName: "ATS",
                    pickupWindow: slot(0, .pickup),
                    timeSlot: slot(0, .pickup)
                ),
            ]
        case .seller:
            return [
                EF.ShippingOptions(
                    shippingOptionId: optionID("SELF"),
                    shipBy: .seller,
                    carrierName: "SELF",
                    timeSlot: slot(0, .dropoff)
                )
            ]
        case .thirdPartyCarrier:
            return []
        }
    }

    func issueInvoice(_ record: inout World.ShipmentRecord) -> String {
        let shipment = record.shipment
        let id = World.uniqueID(prefix: "INV-", length: 10, using: &random) { self.world.documents[$0] != nil }
        var lines = [
            "TAX INVOICE", "Invoice \(id)", "Order \(shipment.shipmentInfo.buyerOrderId)", "Shipment \(shipment.id)",
            "",
        ]
        for line in shipment.lineItems {
            let total = line.charges.first?.totalCharge.netAmount
            lines.append(
                "\(line.numberOfUnits) x \(line.merchantSku)  \(total?.value ?? "0") \(total?.currencyCode ?? "")"
            )
        }
        world.documents[id] = World.Document(contentType: "application/pdf", data: PDFDocument(lines: lines).render())
        record.invoiceDocumentID = id
        record.shipment.invoiceInfo = EF.InvoiceInfo(invoiceId: id, creationDateTime: Self.timestamp(now()))
        record.shipment.shipmentRequirements.invoice.status = .available
        return id
    }

    func invoiceDocument(_ id: String) -> EF.Document {
        EF.Document(format: .pdf, content: world.documents[id]?.data.base64EncodedString())
    }

    func issueLabel(
        _ record: inout World.ShipmentRecord,
        packageID: String,
        option: EF.ShippingOptions?,
        courier: EF.CourierSupportedAttributes?
    ) -> World.Label {
        let previous = record.labels[packageID]
        let trackingID =
            courier?.trackingId ?? previous?.trackingID
            ?? World.uniqueID(prefix: "SIM", length: 12, alphabet: "0123456789", using: &random) { _ in false }
        let carrier = courier?.carrierName ?? option?.carrierName ?? previous?.carrierName ?? "ATS"
        let documentID = World.uniqueID(prefix: "LBL-", length: 10, using: &random) { self.world.documents[$0] != nil }
        let shipment = record.shipment
        let lines = [
            carrier, "TRACKING \(trackingID)", "Shipment \(shipment.id)", "Package \(packageID)",
            "Order \(shipment.shipmentInfo.buyerOrderId)", shipment.shippingInfo.shipToAddress?.name ?? "",
            shipment.shippingInfo.shipToAddress?.addressLine1 ?? "",
            "\(shipment.shippingInfo.shipToAddress?.city ?? "") \(shipment.shippingInfo.shipToAddress?.postalCode ?? "")",
        ]
        switch configuration.labelFormat {
        case .zpl:
            world.documents[documentID] = World.Document(
                contentType: "x.application/zpl",
                data: ZPLLabel(lines: lines, trackingID: trackingID).render()
            )
        case .pdf:
            world.documents[documentID] = World.Document(
                contentType: "application/pdf",
                data: PDFDocument(lines: lines).render()
            )
        }
        if let previous { world.documents[previous.documentID] = nil }
        let label = World.Label(
            packageID: packageID,
            trackingID: trackingID,
            carrierName: carrier,
            shippingOptionID: option?.shippingOptionId,
            documentID: documentID,
            generation: (previous?.generation ?? 0) + 1
        )
        record.labels[packageID] = label
        return label
    }

    func documentURL(_ id: String) -> String {
        "\(RequestScope.baseURL)/_simulator/documents/\(id)"
    }
}

/// Checks packages against the shipment they pack, as Amazon validates createPackages and updatePackage.
enum PackageRules {
    static func check(_ packages: [EF.Package], against shipment: EF.Shipment) throws {
        var packed: [String: Int] = [:]
        for package in packages {
            for (name, dimension) in [
                ("length", package.dimensions.length), ("width", package.dimensions.width),
                ("height", package.dimensions.height),
            ] {
                try PackageRules.requireKnown(
                    dimension.dimensionUnit,
                    of: ["CM", "M", "IN"],
                    for: "\(name).dimensionUnit"
                )
                guard let value = Decimal(string: dimension.value), value > 0 else {
                    throw AmazonError.invalidInput(
                        "Invalid input \(dimension.value) for parameter \(name) of package \(package.id): must be a number above 0"
                    )
                }
            }
            try PackageRules.requireKnown(
                package.weight.weightUnit,
                of: ["G", "KG", "LB", "OZ"],
                for: "weight.weightUnit"
            )
            try PackageRules.requireKnown(
                package.packageHandlingRequirements,
                of: ["NORMAL", "FRAGILE"],
                for: "packageHandlingRequirements"
            )
            guard let weight = Decimal(string: package.weight.value), weight > 0 else {
                throw AmazonError.invalidInput(
                    "Invalid input \(package.weight.value) for parameter weight of package \(package.id): must be a number above 0"
                )
            }
            let grams = weight * grams(per: package.weight.weightUnit)
            guard grams >= 5 else {
                throw AmazonError.invalidInput("Package \(package.id) weighs \(grams) g; the minimum is 5 g")
            }
            guard !package.packageLineItems.isEmpty else {
                throw AmazonError.invalidInput("Package \(package.id) holds no packageLineItems")
            }
            for item in package.packageLineItems {
                guard let line = shipment.lineItems.first(where: { $0.shipmentLineItemId == item.packageLineItemId })
                else {
                    throw AmazonError.unprocessable(
                        "Package \(package.id) holds line item \(item.packageLineItemId), which is not part of shipment \(shipment.id)"
                    )
                }
                guard item.quantity >= 1 else {
                    throw AmazonError.invalidInput(
                        "Package \(package.id): quantity of line item \(item.packageLineItemId) must be at least 1"
                    )
                }
                if let pieces = item.pieces, pieces < 1 {
                    throw AmazonError.invalidInput(
                        "Package \(package.id): pieces of line item \(item.packageLineItemId) must be at least 1"
                    )
                }
                let serials = item.serialNumbers ?? []
                switch line.complianceAttributes.serialNumberRequirement {
                case .required where serials.count != item.quantity:
                    throw AmazonError.unprocessable(
                        "Line item \(line.shipmentLineItemId) requires serial numbers: package \(package.id) sends \(serials.count) for \(item.quantity) units"
                    )
                case .disallowed where !serials.isEmpty:
                    throw AmazonError.unprocessable("Line item \(line.shipmentLineItemId) takes no serial numbers")
                default: break
                }
                if line.complianceAttributes.countryOfOriginRequirement == .required, item.countryOfOrigin == nil {
                    throw AmazonError.unprocessable(
                        "Line item \(line.shipmentLineItemId) requires countryOfOrigin in package \(package.id)"
                    )
                }
                if line.complianceAttributes.itemValueRequirement == .required, item.itemValue == nil {
                    throw AmazonError.unprocessable(
                        "Line item \(line.shipmentLineItemId) requires itemValue in package \(package.id)"
                    )
                }
                packed[item.packageLineItemId, default: 0] += item.quantity
            }
        }
        for line in shipment.lineItems where packed[line.shipmentLineItemId, default: 0] != line.numberOfUnits {
            throw AmazonError.unprocessable(
                "Packages hold \(packed[line.shipmentLineItemId, default: 0]) units of line item \(line.shipmentLineItemId); the shipment has \(line.numberOfUnits)"
            )
        }
    }

    static let packageStatuses = [
        "CREATED", "PICKUP_SLOT_RETRIEVED", "INVOICE_GENERATED", "SHIPLABEL_GENERATED", "SHIPPED", "DELIVERED",
    ]

    /// Refuses a value a request's field does not take. The derived model leaves these fields open (so that FlexBridge
    /// reads values Amazon adds later), so the simulator checks what Amazon's model lists, as Amazon does.
    static func requireKnown(_ value: String?, of allowed: [String], for field: String) throws {
        guard let value, !allowed.contains(value) else { return }
        throw AmazonError.invalidInput(
            "Invalid input \(value) for parameter \(field): must be one of \(allowed.joined(separator: ", "))"
        )
    }

    static func grams(per unit: String) -> Decimal {
        switch unit {
        case "KG": 1000
        case "LB": Decimal(string: "453.59237")!
        case "OZ": Decimal(string: "28.349523125")!
        default: 1
        }
    }
}
