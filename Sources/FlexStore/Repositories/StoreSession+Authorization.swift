import Crypto
import FlexCore
import Foundation
import SQLKit

extension StoreSession {
    /// A new single-use `state` for a seller's consent: it ties Amazon's redirect back to the connection and
    /// proves that FlexBridge started the flow (CSRF). It expires after `lifetime`.
    public func createAuthorizationState(
        for id: ConnectionID,
        redirectURI: String,
        lifetime: TimeInterval
    ) async throws -> (state: String, expiresAt: Date) {
        guard try await connection(id) != nil else { throw StoreError.notFound("Connection \(id)") }
        let state = Self.randomToken(bytes: 24)
        let now = nowMilliseconds
        let expires = now + Int64(lifetime * 1000)
        // A link opened again and again (a bookmark, a crawler) must not grow the table: expired states go, and a
        // connection keeps its newest few; an older link then asks the seller for a new one.
        try await prune("authorization_states", key: "state", of: id, now: now)
        try await sql.raw(
            """
            INSERT INTO authorization_states (state, connection_id, redirect_uri, created_at, expires_at)
            VALUES (\(bind: Self.stateHash(state)), \(bind: id.rawValue), \(bind: redirectURI), \(bind: now), \(bind: expires))
            """
        ).run()
        return (state, Date(millisecondsSince1970: expires))
    }

    /// A new link for a seller's consent, FlexBridge's own (`/connect/{token}`): each opening makes a fresh state
    /// (``createAuthorizationState(for:redirectURI:lifetime:)``) and sends the browser on to Amazon. It works until
    /// `lifetime` is over; a connection keeps its newest few.
    public func createAuthorizationLink(
        for id: ConnectionID,
        lifetime: TimeInterval
    ) async throws -> (token: String, expiresAt: Date) {
        guard try await connection(id) != nil else { throw StoreError.notFound("Connection \(id)") }
        let token = Self.randomToken(bytes: 32)
        let now = nowMilliseconds
        let expires = now + Int64(lifetime * 1000)
        try await prune("authorization_links", key: "token_hash", of: id, now: now)
        try await sql.raw(
            """
            INSERT INTO authorization_links (token_hash, connection_id, created_at, expires_at)
            VALUES (\(bind: Self.stateHash(token)), \(bind: id.rawValue), \(bind: now), \(bind: expires))
            """
        ).run()
        return (token, Date(millisecondsSince1970: expires))
    }

    /// The connection a consent link is for, while it works.
    public func authorizationLink(_ token: String) async throws -> ConnectionID? {
        try await sql.raw(
            """
            SELECT connection_id FROM authorization_links
            WHERE token_hash = \(bind: Self.stateHash(token)) AND expires_at >= \(bind: nowMilliseconds)
            """
        ).first()?.decode(column: "connection_id", as: ConnectionID.self)
    }

    /// Removes a consent table's expired rows, and all but the connection's newest few, to make room for one more.
    private func prune(_ table: String, key: String, of id: ConnectionID, now: Int64) async throws {
        try await sql.raw("DELETE FROM \(unsafeRaw: table) WHERE expires_at < \(bind: now)").run()
        try await sql.raw(
            """
            DELETE FROM \(unsafeRaw: table) WHERE connection_id = \(bind: id.rawValue) AND \(unsafeRaw: key) NOT IN (
                SELECT \(unsafeRaw: key) FROM \(unsafeRaw: table) WHERE connection_id = \(bind: id.rawValue)
                ORDER BY created_at DESC, \(unsafeRaw: key) LIMIT \(literal: Int64(Self.authorizationStatesKept - 1)))
            """
        ).run()
    }

    /// `bytes` random bytes, base64url.
    static func randomToken(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<bytes).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
            .base64URLEncodedString()
    }

    /// What is stored of a state: its SHA-256, so that neither the database nor a log of its statements holds a
    /// state that still works.
    static func stateHash(_ state: String) -> String {
        SHA256.hash(data: Data(state.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// How many unexpired consent links a connection keeps at most.
    public static let authorizationStatesKept = 20

    /// Takes a consent's `state` back: the connection and redirect URI it was made for, once, if it has not expired.
    /// Expired states are removed on the way.
    public func consumeAuthorizationState(
        _ state: String
    ) async throws -> (connectionID: ConnectionID, redirectURI: String)? {
        let now = nowMilliseconds
        try await sql.raw("DELETE FROM authorization_states WHERE expires_at < \(bind: now)").run()
        guard
            let row = try await sql.raw(
                """
                DELETE FROM authorization_states WHERE state = \(bind: Self.stateHash(state))
                RETURNING connection_id, redirect_uri
                """
            ).first()
        else { return nil }
        return (
            ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self)),
            try row.decode(column: "redirect_uri", as: String.self)
        )
    }
}
