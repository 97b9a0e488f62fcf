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
                throw StoreError(code: .invalidInput, message: "A stored location mapping has an unknown channel \(channelName).")
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
    public func upsertListings(_ listings: [Listing], refreshInventory: Bool = true) async throws {
        for listing in listings { try listing.validate() }
        for chunk in listings.chunks(ofCount: 500) {
            let insert = sql.insert(into: "listings")
                .columns("connection_id", "marketplace_id", "merchant_sku", "warehouse_sku", "asin", "updated_at")
            for listing in chunk {
                insert.values(
                    SQLBind(listing.connectionID.rawValue), SQLBind(listing.marketplaceID.rawValue),
                    SQLBind(listing.merchantSKU.rawValue), SQLBind(listing.warehouseSKU.rawValue), SQLBind(listing.asin.rawValue),
                    SQLBind(listing.updatedAt.millisecondsSince1970))
            }
            insert.onConflict(with: ["connection_id", "marketplace_id", "merchant_sku"]) { update in
                update.set(excludedValueOf: "warehouse_sku").set(excludedValueOf: "asin").set(excludedValueOf: "updated_at")
            }
            try await insert.run()
        }
        guard refreshInventory else { return }
        for connectionID in Set(listings.map(\.connectionID)).sorted(by: { $0.rawValue < $1.rawValue }) {
            try await refreshInventoryItems(connectionID: connectionID)
        }
    }

    /// How many listings the connection has.
    public func listingCount(for connectionID: ConnectionID) async throws -> Int {
        let row = try await sql.raw("SELECT COUNT(*) AS n FROM listings WHERE connection_id = \(bind: connectionID.rawValue)").first()
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
                updatedAt: Date(millisecondsSince1970: try row.decode(column: "updated_at", as: Int64.self))
            )
        }
    }
}
