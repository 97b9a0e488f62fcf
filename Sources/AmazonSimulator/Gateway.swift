import Foundation
import HTTPTypes
import Logging
import OpenAPIRuntime

/// What stands in front of every Amazon operation, in Amazon's order: injected faults and latency, the access token,
/// the seller's token bucket for the operation, then the operation; errors in Amazon's shape; `x-amzn-RequestId` and
/// `x-amzn-RateLimit-Limit` on every answer; each request written to the ground-truth log.
struct Gateway: ServerMiddleware {
    let simulator: Simulator
    let logger: Logger

    static let requestIDField = HTTPField.Name("x-amzn-RequestId")!
    static let rateLimitField = HTTPField.Name("x-amzn-RateLimit-Limit")!
    static let accessTokenField = HTTPField.Name("x-amz-access-token")!

    func intercept(
        _ request: HTTPRequest,
        body: HTTPBody?,
        metadata: ServerRequestMetadata,
        operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let requestID = UUID().uuidString.lowercased()
        var recorded = RecordedRequest(
            sequence: 0,
            requestID: requestID,
            time: await simulator.now(),
            operation: operationID,
            method: request.method.rawValue,
            path: request.path ?? "",
            userAgent: request.headerFields[.userAgent],
            status: 0
        )
        var body = body
        if let received = body, request.method != .get {
            let data = try await Data(collecting: received, upTo: 2 << 20)
            recorded.body = String(decoding: data, as: UTF8.self)
            body = Self.isAbsent(data, operationID: operationID) ? nil : HTTPBody(data)
        }
        var rateLimit: Double?
        var response: (HTTPResponse, HTTPBody?)
        var drop = false
        // The log names the seller even of a call an injected fault answers before the token is checked.
        recorded.merchantID = try? await simulator.authenticate(
            accessToken: request.headerFields[Self.accessTokenField]
        )
        do {
            let (fault, latency) = await simulator.drawFault(operation: operationID)
            if latency > 0 { try await Task.sleep(for: .milliseconds(latency)) }
            switch fault {
            case .internalError:
                recorded.fault = "internalError"
                throw AmazonError.internalFailure
            case .unavailable:
                recorded.fault = "unavailable"
                throw AmazonError.unavailable
            case .dropAfterApply:
                drop = true
            case .none:
                break
            }
            let merchantID = try await simulator.authenticate(accessToken: request.headerFields[Self.accessTokenField])
            recorded.merchantID = merchantID
            do {
                rateLimit = try await simulator.admit(
                    operation: Self.bucket(operationID, body: recorded.body),
                    merchantID: merchantID
                )
            } catch {
                recorded.fault = "throttled"
                throw error
            }
            let baseURL = "http://\(request.authority ?? "127.0.0.1")"
            let request = Self.listsSplit(request)
            response = try await RequestScope.$merchantID.withValue(merchantID) {
                try await RequestScope.$baseURL.withValue(baseURL) {
                    try await next(request, body, metadata)
                }
            }
        } catch {
            response = Self.answer(for: error, operationID: operationID, logger: logger)
        }
        response.0.headerFields[Self.requestIDField] = requestID
        if let rateLimit { response.0.headerFields[Self.rateLimitField] = String(rateLimit) }
        recorded.status = response.0.status.code
        if drop && response.0.status.code < 300 {
            recorded.fault = "dropAfterApply"
            await simulator.record(recorded)
            // A body that fails mid-stream: the connection closes before the answer is complete. A 204 carries no
            // body to fail, so its head is sent as 200 with a chunked body that never ends.
            var head = response.0
            if head.status == .noContent { head.status = .ok }
            head.headerFields[.contentLength] = nil
            return (head, HTTPBody(droppedConnection(), length: .unknown, iterationBehavior: .single))
        }
        await simulator.record(recorded)
        return response
    }

    /// Amazon splits a list parameter at commas whether they come as `,` or percent-encoded (`%2C`, as Amazon's
    /// Python SDK sends them); the generated server splits only at `,`, so the query's encoded commas are decoded.
    /// A scalar parameter reads the same either way. Amazon also reads a boolean however it is capitalised (the
    /// Python SDK sends `details=True`); the generated server reads only `true` and `false`.
    static func listsSplit(_ request: HTTPRequest) -> HTTPRequest {
        guard let path = request.path, let start = path.firstIndex(of: "?") else { return request }
        var request = request
        let query = path[start...].replacingOccurrences(of: "%2C", with: ",").replacingOccurrences(of: "%2c", with: ",")
            .split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
                guard let equals = pair.firstIndex(of: "=") else { return String(pair) }
                let value = pair[pair.index(after: equals)...]
                guard ["true", "false"].contains(value.lowercased()) else { return String(pair) }
                return String(pair[...equals]) + value.lowercased()
            }.joined(separator: "&")
        request.path = String(path[..<start]) + query
        return request
    }

    /// The throttling bucket of a call: the operation's, but a JSON listings feed's own for its createFeed.
    static func bucket(_ operationID: String, body: String?) -> String {
        guard operationID == "createFeed", let body,
            let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
            let type = object["feedType"] as? String, type == "JSON_LISTINGS_FEED"
        else { return operationID }
        return "createFeed.JSON_LISTINGS_FEED"
    }

    /// Operations whose request body is optional.
    static let optionalBodies: Set<String> = ["processShipment", "generateShipLabels", "updatePackageStatus"]

    /// Whether a request carries no body: nothing at all, or — for an optional body — `{}`, which Amazon's SDKs send
    /// when the body is left out.
    static func isAbsent(_ data: Data, operationID: String) -> Bool {
        if data.isEmpty { return true }
        guard optionalBodies.contains(operationID) else { return false }
        let text = String(decoding: data, as: UTF8.self).filter { !$0.isWhitespace }
        return text == "{}"
    }

    /// Amazon's answer for an error: its own status and code for ``AmazonError``, 400 InvalidInput for a request the
    /// generated server could not read, 500 InternalFailure for anything else.
    static func answer(for error: any Error, operationID: String, logger: Logger) -> (HTTPResponse, HTTPBody?) {
        var amazonError: AmazonError
        if let error = error as? AmazonError {
            amazonError = error
        } else if let error = error as? ServerError {
            if let underlying = error.underlyingError as? AmazonError {
                amazonError = underlying
            } else if (400..<500).contains(error.httpStatus.code) {
                amazonError = .invalidInput(
                    "The request could not be read: \(error.causeDescription)",
                    details: String(describing: error.underlyingError)
                )
            } else {
                logger.error("Operation failed", metadata: ["operation": "\(operationID)", "error": "\(error)"])
                amazonError = .internalFailure
            }
        } else {
            logger.error("Operation failed", metadata: ["operation": "\(operationID)", "error": "\(error)"])
            amazonError = .internalFailure
        }
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        let data = (try? JSONEncoder().encode(amazonError.body)) ?? Data()
        return (HTTPResponse(status: .init(code: amazonError.status), headerFields: fields), HTTPBody(data))
    }
}

/// A body that fails as soon as it is read: the server closes the connection without a complete answer, after the
/// operation was applied.
func droppedConnection() -> AsyncThrowingStream<ArraySlice<UInt8>, any Error> {
    AsyncThrowingStream { $0.finish(throwing: CancellationError()) }
}
