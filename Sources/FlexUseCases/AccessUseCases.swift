import Crypto
import FlexCore
import FlexStore
import Foundation
import Synchronization

/// Who may do what: API keys made, listed and revoked, and a request's key turned into its principal.
public struct AccessUseCases: Sendable {
    let store: Store
    let lastUse: LastUse

    /// How often a key's `last used` time is written: at most once a minute per key and node, so that a busy WMS
    /// does not turn every read into a write.
    public static let lastUseResolution: TimeInterval = 60

    public init(store: Store) {
        self.store = store
        self.lastUse = LastUse()
    }

    /// Why a request is not let in, in words the caller can act on.
    public enum Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        /// No `Authorization: Bearer` header.
        case missing
        /// A header that is not a FlexBridge key.
        case malformed
        /// A well-formed key FlexBridge never issued.
        case unknown
        /// A key that was revoked.
        case revoked(prefix: String)
        /// The principal's role does not allow the operation.
        case forbidden(role: Role, needs: Permission)

        public var description: String {
            switch self {
            case .missing:
                "This request needs an API key: send it as Authorization: Bearer <key>. An admin makes keys with flexbridge keys create."
            case .malformed:
                "The Authorization header does not hold a FlexBridge API key (Bearer fbk_…)."
            case .unknown: "This API key is not known to FlexBridge."
            case .revoked(let prefix): "The API key \(prefix) was revoked."
            case .forbidden(let role, let needs):
                "A key with the role \(role.rawValue) may not do this (it needs \(needs.rawValue))."
            }
        }

        /// Whether the caller is not known (401) rather than known and not allowed (403).
        public var isUnauthenticated: Bool {
            if case .forbidden = self { return false }
            return true
        }
    }

    /// The principal behind an `Authorization` header's value. Revocation counts from the next request on every
    /// node: nothing about a key is kept between requests but when it was last recorded as used.
    public func authenticate(authorization: String?) async throws -> Principal {
        guard let authorization, !authorization.isEmpty else { throw Refusal.missing }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { throw Refusal.malformed }
        let secret = parts[1].trimmingCharacters(in: .whitespaces)
        guard let prefix = APIKey.prefix(of: secret) else { throw Refusal.malformed }
        guard let (key, hash) = try await store.read({ try await $0.apiKey(prefix: prefix) }),
            Self.constantTimeEqual(Self.hash(secret), hash)
        else { throw Refusal.unknown }
        if key.revokedAt != nil { throw Refusal.revoked(prefix: key.prefix) }
        let now = store.clock.now()
        if lastUse.due(key.id, at: now) {
            try await store.transaction { try await $0.touchAPIKey(key.id, at: now) }
        }
        return key.principal
    }

    /// A new key of the principal's account, shown once: only its hash is kept. Needs `manageAccess`; a key never
    /// reaches further than its maker (no connection the maker cannot see).
    public func createKey(
        name: String,
        role: Role,
        connections: [ConnectionID]?,
        by principal: Principal
    ) async throws -> (key: APIKey, secret: String) {
        try Self.require(.manageAccess, of: principal)
        let name = try APIKey.validate(name: name)
        let scope = try Self.scope(connections, within: principal)
        // The public prefix has 32 bits: among many keys two may share one, so a taken prefix draws again.
        var secret = Self.newSecret()
        while try await store.read({ [secret] in try await $0.apiKey(prefix: String(secret.prefix(12))) }) != nil {
            secret = Self.newSecret()
        }
        guard let prefix = APIKey.prefix(of: secret) else { preconditionFailure("a new key has the shape of a key") }
        let key = APIKey(
            id: "key_" + UUID().uuidString.lowercased(),
            account: principal.account,
            name: name,
            prefix: prefix,
            role: role,
            scope: scope,
            createdAt: store.clock.now(),
            createdBy: principal.actor
        )
        try await store.transaction { session in
            try await Self.checkExists(scope, of: principal, in: session)
            try await session.insertAPIKey(key, hash: Self.hash(secret))
            try await session.recordChanges(
                [SettingChange(setting: "apiKey.created", oldValue: nil, newValue: Self.describe(key))],
                connectionID: nil,
                account: principal.account,
                actor: principal.actor
            )
        }
        return (key, secret)
    }

    /// The account's keys, revoked ones too; a principal limited to some connections sees the keys within them.
    public func keys(by principal: Principal) async throws -> [APIKey] {
        try Self.require(.manageAccess, of: principal)
        return try await store.read { try await $0.apiKeys(account: principal.account) }
            .filter { principal.scope.covers($0.scope) }
    }

    /// Revokes a key of the account; nil when there is none the principal may see. The next request made with it,
    /// on any node, is refused.
    public func revokeKey(_ id: String, by principal: Principal) async throws -> APIKey? {
        try Self.require(.manageAccess, of: principal)
        return try await store.transaction { session in
            guard let key = try await session.apiKey(id, account: principal.account),
                principal.scope.covers(key.scope)
            else { return nil }
            guard key.revokedAt == nil else { return key }
            let revoked = try await session.revokeAPIKey(id, account: principal.account)
            try await session.recordChanges(
                [SettingChange(setting: "apiKey.revoked", oldValue: Self.describe(key), newValue: nil)],
                connectionID: nil,
                account: principal.account,
                actor: principal.actor
            )
            return revoked
        }
    }

    /// The account's changes of no connection (keys, operators), newest first; needs `manageAccess`. An admin
    /// limited to some connections sees only the changes it made itself: the others may name keys and operators
    /// beyond its reach.
    public func changes(by principal: Principal, limit: Int = 100) async throws -> [ConfigChange] {
        try Self.require(.manageAccess, of: principal)
        let changes = try await store.read { try await $0.accountChanges(account: principal.account, limit: limit) }
        return principal.scope == .all ? changes : changes.filter { $0.actor == principal.actor }
    }

    /// Throws ``Refusal/forbidden(role:needs:)`` unless the principal's role allows `permission`.
    public static func require(_ permission: Permission, of principal: Principal) throws(Refusal) {
        guard principal.may(permission) else { throw Refusal.forbidden(role: principal.role, needs: permission) }
    }

    static func describe(_ key: APIKey) -> String {
        "\(key.name) (\(key.prefix)), role \(key.role.rawValue), connections \(key.scope.summary)"
    }

    /// The scope a new key or operator asks for (`connections`, or all when nil), refused when it is empty or
    /// reaches further than the principal making it.
    static func scope(
        _ connections: [ConnectionID]?,
        within principal: Principal
    ) throws(ValidationError)
        -> ConnectionScope
    {
        if let connections, connections.isEmpty {
            throw ValidationError(
                field: "connectionIds",
                reason: "must name at least one connection; omit it for all of them"
            )
        }
        let scope: ConnectionScope = connections.map { .only(Set($0)) } ?? .all
        guard principal.scope.covers(scope) else {
            throw ValidationError(
                field: "connectionIds",
                reason: "must name only connections your own key may see; omit it only if yours sees them all"
            )
        }
        return scope
    }

    /// Refuses a scope naming a connection the principal's account does not have.
    static func checkExists(_ scope: ConnectionScope, of principal: Principal, in session: StoreSession) async throws {
        for connection in scope.connections?.sorted(by: { $0.rawValue < $1.rawValue }) ?? [] {
            guard let found = try await session.connection(connection), found.accountID == principal.account else {
                throw ValidationError(field: "connectionIds", reason: "names no connection \(connection)")
            }
        }
    }

    /// `fbk_` + 8 hex characters + `_` + 256 random bits in base64url.
    static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let prefix = (0..<4).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }
            .joined()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "fbk_\(prefix)_" + Data(bytes).base64URLEncodedString()
    }

    static func hash(_ secret: String) -> String {
        SHA256.hash(data: Data(secret.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let a = Array(a.utf8)
        let b = Array(b.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }

    /// When each key's use was last written by this node.
    final class LastUse: Sendable {
        private let written = Mutex<[String: Date]>([:])

        /// Whether a use at `at` should be written, noting it if so.
        func due(_ id: String, at now: Date) -> Bool {
            written.withLock { written in
                if let last = written[id], now.timeIntervalSince(last) < AccessUseCases.lastUseResolution,
                    now >= last
                {
                    return false
                }
                written[id] = now
                return true
            }
        }
    }
}
