import FlexCore
import Foundation
import SellingPartner

/// Connects sellers through Login with Amazon and checks connections with a real call.
///
/// Which Amazon a connection talks to follows its endpoint: Amazon's hosts (production or sandbox) use Amazon's
/// Login with Amazon and Seller Central; any other base URL is a simulator, whose token endpoint and consent page
/// sit under that same URL.
public struct AmazonSellerAuthorizer: SellerAuthorizer {
    /// Which endpoints a connection may send its secrets to.
    public let outbound: OutboundPolicy

    public init(outbound: OutboundPolicy = .production) {
        self.outbound = outbound
    }

    public func consentURL(for connection: Connection, state: String, redirectURI: String) -> URL {
        var components = URLComponents(url: Self.consentPage(for: connection), resolvingAgainstBaseURL: false)!
        components.queryItems = [
            URLQueryItem(name: "application_id", value: connection.applicationID ?? connection.applicationClientID),
            URLQueryItem(name: "state", value: state),
            URLQueryItem(name: "redirect_uri", value: redirectURI),
        ]
        return components.url!
    }

    public func refreshToken(
        forCode code: String,
        redirectURI: String,
        connection: Connection,
        clientSecret: String
    ) async throws -> String {
        try outbound.check(endpoint: connection.endpoint)
        return try await Self.login(for: connection, clientSecret: clientSecret).refreshToken(
            authorizationCode: code,
            redirectURI: redirectURI
        )
    }

    public func check(
        _ connection: Connection,
        credentials: ConnectionCredentials,
        locationIDs: [String]
    ) async -> ConnectionCheckReport {
        var checks: [ConnectionCheckReport.Check] = []
        do {
            try outbound.check(endpoint: connection.endpoint)
        } catch {
            return ConnectionCheckReport(checks: [
                .init(name: "endpoint", ok: false, message: "The connection's \(error). Nothing was sent to it.")
            ])
        }
        guard let refreshToken = credentials.refreshToken else {
            return ConnectionCheckReport(checks: [
                .init(
                    name: "authorization",
                    ok: false,
                    message: "The seller has not authorised FlexBridge yet: send them the authorization link."
                )
            ])
        }
        let login = Self.login(for: connection, clientSecret: credentials.clientSecret)
        do {
            _ = try await login.accessToken(refreshToken: refreshToken)
            checks.append(.init(name: "authorization", ok: true, message: "Login with Amazon gave an access token."))
        } catch {
            let message: String
            var reauthorize = false
            switch error {
            case .needsReauthorization(let text):
                message =
                    "Amazon refused the seller's refresh token (\(text)): the seller must authorise FlexBridge again."
                reauthorize = true
            case .invalidClient(let text):
                message =
                    "Amazon refused the application's client id or secret (\(text)): check them in Seller Central's Developer Central."
            default:
                message = error.description
            }
            checks.append(.init(name: "authorization", ok: false, message: message))
            return ConnectionCheckReport(checks: checks, needsReauthorization: reauthorize)
        }
        let client = AmazonClients(configuration: .init(retry: RetryPolicy(maxAttempts: 2, timeout: 15)))
            .client(for: connection, clientSecret: credentials.clientSecret, refreshToken: refreshToken)
        do {
            _ = try await client.shipments(
                status: .accepted,
                locationID: nil,
                updatedAfter: nil,
                pageSize: 1,
                pageToken: nil
            )
            checks.append(
                .init(name: "api access", ok: true, message: "The External Fulfillment Shipments API answered.")
            )
        } catch {
            checks.append(
                .init(name: "api access", ok: false, message: Self.explain(error.sellingPartnerError ?? error))
            )
            return ConnectionCheckReport(checks: checks)
        }
        for location in locationIDs {
            do {
                _ = try await client.shipments(
                    status: .accepted,
                    locationID: location,
                    updatedAfter: nil,
                    pageSize: 1,
                    pageToken: nil
                )
                checks.append(
                    .init(name: "location \(location)", ok: true, message: "Amazon knows location \(location).")
                )
            } catch {
                checks.append(
                    .init(
                        name: "location \(location)",
                        ok: false,
                        message:
                            "Amazon does not accept location \(location): \(Self.explain(error.sellingPartnerError ?? error))"
                    )
                )
            }
        }
        return ConnectionCheckReport(checks: checks)
    }

    static func explain(_ error: any Error) -> String {
        if let error = error as? AmazonAPIError, error.status == 403 {
            return
                "Amazon refused the call (403 \(error.code ?? "")): the application lacks the Direct-to-Consumer Shipping role, or the seller is not allowlisted for External Fulfillment. \(error.description)"
        }
        return String(describing: error)
    }

    /// Whether the endpoint is one of Amazon's own hosts.
    static func isAmazon(_ url: URL) -> Bool {
        guard let host = url.host?.lowercased() else { return false }
        return host == "amazon.com" || host.hasSuffix(".amazon.com")
    }

    static func login(for connection: Connection, clientSecret: String) -> LoginWithAmazon {
        let endpoint =
            isAmazon(connection.endpoint)
            ? LoginWithAmazon.amazonTokenEndpoint : connection.endpoint.appendingPathComponent("auth/o2/token")
        return LoginWithAmazon(
            tokenEndpoint: endpoint,
            application: ApplicationCredentials(clientID: connection.applicationClientID, clientSecret: clientSecret)
        )
    }

    static func consentPage(for connection: Connection) -> URL {
        if !isAmazon(connection.endpoint) {
            return connection.endpoint.appendingPathComponent("apps/authorize/consent")
        }
        let central =
            connection.marketplaceIDs.lazy.compactMap { sellerCentral[$0.rawValue] }.first
            ?? (connection.region == .na
                ? "sellercentral.amazon.com"
                : connection.region == .fe ? "sellercentral.amazon.co.jp" : "sellercentral-europe.amazon.com")
        return URL(string: "https://\(central)/apps/authorize/consent")!
    }

    /// Seller Central's host per marketplace.
    static let sellerCentral: [String: String] = [
        "ATVPDKIKX0DER": "sellercentral.amazon.com", "A2EUQ1WTGCTBG2": "sellercentral.amazon.ca",
        "A1AM78C64UM0Y8": "sellercentral.amazon.com.mx", "A2Q3Y263D00KWC": "sellercentral.amazon.com.br",
        "A21TJRUUN4KGV": "sellercentral.amazon.in", "A1F83G8C2ARO7P": "sellercentral.amazon.co.uk",
        "A1PA6795UKMFR9": "sellercentral.amazon.de", "A13V1IB3VIYZZH": "sellercentral.amazon.fr",
        "APJ6JRA9NG5V4": "sellercentral.amazon.it", "A1RKKUPIHCS9HS": "sellercentral.amazon.es",
        "A1805IZSGTT6HS": "sellercentral.amazon.nl", "A2NODRKZP88ZB9": "sellercentral.amazon.se",
        "A1C3SOZRARQ6R3": "sellercentral.amazon.pl", "A33AVAJ2PDY3EV": "sellercentral.amazon.com.tr",
        "A2VIGQ35RCS4UG": "sellercentral.amazon.ae", "A17E79C6D8DWNP": "sellercentral.amazon.sa",
        "ARBP9OOSHTCHU": "sellercentral.amazon.eg", "AMEN7PMS3EDWL": "sellercentral.amazon.com.be",
        "A1VC38T7YXB528": "sellercentral.amazon.co.jp", "A39IBJ37TRP1C6": "sellercentral.amazon.com.au",
        "A19VAU5U5O7RUS": "sellercentral.amazon.sg",
    ]
}
