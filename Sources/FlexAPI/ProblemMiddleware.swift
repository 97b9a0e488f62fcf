import FlexBridgeAPI
import FlexStore
import Foundation
import HTTPTypes
import Logging
import OpenAPIRuntime

/// Sits between the generated server and FlexBridge's handlers: a request the generated server cannot read (bad
/// JSON, a value outside its enum, a missing field) gets the API's 400 problem answer saying what was wrong; a
/// handler that fails is logged at error level with its cause and answered with a problem body (503 when the
/// database does not answer, else 500), never an empty 500; and the `Location` of a redirect goes out as the URL it
/// is (the generated server percent-encodes header values).
struct ProblemMiddleware: ServerMiddleware {
    let logger: Logger

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
            return ProblemResponse.make(
                status: .badRequest,
                code: "invalid_input",
                message: "The request could not be read: \(Self.explain(error.underlyingError))",
                field: Self.field(error.underlyingError)
            )
        } catch {
            let cause = (error as? ServerError)?.underlyingError ?? error
            if let storeError = cause as? StoreError, storeError.code == .databaseUnavailable {
                logger.error(
                    "request failed: the database does not answer",
                    metadata: ["operation": "\(operationID)", "cause": "\(storeError.message)"]
                )
                return ProblemResponse.make(
                    status: .serviceUnavailable,
                    code: "database_unavailable",
                    message: storeError.message
                )
            }
            logger.error(
                "request failed",
                metadata: ["operation": "\(operationID)", "cause": "\(String(reflecting: cause))"]
            )
            return ProblemResponse.make(
                status: .internalServerError,
                code: "internal_error",
                message:
                    "FlexBridge failed to answer \(operationID); the node's log has the cause. Nothing was changed unless the operation says so."
            )
        }
    }

    /// A coding path in the API's spelling of fields: `items[0].grade`.
    static func path(_ codingPath: [any CodingKey]) -> String {
        var path = ""
        for key in codingPath {
            if let index = key.intValue {
                path += "[\(index)]"
            } else if !key.stringValue.isEmpty {
                path += path.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return path
    }

    /// The field a decoding error is about, when it names one.
    static func field(_ error: any Error) -> String? {
        guard let error = error as? DecodingError else { return nil }
        let path: String
        switch error {
        case .keyNotFound(let key, let context): path = Self.path(context.codingPath + [key])
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            path = Self.path(context.codingPath)
        @unknown default: return nil
        }
        return path.isEmpty ? nil : path
    }

    /// A decoding error in words: which field, and what was wrong with it.
    static func explain(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return String(describing: error) }
        func path(_ context: DecodingError.Context) -> String {
            let path = Self.path(context.codingPath)
            return path.isEmpty ? "a value" : path
        }
        func kind(_ type: Any.Type) -> String {
            switch type {
            case is Bool.Type: "true or false"
            case is Int.Type, is Int64.Type, is Int32.Type: "a whole number"
            case is Double.Type, is Float.Type: "a number"
            case is String.Type: "a string"
            default: "a \(type)"
            }
        }
        switch error {
        case .keyNotFound(let key, _): return "\(key.stringValue) is required"
        case .typeMismatch(let type, let context): return "\(path(context)) must be \(kind(type))"
        case .valueNotFound(_, let context): return "\(path(context)) must not be null"
        case .dataCorrupted(let context) where context.debugDescription.hasPrefix("Additional properties are disabled"):
            return "\(path(context)) is not a field of this request; check its spelling"
        case .dataCorrupted(let context): return "\(path(context)): \(context.debugDescription)"
        @unknown default: return String(describing: error)
        }
    }
}
