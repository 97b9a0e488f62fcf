import AsyncHTTPClient
import FlexCore
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

extension SellingPartnerClient {
    /// Downloads a file Amazon points to with a URL (labels: an S3 presigned URL, no Selling Partner credentials).
    /// A download is a read: it is retried on 5xx, 429 and lost connections, with the client's backoff.
    public func download(_ url: String) async throws -> AmazonFile {
        var attempt = 0
        while true {
            attempt += 1
            do {
                var request = HTTPClientRequest(url: url)
                request.method = .GET
                let response = try await httpClient.execute(
                    request,
                    timeout: .milliseconds(Int64(retry.timeout * 1000))
                )
                let body = try await response.body.collect(upTo: 32 << 20)
                let status = Int(response.status.code)
                if (200..<300).contains(status) {
                    return AmazonFile(
                        contentType: response.headers.first(name: "content-type") ?? "application/octet-stream",
                        data: Data(buffer: body)
                    )
                }
                let error = AmazonAPIError(
                    operation: "downloadDocument",
                    status: status,
                    message: String(buffer: body).prefix(200).description,
                    attempts: attempt
                )
                guard error.isTransient, attempt < retry.maxAttempts else { throw error }
            } catch let error as AmazonAPIError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                logger.warning("A document download failed", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                guard attempt < retry.maxAttempts else {
                    throw AmazonTransportError(
                        operation: "downloadDocument",
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
