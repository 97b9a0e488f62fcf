/// An error as Amazon answers it: an HTTP status and `{"errors":[{"code","message","details"}]}`.
public struct AmazonError: Error, Sendable, Hashable {
    public var status: Int
    public var code: String
    public var message: String
    public var details: String?

    public init(status: Int, code: String, message: String, details: String? = nil) {
        self.status = status
        self.code = code
        self.message = message
        self.details = details
    }

    static func invalidInput(_ message: String, details: String? = nil) -> AmazonError {
        AmazonError(status: 400, code: "InvalidInput", message: message, details: details)
    }

    static func notFound(_ entity: String, _ id: String) -> AmazonError {
        AmazonError(status: 404, code: "NotFound", message: "Requested Entity with '\(entity)' '\(id)' is not found")
    }

    /// A call that does not fit the shipment's current state.
    static func conflict(_ message: String) -> AmazonError {
        AmazonError(status: 409, code: "Conflict", message: message)
    }

    /// A well-formed call Amazon cannot carry out for this shipment.
    static func unprocessable(_ message: String) -> AmazonError {
        AmazonError(status: 422, code: "UnprocessableEntity", message: message)
    }

    static let throttled = AmazonError(
        status: 429,
        code: "QuotaExceeded",
        message: "You exceeded your quota for the requested resource."
    )
    static let internalFailure = AmazonError(
        status: 500,
        code: "InternalFailure",
        message: "We encountered an internal error. Please try again."
    )
    static let unavailable = AmazonError(
        status: 503,
        code: "ServiceUnavailable",
        message: "Service temporarily unavailable. Please retry."
    )

    static func unauthorized(_ details: String) -> AmazonError {
        AmazonError(
            status: 403,
            code: "Unauthorized",
            message: "Access to requested resource is denied.",
            details: details
        )
    }

    /// The JSON body Amazon sends.
    var body: ErrorBody { ErrorBody(errors: [.init(code: code, message: message, details: details)]) }

    struct ErrorBody: Codable, Sendable {
        struct Entry: Codable, Sendable {
            var code: String
            var message: String
            var details: String?
        }
        var errors: [Entry]
    }
}
