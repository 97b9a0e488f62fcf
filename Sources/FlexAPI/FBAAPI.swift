import FlexBridgeAPI
import FlexCore
import FlexStore
import Foundation
import OpenAPIRuntime

/// Amazon's side of a connection as warehouses: FBA per marketplace, FBM for the region.
extension APIHandler {
    public func listAmazonWarehouses(
        _ input: Operations.ListAmazonWarehouses.Input
    ) async throws -> Operations.ListAmazonWarehouses.Output {
        guard let connection = try await visible(ConnectionID(rawValue: input.path.connectionId)) else {
            return .notFound(Self.notFound(input.path.connectionId))
        }
        let totals = try await store.read { try await $0.fbaStockTotals(connectionID: connection.id) }
        return .ok(
            .init(
                body: .json(
                    .init(
                        items: AmazonWarehouse.of(connection).map { warehouse in
                            let counts = warehouse.marketplaceID.flatMap { totals[$0] } ?? (0, 0, 0)
                            return .init(
                                id: warehouse.id,
                                kind: .init(rawValue: warehouse.kind.rawValue) ?? .fba,
                                name: warehouse.name,
                                marketplaceId: warehouse.marketplaceID?.rawValue,
                                skus: warehouse.kind == .fba ? counts.0 : nil,
                                fulfillable: warehouse.kind == .fba ? counts.1 : nil,
                                total: warehouse.kind == .fba ? counts.2 : nil,
                                hubs: warehouse.kind == .fbm ? connection.settings.mfnStockHubs.map(\.rawValue) : nil
                            )
                        }
                    )
                )
            )
        )
    }

    public func listFbaStock(_ input: Operations.ListFbaStock.Input) async throws -> Operations.ListFbaStock.Output {
        guard let connection = try await visible(ConnectionID(rawValue: input.path.connectionId)) else {
            return .notFound(Self.notFound(input.path.connectionId))
        }
        let warehouse = AmazonWarehouse.of(connection).first { $0.id == input.path.warehouseId }
        if warehouse?.kind == .fbm {
            return try await fbmStock(connection, after: input.query.after, limit: input.query.limit ?? 100)
        }
        guard let warehouse, let marketplace = warehouse.marketplaceID else {
            return .notFound(
                .init(
                    body: .json(
                        Self.problemBody(
                            .notFound,
                            "Warehouse \(input.path.warehouseId) is not a warehouse of connection \(connection.id)"
                        )
                    )
                )
            )
        }
        let limit = input.query.limit ?? 100
        let stock = try await store.read { session in
            try await session.fbaStock(
                connectionID: connection.id,
                marketplaceID: marketplace,
                after: input.query.after.map(MerchantSKU.init(rawValue:)),
                limit: limit + 1
            )
        }
        let page = stock.prefix(limit)
        return .ok(
            .init(
                body: .json(
                    .init(
                        items: page.map { entry in
                            let stock = entry.stock
                            return .init(
                                merchantSku: stock.sku.rawValue,
                                warehouseSkus: entry.warehouseSKUs.map(\.rawValue),
                                asin: stock.asin,
                                fnSku: stock.fnSku,
                                productName: stock.productName,
                                fulfillable: stock.fulfillable,
                                inboundWorking: stock.inboundWorking,
                                inboundShipped: stock.inboundShipped,
                                inboundReceiving: stock.inboundReceiving,
                                reserved: stock.reserved,
                                researching: stock.researching,
                                unfulfillable: stock.unfulfillable,
                                total: stock.total,
                                amazonUpdatedAt: stock.updatedAt,
                                changedAt: entry.changedAt
                            )
                        },
                        next: stock.count > limit ? page.last?.stock.sku.rawValue : nil
                    )
                )
            )
        )
    }
}

extension APIHandler {
    /// The FBM warehouse's stock: the MFN hubs' units per WMS SKU and what each MFN listing was last sent.
    func fbmStock(_ connection: Connection, after: String?, limit: Int) async throws -> Operations.ListFbaStock.Output {
        let stock = try await store.read { session in
            try await session.fbmStock(
                connection: connection,
                after: after.map(WarehouseSKU.init(rawValue:)),
                limit: limit + 1
            )
        }
        let page = stock.prefix(limit)
        return .ok(
            .init(
                body: .json(
                    .init(
                        items: [],
                        hubStock: page.map { entry in
                            .init(
                                sku: entry.sku.rawValue,
                                hubs: .init(
                                    additionalProperties: Dictionary(
                                        uniqueKeysWithValues: entry.hubs.map { ($0.key.rawValue, $0.value) }
                                    )
                                ),
                                total: entry.total,
                                listings: entry.listings.map {
                                    .init(
                                        merchantSku: $0.merchantSKU.rawValue,
                                        marketplaceId: $0.marketplaceID.rawValue,
                                        sentQuantity: $0.sentQuantity,
                                        sentAt: $0.sentAt
                                    )
                                }
                            )
                        },
                        next: stock.count > limit ? page.last?.sku.rawValue : nil
                    )
                )
            )
        )
    }
}

/// Inbound shipments to Amazon as the WMS's stock orders.
extension APIHandler {
    public func listStockOrders(
        _ input: Operations.ListStockOrders.Input
    ) async throws -> Operations.ListStockOrders.Output {
        let connections = try await listed(input.query.connectionId)
        var after: (updatedAt: Date, shipmentID: String)?
        if let cursor = input.query.after {
            guard let parts = Self.cursorParts(cursor, count: 2), let millis = Int64(parts[0]) else {
                return .badRequest(Self.problem(.invalidInput, "is not a `next` this list gave", field: "after"))
            }
            after = (Date(millisecondsSince1970: millis), parts[1])
        }
        let limit = input.query.limit ?? 100
        let orders = try await store.read { [connections] session in
            try await session.stockOrders(
                of: connections,
                state: input.query.state.flatMap { StockOrderState(rawValue: $0.rawValue) },
                after: after,
                limit: limit + 1
            )
        }
        let page = orders.prefix(limit)
        return .ok(
            .init(
                body: .json(
                    .init(
                        items: page.map(Self.schema),
                        next: orders.count > limit
                            ? page.last.map { Self.cursor(["\($0.updatedAt.millisecondsSince1970)", $0.shipmentID]) }
                            : nil
                    )
                )
            )
        )
    }

    public func getStockOrder(_ input: Operations.GetStockOrder.Input) async throws -> Operations.GetStockOrder.Output {
        for connection in try await visibleConnections() {
            if let order = try await store.read({
                try await $0.stockOrder(connectionID: connection, shipmentID: input.path.shipmentId)
            }) {
                return .ok(.init(body: .json(Self.schema(order))))
            }
        }
        return .notFound(
            .init(body: .json(Self.problemBody(.notFound, "No stock order \(input.path.shipmentId)")))
        )
    }

    static func schema(_ order: StockOrder) -> Components.Schemas.StockOrder {
        .init(
            shipmentId: order.shipmentID,
            connectionId: order.connectionID.rawValue,
            name: order.name,
            marketplaceId: order.marketplaceID.rawValue,
            _type: .init(rawValue: order.type.rawValue) ?? .purchase,
            sourceWarehouse: order.sourceWarehouse,
            destinationWarehouse: order.destinationWarehouse,
            fulfillmentCenter: order.fulfillmentCenter,
            amazonStatus: order.amazonStatus,
            state: .init(rawValue: order.state.rawValue) ?? .open,
            expectedAt: order.expectedAt,
            inboundPlanId: order.inboundPlanID,
            carrierFees: schema(order.carrierFees),
            unitsShipped: order.unitsShipped,
            unitsReceived: order.unitsReceived,
            lines: order.lines.map {
                .init(
                    merchantSku: $0.merchantSKU.rawValue,
                    warehouseSkus: $0.warehouseSKUs.map(\.rawValue),
                    shipped: $0.shipped,
                    received: $0.received
                )
            },
            createdAt: order.createdAt,
            updatedAt: order.updatedAt
        )
    }
}
