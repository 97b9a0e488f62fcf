import FlexCore
import Foundation
import SQLKit

/// What waits to reach Amazon for one connection: the size of each queue and how long its oldest entry has waited.
public struct ConnectionBacklog: Sendable, Hashable {
    /// Stock items whose latest quantity Amazon has not applied yet (refused ones excluded).
    public var stockItems = 0
    /// When the oldest of those changed.
    public var oldestStockChange: Date?
    /// Order commands (confirm, pack, label, ship…) queued or running.
    public var commands = 0
    /// When the oldest of those was submitted.
    public var oldestCommand: Date?
    /// Shipments Amazon notified that wait to be fetched.
    public var shipmentFetches = 0
    /// When the oldest of those was notified.
    public var oldestShipmentFetch: Date?

    public init() {}
}

extension StoreSession {
    /// Every connection's backlog with something in it, by three grouped reads (one per queue).
    public func backlogs() async throws -> [ConnectionID: ConnectionBacklog] {
        var backlogs: [ConnectionID: ConnectionBacklog] = [:]
        func rows(_ query: SQLQueryString) async throws -> [(ConnectionID, Int, Date?)] {
            try await sql.raw(query).all().map { row in
                (
                    ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self)),
                    Int(try row.decode(column: "n", as: Int64.self)),
                    try row.decode(column: "oldest", as: Int64?.self).map(Date.init(millisecondsSince1970:))
                )
            }
        }
        for (id, count, oldest) in try await rows(
            """
            SELECT connection_id, COUNT(*) AS n, MIN(changed_at) AS oldest FROM inventory_items
            WHERE version > synced_version AND version > failed_version GROUP BY connection_id
            """
        ) {
            backlogs[id, default: ConnectionBacklog()].stockItems = count
            backlogs[id, default: ConnectionBacklog()].oldestStockChange = oldest
        }
        for (id, count, oldest) in try await rows(
            """
            SELECT connection_id, COUNT(*) AS n, MIN(created_at) AS oldest FROM order_commands
            WHERE status IN ('queued', 'running') GROUP BY connection_id
            """
        ) {
            backlogs[id, default: ConnectionBacklog()].commands = count
            backlogs[id, default: ConnectionBacklog()].oldestCommand = oldest
        }
        for (id, count, oldest) in try await rows(
            """
            SELECT connection_id, COUNT(*) AS n, MIN(requested_at) AS oldest FROM shipment_fetches
            GROUP BY connection_id
            """
        ) {
            backlogs[id, default: ConnectionBacklog()].shipmentFetches = count
            backlogs[id, default: ConnectionBacklog()].oldestShipmentFetch = oldest
        }
        return backlogs
    }
}
