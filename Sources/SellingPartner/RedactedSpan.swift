import OpenAPIRuntime
import Tracing

/// Runs `operation` in a span of `context`, as `withSpan` does, except that a failure is said by what it is — Amazon's
/// status and code, no answer, Login with Amazon, the error's type — never by its description, which can carry a
/// request's input (an inbound plan's address, a body) or Amazon's echo of it.
public func withRedactedSpan<Value>(
    _ name: String,
    context: InstrumentationContext,
    ofKind kind: SpanKind = .internal,
    isolation: isolated (any Actor)? = #isolation,
    _ operation: (any Span) async throws -> Value
) async throws -> Value {
    let span = startSpan(name, context: context, ofKind: kind)
    defer { span.end() }
    do {
        return try await InstrumentationContext.$current.withValue(span.context) { try await operation(span) }
    } catch {
        let failure = SpanFailure(error)
        span.attributes["error.type"] = failure.type
        span.setStatus(SpanStatus(code: .error, message: failure.message))
        throw error
    }
}

/// What a span says of a failure: the kind of error and a message free of any input.
struct SpanFailure {
    var type: String
    var message: String

    init(_ error: any Error) {
        let cause = error.sellingPartnerError ?? (error as? ClientError)?.underlyingError ?? error
        switch cause {
        case let amazon as AmazonAPIError:
            type = "AmazonAPIError"
            message = "Amazon answered \(amazon.operation) with \(amazon.status)\(amazon.code.map { " \($0)" } ?? "")"
        case let transport as AmazonTransportError:
            type = "AmazonTransportError"
            message = "no answer from Amazon to \(transport.operation)"
        case is LoginWithAmazonError:
            type = "LoginWithAmazonError"
            message = "no access token from Login with Amazon"
        case is CancellationError:
            type = "CancellationError"
            message = "cancelled"
        default:
            type = String(describing: Swift.type(of: cause))
            message = "failed with \(type)"
        }
    }
}
