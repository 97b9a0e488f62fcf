import Foundation

/// Login with Amazon as the simulator plays it: registered applications, the seller's consent turned into a
/// one-time authorization code, refresh tokens, and one-hour access tokens.
struct LoginWithAmazon: Sendable, Codable {
    struct Application: Sendable, Codable {
        var clientID: String
        var clientSecret: String
    }

    struct AuthorizationCode: Sendable, Codable {
        var clientID: String
        var merchantID: String
        var redirectURI: String?
        var expiresAt: Date
    }

    struct RefreshGrant: Sendable, Codable {
        var clientID: String
        var merchantID: String
        var revoked: Bool
    }

    struct AccessGrant: Sendable, Codable {
        var clientID: String
        var merchantID: String
        var expiresAt: Date
    }

    /// How long access tokens live, as Amazon's do.
    static let accessTokenLifetime: TimeInterval = 3600
    /// How long an authorization code can be exchanged.
    static let codeLifetime: TimeInterval = 300

    var applications: [String: Application] = [:]
    /// Solution ids (amzn1.sp.solution…) of registered applications, to their client ids.
    var solutions: [String: String] = [:]
    var codes: [String: AuthorizationCode] = [:]
    var refreshTokens: [String: RefreshGrant] = [:]
    var accessTokens: [String: AccessGrant] = [:]

    /// An LWA error as Amazon's token endpoint answers it.
    struct TokenError: Error, Sendable {
        var status: Int
        var error: String
        var description: String
    }

    /// A token response body, in Login with Amazon's snake_case field names.
    // swift-format-ignore: AlwaysUseLowerCamelCase
    struct Tokens: Sendable, Codable {
        var access_token: String
        var refresh_token: String
        var token_type: String
        var expires_in: Int
    }

    mutating func issueCode(clientID: String, merchantID: String, redirectURI: String?, now: Date) -> String {
        let code = "ANd" + Self.randomToken(length: 18)
        codes[code] = AuthorizationCode(
            clientID: clientID,
            merchantID: merchantID,
            redirectURI: redirectURI,
            expiresAt: now.addingTimeInterval(Self.codeLifetime)
        )
        return code
    }

    mutating func mintRefreshToken(clientID: String, merchantID: String) -> String {
        let token = "Atzr|" + Self.randomToken(length: 40)
        refreshTokens[token] = RefreshGrant(clientID: clientID, merchantID: merchantID, revoked: false)
        return token
    }

    /// Handles a token request's form fields.
    mutating func token(form: [String: String], now: Date) throws(TokenError) -> Tokens {
        guard let grantType = form["grant_type"], !grantType.isEmpty else {
            throw TokenError(
                status: 400,
                error: "invalid_request",
                description: "The request is missing a required parameter : grant_type"
            )
        }
        guard let clientID = form["client_id"], let secret = form["client_secret"] else {
            throw TokenError(
                status: 400,
                error: "invalid_request",
                description: "The request is missing a required parameter : client_id or client_secret"
            )
        }
        guard let application = applications[clientID], application.clientSecret == secret else {
            throw TokenError(status: 401, error: "invalid_client", description: "Client authentication failed")
        }
        let refreshToken: String
        switch grantType {
        case "authorization_code":
            guard let code = form["code"] else {
                throw TokenError(
                    status: 400,
                    error: "invalid_request",
                    description: "The request is missing a required parameter : code"
                )
            }
            guard let grant = codes.removeValue(forKey: code), grant.clientID == clientID, grant.expiresAt > now else {
                throw TokenError(
                    status: 400,
                    error: "invalid_grant",
                    description: "The request has an invalid grant parameter : code"
                )
            }
            if let expected = grant.redirectURI, let given = form["redirect_uri"], given != expected {
                throw TokenError(
                    status: 400,
                    error: "invalid_grant",
                    description: "The request has an invalid grant parameter : redirect_uri"
                )
            }
            refreshToken = mintRefreshToken(clientID: clientID, merchantID: grant.merchantID)
        case "refresh_token":
            guard let token = form["refresh_token"] else {
                throw TokenError(
                    status: 400,
                    error: "invalid_request",
                    description: "The request is missing a required parameter : refresh_token"
                )
            }
            guard let grant = refreshTokens[token], grant.clientID == clientID, !grant.revoked else {
                throw TokenError(
                    status: 400,
                    error: "invalid_grant",
                    description: "The request has an invalid grant parameter : refresh_token"
                )
            }
            refreshToken = token
        default:
            throw TokenError(
                status: 400,
                error: "unsupported_grant_type",
                description: "The authorization grant type is not supported by the authorization server"
            )
        }
        guard let grant = refreshTokens[refreshToken] else {
            throw TokenError(
                status: 400,
                error: "invalid_grant",
                description: "The request has an invalid grant parameter : refresh_token"
            )
        }
        let accessToken = "Atza|" + Self.randomToken(length: 40)
        accessTokens[accessToken] = AccessGrant(
            clientID: clientID,
            merchantID: grant.merchantID,
            expiresAt: now.addingTimeInterval(Self.accessTokenLifetime)
        )
        return Tokens(
            access_token: accessToken,
            refresh_token: refreshToken,
            token_type: "bearer",
            expires_in: Int(Self.accessTokenLifetime)
        )
    }

    /// The merchant an access token acts for, or why it is refused.
    func merchant(forAccessToken token: String?, now: Date) -> Result<String, AccessDenial> {
        guard let token, !token.isEmpty else { return .failure(.missing) }
        guard let grant = accessTokens[token] else { return .failure(.invalid) }
        guard grant.expiresAt > now else { return .failure(.expired) }
        guard let application = applications[grant.clientID], !application.clientID.isEmpty else {
            return .failure(.invalid)
        }
        return .success(grant.merchantID)
    }

    enum AccessDenial: Error {
        case missing, invalid, expired

        var details: String {
            switch self {
            case .missing: "Access token is missing in the request header."
            case .invalid: "The access token you provided is revoked, malformed or invalid."
            case .expired: "The access token you provided has expired."
            }
        }
    }

    static func randomToken(length: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt(alphabet.count)))] })
    }
}
