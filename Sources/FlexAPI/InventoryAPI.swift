import FlexBridgeAPI
import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import OpenAPIRuntime

/// The inventory part of the API: settings, hub mappings, listings, stock in and stock status. It records intent
/// only; FlexEngine's inventory workers talk to Amazon.
extension APIHandler {
    /// The largest CSV body taken: 100,000 rows with room to spare.
    static let maximumCSVBytes = 64 << 20

    public func getSettings(_ input: Operations.GetSettings.Input) async throws -> Operations.GetSettings.Output {
        guard let (connection, _) = try await load(input.path.connectionId) else {
            return .notFound(Self.notFound(input.path.connectionId))
        }
        return .ok(.init(body: .json(Self.schema(connection.settings))))
    }

    public func putSettings(_ input: Operations.PutSettings.Input) async throws -> Operations.PutSettings.Output {
        guard case .json(let body) = input.body else {
            return .badRequest(Self.problem(.invalidInput, "A JSON body is required."))
        }
        let defaults = ConnectionSettings()
        let new = ConnectionSettings(
            inventorySyncEnabled: body.inventorySyncEnabled ?? defaults.inventorySyncEnabled,
            orderSyncEnabled: body.orderSyncEnabled ?? defaults.orderSyncEnabled,
            autoConfirm: body.autoConfirm ?? defaults.autoConfirm,
            safetyStock: body.safetyStock ?? defaults.safetyStock,
            quantityCap: body.quantityCap,
            hubSafetyStock: body.hubSafetyStock?.additionalProperties ?? [:],
            skuSafetyStock: body.skuSafetyStock?.additionalProperties ?? [:],
            sendZeroForAll: body.sendZeroForAll ?? defaults.sendZeroForAll,
            reconciliationIntervalMinutes: body.reconciliationIntervalMinutes ?? defaults.reconciliationIntervalMinutes,
            mfnOrderSyncEnabled: body.mfnOrderSyncEnabled ?? defaults.mfnOrderSyncEnabled,
            mfnMarketplaceIds: body.mfnMarketplaceIds?.map(MarketplaceID.init(rawValue:)),
            mfnEarliestOrderDate: body.mfnEarliestOrderDate,
            productCode: body.productCode.flatMap { .init(rawValue: $0.rawValue) } ?? defaults.productCode,
            shipMethods: (body.shipMethods ?? []).map {
                ShipMethodMapping(
                    marketplaceId: $0.marketplaceId.map(MarketplaceID.init(rawValue:)),
                    serviceLevel: $0.serviceLevel,
                    wmsCarrier: $0.wmsCarrier,
                    wmsMethod: $0.wmsMethod,
                    carrierCode: $0.carrierCode,
                    carrierName: $0.carrierName,
                    shippingMethod: $0.shippingMethod
                )
            },
            mfnStockHubs: (body.mfnStockHubs ?? []).map(HubCode.init(rawValue:)),
            mfnHandlingTime: body.mfnHandlingTime,
            fbaStockSyncEnabled: body.fbaStockSyncEnabled ?? defaults.fbaStockSyncEnabled,
            fbaInboundSyncEnabled: body.fbaInboundSyncEnabled ?? defaults.fbaInboundSyncEnabled,
            stockOrderType: body.stockOrderType.flatMap { .init(rawValue: $0.rawValue) } ?? defaults.stockOrderType,
            stockOrderTypeByMarketplace: Dictionary(
                (body.stockOrderTypeByMarketplace?.additionalProperties ?? [:]).compactMap { key, value in
                    StockOrderTypeSetting(rawValue: value.rawValue).map { (MarketplaceID(rawValue: key), $0) }
                },
                uniquingKeysWith: { first, _ in first }
            ),
            transferSourceWarehouse: body.transferSourceWarehouse,
            ignoreUnreceivedAfterDays: body.ignoreUnreceivedAfterDays,
            inboundPlacement: body.inboundPlacement.flatMap { .init(rawValue: $0.rawValue) }
                ?? defaults.inboundPlacement,
            inboundTransportation: body.inboundTransportation.flatMap { .init(rawValue: $0.rawValue) }
                ?? defaults.inboundTransportation,
            partneredCarrierFees: body.partneredCarrierFees ?? defaults.partneredCarrierFees,
            pickUpDelayDays: body.pickUpDelayDays
        )
        let id = ConnectionID(rawValue: input.path.connectionId)
        do {
            guard let settings = try await connections.updateSettings(of: id, to: new, by: try caller()) else {
                return .notFound(Self.notFound(input.path.connectionId))
            }
            return .ok(.init(body: .json(Self.schema(settings))))
        } catch let error as ValidationError {
            return .badRequest(Self.problem(.invalidInput, error.reason, field: error.field))
        } catch let error as StoreError where error.code == .notFound {
            return .notFound(Self.notFound(input.path.connectionId))
        }
    }

    public func listConfigChanges(
        _ input: Operations.ListConfigChanges.Input
    ) async throws -> Operations.ListConfigChanges.Output {
        let changes = try await connections.changes(
            of: ConnectionID(rawValue: input.path.connectionId),
            limit: input.query.limit ?? 100,
            by: try caller()
        )
        guard let changes else { return .notFound(Self.notFound(input.path.connectionId)) }
        return .ok(
            .init(
                body: .json(
                    .init(
                        changes: changes.map {
                            .init(
                                id: $0.id,
                                setting: $0.setting,
                                oldValue: $0.oldValue,
                                newValue: $0.newValue,
                                actor: $0.actor,
                                changedAt: $0.changedAt
                            )
                        }
                    )
                )
            )
        )
    }

    public func listHubMappings(
        _ input: Operations.ListHubMappings.Input
    ) async throws -> Operations.ListHubMappings.Output {
        let mappings = try await connections.mappings(
            of: ConnectionID(rawValue: input.path.connectionId),
            by: try caller()
        )
        guard let mappings else { return .notFound(Self.notFound(input.path.connectionId)) }
        return .ok(.init(body: .json(.init(hubs: mappings.map(Self.schema)))))
    }

    public func putHubMapping(_ input: Operations.PutHubMapping.Input) async throws -> Operations.PutHubMapping.Output {
        guard case .json(let body) = input.body else {
            return .badRequest(Self.problem(.invalidInput, "A JSON body is required."))
        }
        let id = ConnectionID(rawValue: input.path.connectionId)
        let mapping = LocationMapping(
            connectionID: id,
            hub: HubCode(rawValue: body.hub.trimmingCharacters(in: .whitespaces)),
            locationID: LocationID(rawValue: body.locationId.trimmingCharacters(in: .whitespaces)),
            channel: ChannelName(rawValue: body.channel.rawValue)!,
            createdAt: store.clock.now()
        )
        do {
            guard try await connections.setMapping(mapping, by: try caller()) else {
                return .notFound(Self.notFound(input.path.connectionId))
            }
            return .ok(.init(body: .json(Self.schema(mapping))))
        } catch let error as ValidationError {
            return .badRequest(Self.problem(.invalidInput, error.reason, field: error.field))
        } catch let error as StoreError where error.code == .notFound {
            return .notFound(Self.notFound(input.path.connectionId))
        }
    }

    public func deleteHubMapping(
        _ input: Operations.DeleteHubMapping.Input
    ) async throws -> Operations.DeleteHubMapping.Output {
        let id = ConnectionID(rawValue: input.path.connectionId)
        let channel = input.query.channel.flatMap { ChannelName(rawValue: $0.rawValue) }
        do {
            guard
                let (removed, retiring) = try await connections.removeMapping(
                    of: id,
                    hub: HubCode(rawValue: input.path.hub),
                    channel: channel,
                    by: try caller()
                )
            else { return .notFound(Self.notFound(input.path.connectionId)) }
            return .ok(.init(body: .json(.init(removed: removed.map(Self.schema), retiringItems: retiring))))
        } catch let error as StoreError where error.code == .notFound {
            return .notFound(.init(body: .json(Self.problemBody(.notFound, error.message))))
        }
    }

    public func deleteListing(_ input: Operations.DeleteListing.Input) async throws -> Operations.DeleteListing.Output {
        let id = ConnectionID(rawValue: input.path.connectionId)
        do {
            guard
                let (removed, retiring) = try await connections.removeListing(
                    of: id,
                    merchantSKU: MerchantSKU(rawValue: input.path.merchantSku),
                    marketplaceID: input.query.marketplaceId.map(MarketplaceID.init(rawValue:)),
                    by: try caller()
                )
            else { return .notFound(Self.notFound(input.path.connectionId)) }
            return .ok(.init(body: .json(.init(removed: removed, retiringItems: retiring))))
        } catch let error as StoreError where error.code == .notFound {
            return .notFound(.init(body: .json(Self.problemBody(.notFound, error.message))))
        }
    }

    public func importListings(
        _ input: Operations.ImportListings.Input
    ) async throws -> Operations.ImportListings.Output {
        let id = ConnectionID(rawValue: input.path.connectionId)
        guard let (connection, _) = try await load(input.path.connectionId) else {
            return .notFound(Self.notFound(input.path.connectionId))
        }
        let listings: [Listing]
        switch input.body {
        case .json(let body):
            let table = body.listings.map { listing in
                [
                    listing.clientSkuId, listing.channelSerialNo, listing.channelSkuId ?? "", listing.marketplace ?? "",
                    listing.fulfilledBy?.rawValue ?? "",
                ]
            }
            do {
                listings = try CSVTable(
                    columns: ["clientSkuId", "channelSerialNo", "channelSkuId", "marketplace", "fulfilledBy"],
                    rows: table
                )
                .listings(for: connection)
            } catch {
                return .badRequest(Self.problem(.invalidInput, Self.describe(error, itemsName: "listings")))
            }
        case .csv(let body):
            do {
                listings = try CSVTable(utf8: try await [UInt8](collecting: body, upTo: Self.maximumCSVBytes)).listings(
                    for: connection
                )
            } catch let error as CSVError {
                return .badRequest(Self.problem(.invalidInput, CSVErrors([error]).description))
            } catch let error as CSVErrors {
                return .badRequest(Self.problem(.invalidInput, error.description))
            }
        }
        let result = try await inventory.importListings(listings, connectionID: id)
        return .ok(
            .init(
                body: .json(.init(imported: result.imported, total: result.total, awaitingSku: result.awaitingSKU))
            )
        )
    }

    public func resyncInventory(
        _ input: Operations.ResyncInventory.Input
    ) async throws -> Operations.ResyncInventory.Output {
        let id = ConnectionID(rawValue: input.path.connectionId)
        guard try await load(input.path.connectionId) != nil else {
            return .notFound(Self.notFound(input.path.connectionId))
        }
        let items = try await inventory.resync(connectionID: id, actor: try caller().actor)
        return .accepted(.init(body: .json(.init(items: items))))
    }

    public func importSequenceNumbers(
        _ input: Operations.ImportSequenceNumbers.Input
    ) async throws -> Operations.ImportSequenceNumbers.Output {
        let id = ConnectionID(rawValue: input.path.connectionId)
        guard try await load(input.path.connectionId) != nil else {
            return .notFound(Self.notFound(input.path.connectionId))
        }
        let floors: [(InventoryKey, Int64)]
        do {
            switch input.body {
            case .json(let body):
                floors = try CSVTable(
                    columns: ["locationId", "sku", "channel", "sequenceNumber"],
                    rows: body.items.map { [$0.locationId, $0.sku, $0.channel.rawValue, String($0.sequenceNumber)] }
                ).sequenceNumbers(for: id)
            case .csv(let body):
                floors = try CSVTable(utf8: try await [UInt8](collecting: body, upTo: Self.maximumCSVBytes))
                    .sequenceNumbers(for: id)
            }
        } catch let error as CSVError {
            return .badRequest(Self.problem(.invalidInput, CSVErrors([error]).description))
        } catch let error as CSVErrors {
            let message =
                if case .json = input.body { Self.describe(error, itemsName: "items") } else { error.description }
            return .badRequest(Self.problem(.invalidInput, message))
        }
        let imported = try await inventory.importSequenceNumbers(floors, connectionID: id, actor: try caller().actor)
        return .ok(.init(body: .json(.init(imported: imported))))
    }

    public func putStock(_ input: Operations.PutStock.Input) async throws -> Operations.PutStock.Output {
        let levels: [StockLevel]
        switch input.body {
        case .json(let body):
            levels = body.items.map {
                StockLevel(
                    hub: HubCode(rawValue: $0.hub),
                    warehouseSKU: WarehouseSKU(rawValue: $0.sku),
                    quantity: $0.quantity
                )
            }
        case .csv(let body):
            do {
                levels = try CSVTable(utf8: try await [UInt8](collecting: body, upTo: Self.maximumCSVBytes))
                    .stockLevels()
            } catch let error as CSVError {
                return .badRequest(Self.problem(.invalidInput, CSVErrors([error]).description))
            } catch let error as CSVErrors {
                return .badRequest(Self.problem(.invalidInput, error.description))
            }
        }
        do {
            let write = try await inventory.recordStock(levels, account: try caller().account)
            return .accepted(
                .init(
                    body: .json(
                        .init(
                            received: levels.count,
                            changedLevels: write.changedLevels,
                            changedItems: write.changedItems,
                            unmappedHubs: write.unmappedHubs.isEmpty ? nil : write.unmappedHubs.map(\.rawValue)
                        )
                    )
                )
            )
        } catch let error as ValidationError {
            return .badRequest(Self.problem(.invalidInput, error.reason, field: error.field))
        }
    }

    public func listInventoryItems(
        _ input: Operations.ListInventoryItems.Input
    ) async throws -> Operations.ListInventoryItems.Output {
        let query = input.query
        let filter = StoreSession.InventoryItemFilter(
            accountID: try caller().account,
            connectionID: query.connectionId.map(ConnectionID.init(rawValue:)),
            within: try await visibleConnections(),
            locationID: query.locationId.map(LocationID.init(rawValue:)),
            hub: query.hub.map(HubCode.init(rawValue:)),
            warehouseSKU: query.sku.map(WarehouseSKU.init(rawValue:)),
            status: query.status.flatMap { StoreSession.InventoryItemFilter.Status(rawValue: $0.rawValue) }
        )
        var after: InventoryKey?
        if let cursor = query.after {
            guard let key = Self.inventoryCursor(cursor) else {
                return .badRequest(Self.problem(.invalidInput, "is not a `next` this list gave", field: "after"))
            }
            after = key
        }
        let limit = query.limit ?? 100
        let (items, counts) = try await store.read { session in
            (
                try await session.inventoryItems(filter, after: after, limit: limit + 1),
                try await session.inventoryCounts(filter)
            )
        }
        let page = Array(items.prefix(limit))
        let next = items.count > limit ? page.last.map { Self.inventoryCursor(InventoryKey(item: $0)) } : nil
        return .ok(
            .init(
                body: .json(
                    .init(
                        items: page.map(Self.schema),
                        next: next,
                        counts: .init(total: counts.total, pending: counts.pending, failed: counts.failed)
                    )
                )
            )
        )
    }

    /// The opaque `next` of the inventory item list: the last key, as base64url JSON.
    static func inventoryCursor(_ key: InventoryKey) -> String {
        ((try? JSONEncoder().encode(key)) ?? Data()).base64URLEncodedString()
    }

    static func inventoryCursor(_ text: String) -> InventoryKey? {
        Data(base64URLEncoded: text).flatMap { try? JSONDecoder().decode(InventoryKey.self, from: $0) }
    }

    public func getStock(_ input: Operations.GetStock.Input) async throws -> Operations.GetStock.Output {
        let principal = try caller()
        var status = try await store.read { session in
            try await session.stockStatus(of: WarehouseSKU(rawValue: input.path.sku), account: principal.account)
        }
        status.items.removeAll { !principal.sees($0.connectionID) }
        guard !status.hubs.isEmpty || !status.items.isEmpty else {
            return .notFound(
                .init(
                    body: .json(
                        .init(
                            error: .init(
                                code: ProblemCode.notFound.rawValue,
                                message: "No stock recorded for SKU \(input.path.sku)."
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
                        sku: status.warehouseSKU.rawValue,
                        hubs: status.hubs.map {
                            .init(hub: $0.hub.rawValue, quantity: $0.quantity, updatedAt: $0.updatedAt)
                        },
                        locations: status.items.map(Self.schema)
                    )
                )
            )
        )
    }

    // MARK: Schemas

    static func schema(_ settings: ConnectionSettings) -> Components.Schemas.Settings {
        .init(
            inventorySyncEnabled: settings.inventorySyncEnabled,
            orderSyncEnabled: settings.orderSyncEnabled,
            autoConfirm: settings.autoConfirm,
            safetyStock: settings.safetyStock,
            quantityCap: settings.quantityCap,
            hubSafetyStock: .init(additionalProperties: settings.hubSafetyStock),
            skuSafetyStock: .init(additionalProperties: settings.skuSafetyStock),
            sendZeroForAll: settings.sendZeroForAll,
            reconciliationIntervalMinutes: settings.reconciliationIntervalMinutes,
            mfnOrderSyncEnabled: settings.mfnOrderSyncEnabled,
            mfnMarketplaceIds: settings.mfnMarketplaceIds?.map(\.rawValue),
            mfnEarliestOrderDate: settings.mfnEarliestOrderDate,
            productCode: .init(rawValue: settings.productCode.rawValue),
            shipMethods: settings.shipMethods.map(Self.schema),
            mfnStockHubs: settings.mfnStockHubs.map(\.rawValue),
            mfnHandlingTime: settings.mfnHandlingTime,
            fbaStockSyncEnabled: settings.fbaStockSyncEnabled,
            fbaInboundSyncEnabled: settings.fbaInboundSyncEnabled,
            stockOrderType: .init(rawValue: settings.stockOrderType.rawValue),
            stockOrderTypeByMarketplace: .init(
                additionalProperties: Dictionary(
                    settings.stockOrderTypeByMarketplace.compactMap { key, value in
                        Components.Schemas.StockOrderTypeSetting(rawValue: value.rawValue).map { (key.rawValue, $0) }
                    },
                    uniquingKeysWith: { first, _ in first }
                )
            ),
            transferSourceWarehouse: settings.transferSourceWarehouse,
            ignoreUnreceivedAfterDays: settings.ignoreUnreceivedAfterDays,
            inboundPlacement: .init(rawValue: settings.inboundPlacement.rawValue),
            inboundTransportation: .init(rawValue: settings.inboundTransportation.rawValue),
            partneredCarrierFees: settings.partneredCarrierFees,
            pickUpDelayDays: settings.pickUpDelayDays
        )
    }

    static func schema(_ row: ShipMethodMapping) -> Components.Schemas.ShipMethod {
        .init(
            marketplaceId: row.marketplaceId?.rawValue,
            serviceLevel: row.serviceLevel,
            wmsCarrier: row.wmsCarrier,
            wmsMethod: row.wmsMethod,
            carrierCode: row.carrierCode,
            carrierName: row.carrierName,
            shippingMethod: row.shippingMethod
        )
    }

    static func schema(_ mapping: LocationMapping) -> Components.Schemas.HubMapping {
        .init(
            hub: mapping.hub.rawValue,
            locationId: mapping.locationID.rawValue,
            channel: .init(rawValue: mapping.channel.rawValue)!
        )
    }

    static func schema(_ item: InventoryItemStatus) -> Components.Schemas.InventoryItem {
        .init(
            connectionId: item.connectionID.rawValue,
            locationId: item.locationID.rawValue,
            channel: .init(rawValue: item.channel.rawValue)!,
            marketplaceId: item.marketplaceID.rawValue,
            merchantSku: item.merchantSKU.rawValue,
            hub: item.hub.rawValue,
            desiredQuantity: item.desiredQuantity,
            changedAt: item.changedAt,
            quantityToSend: item.quantityToSend,
            pending: item.pending,
            retiring: item.retiring ? true : nil,
            lastSent: zip3(item.lastSentQuantity, item.lastSequenceNumber, item.lastSentAt).map {
                .init(quantity: $0, sequenceNumber: $1, at: $2)
            },
            amazon: zip3(item.amazonSellableQuantity, item.amazonReservedQuantity, item.amazonReportedAt).map {
                .init(
                    sellableQuantity: $0,
                    reservedQuantity: $1,
                    sequenceNumber: item.amazonSequenceNumber,
                    reportedAt: $2
                )
            },
            lastError: item.lastError.map {
                .init(code: $0.code, message: $0.message, actionable: $0.actionable, at: $0.at)
            }
        )
    }

    /// A JSON item list's errors, with CSV lines turned into item indices (`listings[3].channelSerialNo`).
    static func describe(_ errors: CSVErrors, itemsName: String) -> String {
        let shown = errors.errors.prefix(20).map { error in
            "\(itemsName)[\(error.line - 2)]\(error.columnName.map { ".\($0)" } ?? ""): \(error.reason)"
        }
        let more = errors.errors.count > 20 ? "; … and \(errors.errors.count - 20) more" : ""
        return "\(errors.errors.count) bad item\(errors.errors.count == 1 ? "" : "s"); nothing was imported: "
            + shown.joined(separator: "; ") + more
    }
}

private func zip3<A, B, C>(_ a: A?, _ b: B?, _ c: C?) -> (A, B, C)? {
    guard let a, let b, let c else { return nil }
    return (a, b, c)
}
