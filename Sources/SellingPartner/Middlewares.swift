import AsyncHTTPClient
import Foundation
import HTTPTypes
import Logging
import Metrics
import NIOCore
import NIOPosix
import OpenAPIRuntime
import Tracing

extension HTTPField.Name {
    static let accessToken = HTTPField.Name("x-amz-access-token")!
    static let requestID = HTTPField.Name("x-amzn-RequestId")!
    static let rateLimit = HTTPField.Name("x-amzn-RateLimit-Limit")!
}

/// Signs each request with the seller's access token and FlexBridge's `User-Agent`. A 403 that refuses the token
/// (expired early, revoked) drops it and tries once more with a fresh one.
struct AuthenticationMiddleware: ClientMiddleware {
    let tokens: AccessTokenProvider
    let userAgent: String

    func intercept(
        _ request: HTTPRequest,
        body: HTTPBody?,
        baseURL: URL,
        operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        request.headerFields[.userAgent] = userAgent
        let token = try await tokens.token()
        request.headerFields[.accessToken] = token
        let (response, responseBody) = try await next(request, body, baseURL)
        guard response.status.code == 403 else { return (response, responseBody) }
        // Amazon refused the token itself: a fresh one may pass. Other 403s (a missing role) stay refusals.
        let data = try await Self.collect(responseBody)
        let text = String(decoding: data, as: UTF8.self).lowercased()
        guard text.contains("access token") else { return (response, HTTPBody(data)) }
        await tokens.invalidate(token)
        request.headerFields[.accessToken] = try await tokens.token()
        return try await next(request, body, baseURL)
    }

    static func collect(_ body: HTTPBody?) async throws -> Data {
        guard let body else { return Data() }
        return try await Data(collecting: body, upTo: 1 << 20)
    }
}

/// One client span per call to Amazon, named after its operation, around the retries and the rate limit's wait, in the
/// trace of the work that made it (a stock push, a command, a notified fetch). A no-op until a tracer is bootstrapped.
/// It says the call's operation, method, path and status, never a header (the access token) or a body.
struct TracingMiddleware: ClientMiddleware {
    func intercept(
        _ request: HTTPRequest,
        body: HTTPBody?,
        baseURL: URL,
        operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        try await withRedactedSpan(
            "amazon \(operationID)",
            context: InstrumentationContext.current ?? .topLevel,
            ofKind: .client
        ) { span in
            span.attributes["amazon.operation"] = operationID
            span.attributes["http.request.method"] = request.method.rawValue
            span.attributes["url.path"] = request.path.map { String($0.prefix { $0 != "?" }) }
            span.attributes["server.address"] = baseURL.host
            do {
                let (response, responseBody) = try await next(request, body, baseURL)
                span.attributes["http.response.status_code"] = Int(response.status.code)
                return (response, responseBody)
            } catch {
                // Amazon's answer after the retries (it comes wrapped by the runtime): its status and code.
                if let amazon = error.sellingPartnerError as? AmazonAPIError {
                    span.attributes["http.response.status_code"] = amazon.status
                    span.attributes["amazon.error_code"] = amazon.code
                }
                throw error
            }
        }
    }
}

/// Keeps the seller's rate limits: waits for the operation's bucket before sending, follows the rate Amazon
/// reports, and slows down after a 429.
struct RateLimitMiddleware: ClientMiddleware {
    let limiter: RateLimiter

    func intercept(
        _ request: HTTPRequest,
        body: HTTPBody?,
        baseURL: URL,
        operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let waited = try await limiter.acquire(operationID)
        Timer(label: "flexbridge_amazon_rate_limit_wait_seconds", dimensions: [("operation", operationID)])
            .recordNanoseconds(Int64(waited * 1e9))
        let (response, responseBody) = try await next(request, body, baseURL)
        if let value = response.headerFields[.rateLimit], let rate = Double(value) {
            await limiter.observe(rateLimit: rate, for: operationID)
        }
        if response.status.code == 429 {
            await limiter.throttled(operationID)
        } else if (200..<300).contains(response.status.code) {
            await limiter.succeeded(operationID)
        }
        return (response, responseBody)
    }
}

/// How the client retries.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first included.
    public var maxAttempts: Int
    /// The first backoff; each next one doubles, up to `maximumDelay`, with full jitter.
    public var initialDelay: Double
    public var maximumDelay: Double
    /// How long one attempt may take.
    public var timeout: Double

    public init(maxAttempts: Int = 5, initialDelay: Double = 0.2, maximumDelay: Double = 10, timeout: Double = 10) {
        self.maxAttempts = maxAttempts
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.timeout = timeout
    }
}

/// Retries what can safely be retried and turns every failure into a typed error.
///
/// Reads (GET) are retried on 429, 5xx, timeouts and lost connections. Amazon's writes carry no idempotency key,
/// so a write is retried only when Amazon certainly did not apply it: a 429 or 503, or a connection that could not
/// be made. Otherwise the error says `mayHaveApplied`, and the caller reads the state before trying again.
/// Every answer that is not a success becomes an ``AmazonAPIError`` carrying Amazon's code, message, details and
/// request id; logs carry the request id, never a token.
struct RetryMiddleware: ClientMiddleware {
    let policy: RetryPolicy
    let logger: Logger
    let sleep: @Sendable (Double) async throws -> Void
    var observe: (@Sendable (_ operation: String, _ status: Int?) -> Void)?

    func intercept(
        _ request: HTTPRequest,
        body: HTTPBody?,
        baseURL: URL,
        operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let payload: Data? = if let body { try await Data(collecting: body, upTo: 16 << 20) } else { nil }
        let isRead = request.method == .get
        let calls = Counter(label: "flexbridge_amazon_calls_total", dimensions: [("operation", operationID)])
        var attempt = 0
        while true {
            attempt += 1
            let started = ContinuousClock.now
            do {
                let (response, responseBody) = try await next(request, payload.map { HTTPBody($0) }, baseURL)
                let elapsed = ContinuousClock.now - started
                calls.increment()
                Timer(label: "flexbridge_amazon_call_duration_seconds", dimensions: [("operation", operationID)])
                    .recordNanoseconds(
                        elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
                    )
                let status = Int(response.status.code)
                observe?(operationID, status)
                // The whole answer is read here, so that a connection lost in the middle of it is a transport
                // failure like any other, retried or reported with the rest.
                if (200..<300).contains(status) {
                    let data: Data? =
                        if let responseBody { try await Data(collecting: responseBody, upTo: 32 << 20) } else { nil }
                    return (response, data.map { HTTPBody($0) })
                }
                Counter(
                    label: "flexbridge_amazon_errors_total",
                    dimensions: [("operation", operationID), ("status", String(status))]
                ).increment()
                let data = try await AuthenticationMiddleware.collect(responseBody)
                let error = Self.error(operationID: operationID, response: response, body: data, attempts: attempt)
                let retryable = isRead ? error.isTransient : (status == 429 || status == 503)
                logger.log(
                    level: retryable && attempt < policy.maxAttempts ? .debug : .warning,
                    "Amazon refused a call",
                    metadata: [
                        "operation": "\(operationID)", "status": "\(status)", "code": "\(error.code ?? "")",
                        "requestId": "\(error.requestID ?? "")", "attempt": "\(attempt)",
                    ]
                )
                guard retryable, attempt < policy.maxAttempts else { throw error }
            } catch {
                // Errors of the middleware inside this one arrive wrapped in the runtime's ClientError.
                let cause = (error as? ClientError)?.underlyingError ?? error
                if cause is CancellationError || cause is AmazonAPIError { throw cause }
                if let cause = cause as? LoginWithAmazonError {
                    // No request left for Amazon: the token could not be had. Retried only if Login with Amazon
                    // itself was unavailable; a refused refresh token is for the seller to fix.
                    guard cause.isTransient, attempt < policy.maxAttempts else { throw cause }
                } else {
                    observe?(operationID, nil)
                    let connectFailure = Self.isConnectFailure(cause)
                    let transport = AmazonTransportError(
                        operation: operationID,
                        reason: String(describing: cause),
                        mayHaveApplied: !connectFailure,
                        attempts: attempt
                    )
                    Counter(
                        label: "flexbridge_amazon_errors_total",
                        dimensions: [("operation", operationID), ("status", "transport")]
                    ).increment()
                    logger.warning(
                        "No answer from Amazon",
                        metadata: [
                            "operation": "\(operationID)", "attempt": "\(attempt)", "error": "\(transport.reason)",
                        ]
                    )
                    guard isRead || connectFailure, attempt < policy.maxAttempts else { throw transport }
                }
            }
            let ceiling = min(policy.maximumDelay, policy.initialDelay * pow(2, Double(attempt - 1)))
            try await sleep(Double.random(in: (ceiling / 2)...ceiling))
        }
    }

    static func error(operationID: String, response: HTTPResponse, body: Data, attempts: Int) -> AmazonAPIError {
        struct ErrorList: Decodable {
            struct Entry: Decodable {
                var code: String?
                var message: String?
                var details: String?
            }
            var errors: [Entry]?
        }
        let first = (try? JSONDecoder().decode(ErrorList.self, from: body))?.errors?.first
        return AmazonAPIError(
            operation: operationID,
            status: Int(response.status.code),
            code: first?.code,
            message: first?.message,
            details: first?.details,
            requestID: response.headerFields[.requestID],
            attempts: attempts
        )
    }

    /// Whether the request never left: the connection could not be made.
    static func isConnectFailure(_ error: any Error) -> Bool {
        if let error = error as? HTTPClientError, error == .connectTimeout { return true }
        if error is NIOConnectionError { return true }
        if let error = error as? ChannelError, case .connectTimeout = error { return true }
        if let error = error as? IOError, [ECONNREFUSED, ENETUNREACH, EHOSTUNREACH].contains(error.errnoCode) {
            return true
        }
        return false
    }
}
