import FlexBridgeAPI
import FlexCore
import Foundation
import HTTPTypes
import OpenAPIRuntime

/// The one place a request's size and numbers are checked, before the generated server decodes it and before any
/// handler runs: a JSON body above ``maximumJSONBytes`` or another above ``maximumBodyBytes`` is answered 413 naming
/// the limit (and read no further), a number outside the range the spec gives it (``RequestLimits/specification``)
/// 400 naming the field. Handlers can then trust every number they get.
struct RequestValidationMiddleware: ServerMiddleware {
    /// The largest CSV (or other non-JSON) body taken: 100,000 stock levels or listings with room to spare.
    static let maximumBodyBytes = 64 << 20
    /// The largest JSON body taken: 100,000 stock levels (about 6 MB) or listings (about 11 MB) fit; a JSON body is
    /// held decoded in memory several times over, so it gets a quarter of the CSV limit.
    static let maximumJSONBytes = 16 << 20

    let limits: [String: RequestLimits]

    init(limits: [String: RequestLimits] = RequestLimits.specification) {
        self.limits = limits
    }

    func intercept(
        _ request: HTTPRequest,
        body: HTTPBody?,
        metadata: ServerRequestMetadata,
        operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var body = body
        var bytes: [UInt8]?
        if let given = body {
            let json = Self.isJSON(request)
            let limit = json ? Self.maximumJSONBytes : Self.maximumBodyBytes
            guard let collected = try await Self.collect(given, upTo: limit) else {
                return ProblemResponse.make(
                    status: .contentTooLarge,
                    code: "payload_too_large",
                    message: json
                        ? "A JSON body may be at most \(limit >> 20) MB; send it in several requests, or as CSV (up to \(Self.maximumBodyBytes >> 20) MB) where the operation takes CSV."
                        : "A body may be at most \(limit >> 20) MB; send it in several requests."
                )
            }
            bytes = collected
            body = HTTPBody(collected)
        }
        let query = Self.queryItems(of: request)
        // Path parameters arrive as sent, percent-encoded; the handlers get them decoded.
        let path = metadata.pathParameters.mapValues { String($0).removingPercentEncoding ?? String($0) }
        if let error = ForbiddenText.check(query: query, path: path) {
            return ProblemResponse.invalidInput(error.reason, field: error.field)
        }
        let limits = self.limits[operationID]
        if let error = limits?.checkParameters(query: query, path: path) {
            return ProblemResponse.invalidInput(error.reason, field: error.field)
        }
        if let bytes, !bytes.isEmpty {
            if Self.isJSON(request) {
                // Read once here for what the generated decoder does not check; a body that is not JSON is left to
                // it, which says where it stops being JSON.
                if let tree = JSONTree.parse(bytes) ?? JSONTree.decoded(bytes),
                    let error = ForbiddenText.check(tree) ?? limits?.checkBody(tree)
                {
                    return ProblemResponse.invalidInput(error.reason, field: error.field)
                }
            } else if bytes.contains(0) {
                return ProblemResponse.invalidInput("must not contain the NUL byte", field: "body")
            }
        }
        return try await next(request, body, metadata)
    }

    /// The body's bytes, or nil when there are more than `limit`.
    static func collect(_ body: HTTPBody, upTo limit: Int) async throws -> [UInt8]? {
        if case .known(let length) = body.length, length > limit { return nil }
        var bytes: [UInt8] = []
        for try await chunk in body {
            guard bytes.count + chunk.count <= limit else { return nil }
            bytes.append(contentsOf: chunk)
        }
        return bytes
    }

    /// The query's name/value pairs, percent-decoded; `+` is a space, as forms write it.
    static func queryItems(of request: HTTPRequest) -> [(name: String, value: String)] {
        guard let path = request.path, let mark = path.firstIndex(of: "?") else { return [] }
        return path[path.index(after: mark)...].split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    static func isJSON(_ request: HTTPRequest) -> Bool {
        guard let type = request.headerFields[.contentType]?.lowercased() else { return true }
        return type.hasPrefix("application/json")
    }
}

/// Problem answers (`{"error": {"code", "message", "field"}}`) made outside the generated handlers.
enum ProblemResponse {
    static func make(
        status: HTTPResponse.Status,
        code: String,
        message: String,
        field: String? = nil
    ) -> (HTTPResponse, HTTPBody?) {
        let problem = Components.Schemas.Problem(error: .init(code: code, message: message, field: field))
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        let data = (try? JSONText.data(problem)) ?? Data("{\"error\":{\"code\":\"\(code)\"}}".utf8)
        return (HTTPResponse(status: status, headerFields: fields), HTTPBody(data))
    }

    /// A 400 naming the field; the message starts with the field, as the handlers' problems do.
    static func invalidInput(_ reason: String, field: String?) -> (HTTPResponse, HTTPBody?) {
        make(
            status: .badRequest,
            code: "invalid_input",
            message: field.map { "\($0) \(reason)" } ?? reason,
            field: field
        )
    }
}
