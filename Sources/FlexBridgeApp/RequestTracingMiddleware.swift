import HTTPTypes
import Hummingbird
import SellingPartner
import Tracing

/// A server span per request, named `METHOD route`, in the trace the caller sent (`traceparent`) or a new one; a no-op
/// until a tracer is bootstrapped. It says what the request log says and no more (``RequestLogMiddleware``): the
/// path without a consent link's token, never the query (the consent callback's code and state) nor the headers (API
/// keys, cookies).
struct RequestTracingMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        // The caller's trace context, read from the headers less those with credentials.
        var parent = InstrumentationContext.current ?? .topLevel
        let carrier = HTTPFields(request.headers.filter { !credentialHeaders.contains($0.name) })
        InstrumentationSystem.instrument.extract(carrier, into: &parent, using: HeadersExtractor())
        // A failure is said by its kind, not its text, which can echo what the caller sent.
        return try await withRedactedSpan(request.method.rawValue, context: parent, ofKind: .server) { span in
            span.attributes["http.request.method"] = request.method.rawValue
            span.attributes["url.path"] = RequestLogMiddleware<Context>.sayablePath(request)
            func finish(_ status: HTTPResponse.Status) {
                if let route = context.endpointPath {
                    span.operationName = "\(request.method.rawValue) \(route)"
                    span.attributes["http.route"] = route
                }
                span.attributes["http.response.status_code"] = Int(status.code)
                if status.code >= 500 { span.setStatus(SpanStatus(code: .error)) }
            }
            do {
                let response = try await next(request, context)
                finish(response.status)
                return response
            } catch {
                finish((error as? any HTTPResponseError)?.status ?? .internalServerError)
                throw error
            }
        }
    }
}

/// Headers that carry credentials: never handed to the tracer, which logs the whole carrier of a trace context it
/// cannot read.
private let credentialHeaders: Set<HTTPField.Name> = [
    .authorization, .proxyAuthorization, .cookie, HTTPField.Name("x-api-key")!,
]

private struct HeadersExtractor: Extractor {
    func extract(key: String, from headers: HTTPFields) -> String? {
        HTTPField.Name(key).flatMap { headers[$0] }
    }
}
