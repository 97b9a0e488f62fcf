import FlexCore
import Foundation
import SQLKit

extension StoreSession {
    /// Records that Amazon notified a change of a merchant-fulfilled order of the seller in a marketplace, under
    /// every connection of that seller that syncs MFN orders in that marketplace; returns them (none: the
    /// notification is for no connection here). The worker fetches the order; polling is the safety net.
    public func requestMerchantOrderFetch(
        sellingPartnerID: String,
        orderID: String,
        marketplaceID: MarketplaceID
    ) async throws -> [ConnectionID] {
        var chosen: [ConnectionID] = []
        for row in try await sql.raw(
            "SELECT id FROM connections WHERE selling_partner_id = \(bind: sellingPartnerID) ORDER BY created_at, id"
        ).all() {
            let id = ConnectionID(rawValue: try row.decode(column: "id", as: String.self))
            guard let connection = try await connection(id), connection.settings.mfnOrderSyncEnabled,
                connection.marketplaceIDs.contains(marketplaceID)
            else { continue }
            try await sql.raw(
                """
                INSERT INTO merchant_order_fetches (connection_id, order_id, requested_at)
                VALUES (\(bind: id.rawValue), \(bind: orderID), \(bind: nowMilliseconds))
                ON CONFLICT (connection_id, order_id) DO NOTHING
                """
            ).run()
            chosen.append(id)
        }
        notes.note(.merchantOrders, for: chosen)
        return chosen
    }

    /// MFN orders to fetch because Amazon notified about them, oldest first.
    public func merchantOrderFetches(connectionID: ConnectionID, limit: Int) async throws -> [String] {
        try await sql.raw(
            """
            SELECT order_id FROM merchant_order_fetches WHERE connection_id = \(bind: connectionID.rawValue)
            ORDER BY requested_at, order_id LIMIT \(bind: Int64(limit))
            """
        ).all().map { try $0.decode(column: "order_id", as: String.self) }
    }

    public func completeMerchantOrderFetch(connectionID: ConnectionID, orderID: String) async throws {
        try await sql.raw(
            """
            DELETE FROM merchant_order_fetches WHERE connection_id = \(bind: connectionID.rawValue)
                AND order_id = \(bind: orderID)
            """
        ).run()
    }
}
