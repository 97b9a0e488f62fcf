import FlexCore
import Foundation
import SQLKit

extension StoreSession {
    /// Records that Amazon notified a change of a merchant-fulfilled order of the seller in a marketplace, under
    /// every connection of that seller that syncs MFN orders in that marketplace; returns them (none: the
    /// notification is for no connection here). The worker fetches the order; polling is the safety net.
    /// `trace`: the notification's filing, which the fetch continues.
    public func requestMerchantOrderFetch(
        sellingPartnerID: String,
        orderID: String,
        marketplaceID: MarketplaceID,
        trace: TraceContext? = nil
    ) async throws -> [ConnectionID] {
        var chosen: [ConnectionID] = []
        for row in try await sql.raw(
            "SELECT id FROM connections WHERE selling_partner_id = \(bind: sellingPartnerID) ORDER BY created_at, id"
        ).all() {
            let id = ConnectionID(rawValue: try row.decode(column: "id", as: String.self))
            guard let connection = try await connection(id), connection.mfnMarketplaceIDs.contains(marketplaceID)
            else { continue }
            try await requestMerchantOrderFetch(connectionID: id, orderID: orderID, trace: trace)
            chosen.append(id)
        }
        return chosen
    }

    /// Records that the connection's copy of an MFN order is to be read from Amazon again: after a notification,
    /// or after FlexBridge confirmed a shipment of it. A request made while an earlier one is being fetched stands
    /// (its time moves on), so a change announced during a read is read after it. `trace`: the work that asked (a
    /// notification's filing, a command), which the fetch continues; a request without one keeps the last traced
    /// request's.
    public func requestMerchantOrderFetch(
        connectionID: ConnectionID,
        orderID: String,
        trace: TraceContext? = nil
    ) async throws {
        try await sql.raw(
            """
            INSERT INTO merchant_order_fetches (connection_id, order_id, requested_at, trace_context)
            VALUES (\(bind: connectionID.rawValue), \(bind: orderID), \(bind: nowMilliseconds), \(bind: trace?.stored))
            ON CONFLICT (connection_id, order_id) DO UPDATE SET requested_at = excluded.requested_at,
                trace_context = COALESCE(excluded.trace_context, merchant_order_fetches.trace_context)
            """
        ).run()
        notes.note(.merchantOrders, for: [connectionID])
    }

    /// MFN orders to fetch because Amazon notified about them, oldest first.
    public func merchantOrderFetches(connectionID: ConnectionID, limit: Int) async throws -> [NotifiedMerchantOrder] {
        try await sql.raw(
            """
            SELECT order_id, trace_context FROM merchant_order_fetches
            WHERE connection_id = \(bind: connectionID.rawValue)
            ORDER BY requested_at, order_id LIMIT \(literal: Int64(limit))
            """
        ).all().map { row in
            NotifiedMerchantOrder(
                orderID: try row.decode(column: "order_id", as: String.self),
                trace: TraceContext(stored: try row.decode(column: "trace_context", as: String?.self))
            )
        }
    }

    /// Drops the request once the order was read, unless it was made again after `readSince` (when the read
    /// began): then the copy read may predate the change, and the order is read once more.
    public func completeMerchantOrderFetch(
        connectionID: ConnectionID,
        orderID: String,
        readSince: Date = .distantFuture
    ) async throws {
        try await sql.raw(
            """
            DELETE FROM merchant_order_fetches WHERE connection_id = \(bind: connectionID.rawValue)
                AND order_id = \(bind: orderID) AND requested_at <= \(bind: readSince.millisecondsSince1970)
            """
        ).run()
    }
}

/// An MFN order Amazon notified a change of, to be read again.
public struct NotifiedMerchantOrder: Sendable, Hashable {
    public var orderID: String
    /// The trace of the last traced request to read it (a notification's filing, a command).
    public var trace: TraceContext?

    public init(orderID: String, trace: TraceContext? = nil) {
        self.orderID = orderID
        self.trace = trace
    }
}
