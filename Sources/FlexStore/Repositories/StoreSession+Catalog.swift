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

    /// Inserts or replaces listings, keyed by connection, marketplace and merchant SKU.
    public func upsertListings(_ listings: [Listing]) async throws {
        for listing in listings {
            try listing.validate()
            try await sql.raw(
                """
                INSERT INTO listings (connection_id, marketplace_id, merchant_sku, warehouse_sku, asin, updated_at)
                VALUES (\(bind: listing.connectionID.rawValue), \(bind: listing.marketplaceID.rawValue),
                    \(bind: listing.merchantSKU.rawValue), \(bind: listing.warehouseSKU.rawValue), \(bind: listing.asin.rawValue),
                    \(bind: listing.updatedAt.millisecondsSince1970))
                ON CONFLICT (connection_id, marketplace_id, merchant_sku) DO UPDATE SET
                    warehouse_sku = excluded.warehouse_sku, asin = excluded.asin, updated_at = excluded.updated_at
                """
            ).run()
        }
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
