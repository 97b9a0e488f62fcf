import Algorithms
import FlexCore
import Foundation
import SQLKit

extension StoreSession {
    /// Maps a hub to a location for one channel, replacing the hub's earlier location for that channel, and logs
    /// the change.
    public func setLocationMapping(_ mapping: LocationMapping, actor: String) async throws {
        try mapping.validate()
        guard try await connection(mapping.connectionID) != nil else {
            throw StoreError.notFound("Connection \(mapping.connectionID)")
        }
        notes.noteInventoryChanged(mapping.connectionID)
        let previous = try await locationMappings(for: mapping.connectionID)
            .first { $0.hub == mapping.hub && $0.channel == mapping.channel }
        try await sql.raw(
            """
            INSERT INTO location_mappings (connection_id, hub, location_id, channel, created_at)
            VALUES (\(bind: mapping.connectionID.rawValue), \(bind: mapping.hub.rawValue), \(bind: mapping.locationID.rawValue),
                \(bind: mapping.channel.rawValue), \(bind: mapping.createdAt.millisecondsSince1970))
            ON CONFLICT (connection_id, hub, channel) DO UPDATE SET location_id = excluded.location_id
            """
        ).run()
        if let previous, previous.locationID != mapping.locationID {
            // The hub now feeds another location: what it offered at the old one is withdrawn there.
            _ = try await retireInventoryItems(
                connectionID: mapping.connectionID,
                where:
                    "hub = \(bind: mapping.hub.rawValue) AND location_id = \(bind: previous.locationID.rawValue) AND channel = \(bind: mapping.channel.rawValue)"
            )
        }
        try await refreshInventoryItems(connectionID: mapping.connectionID)
        if previous?.locationID != mapping.locationID {
            try await recordChanges(
                [
                    SettingChange(
                        setting: "locationMapping.\(mapping.hub).\(mapping.channel.rawValue)",
                        oldValue: previous.map { "\"\($0.locationID)\"" },
                        newValue: "\"\(mapping.locationID)\""
                    )
                ],
                connectionID: mapping.connectionID,
                actor: actor
            )
        }
    }

    /// The connection's hub mappings, by hub then channel.
    public func locationMappings(for connectionID: ConnectionID) async throws -> [LocationMapping] {
        try await sql.raw(
            "SELECT * FROM location_mappings WHERE connection_id = \(bind: connectionID.rawValue) ORDER BY hub, channel"
        ).all().map { row in
            let channelName = try row.decode(column: "channel", as: String.self)
            guard let channel = ChannelName(rawValue: channelName) else {
                throw StoreError(
                    code: .invalidInput,
                    message: "A stored location mapping has an unknown channel \(channelName)."
                )
            }
            return LocationMapping(
                connectionID: connectionID,
                hub: HubCode(rawValue: try row.decode(column: "hub", as: String.self)),
                locationID: LocationID(rawValue: try row.decode(column: "location_id", as: String.self)),
                channel: channel,
                createdAt: Date(millisecondsSince1970: try row.decode(column: "created_at", as: Int64.self))
            )
        }
    }

    /// Inserts or replaces listings, keyed by connection, marketplace and merchant SKU, then makes the stock already
    /// recorded for them pending (unless `refreshInventory` is false: the caller does it once after many chunks).
    /// Validates every listing first: one bad listing refuses them all.
    public func upsertListings(
        _ listings: [Listing],
        refreshInventory: Bool = true,
        keepingASINListings: Bool = false
    ) async throws {
        for listing in listings { try listing.validate() }
        if !keepingASINListings { try await dropASINListings(namedBy: listings) }
        notes.note(.inventory, for: Set(listings.map(\.connectionID)))
        for chunk in listings.chunks(ofCount: 500) {
            let insert = sql.insert(into: "listings")
                .columns(
                    "connection_id",
                    "marketplace_id",
                    "merchant_sku",
                    "warehouse_sku",
                    "asin",
                    "updated_at",
                    "fulfilled_by"
                )
            for listing in chunk {
                insert.values(
                    SQLBind(listing.connectionID.rawValue),
                    SQLBind(listing.marketplaceID.rawValue),
                    SQLBind(listing.merchantSKU.rawValue),
                    SQLBind(listing.warehouseSKU.rawValue),
                    SQLBind(listing.asin.rawValue),
                    SQLBind(listing.updatedAt.millisecondsSince1970),
                    SQLBind(listing.fulfilledBy.rawValue)
                )
            }
            insert.onConflict(with: ["connection_id", "marketplace_id", "merchant_sku"]) { update in
                update.set(excludedValueOf: "warehouse_sku").set(excludedValueOf: "asin")
                    .set(excludedValueOf: "updated_at").set(excludedValueOf: "fulfilled_by")
            }
            try await insert.run()
        }
        guard refreshInventory else { return }
        for connectionID in Set(listings.map(\.connectionID)).sorted(by: { $0.rawValue < $1.rawValue }) {
            try await refreshInventoryItems(connectionID: connectionID)
        }
    }

    /// Removes the hub's mappings (of one channel, or all): stock of the hub no longer reaches those locations, and
    /// what it offered there is withdrawn (its items are sent 0, then removed). Returns the removed mappings and how
    /// many items will be sent 0; throws not found when the hub has no such mapping.
    public func removeLocationMapping(
        connectionID: ConnectionID,
        hub: HubCode,
        channel: ChannelName?,
        actor: String
    ) async throws -> (removed: [LocationMapping], retiringItems: Int) {
        var query: SQLQueryString =
            "DELETE FROM location_mappings WHERE connection_id = \(bind: connectionID.rawValue) AND hub = \(bind: hub.rawValue)"
        if let channel { query += " AND channel = \(bind: channel.rawValue)" }
        query += " RETURNING location_id, channel, created_at"
        let removed = try await sql.raw(query).all().map { row in
            LocationMapping(
                connectionID: connectionID,
                hub: hub,
                locationID: LocationID(rawValue: try row.decode(column: "location_id", as: String.self)),
                channel: ChannelName(rawValue: try row.decode(column: "channel", as: String.self)) ?? .mfn,
                createdAt: Date(millisecondsSince1970: try row.decode(column: "created_at", as: Int64.self))
            )
        }.sorted { $0.channel.rawValue < $1.channel.rawValue }
        guard !removed.isEmpty else {
            throw StoreError.notFound(
                "A mapping of hub \(hub)\(channel.map { " for channel \($0.rawValue)" } ?? "") on connection \(connectionID)"
            )
        }
        var retiring = 0
        for mapping in removed {
            retiring += try await retireInventoryItems(
                connectionID: connectionID,
                where:
                    "hub = \(bind: hub.rawValue) AND location_id = \(bind: mapping.locationID.rawValue) AND channel = \(bind: mapping.channel.rawValue)"
            )
        }
        try await recordChanges(
            removed.map {
                SettingChange(
                    setting: "locationMapping.\($0.hub).\($0.channel.rawValue)",
                    oldValue: "\"\($0.locationID)\"",
                    newValue: nil
                )
            },
            connectionID: connectionID,
            actor: actor
        )
        return (removed, retiring)
    }

    /// Removes a merchant SKU's listings (in one marketplace, or all): the SKU's stock is no longer sent, and what
    /// Amazon offers of it is withdrawn (its items are sent 0, then removed). Returns how many listings went and how
    /// many items will be sent 0; throws not found when there is no such listing.
    public func removeListing(
        connectionID: ConnectionID,
        merchantSKU: MerchantSKU,
        marketplaceID: MarketplaceID?,
        actor: String
    ) async throws -> (removed: Int, retiringItems: Int) {
        var query: SQLQueryString =
            "DELETE FROM listings WHERE connection_id = \(bind: connectionID.rawValue) AND merchant_sku = \(bind: merchantSKU.rawValue)"
        if let marketplaceID { query += " AND marketplace_id = \(bind: marketplaceID.rawValue)" }
        query += " RETURNING marketplace_id"
        let marketplaces = try await sql.raw(query).all().map {
            try $0.decode(column: "marketplace_id", as: String.self)
        }.sorted()
        guard !marketplaces.isEmpty else {
            throw StoreError.notFound(
                "A listing of merchant SKU \(merchantSKU)\(marketplaceID.map { " in marketplace \($0)" } ?? "") on connection \(connectionID)"
            )
        }
        var retiring = 0
        for marketplace in marketplaces {
            retiring += try await retireInventoryItems(
                connectionID: connectionID,
                where: "merchant_sku = \(bind: merchantSKU.rawValue) AND marketplace_id = \(bind: marketplace)"
            )
        }
        try await recordChanges(
            marketplaces.map {
                SettingChange(setting: "listing.\($0).\(merchantSKU)", oldValue: "\"listed\"", newValue: nil)
            },
            connectionID: connectionID,
            actor: actor
        )
        return (marketplaces.count, retiring)
    }

    /// How many listings the connection has.
    public func listingCount(for connectionID: ConnectionID) async throws -> Int {
        let row = try await sql.raw(
            "SELECT COUNT(*) AS n FROM listings WHERE connection_id = \(bind: connectionID.rawValue)"
        ).first()
        return Int(try row?.decode(column: "n", as: Int64.self) ?? 0)
    }

    /// The listings that carry the WMS's SKU, in every marketplace of the connection.
    public func listings(for connectionID: ConnectionID, warehouseSKU: WarehouseSKU) async throws -> [Listing] {
        try await sql.raw(
            """
            SELECT * FROM listings WHERE connection_id = \(bind: connectionID.rawValue)
                AND warehouse_sku = \(bind: warehouseSKU.rawValue) ORDER BY marketplace_id, merchant_sku
            """
        ).all().map { row in
            Listing(
                connectionID: connectionID,
                marketplaceID: MarketplaceID(rawValue: try row.decode(column: "marketplace_id", as: String.self)),
                warehouseSKU: WarehouseSKU(rawValue: try row.decode(column: "warehouse_sku", as: String.self)),
                merchantSKU: MerchantSKU(rawValue: try row.decode(column: "merchant_sku", as: String.self)),
                asin: ASIN(rawValue: try row.decode(column: "asin", as: String.self)),
                updatedAt: Date(millisecondsSince1970: try row.decode(column: "updated_at", as: Int64.self)),
                fulfilledBy: Listing.FulfilledBy(rawValue: try row.decode(column: "fulfilled_by", as: String.self))
                    ?? .amazon
            )
        }
    }
}

extension StoreSession {
    /// The WMS's SKU of each merchant SKU the connection lists in the marketplace (merchant SKUs it does not list
    /// are absent).
    public func warehouseSKUs(
        connectionID: ConnectionID,
        marketplaceID: MarketplaceID,
        merchantSKUs: [MerchantSKU]
    ) async throws -> [MerchantSKU: WarehouseSKU] {
        guard !merchantSKUs.isEmpty else { return [:] }
        var found: [MerchantSKU: WarehouseSKU] = [:]
        for row in try await sql.raw(
            """
            SELECT merchant_sku, warehouse_sku FROM listings WHERE connection_id = \(bind: connectionID.rawValue)
                AND marketplace_id = \(bind: marketplaceID.rawValue)
                AND merchant_sku IN (\(binds: merchantSKUs.map(\.rawValue)))
            """
        ).all() {
            found[MerchantSKU(rawValue: try row.decode(column: "merchant_sku", as: String.self))] = WarehouseSKU(
                rawValue: try row.decode(column: "warehouse_sku", as: String.self)
            )
        }
        return found
    }
}
