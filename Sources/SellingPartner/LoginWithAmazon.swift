import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// A Login with Amazon application: what FlexBridge presents to get a seller's access tokens.
public struct ApplicationCredentials: Sendable, Hashable {
    public var clientID: String
    public var clientSecret: String

    public init(clientID: String, clientSecret: String) {
        self.clientID = clientID
        self.clientSecret = clientSecret
    }
}

/// An access token and when it stops working.
public struct AccessToken: Sendable, Hashable {
    public var value: String
    public var expiresAt: Date

    public init(value: String, expiresAt: Date) {
        self.value = value
        self.expiresAt = expiresAt
    }
}

/// Amazon's token endpoint: refresh tokens for access tokens, authorization codes for refresh tokens.
public struct LoginWithAmazon: Sendable {
    /// Amazon's token endpoint, or the simulator's.
    public var tokenEndpoint: URL
    public var application: ApplicationCredentials
    let httpClient: HTTPClient

    public static let amazonTokenEndpoint = URL(string: "https://api.amazon.com/auth/o2/token")!

    public init(
        tokenEndpoint: URL = Self.amazonTokenEndpoint,
        application: ApplicationCredentials,
        httpClient: HTTPClient = SellingPartnerClient.sharedHTTPClient
    ) {
        self.tokenEndpoint = tokenEndpoint
        self.application = application
        self.httpClient = httpClient
    }

    /// A new access token for the seller whose refresh token this is.
    public func accessToken(refreshToken: String, now: Date = Date()) async throws(LoginWithAmazonError) -> AccessToken
    {
        let answer = try await post(["grant_type": "refresh_token", "refresh_token": refreshToken])
        guard let token = answer["access_token"] as? String else {
            throw .unavailable("the token endpoint's answer holds no access_token")
        }
        let lifetime = (answer["expires_in"] as? Int) ?? 3600
        return AccessToken(value: token, expiresAt: now.addingTimeInterval(TimeInterval(lifetime)))
    }

    /// The refresh token a seller's consent gave (`spapi_oauth_code`), exchanged once.
    public func refreshToken(
        authorizationCode: String,
        redirectURI: String?
    ) async throws(LoginWithAmazonError) -> String {
        var form = ["grant_type": "authorization_code", "code": authorizationCode]
        form["redirect_uri"] = redirectURI
        let answer = try await post(form)
        guard let token = answer["refresh_token"] as? String else {
            throw .unavailable("the token endpoint's answer holds no refresh_token")
        }
        return token
    }

    private func post(_ fields: [String: String]) async throws(LoginWithAmazonError) -> [String: Any] {
        var form = fields
        form["client_id"] = application.clientID
        form["client_secret"] = application.clientSecret
        var request = HTTPClientRequest(url: tokenEndpoint.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded;charset=UTF-8")
        request.body = .bytes(ByteBuffer(string: Self.encode(form)))
        let status: Int
        let body: ByteBuffer
        do {
            let response = try await httpClient.execute(request, timeout: .seconds(30))
            status = Int(response.status.code)
            body = try await response.body.collect(upTo: 1 << 20)
        } catch {
            throw .unavailable(String(describing: error))
        }
        let json = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any]
        guard (200..<300).contains(status) else {
            let error = json?["error"] as? String ?? "HTTP \(status)"
            let description = json?["error_description"] as? String ?? String(buffer: body)
            switch (status, error) {
            case (400, "invalid_grant"): throw .needsReauthorization(description)
            case (_, "invalid_client"), (401, _): throw .invalidClient(description)
            case (500..., _), (429, _): throw .unavailable("HTTP \(status) \(error): \(description)")
            default: throw .refused(status: status, error: error, description: description)
            }
        }
        guard let json else { throw .unavailable("the token endpoint answered something that is not JSON") }
        return json
    }

    static func encode(_ form: [String: String]) -> String {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-._~"))
        return form.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? $0.value)" }
            .joined(separator: "&")
    }
}

/// A seller's access tokens: cached, refreshed a minute before they expire, one refresh at a time however many
/// requests wait for it. A refused refresh token is remembered, so that a revoked authorisation costs one call to
/// Login with Amazon, not one per request. A request whose task is cancelled stops waiting at once (a shutdown does
/// not wait out Login with Amazon's timeout); the refresh goes on for the others.
public actor AccessTokenProvider {
    let login: LoginWithAmazon
    let refreshToken: String
    let clock: @Sendable () -> Date
    /// How long before expiry a token is refreshed.
    let margin: TimeInterval
    private var current: AccessToken?
    private var refreshing = false
    private var waiters: [Int: CheckedContinuation<AccessToken, any Error>] = [:]
    private var nextWaiter = 0
    private var refused: LoginWithAmazonError?
    /// Refreshes done, for metrics and tests.
    public private(set) var refreshCount = 0

    public init(
        login: LoginWithAmazon,
        refreshToken: String,
        margin: TimeInterval = 60,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.login = login
        self.refreshToken = refreshToken
        self.margin = margin
        self.clock = clock
    }

    /// A token valid for at least `margin` more seconds. Throws ``LoginWithAmazonError``, or `CancellationError` when
    /// the calling task is cancelled while the token is refreshed.
    public func token() async throws -> String {
        if let refused { throw refused }
        if let current, current.expiresAt.timeIntervalSince(clock()) > margin { return current.value }
        if !refreshing {
            refreshing = true
            let login = self.login
            let refreshToken = self.refreshToken
            let now = clock()
            Task {
                let result: Result<AccessToken, LoginWithAmazonError>
                do {
                    result = .success(try await login.accessToken(refreshToken: refreshToken, now: now))
                } catch let error as LoginWithAmazonError {
                    result = .failure(error)
                } catch {
                    result = .failure(.unavailable(String(describing: error)))
                }
                self.finishRefresh(result)
            }
        }
        return try await waitForRefresh().value
    }

    private func waitForRefresh() async throws -> AccessToken {
        nextWaiter += 1
        let id = nextWaiter
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if Task.isCancelled {
                    continuation.resume(throwing: CancellationError())
                } else {
                    waiters[id] = continuation
                }
            }
        } onCancel: {
            Task { await self.stopWaiting(id) }
        }
    }

    private func stopWaiting(_ id: Int) {
        waiters.removeValue(forKey: id)?.resume(throwing: CancellationError())
    }

    private func finishRefresh(_ result: Result<AccessToken, LoginWithAmazonError>) {
        refreshing = false
        switch result {
        case .success(let token):
            current = token
            refreshCount += 1
        case .failure(.needsReauthorization(let text)):
            refused = .needsReauthorization(text)
        case .failure(.invalidClient(let text)):
            refused = .invalidClient(text)
        case .failure:
            break
        }
        let waiting = waiters
        waiters.removeAll()
        for continuation in waiting.values { continuation.resume(with: result.mapError { $0 }) }
    }

    /// Starts with a token obtained elsewhere (one refresh fewer at start; tests).
    public func preload(_ token: AccessToken) {
        current = token
    }

    /// Forgets the cached token, after Amazon refused it (403), so that the next call refreshes.
    public func invalidate(_ value: String) {
        if current?.value == value { current = nil }
    }
}
