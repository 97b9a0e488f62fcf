import AmazonInbound
import AmazonInboundV0
import FlexCore
import Foundation
import OpenAPIRuntime

private typealias IS = AmazonInbound.Components.Schemas

/// How Amazon's asynchronous operation stands.
public struct InboundOperationState: Sendable, Hashable {
    public enum Status: Sendable, Hashable {
        case inProgress
        case succeeded
        case failed
    }

    public var status: Status
    /// Amazon's problems, one sentence each (`code: message`).
    public var problems: [String]
    /// The status as Amazon wrote it, when it is none of Amazon's three (`IN_PROGRESS`, `SUCCESS`, `FAILED`): an
    /// operation in a status Amazon added later is waited on as in progress.
    public var unknownStatus: String?

    public init(status: Status, problems: [String], unknownStatus: String? = nil) {
        self.status = status
        self.problems = problems
        self.unknownStatus = unknownStatus
    }
}

/// What Amazon shows of a plan: its status and the options it accepted.
public struct AmazonInboundPlanState: Sendable, Hashable {
    public var status: String
    public var acceptedPackingOptionID: String?
    public var acceptedPlacementOptionID: String?

    public init(status: String, acceptedPackingOptionID: String?, acceptedPlacementOptionID: String?) {
        self.status = status
        self.acceptedPackingOptionID = acceptedPackingOptionID
        self.acceptedPlacementOptionID = acceptedPlacementOptionID
    }
}

/// What Amazon shows of a shipment of a plan.
public struct AmazonInboundShipmentState: Sendable, Hashable {
    public var shipment: InboundPlanShipment
    /// The transportation option Amazon has confirmed for it.
    public var selectedTransportationOptionID: String?
    public var deliveryWindowOptionID: String?
    public var deliveryWindowStart: Date?
}

/// A delivery window Amazon offers a shipment.
public struct InboundDeliveryWindow: Sendable, Hashable {
    public var id: String
    public var start: Date
    public var validUntil: Date
}

/// Amazon's "Send to Amazon" (Fulfillment Inbound 2024-03-20, and v0's labels) as the plan worker needs it, in
/// FlexCore's words. Every generate…/confirm… answers the id of the operation to poll.
public protocol SendToAmazon: Sendable {
    func createInboundPlan(_ plan: InboundPlan) async throws -> (planID: String, operationID: String)
    /// The seller's plan of this name created since `since`, with its status; nil when Amazon has none.
    func findInboundPlan(named name: String, since: Date) async throws -> (planID: String, status: String)?
    func inboundOperation(_ operationID: String) async throws -> InboundOperationState
    func inboundPlanState(_ planID: String) async throws -> AmazonInboundPlanState
    func generatePackingOptions(planID: String) async throws -> String
    /// The plan's packing options, each group with its items.
    func packingOptions(planID: String) async throws -> [InboundPackingOption]
    func confirmPackingOption(planID: String, optionID: String) async throws -> String
    func setPackingInformation(planID: String, groupings: [InboundPackageGrouping]) async throws -> String
    func generatePlacementOptions(planID: String) async throws -> String
    func placementOptions(planID: String) async throws -> [InboundPlacementOption]
    func confirmPlacementOption(planID: String, optionID: String) async throws -> String
    func inboundShipment(planID: String, shipmentID: String) async throws -> AmazonInboundShipmentState
    func generateTransportationOptions(
        planID: String,
        placementOptionID: String,
        shipmentIDs: [String],
        readyToShip: Date,
        contact: InboundPlanRequest.Address,
        pallets: Int?
    ) async throws -> String
    func transportationOptions(
        planID: String,
        placementOptionID: String
    ) async throws
        -> [InboundTransportationOption]
    func generateDeliveryWindowOptions(planID: String, shipmentID: String) async throws -> String
    func deliveryWindowOptions(planID: String, shipmentID: String) async throws -> [InboundDeliveryWindow]
    func confirmDeliveryWindowOption(planID: String, shipmentID: String, optionID: String) async throws -> String
    func confirmTransportationOptions(
        planID: String,
        selections: [String: String],
        contact: InboundPlanRequest.Address
    ) async throws -> String
    /// The box labels of a confirmed shipment (by its FBA… id), as Amazon's PDF.
    func inboundLabels(confirmationID: String, boxes: Int) async throws -> Data
}

extension SellingPartnerClient: SendToAmazon {
    public func createInboundPlan(_ plan: InboundPlan) async throws -> (planID: String, operationID: String) {
        let lines = plan.request.lines
        let body = IS.CreateInboundPlanRequest(
            destinationMarketplaces: [plan.request.marketplaceID.rawValue],
            items: zip(lines, plan.merchantSKUs).map { line, sku in
                IS.ItemInput(
                    labelOwner: line.labelOwner,
                    msku: sku.rawValue,
                    prepOwner: line.prepOwner,
                    quantity: line.quantity
                )
            },
            name: plan.amazonName,
            sourceAddress: Self.address(plan.request.sourceAddress)
        )
        let answer = try await inbound.createInboundPlan(body: .json(body)).accepted.body.json
        return (answer.inboundPlanId, answer.operationId)
    }

    public func findInboundPlan(named name: String, since: Date) async throws -> (planID: String, status: String)? {
        var token: String?
        repeat {
            let page = try await inbound.listInboundPlans(
                query: .init(pageSize: 30, paginationToken: token, sortBy: .creationTime, sortOrder: .desc)
            ).ok.body.json
            for plan in page.inboundPlans ?? [] {
                if plan.name == name && plan.status != "VOIDED" && plan.status != "ERRORED" {
                    return (plan.inboundPlanId, plan.status)
                }
                // Newest first: a plan made before the intent cannot be the one sought.
                if plan.createdAt < since { return nil }
            }
            token = page.pagination?.nextToken
        } while token != nil
        return nil
    }

    public func inboundOperation(_ operationID: String) async throws -> InboundOperationState {
        let answer = try await inbound.getInboundOperationStatus(path: .init(operationId: operationID)).ok.body.json
        let status: InboundOperationState.Status =
            switch answer.operationStatus {
            case "SUCCESS": .succeeded
            case "FAILED": .failed
            default: .inProgress
            }
        return InboundOperationState(
            status: status,
            problems: answer.operationProblems.map { "\($0.code): \($0.message)" },
            unknownStatus: ["IN_PROGRESS", "SUCCESS", "FAILED"].contains(answer.operationStatus)
                ? nil : answer.operationStatus
        )
    }

    public func inboundPlanState(_ planID: String) async throws -> AmazonInboundPlanState {
        let plan = try await inbound.getInboundPlan(path: .init(inboundPlanId: planID)).ok.body.json
        return AmazonInboundPlanState(
            status: plan.status,
            acceptedPackingOptionID: plan.packingOptions?.first { $0.status == "ACCEPTED" }?.packingOptionId,
            acceptedPlacementOptionID: plan.placementOptions?.first { $0.status == "ACCEPTED" }?.placementOptionId
        )
    }

    public func generatePackingOptions(planID: String) async throws -> String {
        try await inbound.generatePackingOptions(path: .init(inboundPlanId: planID)).accepted.body.json.operationId
    }

    public func packingOptions(planID: String) async throws -> [InboundPackingOption] {
        let options = try await Self.allPages { token in
            let page = try await inbound.listPackingOptions(
                path: .init(inboundPlanId: planID),
                query: .init(pageSize: 20, paginationToken: token)
            ).ok.body.json
            return (page.packingOptions, page.pagination?.nextToken)
        }
        var result: [InboundPackingOption] = []
        var groups: [String: [MerchantSKU: Int]] = [:]
        for option in options where option.status == "OFFERED" || option.status == "ACCEPTED" {
            for group in option.packingGroups where groups[group] == nil {
                groups[group] = try await packingGroupItems(planID: planID, groupID: group)
            }
            result.append(
                InboundPackingOption(
                    id: option.packingOptionId,
                    groups: option.packingGroups.map { .init(id: $0, items: groups[$0] ?? [:]) },
                    fees: Self.net(option.fees, less: option.discounts),
                    expiresAt: option.expiration
                )
            )
        }
        return result
    }

    func packingGroupItems(planID: String, groupID: String) async throws -> [MerchantSKU: Int] {
        let items = try await Self.allPages { token in
            let page = try await inbound.listPackingGroupItems(
                path: .init(inboundPlanId: planID, packingGroupId: groupID),
                query: .init(pageSize: 100, paginationToken: token)
            ).ok.body.json
            return (page.items, page.pagination?.nextToken)
        }
        return Dictionary(items.map { (MerchantSKU(rawValue: $0.msku), $0.quantity) }, uniquingKeysWith: +)
    }

    public func confirmPackingOption(planID: String, optionID: String) async throws -> String {
        try await inbound.confirmPackingOption(path: .init(inboundPlanId: planID, packingOptionId: optionID))
            .accepted.body.json.operationId
    }

    public func setPackingInformation(planID: String, groupings: [InboundPackageGrouping]) async throws -> String {
        let body = IS.SetPackingInformationRequest(
            packageGroupings: groupings.map { grouping in
                IS.PackageGroupingInput(
                    boxes: grouping.boxes.map { box in
                        IS.BoxInput(
                            contentInformationSource: box.items == nil ? "MANUAL_PROCESS" : "BOX_CONTENT_PROVIDED",
                            dimensions: .init(
                                height: box.height,
                                length: box.length,
                                unitOfMeasurement: box.dimensionUnit,
                                width: box.width
                            ),
                            items: box.items?.map {
                                IS.ItemInput(
                                    labelOwner: $0.labelOwner,
                                    msku: $0.sku.rawValue,
                                    prepOwner: $0.prepOwner,
                                    quantity: $0.quantity
                                )
                            },
                            quantity: box.quantity,
                            weight: .init(unit: box.weightUnit, value: box.weight)
                        )
                    },
                    packingGroupId: grouping.groupID
                )
            }
        )
        return try await inbound.setPackingInformation(path: .init(inboundPlanId: planID), body: .json(body))
            .accepted.body.json.operationId
    }

    public func generatePlacementOptions(planID: String) async throws -> String {
        try await inbound.generatePlacementOptions(path: .init(inboundPlanId: planID), body: .json(.init()))
            .accepted.body.json.operationId
    }

    public func placementOptions(planID: String) async throws -> [InboundPlacementOption] {
        try await Self.allPages { token in
            let page = try await inbound.listPlacementOptions(
                path: .init(inboundPlanId: planID),
                query: .init(pageSize: 20, paginationToken: token)
            ).ok.body.json
            return (page.placementOptions, page.pagination?.nextToken)
        }
        .filter { $0.status == "OFFERED" || $0.status == "ACCEPTED" }
        .map {
            InboundPlacementOption(
                id: $0.placementOptionId,
                shipmentIDs: $0.shipmentIds,
                fees: Self.net($0.fees, less: $0.discounts),
                expiresAt: $0.expiration
            )
        }
    }

    public func confirmPlacementOption(planID: String, optionID: String) async throws -> String {
        try await inbound.confirmPlacementOption(path: .init(inboundPlanId: planID, placementOptionId: optionID))
            .accepted.body.json.operationId
    }

    public func inboundShipment(planID: String, shipmentID: String) async throws -> AmazonInboundShipmentState {
        let shipment = try await inbound.getInboundPlanShipment(
            path: .init(inboundPlanId: planID, shipmentId: shipmentID)
        ).ok.body.json
        return AmazonInboundShipmentState(
            shipment: InboundPlanShipment(
                id: shipment.shipmentId,
                confirmationID: shipment.shipmentConfirmationId,
                warehouseID: shipment.destination.warehouseId,
                status: shipment.status
            ),
            selectedTransportationOptionID: shipment.selectedTransportationOptionId,
            deliveryWindowOptionID: shipment.selectedDeliveryWindow?.deliveryWindowOptionId,
            deliveryWindowStart: shipment.selectedDeliveryWindow?.startDate
        )
    }

    public func generateTransportationOptions(
        planID: String,
        placementOptionID: String,
        shipmentIDs: [String],
        readyToShip: Date,
        contact: InboundPlanRequest.Address,
        pallets: Int?
    ) async throws -> String {
        let body = IS.GenerateTransportationOptionsRequest(
            placementOptionId: placementOptionID,
            shipmentTransportationConfigurations: shipmentIDs.map {
                IS.ShipmentTransportationConfiguration(
                    contactInformation: Self.contact(contact),
                    pallets: pallets.map { [IS.PalletInput(quantity: $0)] },
                    readyToShipWindow: .init(start: readyToShip),
                    shipmentId: $0
                )
            }
        )
        return try await inbound.generateTransportationOptions(path: .init(inboundPlanId: planID), body: .json(body))
            .accepted.body.json.operationId
    }

    public func transportationOptions(
        planID: String,
        placementOptionID: String
    ) async throws -> [InboundTransportationOption] {
        try await Self.allPages { token in
            let page = try await inbound.listTransportationOptions(
                path: .init(inboundPlanId: planID),
                query: .init(pageSize: 20, paginationToken: token, placementOptionId: placementOptionID)
            ).ok.body.json
            return (page.transportationOptions, page.pagination?.nextToken)
        }
        .map {
            InboundTransportationOption(
                id: $0.transportationOptionId,
                shipmentID: $0.shipmentId,
                shippingMode: $0.shippingMode,
                shippingSolution: $0.shippingSolution,
                carrier: $0.carrier.name ?? $0.carrier.alphaCode,
                quote: $0.quote.map { Self.money($0.cost) },
                expiresAt: $0.quote?.expiration,
                pickUpAt: $0.carrierAppointment?.startTime,
                preconditions: $0.preconditions
            )
        }
    }

    public func generateDeliveryWindowOptions(planID: String, shipmentID: String) async throws -> String {
        try await inbound.generateDeliveryWindowOptions(path: .init(inboundPlanId: planID, shipmentId: shipmentID))
            .accepted.body.json.operationId
    }

    public func deliveryWindowOptions(planID: String, shipmentID: String) async throws -> [InboundDeliveryWindow] {
        try await Self.allPages { token in
            let page = try await inbound.listDeliveryWindowOptions(
                path: .init(inboundPlanId: planID, shipmentId: shipmentID),
                query: .init(pageSize: 100, paginationToken: token)
            ).ok.body.json
            return (page.deliveryWindowOptions, page.pagination?.nextToken)
        }
        .filter { $0.availabilityType != "BLOCKED" }
        .map { InboundDeliveryWindow(id: $0.deliveryWindowOptionId, start: $0.startDate, validUntil: $0.validUntil) }
    }

    public func confirmDeliveryWindowOption(
        planID: String,
        shipmentID: String,
        optionID: String
    ) async throws
        -> String
    {
        try await inbound.confirmDeliveryWindowOptions(
            path: .init(inboundPlanId: planID, shipmentId: shipmentID, deliveryWindowOptionId: optionID)
        ).accepted.body.json.operationId
    }

    public func confirmTransportationOptions(
        planID: String,
        selections: [String: String],
        contact: InboundPlanRequest.Address
    ) async throws -> String {
        let body = IS.ConfirmTransportationOptionsRequest(
            transportationSelections: selections.sorted { $0.key < $1.key }.map {
                IS.TransportationSelection(
                    contactInformation: Self.contact(contact),
                    shipmentId: $0.key,
                    transportationOptionId: $0.value
                )
            }
        )
        return try await inbound.confirmTransportationOptions(path: .init(inboundPlanId: planID), body: .json(body))
            .accepted.body.json.operationId
    }

    public func inboundLabels(confirmationID: String, boxes: Int) async throws -> Data {
        let answer = try await inboundV0.getLabels(
            path: .init(shipmentId: confirmationID),
            query: .init(pageType: .packageLabelPlainPaper, labelType: .unique, numberOfPackages: max(boxes, 1))
        ).ok.body.json
        guard let url = answer.payload?.downloadURL else {
            throw AmazonAPIError(
                operation: "getLabels",
                status: 200,
                code: "NoDownloadURL",
                message: "Amazon answered getLabels for \(confirmationID) without a DownloadURL"
            )
        }
        return try await download(url).data
    }

    /// Every page of a 2024-03-20 list, following `pagination.nextToken` until Amazon gives none.
    private static func allPages<Item>(
        _ page: (_ token: String?) async throws -> (items: [Item], next: String?)
    ) async throws -> [Item] {
        var items: [Item] = []
        var token: String?
        repeat {
            let (found, next) = try await page(token)
            items += found
            token = next
        } while token != nil
        return items
    }

    private static func address(_ address: InboundPlanRequest.Address) -> IS.AddressInput {
        IS.AddressInput(
            addressLine1: address.addressLine1,
            addressLine2: address.addressLine2,
            city: address.city,
            companyName: address.companyName,
            countryCode: address.countryCode,
            email: address.email,
            name: address.name,
            phoneNumber: address.phoneNumber,
            postalCode: address.postalCode,
            stateOrProvinceCode: address.stateOrProvinceCode
        )
    }

    private static func contact(_ address: InboundPlanRequest.Address) -> IS.ContactInformation {
        IS.ContactInformation(email: address.email, name: address.name, phoneNumber: address.phoneNumber)
    }

    private static func money(_ currency: IS.Currency) -> InboundMoney {
        InboundMoney(amount: Decimal(string: String(format: "%.2f", currency.amount)) ?? 0, currency: currency.code)
    }

    /// Fees less discounts, in the fees' currency; nil when Amazon names neither.
    private static func net(_ fees: [IS.Incentive], less discounts: [IS.Incentive]) -> InboundMoney? {
        guard let currency = (fees.first ?? discounts.first)?.value.code else { return nil }
        let total =
            fees.reduce(Decimal(0)) { $0 + money($1.value).amount }
            - discounts.reduce(Decimal(0)) { $0 + money($1.value).amount }
        return InboundMoney(amount: total, currency: currency)
    }
}
