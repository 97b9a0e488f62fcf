import Foundation
import OpenAPIRuntime

/// An answer from Amazon that is not a success, with everything Amazon said about it.
public struct AmazonAPIError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The operation called (Amazon's operationId).
    public var operation: String
    /// The HTTP status.
    public var status: Int
    /// Amazon's error code (`InvalidInput`, `NotFound`, `QuotaExceeded`, …), when the body carried one.
    public var code: String?
    public var message: String?
    public var details: String?
    /// Amazon's `x-amzn-RequestId`, to quote to Amazon's support.
    public var requestID: String?
    /// The attempts made, retries included.
    public var attempts: Int

    public init(
        operation: String,
        status: Int,
        code: String? = nil,
        message: String? = nil,
        details: String? = nil,
        requestID: String? = nil,
        attempts: Int = 1
    ) {
        self.operation = operation
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.requestID = requestID
        self.attempts = attempts
    }

    /// Whether Amazon may have carried out the request: only for answers that do not say it refused. A 4xx was
    /// refused; a 500 may have been applied before it failed; 429 and 503 were not applied.
    public var mayHaveApplied: Bool { status == 500 || status == 502 || status == 504 }

    /// Whether trying again later can succeed without changing the request.
    public var isTransient: Bool { [429, 500, 502, 503, 504].contains(status) }

    public var description: String {
        var text = "Amazon answered \(operation) with \(status)"
        if let code { text += " \(code)" }
        if let message { text += ": \(message)" }
        if let details, !details.isEmpty { text += " (\(details))" }
        if let requestID { text += " [request \(requestID)]" }
        return text
    }
}

/// A request that got no answer from Amazon: a timeout, a reset or refused connection.
public struct AmazonTransportError: Error, Sendable, CustomStringConvertible {
    public var operation: String
    /// What went wrong, as the HTTP client said it.
    public var reason: String
    /// False only when the request certainly did not reach Amazon (the connection could not be made).
    public var mayHaveApplied: Bool
    public var attempts: Int

    public var description: String {
        "No answer from Amazon to \(operation) after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(reason)"
            + (mayHaveApplied ? " (the request may have been applied; read the state before retrying)" : "")
    }
}

/// Why Login with Amazon refused or failed to give an access token.
public enum LoginWithAmazonError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The refresh token is unknown, revoked or expired: the seller must authorise the application again.
    case needsReauthorization(String)
    /// The application's client id or secret is wrong.
    case invalidClient(String)
    /// Any other refusal, with Amazon's `error` and `error_description`.
    case refused(status: Int, error: String, description: String)
    /// Login with Amazon could not be reached or answered something unreadable.
    case unavailable(String)

    public var description: String {
        switch self {
        case .needsReauthorization(let text): "The seller must authorise FlexBridge again: \(text)"
        case .invalidClient(let text): "The application's client id or secret is wrong: \(text)"
        case .refused(let status, let error, let text): "Login with Amazon refused (\(status) \(error)): \(text)"
        case .unavailable(let text): "Login with Amazon is unavailable: \(text)"
        }
    }

    /// Whether retrying later may succeed.
    public var isTransient: Bool {
        if case .unavailable = self { return true }
        return false
    }
}

extension Error {
    /// The Selling Partner error behind an error thrown by a generated client, which wraps middleware errors in
    /// `ClientError` — the caller's cancellation included, which comes out as `CancellationError`.
    public var sellingPartnerError: (any Error)? {
        switch self {
        case let error as AmazonAPIError: error
        case let error as AmazonTransportError: error
        case let error as LoginWithAmazonError: error
        case let error as CancellationError: error
        case let error as ClientError: error.underlyingError.sellingPartnerError
        default: nil
        }
    }
}
