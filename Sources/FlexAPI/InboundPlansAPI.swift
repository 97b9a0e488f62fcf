import FlexBridgeAPI
import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import OpenAPIRuntime

/// Send to Amazon: a WMS's stock order as an inbound plan at Amazon, and the choices its steps wait for.
extension APIHandler {
    var inboundPlans: InboundPlanUseCases { InboundPlanUseCases(store: store) }

    public func createInboundPlan(
        _ input: Operations.CreateInboundPlan.Input
    ) async throws -> Operations.CreateInboundPlan.Output {
        guard let connection = try await visible(ConnectionID(rawValue: input.path.connectionId)) else {
            return .notFound(Self.notFound(input.path.connectionId))
        }
        guard case .json(let body) = input.body else {
            return .badRequest(Self.problem(.invalidInput, "A JSON body is required."))
        }
        do {
            let (plan, created) = try await inboundPlans.create(Self.request(body), connection: connection)
            return created
                ? .accepted(.init(body: .json(Self.schema(plan)))) : .ok(.init(body: .json(Self.schema(plan))))
        } catch let error as ValidationError {
            return .badRequest(Self.problem(.invalidInput, error.reason, field: error.field))
        } catch let refusal as InboundPlanUseCases.Refusal {
            return .conflict(.init(body: .json(Self.problemBody(.conflict, refusal.description))))
        }
    }

    public func listInboundPlans(
        _ input: Operations.ListInboundPlans.Input
    ) async throws -> Operations.ListInboundPlans.Output {
        let connections = try await listed(input.query.connectionId)
        var after: (updatedAt: Date, id: String)?
        if let cursor = input.query.after {
            guard let parts = Self.cursorParts(cursor, count: 2), let millis = Int64(parts[0]) else {
                return .badRequest(Self.problem(.invalidInput, "is not a `next` this list gave", field: "after"))
            }
            after = (Date(millisecondsSince1970: millis), parts[1])
        }
        let limit = input.query.limit ?? 100
        let plans = try await store.read { [connections] session in
            try await session.inboundPlans(
                of: connections,
                status: input.query.status.flatMap { InboundPlanStatus(rawValue: $0.rawValue) },
                after: after,
                limit: limit + 1
            )
        }
        let page = plans.prefix(limit)
        return .ok(
            .init(
                body: .json(
                    .init(
                        items: page.map(Self.schema),
                        next: plans.count > limit
                            ? page.last.map { Self.cursor(["\($0.updatedAt.millisecondsSince1970)", $0.id]) } : nil
                    )
                )
            )
        )
    }

    public func getInboundPlan(
        _ input: Operations.GetInboundPlan.Input
    ) async throws -> Operations.GetInboundPlan.Output {
        guard let plan = try await visiblePlan(input.path.planId) else {
            return .notFound(.init(body: .json(Self.problemBody(.notFound, "No inbound plan \(input.path.planId)"))))
        }
        return .ok(.init(body: .json(Self.schema(plan))))
    }

    public func chooseInboundPlacement(
        _ input: Operations.ChooseInboundPlacement.Input
    ) async throws -> Operations.ChooseInboundPlacement.Output {
        guard case .json(let body) = input.body else {
            return .badRequest(Self.problem(.invalidInput, "A JSON body is required."))
        }
        do {
            let plan = try await inboundPlans.choosePlacement(
                body.placementOptionId,
                planID: input.path.planId,
                visible: try await visibleConnections()
            )
            return .ok(.init(body: .json(Self.schema(plan))))
        } catch let error as ValidationError {
            return .badRequest(Self.problem(.invalidInput, error.reason, field: error.field))
        } catch InboundPlanUseCases.Refusal.planNotFound(let id) {
            return .notFound(.init(body: .json(Self.problemBody(.notFound, "No inbound plan \(id)"))))
        } catch let refusal as InboundPlanUseCases.Refusal {
            return .badRequest(Self.problem(.invalidInput, refusal.description))
        }
    }

    public func chooseInboundTransportation(
        _ input: Operations.ChooseInboundTransportation.Input
    ) async throws -> Operations.ChooseInboundTransportation.Output {
        guard case .json(let body) = input.body else {
            return .badRequest(Self.problem(.invalidInput, "A JSON body is required."))
        }
        var selections: [String: String] = [:]
        for (index, selection) in body.selections.enumerated() {
            guard selections.updateValue(selection.transportationOptionId, forKey: selection.shipmentId) == nil else {
                return .badRequest(
                    Self.problem(
                        .invalidInput,
                        "names shipment \(selection.shipmentId) a second time",
                        field: "selections[\(index)].shipmentId"
                    )
                )
            }
        }
        do {
            let plan = try await inboundPlans.chooseTransportation(
                selections,
                planID: input.path.planId,
                visible: try await visibleConnections()
            )
            return .ok(.init(body: .json(Self.schema(plan))))
        } catch let error as ValidationError {
            return .badRequest(Self.problem(.invalidInput, error.reason, field: error.field))
        } catch InboundPlanUseCases.Refusal.planNotFound(let id) {
            return .notFound(.init(body: .json(Self.problemBody(.notFound, "No inbound plan \(id)"))))
        } catch let refusal as InboundPlanUseCases.Refusal {
            return .badRequest(Self.problem(.invalidInput, refusal.description))
        }
    }

    public func resumeInboundPlan(
        _ input: Operations.ResumeInboundPlan.Input
    ) async throws -> Operations.ResumeInboundPlan.Output {
        do {
            let plan = try await inboundPlans.resume(planID: input.path.planId, visible: try await visibleConnections())
            return .ok(.init(body: .json(Self.schema(plan))))
        } catch InboundPlanUseCases.Refusal.planNotFound(let id) {
            return .notFound(.init(body: .json(Self.problemBody(.notFound, "No inbound plan \(id)"))))
        } catch let refusal as InboundPlanUseCases.Refusal {
            return .conflict(.init(body: .json(Self.problemBody(.conflict, refusal.description))))
        }
    }

    public func getInboundPlanLabels(
        _ input: Operations.GetInboundPlanLabels.Input
    ) async throws -> Operations.GetInboundPlanLabels.Output {
        guard let plan = try await visiblePlan(input.path.planId) else {
            return .notFound(.init(body: .json(Self.problemBody(.notFound, "No inbound plan \(input.path.planId)"))))
        }
        let pdf = try await store.read {
            try await $0.inboundPlanLabels(planID: plan.id, shipmentID: input.path.shipmentId)
        }
        guard let pdf else {
            return .notFound(
                .init(
                    body: .json(
                        Self.problemBody(
                            .notFound,
                            "Plan \(plan.id) has no labels for shipment \(input.path.shipmentId) (yet: it is at step \(plan.step.rawValue))"
                        )
                    )
                )
            )
        }
        return .ok(.init(body: .pdf(HTTPBody(pdf))))
    }

    private func visiblePlan(_ id: String) async throws -> InboundPlan? {
        let visible = try await visibleConnections()
        guard let plan = try await store.read({ try await $0.inboundPlan(id: id) }),
            visible.contains(plan.connectionID)
        else { return nil }
        return plan
    }

    static func request(_ body: Components.Schemas.InboundPlanRequest) -> InboundPlanRequest {
        let address = body.sourceAddress
        return InboundPlanRequest(
            reference: body.reference,
            marketplaceID: MarketplaceID(rawValue: body.marketplaceId),
            sourceAddress: .init(
                name: address.name,
                companyName: address.companyName,
                addressLine1: address.addressLine1,
                addressLine2: address.addressLine2,
                city: address.city,
                stateOrProvinceCode: address.stateOrProvinceCode,
                postalCode: address.postalCode,
                countryCode: address.countryCode,
                phoneNumber: address.phoneNumber,
                email: address.email
            ),
            lines: body.lines.map {
                .init(
                    sku: WarehouseSKU(rawValue: $0.sku),
                    quantity: $0.quantity,
                    labelOwner: $0.labelOwner?.rawValue ?? "SELLER",
                    prepOwner: $0.prepOwner?.rawValue ?? "NONE"
                )
            },
            boxes: body.boxes.map { box in
                .init(
                    quantity: box.quantity ?? 1,
                    weight: box.weight,
                    weightUnit: box.weightUnit?.rawValue ?? "KG",
                    length: box.length,
                    width: box.width,
                    height: box.height,
                    dimensionUnit: box.dimensionUnit?.rawValue ?? "CM",
                    items: box.items?.map { .init(sku: WarehouseSKU(rawValue: $0.sku), quantity: $0.quantity) }
                )
            },
            readyToShipDate: body.readyToShipDate,
            pallets: body.pallets
        )
    }

    static func schema(_ money: InboundMoney?) -> Components.Schemas.Money? {
        money.map { .init(amount: "\($0.amount)", currency: $0.currency) }
    }

    static func schema(_ plan: InboundPlan) -> Components.Schemas.InboundPlan {
        .init(
            id: plan.id,
            connectionId: plan.connectionID.rawValue,
            reference: plan.request.reference,
            marketplaceId: plan.request.marketplaceID.rawValue,
            amazonPlanId: plan.amazonPlanID,
            step: .init(rawValue: plan.step.rawValue) ?? .create,
            status: .init(rawValue: plan.status.rawValue) ?? .working,
            problem: plan.problem,
            lines: zip(plan.request.lines, plan.merchantSKUs).map {
                .init(sku: $0.sku.rawValue, merchantSku: $1.rawValue, quantity: $0.quantity)
            },
            packingOptionId: plan.packingOptionID,
            placementOptions: plan.placementOptions.map {
                .init(
                    id: $0.id,
                    shipmentIds: $0.shipmentIDs,
                    // No fee listed is a free option: 0 in the marketplace's currency.
                    fees: schema(
                        $0.fees
                            ?? InboundMoney(
                                amount: 0,
                                currency: Marketplaces.currencies[plan.request.marketplaceID] ?? ""
                            )
                    ),
                    expiresAt: $0.expiresAt
                )
            },
            placementOptionId: plan.placementOptionID,
            shipments: plan.shipments.map {
                .init(
                    id: $0.id,
                    confirmationId: $0.confirmationID,
                    warehouseId: $0.warehouseID,
                    status: $0.status,
                    transportationOptionId: $0.transportationOptionID,
                    deliveryWindowStart: $0.deliveryWindowStart,
                    labels: $0.labelsDownloaded
                )
            },
            transportationOptions: plan.transportationOptions.map {
                .init(
                    id: $0.id,
                    shipmentId: $0.shipmentID,
                    shippingMode: $0.shippingMode,
                    shippingSolution: $0.shippingSolution,
                    carrier: $0.carrier,
                    quote: schema($0.quote),
                    expiresAt: $0.expiresAt,
                    pickUpAt: $0.pickUpAt,
                    needsDeliveryWindow: $0.needsDeliveryWindow
                )
            },
            createdAt: plan.createdAt,
            updatedAt: plan.updatedAt
        )
    }
}
