import FlexCore
import Foundation
import SQLKit

/// An operator's session in the web panel.
public struct PanelSession: Sendable, Hashable {
    public var operatorID: String
    public var account: AccountID
    /// The token every form of the session carries.
    public var csrf: String
    public var createdAt: Date
    public var lastSeenAt: Date
    public var expiresAt: Date
}

extension StoreSession {
    /// Starts a session for the operator; returns its token (kept only as its SHA-256) and the session.
    public func startPanelSession(
        operatorID: String,
        account: AccountID,
        lifetime: TimeInterval
    ) async throws -> (token: String, session: PanelSession) {
        let token = Self.randomToken(bytes: 32)
        let now = clock.now()
        let session = PanelSession(
            operatorID: operatorID,
            account: account,
            csrf: Self.randomToken(bytes: 24),
            createdAt: now,
            lastSeenAt: now,
            expiresAt: now.addingTimeInterval(lifetime)
        )
        try await sql.raw(
            "DELETE FROM panel_sessions WHERE expires_at < \(bind: now.millisecondsSince1970)"
        ).run()
        try await sql.raw(
            """
            INSERT INTO panel_sessions (token_hash, operator_id, account_id, csrf, created_at, last_seen_at, expires_at)
            VALUES (\(bind: Self.stateHash(token)), \(bind: operatorID), \(bind: account.rawValue), \(bind: session.csrf),
                \(bind: now.millisecondsSince1970), \(bind: now.millisecondsSince1970), \(bind: session.expiresAt.millisecondsSince1970))
            """
        ).run()
        return (token, session)
    }

    /// The session of a token, if it has not expired and has been used within `idle`; marks it seen (at most once a
    /// minute) unless `touch` is false — a page refreshing itself is not the operator at work.
    public func panelSession(token: String, idle: TimeInterval, touch: Bool = true) async throws -> PanelSession? {
        let now = clock.now()
        guard
            let row = try await sql.raw(
                "SELECT * FROM panel_sessions WHERE token_hash = \(bind: Self.stateHash(token))"
            ).first()
        else { return nil }
        let session = PanelSession(
            operatorID: try row.decode(column: "operator_id", as: String.self),
            account: AccountID(rawValue: try row.decode(column: "account_id", as: String.self)),
            csrf: try row.decode(column: "csrf", as: String.self),
            createdAt: Date(millisecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
            lastSeenAt: Date(millisecondsSince1970: try row.decode(column: "last_seen_at", as: Int64.self)),
            expiresAt: Date(millisecondsSince1970: try row.decode(column: "expires_at", as: Int64.self))
        )
        guard session.expiresAt > now, session.lastSeenAt.addingTimeInterval(idle) > now else { return nil }
        if touch, now.timeIntervalSince(session.lastSeenAt) > 60 {
            try await sql.raw(
                """
                UPDATE panel_sessions SET last_seen_at = \(bind: now.millisecondsSince1970)
                WHERE token_hash = \(bind: Self.stateHash(token))
                """
            ).run()
        }
        return session
    }

    public func endPanelSession(token: String) async throws {
        try await sql.raw("DELETE FROM panel_sessions WHERE token_hash = \(bind: Self.stateHash(token))").run()
    }

    /// Ends every session of an operator (disabled).
    public func endPanelSessions(operatorID: String) async throws {
        try await sql.raw("DELETE FROM panel_sessions WHERE operator_id = \(bind: operatorID)").run()
    }

    /// How many of the visible connections' orders are in each state, per connection.
    public func orderCounts(within: [ConnectionID]?) async throws -> [ConnectionID: [FulfilmentState: Int]] {
        var query: SQLQueryString = "SELECT connection_id, state, COUNT(*) AS n FROM orders"
        if let within { query += " WHERE \(Self.within("connection_id", within))" }
        query += " GROUP BY connection_id, state"
        var counts: [ConnectionID: [FulfilmentState: Int]] = [:]
        for row in try await sql.raw(query).all() {
            guard let state = FulfilmentState(rawValue: try row.decode(column: "state", as: String.self)) else {
                continue
            }
            let connection = ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self))
            counts[connection, default: [:]][state] = Int(try row.decode(column: "n", as: Int64.self))
        }
        return counts
    }
}
