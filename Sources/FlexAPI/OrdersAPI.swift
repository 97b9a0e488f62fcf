import FlexBridgeAPI
import FlexCore
import FlexStore
import Foundation
import OpenAPIRuntime

/// The orders part of the API: the orders FlexBridge mirrors from Amazon and the event feed.
extension APIHandler {
    public func listOrders(_ input: Operations.ListOrders.Input) async throws -> Operations.ListOrders.Output {
        let limit = input.query.limit ?? 100
        let within = try await listed(input.query.connectionId)
        if input.query.atRisk == true {
            let before = store.clock.now().addingTimeInterval(
                (input.query.atRiskHours ?? FulfilmentState.atRiskHours) * 3600
            )
            let orders = try await store.read { session in
                try await session.ordersAtRisk(
                    connectionID: nil,
                    within: within,
                    before: before,
                    limit: limit
                )
            }
            return .ok(.init(body: .json(.init(orders: orders.map(Self.schema)))))
        }
        let orders = try await store.read { session in
            try await session.orders(
                connectionID: nil,
                within: within,
                source: input.query.source.flatMap { OrderSource(rawValue: $0.rawValue) },
                status: input.query.status?.uppercased(),
                state: input.query.state.flatMap { FulfilmentState(rawValue: $0.rawValue) },
                locationID: input.query.locationId.map(LocationID.init(rawValue:)),
                inManifest: input.query.inManifest,
                after: input.query.after,
                limit: limit + 1
            )
        }
        let page = Array(orders.prefix(limit))
        return .ok(
            .init(
                body: .json(
                    .init(
                        orders: page.map(Self.schema),
                        next: orders.count > limit ? page.last?.shipmentID.rawValue : nil
                    )
                )
            )
        )
    }

    public func getOrder(_ input: Operations.GetOrder.Input) async throws -> Operations.GetOrder.Output {
        let principal = try caller()
        let personal = principal.may(.workOrders)
        let found = try await store.read {
            session -> (Order, [(status: String, amazonUpdatedAt: Date, source: String)], [ShipmentID], OrderSummary)?
            in
            guard let order = try await session.order(ShipmentID(rawValue: input.path.shipmentId)),
                try await Self.sees(order.connectionID, principal, in: session)
            else { return nil }
            let settings = try await session.connection(order.connectionID)?.settings ?? ConnectionSettings()
            var warehouseSKUs: [MerchantSKU: WarehouseSKU] = [:]
            if settings.productCode == .wmsSku {
                let skus = OrderSummary(order, settings: settings, includeRecipient: false).lines
                    .compactMap(\.merchantSKU).map(MerchantSKU.init(rawValue:))
                warehouseSKUs = try await session.warehouseSKUs(
                    connectionID: order.connectionID,
                    marketplaceID: order.marketplaceID,
                    merchantSKUs: skus
                )
            }
            return (
                order, try await session.orderHistory(order.shipmentID, connectionID: order.connectionID),
                try await session.replacements(of: order.shipmentID, connectionID: order.connectionID),
                OrderSummary(order, settings: settings, warehouseSKUs: warehouseSKUs, includeRecipient: personal)
            )
        }
        guard let (order, history, replacements, summary) = found else {
            return .notFound(
                .init(
                    body: .json(
                        .init(
                            error: .init(
                                code: ProblemCode.notFound.rawValue,
                                message: "No order with shipment id \(input.path.shipmentId)."
                            )
                        )
                    )
                )
            )
        }
        return .ok(
            .init(
                body: .json(
                    .init(
                        order: Self.schema(order),
                        replacements: replacements.map(\.rawValue),
                        shipment: order.source == .mfn && !personal
                            ? OrderSummary.withoutPersonalData(order.shipment) : order.shipment,
                        history: history.map {
                            .init(status: $0.status, amazonUpdatedAt: $0.amazonUpdatedAt, source: $0.source)
                        },
                        lines: summary.lines.map {
                            .init(
                                lineItemId: $0.lineItemID,
                                merchantSku: $0.merchantSKU,
                                asin: $0.asin,
                                title: $0.title,
                                productCode: $0.productCode,
                                quantity: $0.quantity,
                                quantityShipped: $0.quantityShipped,
                                quantityLeft: $0.quantityLeft
                            )
                        },
                        serviceLevel: summary.serviceLevel,
                        shipBy: summary.shipBy,
                        deliverBy: summary.deliverBy,
                        shipMethod: summary.shipMethod.map(Self.schema),
                        serviceLevelUnmapped: order.source == .mfn ? summary.serviceLevelUnmapped : nil,
                        recipient: summary.recipient.map { .init(additionalProperties: $0) }
                    )
                )
            )
        )
    }

    public func listEvents(_ input: Operations.ListEvents.Input) async throws -> Operations.ListEvents.Output {
        let principal = try caller()
        let within = principal.scope == .all ? nil : try await visibleConnections()
        let events = try await store.read {
            try await $0.events(
                after: input.query.after ?? 0,
                account: principal.account,
                within: within,
                limit: input.query.limit ?? 100
            )
        }
        return .ok(
            .init(
                body: .json(
                    .init(
                        events: events.map {
                            .init(
                                sequence: $0.sequence,
                                id: $0.id.uuidString.lowercased(),
                                _type: $0.type,
                                connectionId: $0.connectionID?.rawValue,
                                subject: $0.subject,
                                data: Self.object($0.payload) ?? .init(),
                                createdAt: $0.createdAt
                            )
                        }
                    )
                )
            )
        )
    }

    /// A JSON object stored as text (an event's data, a command's result), as the object it is.
    static func object<Object: Decodable>(_ text: String, as type: Object.Type = Object.self) -> Object? {
        try? JSONDecoder().decode(type, from: Data(text.utf8))
    }

    static func schema(_ order: Order) -> Components.Schemas.Order {
        .init(
            shipmentId: order.shipmentID.rawValue,
            connectionId: order.connectionID.rawValue,
            locationId: order.locationID.rawValue,
            marketplaceId: order.marketplaceID.rawValue,
            channel: order.channel,
            program: .init(rawValue: order.program.rawValue)!,
            source: .init(rawValue: order.source.rawValue)!,
            shipmentType: order.shipmentType,
            originalShipmentId: order.originalShipmentID?.rawValue,
            status: order.status,
            amazonCreatedAt: order.amazonCreatedAt,
            amazonUpdatedAt: order.amazonUpdatedAt,
            expectedShipAt: order.expectedShipAt,
            firstSeenAt: order.firstSeenAt,
            updatedAt: order.updatedAt,
            state: .init(rawValue: order.state.rawValue)!,
            error: order.error.map {
                .init(code: $0.code, message: $0.message, at: $0.at, commandId: $0.commandID?.rawValue)
            },
            manifestId: order.manifestID?.rawValue
        )
    }
}
