import Algorithms
import FlexCore
import Foundation
import SQLKit

extension Store {
    /// Adds the activity counted in this process to `sync_activity`, and forgets minutes older than two days. Counts
    /// that could not be written are kept for the next flush.
    public func flushActivity() async throws {
        let counts = activity.take()
        guard !counts.isEmpty else { return }
        do {
            try await transaction { session in
                try await session.addActivity(counts)
                let horizon = SyncMinute.minute(of: clock.now()) - 2 * 24 * 60
                try await session.sql.raw("DELETE FROM sync_activity WHERE minute < \(bind: horizon)").run()
            }
        } catch {
            activity.giveBack(counts)
            throw error
        }
    }
}

extension StoreSession {
    /// Adds counts to their connection's minutes: every node adds its own, none overwrites another's.
    func addActivity(_ counts: [(ConnectionID, SyncMinute)]) async throws {
        let greatest: SQLQueryString = kind == .postgres ? "GREATEST" : "MAX"
        // In one order on every node, so that two flushes at once wait for each other instead of deadlocking: the
        // statements in this order, and each statement's rows by ORDER BY (code points, as Swift sorts: PostgreSQL's
        // "C" collation, whatever the database's own).
        let binary: SQLQueryString = kind == .postgres ? #" COLLATE "C""# : ""
        let sorted = counts.sorted { ($0.0.rawValue, $0.1.minute) < ($1.0.rawValue, $1.1.minute) }
        func ms(_ date: Date?) -> Int64 { date?.millisecondsSince1970 ?? 0 }
        // A hundred minutes a statement: a node's flush is a few statements, not two a connection.
        for chunk in sorted.chunks(ofCount: 100) {
            let rows = chunk.map { connectionID, count -> SQLQueryString in
                """
                (\(bind: connectionID.rawValue), \(bind: count.minute), \(bind: Int64(count.skusSent)),
                \(bind: Int64(count.amazonCalls)), \(bind: Int64(count.throttled)), \(bind: Int64(count.amazonErrors)),
                \(bind: Int64(count.orderPolls)), \(bind: Int64(count.notifications)),
                \(bind: Int64(count.commandsFailed)), \(bind: ms(count.lastPushAt)), \(bind: ms(count.lastPollAt)),
                \(bind: ms(count.lastNotificationAt)))
                """
            }
            try await sql.raw(
                """
                INSERT INTO sync_activity (connection_id, minute, skus_sent, amazon_calls, throttled, amazon_errors,
                    order_polls, notifications, commands_failed, last_push_at, last_poll_at, last_notification_at)
                SELECT v.column1, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, v.column8,
                    v.column9, v.column10, v.column11, v.column12
                FROM (VALUES \(rows.joined(separator: ", "))) AS v
                WHERE EXISTS (SELECT 1 FROM connections WHERE id = v.column1)
                ORDER BY v.column1\(binary), v.column2
                ON CONFLICT (connection_id, minute) DO UPDATE SET
                    skus_sent = sync_activity.skus_sent + excluded.skus_sent,
                    amazon_calls = sync_activity.amazon_calls + excluded.amazon_calls,
                    throttled = sync_activity.throttled + excluded.throttled,
                    amazon_errors = sync_activity.amazon_errors + excluded.amazon_errors,
                    order_polls = sync_activity.order_polls + excluded.order_polls,
                    notifications = sync_activity.notifications + excluded.notifications,
                    commands_failed = sync_activity.commands_failed + excluded.commands_failed,
                    last_push_at = \(greatest)(sync_activity.last_push_at, excluded.last_push_at),
                    last_poll_at = \(greatest)(sync_activity.last_poll_at, excluded.last_poll_at),
                    last_notification_at = \(greatest)(sync_activity.last_notification_at, excluded.last_notification_at)
                """
            ).run()
        }
        // The latest times per connection, across its minutes (a flush may hold two minutes of one connection).
        var latest: [ConnectionID: (push: Int64, poll: Int64, notification: Int64)] = [:]
        for (connectionID, count) in sorted
        where count.lastPushAt != nil || count.lastPollAt != nil || count.lastNotificationAt != nil {
            let before = latest[connectionID] ?? (0, 0, 0)
            latest[connectionID] = (
                max(before.push, ms(count.lastPushAt)), max(before.poll, ms(count.lastPollAt)),
                max(before.notification, ms(count.lastNotificationAt))
            )
        }
        for chunk in latest.sorted(by: { $0.key.rawValue < $1.key.rawValue }).chunks(ofCount: 100) {
            let rows = chunk.map { connectionID, last -> SQLQueryString in
                "(\(bind: connectionID.rawValue), \(bind: last.push), \(bind: last.poll), \(bind: last.notification))"
            }
            try await sql.raw(
                """
                INSERT INTO sync_last (connection_id, last_push_at, last_poll_at, last_notification_at)
                SELECT v.column1, v.column2, v.column3, v.column4 FROM (VALUES \(rows.joined(separator: ", "))) AS v
                WHERE EXISTS (SELECT 1 FROM connections WHERE id = v.column1)
                ORDER BY v.column1\(binary)
                ON CONFLICT (connection_id) DO UPDATE SET
                    last_push_at = \(greatest)(sync_last.last_push_at, excluded.last_push_at),
                    last_poll_at = \(greatest)(sync_last.last_poll_at, excluded.last_poll_at),
                    last_notification_at = \(greatest)(sync_last.last_notification_at, excluded.last_notification_at)
                """
            ).run()
        }
    }

    /// The connections' minutes from `since` on, oldest first.
    public func activity(within: [ConnectionID], since: Int64) async throws -> [ConnectionID: [SyncMinute]] {
        var result: [ConnectionID: [SyncMinute]] = [:]
        guard !within.isEmpty else { return result }
        let rows = try await sql.raw(
            """
            SELECT * FROM sync_activity WHERE \(Self.within("connection_id", within)) AND minute >= \(bind: since)
            ORDER BY minute
            """
        ).all()
        for row in rows {
            func date(_ column: String) throws -> Date? {
                let value = try row.decode(column: column, as: Int64.self)
                return value > 0 ? Date(millisecondsSince1970: value) : nil
            }
            func count(_ column: String) throws -> Int { Int(try row.decode(column: column, as: Int64.self)) }
            var minute = SyncMinute(minute: try row.decode(column: "minute", as: Int64.self))
            minute.skusSent = try count("skus_sent")
            minute.amazonCalls = try count("amazon_calls")
            minute.throttled = try count("throttled")
            minute.amazonErrors = try count("amazon_errors")
            minute.orderPolls = try count("order_polls")
            minute.notifications = try count("notifications")
            minute.commandsFailed = try count("commands_failed")
            minute.lastPushAt = try date("last_push_at")
            minute.lastPollAt = try date("last_poll_at")
            minute.lastNotificationAt = try date("last_notification_at")
            let connectionID = ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self))
            result[connectionID, default: []].append(minute)
        }
        return result
    }

    /// The latest push, poll and notification of each connection, at any time (kept after the minutes are dropped).
    public func lastActivity(
        within: [ConnectionID]
    ) async throws -> [ConnectionID: (push: Date?, poll: Date?, notification: Date?)] {
        var result: [ConnectionID: (push: Date?, poll: Date?, notification: Date?)] = [:]
        guard !within.isEmpty else { return result }
        let rows = try await sql.raw(
            """
            SELECT connection_id, last_push_at AS push, last_poll_at AS poll, last_notification_at AS notification
            FROM sync_last WHERE \(Self.within("connection_id", within))
            """
        ).all()
        for row in rows {
            func date(_ column: String) throws -> Date? {
                let value = try row.decode(column: column, as: Int64?.self) ?? 0
                return value > 0 ? Date(millisecondsSince1970: value) : nil
            }
            let connectionID = ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self))
            result[connectionID] = (try date("push"), try date("poll"), try date("notification"))
        }
        return result
    }

    /// What the dashboard shows of each connection besides its activity: stock items waiting and failed, orders at
    /// risk within `riskWindow`, commands failed in the last day, orders seen per minute since
    /// `since`.
    public func syncHealth(
        within: [ConnectionID],
        now: Date,
        riskWindow: TimeInterval,
        since: Int64
    ) async throws -> [ConnectionID: SyncHealth] {
        var health: [ConnectionID: SyncHealth] = [:]
        guard !within.isEmpty else { return health }
        for connectionID in within { health[connectionID] = SyncHealth() }
        let pending = InventoryItemFilter.pending
        let failed = InventoryItemFilter.failed
        for row in try await sql.raw(
            """
            SELECT connection_id, COALESCE(SUM(CASE WHEN \(pending) THEN 1 ELSE 0 END), 0) AS pending,
                COALESCE(SUM(CASE WHEN \(failed) THEN 1 ELSE 0 END), 0) AS failed, COUNT(*) AS total
            FROM inventory_items WHERE \(Self.within("connection_id", within)) GROUP BY connection_id
            """
        ).all() {
            let id = ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self))
            health[id]?.stockItems = Int(try row.decode(column: "total", as: Int64.self))
            health[id]?.stockBacklog = Int(try row.decode(column: "pending", as: Int64.self))
            health[id]?.stockFailed = Int(try row.decode(column: "failed", as: Int64.self))
        }
        for row in try await sql.raw(
            """
            SELECT connection_id, COUNT(*) AS n FROM orders WHERE \(Self.within("connection_id", within))
                AND \(Self.atRisk("orders", before: now.addingTimeInterval(riskWindow)))
            GROUP BY connection_id
            """
        ).all() {
            let id = ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self))
            health[id]?.ordersAtRisk = Int(try row.decode(column: "n", as: Int64.self))
        }
        let dayAgo = now.addingTimeInterval(-86_400).millisecondsSince1970
        for row in try await sql.raw(
            """
            SELECT connection_id, COUNT(*) AS n FROM order_commands WHERE \(Self.within("connection_id", within))
                AND status = 'failed' AND updated_at >= \(bind: dayAgo)
            GROUP BY connection_id
            """
        ).all() {
            let id = ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self))
            health[id]?.commandsFailed = Int(try row.decode(column: "n", as: Int64.self))
        }
        for row in try await sql.raw(
            """
            SELECT connection_id, first_seen_at FROM orders WHERE \(Self.within("connection_id", within))
                AND first_seen_at >= \(bind: since * 60_000)
            """
        ).all() {
            let id = ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self))
            let seen = try row.decode(column: "first_seen_at", as: Int64.self)
            health[id]?.ordersSeen[seen / 60_000, default: 0] += 1
        }
        return health
    }
}

/// A connection's stock and orders as the dashboard shows them.
public struct SyncHealth: Sendable, Hashable {
    public var stockItems = 0
    /// Items whose latest quantity Amazon has not yet been sent.
    public var stockBacklog = 0
    public var stockFailed = 0
    /// Orders at risk: open, due to ship within the risk window or late, or holding a failed command.
    public var ordersAtRisk = 0
    public var commandsFailed = 0
    /// Orders first seen, by minute since 1970.
    public var ordersSeen: [Int64: Int] = [:]

    public init() {}
}
