import FlexCore
import FlexStore
import Foundation

/// Connections — a seller account in a region — as the principal may see them: added, consented to, tested,
/// configured (settings, hub mappings, listings) and disconnected, each in one transaction, signed with the
/// principal. What the principal may not see does not exist for it: every call answers as for an unknown id.
public struct ConnectionUseCases: Sendable {
    let store: Store
    let outbound: OutboundPolicy

    public init(store: Store, outbound: OutboundPolicy) {
        self.store = store
        self.outbound = outbound
    }

    /// Why a connection was not added.
    public enum Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        /// A key limited to some connections adds none: it could not see what it made.
        case limitedScope

        public var description: String {
            switch self {
            case .limitedScope:
                "A key limited to some connections cannot add connections; use a key over all of them."
            }
        }
    }

    // MARK: Reading

    /// The connection, when the principal may see it: its account's, within its scope.
    public func connection(_ id: ConnectionID, by principal: Principal) async throws -> Connection? {
        try AccessUseCases.require(.read, of: principal)
        return try await store.read { try await Self.visible(id, principal, in: $0) }
    }

    /// The connections the principal may see, oldest first, each with whether the seller has consented.
    public func connections(by principal: Principal) async throws -> [(connection: Connection, authorized: Bool)] {
        try AccessUseCases.require(.read, of: principal)
        return try await store.read { session in
            var seen: [(Connection, Bool)] = []
            for connection in try await session.connections(of: principal.account)
            where principal.sees(connection.id) {
                seen.append((connection, try await session.credentials(for: connection.id).refreshToken != nil))
            }
            return seen
        }
    }

    /// The ids of the connections the principal may see: what the lists it reads are narrowed to.
    public func visibleIDs(by principal: Principal) async throws -> [ConnectionID] {
        try await visibleConnections(by: principal).map(\.id)
    }

    /// The connections the principal may see, oldest first. Every list request and panel page asks this: the
    /// connections alone, no secret opened.
    public func visibleConnections(by principal: Principal) async throws -> [Connection] {
        try AccessUseCases.require(.read, of: principal)
        return try await store.read { try await $0.connections() }
            .filter { $0.accountID == principal.account && principal.sees($0.id) }
    }

    /// Whether the seller has consented to the connection.
    public func isAuthorized(_ id: ConnectionID) async throws -> Bool {
        try await store.read { try await $0.credentials(for: id).refreshToken != nil }
    }

    /// The connection's change log, newest first; nil when the principal sees no such connection.
    public func changes(of id: ConnectionID, limit: Int, by principal: Principal) async throws -> [ConfigChange]? {
        try AccessUseCases.require(.read, of: principal)
        return try await store.read { session in
            guard try await Self.visible(id, principal, in: session) != nil else { return nil }
            return try await session.configChanges(connectionID: id, limit: limit)
        }
    }

    /// The connection's hub mappings; nil when the principal sees no such connection.
    public func mappings(of id: ConnectionID, by principal: Principal) async throws -> [LocationMapping]? {
        try AccessUseCases.require(.read, of: principal)
        return try await store.read { session in
            guard try await Self.visible(id, principal, in: session) != nil else { return nil }
            return try await session.locationMappings(for: id)
        }
    }

    // MARK: Changing

    /// Adds a connection to the principal's account, its client secret sealed. Its endpoint must be one this node
    /// may send secrets to (``OutboundPolicy``).
    public func create(_ connection: Connection, clientSecret: String, by principal: Principal) async throws {
        try AccessUseCases.require(.manageConnections, of: principal)
        guard principal.scope == .all else { throw Refusal.limitedScope }
        if let endpoint = connection.endpointOverride { try outbound.check(endpoint: endpoint) }
        var connection = connection
        connection.accountID = principal.account
        try await store.transaction { [connection] in
            try await $0.insertConnection(connection, clientSecret: clientSecret, actor: principal.actor)
        }
    }

    /// Disconnects the connection (its refresh token forgotten); nil when the principal sees no such connection.
    public func disconnect(_ id: ConnectionID, by principal: Principal) async throws -> Connection? {
        try AccessUseCases.require(.manageConnections, of: principal)
        return try await store.transaction { session in
            guard try await Self.visible(id, principal, in: session) != nil else { return nil }
            return try await session.disconnect(id, actor: principal.actor)
        }
    }

    /// Stores a refresh token entered by hand and activates the connection; nil when the principal sees no such
    /// connection.
    public func setRefreshToken(
        _ token: String,
        of id: ConnectionID,
        by principal: Principal
    ) async throws
        -> Connection?
    {
        try AccessUseCases.require(.manageConnections, of: principal)
        return try await store.transaction { session in
            guard try await Self.visible(id, principal, in: session) != nil else { return nil }
            try await session.authorize(id, refreshToken: token, actor: principal.actor)
            return try await session.connection(id)
        }
    }

    /// A consent link's token for the connection, valid for `lifetime`; nil when the principal sees no such
    /// connection.
    public func createLink(
        for id: ConnectionID,
        lifetime: TimeInterval,
        by principal: Principal
    ) async throws -> (token: String, expiresAt: Date)? {
        try AccessUseCases.require(.manageConnections, of: principal)
        return try await store.transaction { session in
            guard try await Self.visible(id, principal, in: session) != nil else { return nil }
            return try await session.createAuthorizationLink(for: id, lifetime: lifetime)
        }
    }

    /// The connection a consent link (or nil when it does not work) is for.
    public func linkedConnection(_ token: String) async throws -> ConnectionID? {
        try await store.read { try await $0.authorizationLink(token) }
    }

    /// A new single-use consent state for the connection, working for `lifetime`; nil when it is gone.
    public func newConsentState(
        for id: ConnectionID,
        redirectURI: String,
        lifetime: TimeInterval
    ) async throws -> (connection: Connection, state: String)? {
        try await store.transaction { session in
            guard let connection = try await session.connection(id) else { return nil }
            let (state, _) = try await session.createAuthorizationState(
                for: id,
                redirectURI: redirectURI,
                lifetime: lifetime
            )
            return (connection, state)
        }
    }

    /// A consent's state taken back, once: the connection, its secrets and the redirect URI it was made for; nil
    /// when the state is unknown, used or expired, or the connection is gone.
    public func consumeConsentState(
        _ state: String
    ) async throws -> (connection: Connection, credentials: ConnectionCredentials, redirectURI: String)? {
        guard let (id, redirectURI) = try await store.transaction({ try await $0.consumeAuthorizationState(state) })
        else { return nil }
        return try await store.read { session in
            guard let connection = try await session.connection(id) else { return nil }
            return (connection, try await session.credentials(for: id), redirectURI)
        }
    }

    /// Stores the refresh token the seller's consent gave and activates the connection.
    public func consented(_ id: ConnectionID, refreshToken: String, seller: SellingPartnerID) async throws {
        try await store.transaction {
            try await $0.authorize(id, refreshToken: refreshToken, actor: "seller \(seller)")
        }
    }

    /// What a connection test needs: the connection, its secrets and its mapped locations; nil when the principal
    /// sees no such connection.
    public func forTest(
        _ id: ConnectionID,
        by principal: Principal
    ) async throws -> (connection: Connection, credentials: ConnectionCredentials, locationIDs: [String])? {
        try AccessUseCases.require(.manageConnections, of: principal)
        return try await store.read { session in
            guard let connection = try await Self.visible(id, principal, in: session) else { return nil }
            let locations = Set(try await session.locationMappings(for: id).map(\.locationID.rawValue)).sorted()
            return (connection, try await session.credentials(for: id), locations)
        }
    }

    /// Records what a connection test found: a refused refresh token marks the connection for re-authorisation,
    /// a test that passes makes such a connection active again.
    public func recordTest(_ report: ConnectionCheckReport, of connection: Connection) async throws {
        guard let status = report.newStatus(from: connection.status) else { return }
        try await store.transaction { try await $0.setStatus(connection.id, to: status, actor: "connection test") }
    }

    /// Replaces the connection's settings; nil when the principal sees no such connection.
    public func updateSettings(
        of id: ConnectionID,
        to settings: ConnectionSettings,
        by principal: Principal
    ) async throws -> ConnectionSettings? {
        try AccessUseCases.require(.changeSettings, of: principal)
        return try await store.transaction { session in
            guard try await Self.visible(id, principal, in: session) != nil else { return nil }
            return try await session.updateSettings(of: id, actor: principal.actor) { $0 = settings }
        }
    }

    /// Maps a hub to one of the connection's locations; false when the principal sees no such connection.
    public func setMapping(_ mapping: LocationMapping, by principal: Principal) async throws -> Bool {
        try AccessUseCases.require(.changeSettings, of: principal)
        return try await store.transaction { session in
            guard try await Self.visible(mapping.connectionID, principal, in: session) != nil else { return false }
            try await session.setLocationMapping(mapping, actor: principal.actor)
            return true
        }
    }

    /// Removes a hub's mappings (of one channel, or all); nil when the principal sees no such connection.
    public func removeMapping(
        of id: ConnectionID,
        hub: HubCode,
        channel: ChannelName?,
        by principal: Principal
    ) async throws -> (removed: [LocationMapping], retiringItems: Int)? {
        try AccessUseCases.require(.changeSettings, of: principal)
        return try await store.transaction { session in
            guard try await Self.visible(id, principal, in: session) != nil else { return nil }
            return try await session.removeLocationMapping(
                connectionID: id,
                hub: hub,
                channel: channel,
                actor: principal.actor
            )
        }
    }

    /// Removes a listing (of one marketplace, or all); nil when the principal sees no such connection.
    public func removeListing(
        of id: ConnectionID,
        merchantSKU: MerchantSKU,
        marketplaceID: MarketplaceID?,
        by principal: Principal
    ) async throws -> (removed: Int, retiringItems: Int)? {
        try AccessUseCases.require(.writeStock, of: principal)
        return try await store.transaction { session in
            guard try await Self.visible(id, principal, in: session) != nil else { return nil }
            return try await session.removeListing(
                connectionID: id,
                merchantSKU: merchantSKU,
                marketplaceID: marketplaceID,
                actor: principal.actor
            )
        }
    }

    /// The connection as `session` reads it, when the principal may see it.
    static func visible(
        _ id: ConnectionID,
        _ principal: Principal,
        in session: StoreSession
    ) async throws
        -> Connection?
    {
        guard principal.sees(id), let connection = try await session.connection(id),
            connection.accountID == principal.account
        else { return nil }
        return connection
    }
}
