import FlexBridgeAPI
import Foundation
import HTTPTypes
import OpenAPIRuntime

/// Sits between the generated server and FlexBridge's handlers: a request the generated server cannot read (bad
/// JSON, a value outside its enum, a missing field) gets the API's 400 problem answer saying what was wrong, instead
/// of a bare 500; and the `Location` of a redirect goes out as the URL it is (the generated server percent-encodes
/// header values).
struct ProblemMiddleware: ServerMiddleware {
    func intercept(
        _ request: HTTPRequest,
        body: HTTPBody?,
        metadata: ServerRequestMetadata,
        operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        do {
            var (response, responseBody) = try await next(request, body, metadata)
            if let location = response.headerFields[.location], let decoded = location.removingPercentEncoding {
                response.headerFields[.location] = decoded
            }
            return (response, responseBody)
        } catch let error as ServerError where (400..<500).contains(error.httpStatus.code) {
            let problem = Components.Schemas.Problem(
                error: .init(code: "invalid_input", message: "The request could not be read: \(Self.explain(error.underlyingError))"))
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            var fields = HTTPFields()
            fields[.contentType] = "application/json"
            return (HTTPResponse(status: .badRequest, headerFields: fields), HTTPBody(try encoder.encode(problem)))
        }
    }

    /// A decoding error in words: which field, and what was wrong with it.
    static func explain(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return String(describing: error) }
        func path(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map(\.stringValue).filter { !$0.isEmpty }.joined(separator: ".")
            return path.isEmpty ? "the body" : path
        }
        switch error {
        case .keyNotFound(let key, _): return "\(key.stringValue) is required"
        case .typeMismatch(let type, let context): return "\(path(context)) must be a \(type)"
        case .valueNotFound(_, let context): return "\(path(context)) must not be null"
        case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
        @unknown default: return String(describing: error)
        }
    }
}
