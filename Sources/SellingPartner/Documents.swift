import AsyncHTTPClient
import FlexCore
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

extension SellingPartnerClient {
    /// Downloads a file Amazon points to with a URL (labels, feed reports: an S3 presigned URL, no Selling Partner
    /// credentials). A download is a read: it is retried on 5xx, 429 and lost connections, with the client's backoff.
    public func download(_ url: String) async throws -> AmazonFile {
        try await presigned("downloadDocument", .GET, url, limit: 32 << 20) { $0.isTransient }
    }

    /// Uploads a document to the presigned URL Amazon gave, with exactly the content type it was made for. A PUT of
    /// the same bytes may be repeated: it is retried on 5xx and lost connections.
    func upload(_ data: Data, to url: String, contentType: String) async throws {
        _ = try await presigned(
            "uploadFeedDocument",
            .PUT,
            url,
            body: data,
            contentType: contentType,
            limit: 1 << 20
        ) { $0.status >= 500 }
    }

    /// One call to a presigned URL, made again with the client's backoff while Amazon's answer is `retryable` or
    /// the connection was lost, up to the client's attempts.
    private func presigned(
        _ operation: String,
        _ method: HTTPMethod,
        _ url: String,
        body: Data? = nil,
        contentType: String? = nil,
        limit: Int,
        retryable: (AmazonAPIError) -> Bool
    ) async throws -> AmazonFile {
        var attempt = 0
        while true {
            attempt += 1
            do {
                var request = HTTPClientRequest(url: url)
                request.method = method
                if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
                if let body { request.body = .bytes(ByteBuffer(data: body)) }
                let response = try await httpClient.execute(
                    request,
                    timeout: .milliseconds(Int64(retry.timeout * 1000))
                )
                let answer = try await response.body.collect(upTo: limit)
                let status = Int(response.status.code)
                if (200..<300).contains(status) {
                    return AmazonFile(
                        contentType: response.headers.first(name: "content-type") ?? "application/octet-stream",
                        data: Data(buffer: answer)
                    )
                }
                let error = AmazonAPIError(
                    operation: operation,
                    status: status,
                    message: String(buffer: answer).prefix(300).description,
                    attempts: attempt
                )
                guard retryable(error), attempt < retry.maxAttempts else { throw error }
            } catch let error as AmazonAPIError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning(
                    "A presigned URL call failed",
                    metadata: ["operation": "\(operation)", "attempt": "\(attempt)", "error": "\(error)"]
                )
                guard attempt < retry.maxAttempts else {
                    throw AmazonTransportError(
                        operation: operation,
                        reason: String(describing: error),
                        mayHaveApplied: false,
                        attempts: attempt
                    )
                }
            }
            let ceiling = min(retry.maximumDelay, retry.initialDelay * pow(2, Double(attempt - 1)))
            try await Task.sleep(for: .seconds(Double.random(in: (ceiling / 2)...ceiling)))
        }
    }
}
