import FlexBridgeAPI
import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import OpenAPIRuntime

/// Returns and locations' modes through the API: the returns FlexBridge mirrors from Amazon, their receipt at the
/// warehouse, and a location's way through Amazon's go-live process or a hand-over.
extension APIHandler {
    var returns: ReturnUseCases { ReturnUseCases(store: store) }
    var locations: LocationUseCases { LocationUseCases(store: store) }

    public func listReturns(_ input: Operations.ListReturns.Input) async throws -> Operations.ListReturns.Output {
        let limit = input.query.limit ?? 100
        let filter = ReturnFilter(
            within: try await listed(input.query.connectionId),
            status: input.query.status?.uppercased(),
            shipmentID: input.query.shipmentId.map(ShipmentID.init(rawValue:)),
            orderID: input.query.orderId,
            rmaID: input.query.rmaId,
            updatedAfter: input.query.updatedAfter,
            after: input.query.after
        )
        let found = try await store.read { try await $0.returns(filter, limit: limit + 1) }
        let page = Array(found.prefix(limit))
        return .ok(
            .init(
                body: .json(
                    .init(
                        returns: page.map(Self.schema),
                        next: found.count > limit ? page.last?.id.rawValue : nil
                    )
                )
            )
        )
    }

    public func getReturn(_ input: Operations.GetReturn.Input) async throws -> Operations.GetReturn.Output {
        guard let found = try await visibleReturn(input.path.returnId) else {
            return .notFound(Self.returnNotFound(input.path.returnId))
        }
        let history = try await store.read { try await $0.returnHistory(found.id, connectionID: found.connectionID) }
        return .ok(
            .init(
                body: .json(
                    .init(
                        _return: Self.schema(found),
                        document: found.document,
                        history: history.map {
                            .init(status: $0.status, amazonUpdatedAt: $0.amazonUpdatedAt, source: $0.source)
                        }
                    )
                )
            )
        )
    }

    public func receiveReturn(_ input: Operations.ReceiveReturn.Input) async throws -> Operations.ReceiveReturn.Output {
        guard case .json(let body) = input.body else {
            return .badRequest(Self.problem(.invalidInput, "A JSON body is required."))
        }
        let key = input.headers.idempotencyKey.trimmingCharacters(in: .whitespaces)
        guard !key.isEmpty, key.count <= 200 else {
            return .badRequest(Self.problem(.invalidInput, "must be 1 to 200 characters", field: "Idempotency-Key"))
        }
        let hub = body.hub?.trimmingCharacters(in: .whitespaces)
        let receipt = ReturnUseCases.Receipt(
            items: body.items.map {
                ReturnReceipt.Item(grade: ReturnGrade(rawValue: $0.grade.rawValue)!, quantity: $0.quantity)
            },
            restock: body.restock ?? false,
            hub: hub.flatMap { $0.isEmpty ? nil : HubCode(rawValue: $0) },
            note: body.note
        )
        guard let found = try await visibleReturn(input.path.returnId) else {
            return .notFound(Self.returnNotFound(input.path.returnId))
        }
        do {
            let (received, _) = try await returns.receive(
                found.id,
                of: found.connectionID,
                receipt,
                idempotencyKey: key,
                by: try caller()
            )
            return .ok(.init(body: .json(Self.schema(received))))
        } catch ReturnUseCases.Refusal.returnNotFound {
            return .notFound(Self.returnNotFound(input.path.returnId))
        } catch let refusal as ReturnUseCases.Refusal {
            return .conflict(.init(body: .json(Self.problemBody(.conflict, refusal.description))))
        } catch let error as ValidationError {
            return .badRequest(Self.problem(.invalidInput, error.reason, field: error.field))
        }
    }

    public func listListingItems(
        _ input: Operations.ListListingItems.Input
    ) async throws -> Operations.ListListingItems.Output {
        guard let connection = try await visible(ConnectionID(rawValue: input.path.connectionId)) else {
            return .notFound(Self.notFound(input.path.connectionId))
        }
        var after: StoreSession.ListingItemCursor?
        if let cursor = input.query.after {
            guard let parts = Self.cursorParts(cursor, count: 3), let facet = ListingFacet(rawValue: parts[2]) else {
                return .badRequest(Self.problem(.invalidInput, "is not a `next` this list gave", field: "after"))
            }
            after = .init(
                merchantSKU: MerchantSKU(rawValue: parts[0]),
                marketplaceID: MarketplaceID(rawValue: parts[1]),
                facet: facet
            )
        }
        let limit = input.query.limit ?? 100
        let items = try await store.read { session in
            try await session.listingItems(connectionID: connection.id, after: after, limit: limit + 1)
        }
        let page = items.prefix(limit)
        return .ok(
            .init(
                body: .json(
                    .init(
                        items: page.map { item in
                            .init(
                                marketplaceId: item.marketplaceID.rawValue,
                                merchantSku: item.merchantSKU.rawValue,
                                facet: item.facet == .price ? .price : .quantity,
                                warehouseSku: item.warehouseSKU.rawValue,
                                price: item.price.map { Self.price(item.warehouseSKU, $0) },
                                sentPrice: item.sentPrice.map { Self.price(item.warehouseSKU, $0) },
                                hubQuantity: item.freeQuantity,
                                pending: item.pending,
                                inFeed: item.feedID != nil,
                                sentQuantity: item.sentQuantity,
                                sentAt: item.sentAt,
                                route: item.sentRoute.flatMap { .init(rawValue: $0) },
                                reference: item.sentReference,
                                amazonQuantity: item.amazonQuantity,
                                checkedAt: item.reconciledAt,
                                drift: item.drift,
                                error: item.error.map { .init(code: $0.code, message: $0.message) }
                            )
                        },
                        next: items.count > limit
                            ? page.last.map {
                                Self.cursor([$0.merchantSKU.rawValue, $0.marketplaceID.rawValue, $0.facet.rawValue])
                            } : nil
                    )
                )
            )
        )
    }

    public func listLocations(_ input: Operations.ListLocations.Input) async throws -> Operations.ListLocations.Output {
        guard let connection = try await visible(ConnectionID(rawValue: input.path.connectionId)) else {
            return .notFound(Self.notFound(input.path.connectionId))
        }
        let reports = try await locations.locations(of: connection.id)
        return .ok(.init(body: .json(.init(locations: reports.map(Self.schema)))))
    }

    public func getLocation(_ input: Operations.GetLocation.Input) async throws -> Operations.GetLocation.Output {
        guard let connection = try await visible(ConnectionID(rawValue: input.path.connectionId)) else {
            return .notFound(Self.notFound(input.path.connectionId))
        }
        guard let report = try await locations.location(LocationID(rawValue: input.path.locationId), of: connection.id)
        else {
            return .notFound(Self.locationNotFound(input.path.locationId))
        }
        return .ok(.init(body: .json(Self.schema(report))))
    }

    public func setLocationMode(
        _ input: Operations.SetLocationMode.Input
    ) async throws -> Operations.SetLocationMode.Output {
        guard case .json(let body) = input.body else {
            return .badRequest(Self.problem(.invalidInput, "A JSON body is required."))
        }
        guard let connection = try await visible(ConnectionID(rawValue: input.path.connectionId)) else {
            return .notFound(Self.notFound(input.path.connectionId))
        }
        let change = LocationModeChange(
            mode: LocationMode(rawValue: body.mode.rawValue)!,
            pilotSKUs: (body.pilotSkus ?? []).map {
                PilotSKU(
                    merchantSKU: MerchantSKU(rawValue: $0.merchantSku.trimmingCharacters(in: .whitespaces)),
                    maximumQuantity: $0.maximumQuantity
                )
            },
            force: body.force ?? false,
            reason: body.reason
        )
        do {
            let report = try await locations.setMode(
                change,
                of: LocationID(rawValue: input.path.locationId),
                connectionID: connection.id,
                by: try caller()
            )
            return .ok(.init(body: .json(Self.schema(report))))
        } catch LocationUseCases.Refusal.locationNotFound {
            return .notFound(Self.locationNotFound(input.path.locationId))
        } catch let refusal as LocationUseCases.Refusal {
            return .conflict(.init(body: .json(Self.problemBody(.conflict, refusal.description))))
        } catch let error as ValidationError {
            return .badRequest(Self.problem(.invalidInput, error.reason, field: error.field))
        }
    }

    /// The return, when the caller may see its connection.
    func visibleReturn(_ id: String) async throws -> FlexCore.Return? {
        let principal = try caller()
        return try await store.read { session in
            guard let found = try await session.returnRecord(ReturnID(rawValue: id)),
                try await Self.sees(found.connectionID, principal, in: session)
            else { return nil }
            return found
        }
    }

    static func returnNotFound(_ id: String) -> Components.Responses.NotFound {
        .init(body: .json(problemBody(.notFound, "No return with id \(id).")))
    }

    static func locationNotFound(_ id: String) -> Components.Responses.NotFound {
        .init(
            body: .json(
                problemBody(.notFound, "No location \(id) is mapped on the connection; map a hub to it first.")
            )
        )
    }

    static func schema(_ item: FlexCore.Return) -> Components.Schemas.Return {
        let facts = item.facts
        return .init(
            returnId: facts.id.rawValue,
            connectionId: item.connectionID.rawValue,
            returnLocationId: facts.returnLocationID.rawValue,
            fulfillmentLocationId: facts.fulfillmentLocationID?.rawValue,
            merchantSku: facts.merchantSKU.rawValue,
            units: facts.units,
            status: facts.status,
            returnType: facts.returnType,
            returnSubType: facts.returnSubType,
            reason: facts.reason,
            rmaId: facts.rmaID,
            shipmentId: facts.shipmentID?.rawValue,
            orderId: facts.orderID,
            exchangeOrderId: facts.exchangeOrderID,
            invoiceId: facts.invoiceID,
            marketplace: facts.marketplace,
            forwardTracking: facts.forwardTracking.map {
                .init(carrierName: $0.carrierName, trackingId: $0.trackingID)
            },
            reverseTracking: facts.reverseTracking.map {
                .init(carrierName: $0.carrierName, trackingId: $0.trackingID)
            },
            pickedUpAt: facts.pickedUpAt,
            deliveredAt: facts.deliveredAt,
            packageDeliveryMode: facts.packageDeliveryMode,
            otp: facts.otp,
            otpValidUntil: facts.otpValidUntil,
            amazonCreatedAt: facts.createdAt,
            amazonUpdatedAt: facts.updatedAt,
            firstSeenAt: item.firstSeenAt,
            updatedAt: item.updatedAt,
            receipt: item.receipt.map {
                .init(
                    receivedAt: $0.receivedAt,
                    receivedBy: $0.receivedBy,
                    items: $0.items.map { .init(grade: .init(rawValue: $0.grade.rawValue)!, quantity: $0.quantity) },
                    restockedHub: $0.restockedHub?.rawValue,
                    restockedUnits: $0.restockedUnits,
                    note: $0.note
                )
            }
        )
    }

    static func schema(_ report: LocationUseCases.Report) -> Components.Schemas.Location {
        let state = report.state
        return .init(
            locationId: state.locationID.rawValue,
            mode: .init(rawValue: state.mode.rawValue)!,
            modeSince: state.modeSince,
            changedBy: state.changedBy,
            pilotSkus: state.pilotSKUs.map {
                .init(merchantSku: $0.merchantSKU.rawValue, maximumQuantity: $0.maximumQuantity)
            },
            checklist: .init(
                shippedOrder: report.checklist.shippedOrder?.rawValue,
                sellerCancellation: report.checklist.sellerCancellation?.rawValue,
                customerCancellation: report.checklist.customerCancellation?.rawValue,
                complete: report.checklist.isComplete,
                missing: report.checklist.missing
            ),
            handover: .init(
                openOrders: report.handover.openOrders.map(\.rawValue),
                items: report.handover.items,
                itemsNotAtZero: report.handover.itemsNotAtZero,
                clean: report.handover.isClean
            )
        )
    }
}
