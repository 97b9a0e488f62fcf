import FlexCore
import Foundation
import SQLKit

extension StoreSession {
    /// Stores a key by its hash. The key itself is never stored.
    public func insertAPIKey(_ key: APIKey, hash: String) async throws {
        try await sql.raw(
            """
            INSERT INTO api_keys (id, account_id, name, prefix, key_hash, role, connection_ids, created_at, created_by)
            VALUES (\(bind: key.id), \(bind: key.account.rawValue), \(bind: key.name), \(bind: key.prefix),
                \(bind: hash), \(bind: key.role.rawValue), \(bind: try Self.scopeJSON(key.scope)),
                \(bind: key.createdAt.millisecondsSince1970), \(bind: key.createdBy))
            """
        ).run()
    }

    /// The key with this public prefix and its stored hash, revoked or not.
    public func apiKey(prefix: String) async throws -> (key: APIKey, hash: String)? {
        guard let row = try await sql.raw("SELECT * FROM api_keys WHERE prefix = \(bind: prefix)").first() else {
            return nil
        }
        return (try Self.decodeAPIKey(row), try row.decode(column: "key_hash", as: String.self))
    }

    /// The account's key `id`, revoked or not.
    public func apiKey(_ id: String, account: AccountID) async throws -> APIKey? {
        try await sql.raw(
            "SELECT * FROM api_keys WHERE id = \(bind: id) AND account_id = \(bind: account.rawValue)"
        ).first().map(Self.decodeAPIKey)
    }

    /// The account's keys, oldest first; revoked ones too unless `includeRevoked` is false.
    public func apiKeys(account: AccountID, includeRevoked: Bool = true) async throws -> [APIKey] {
        try await sql.raw(
            """
            SELECT * FROM api_keys WHERE account_id = \(bind: account.rawValue)
                AND (\(bind: includeRevoked ? 1 : 0) = 1 OR revoked_at IS NULL)
            ORDER BY created_at, id
            """
        ).all().map(Self.decodeAPIKey)
    }

    /// Revokes the account's key; returns it, or nil when the account has no such key. Revoking twice keeps the
    /// first revocation's time.
    public func revokeAPIKey(_ id: String, account: AccountID) async throws -> APIKey? {
        try await sql.raw(
            """
            UPDATE api_keys SET revoked_at = COALESCE(revoked_at, \(bind: nowMilliseconds))
            WHERE id = \(bind: id) AND account_id = \(bind: account.rawValue)
            """
        ).run()
        return try await apiKey(id, account: account)
    }

    /// Records that the key was used at `at`.
    public func touchAPIKey(_ id: String, at: Date) async throws {
        try await sql.raw(
            """
            UPDATE api_keys SET last_used_at = \(bind: at.millisecondsSince1970)
            WHERE id = \(bind: id) AND (last_used_at IS NULL OR last_used_at < \(bind: at.millisecondsSince1970))
            """
        ).run()
    }

    static func scopeJSON(_ scope: ConnectionScope) throws -> String? {
        try scope.sortedIDs.map { try json($0) }
    }

    static func decodeScope(_ text: String?) throws -> ConnectionScope {
        guard let text else { return .all }
        return .only(Set(try fromJSON([String].self, text).map(ConnectionID.init(rawValue:))))
    }

    static func decodeAPIKey(_ row: any SQLRow) throws -> APIKey {
        let id = try row.decode(column: "id", as: String.self)
        let roleText = try row.decode(column: "role", as: String.self)
        guard let role = Role(rawValue: roleText) else {
            throw StoreError(code: .invalidInput, message: "API key \(id) has an unknown role \(roleText).")
        }
        return APIKey(
            id: id,
            account: AccountID(rawValue: try row.decode(column: "account_id", as: String.self)),
            name: try row.decode(column: "name", as: String.self),
            prefix: try row.decode(column: "prefix", as: String.self),
            role: role,
            scope: try decodeScope(try row.decode(column: "connection_ids", as: String?.self)),
            createdAt: Date(millisecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
            createdBy: try row.decode(column: "created_by", as: String.self),
            lastUsedAt: try row.decode(column: "last_used_at", as: Int64?.self).map(Date.init(millisecondsSince1970:)),
            revokedAt: try row.decode(column: "revoked_at", as: Int64?.self).map(Date.init(millisecondsSince1970:))
        )
    }
}
