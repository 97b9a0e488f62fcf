import Foundation

/// What FlexBridge asks of Amazon to connect a seller: the consent link, the code exchange, and an end-to-end check.
/// FlexEngine implements it over the SellingPartner client; the API only records and relays.
public protocol SellerAuthorizer: Sendable {
    /// Where the seller consents: Seller Central's consent page (or the simulator's) for the connection's application.
    func consentURL(for connection: Connection, state: String, redirectURI: String) -> URL

    /// Exchanges the `spapi_oauth_code` of the seller's consent for the seller's refresh token.
    func refreshToken(
        forCode code: String,
        redirectURI: String,
        connection: Connection,
        clientSecret: String
    ) async throws -> String

    /// Checks the connection end to end, in order; the first failed check says what to fix.
    func check(
        _ connection: Connection,
        credentials: ConnectionCredentials,
        locationIDs: [String]
    ) async -> ConnectionCheckReport
}

/// The outcome of checking a connection end to end.
public struct ConnectionCheckReport: Sendable, Hashable {
    public struct Check: Sendable, Hashable {
        public var name: String
        public var ok: Bool
        public var message: String

        public init(name: String, ok: Bool, message: String) {
            self.name = name
            self.ok = ok
            self.message = message
        }
    }

    public var checks: [Check]
    /// Amazon refused the refresh token: the connection needs the seller's consent again.
    public var needsReauthorization: Bool

    public init(checks: [Check], needsReauthorization: Bool = false) {
        self.checks = checks
        self.needsReauthorization = needsReauthorization
    }

    public var ok: Bool { checks.allSatisfy(\.ok) }

    /// What the test makes of a connection in `status`: a refused refresh token needs the seller's consent again; a
    /// test that passes makes such a connection active again; nil leaves it as it is.
    public func newStatus(from status: Connection.Status) -> Connection.Status? {
        if needsReauthorization { return status == .needsReauthorization ? nil : .needsReauthorization }
        return ok && status == .needsReauthorization ? .active : nil
    }
}
