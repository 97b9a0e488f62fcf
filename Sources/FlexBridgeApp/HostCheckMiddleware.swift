import FlexCore
import Foundation
import HTTPTypes
import Hummingbird

/// Refuses a request whose `Host` names a host this node does not serve: a web page on another site that made its
/// own name resolve to this node's address (DNS rebinding) gets nothing from a browser inside the network. An
/// address (`10.0.0.3:8080`) is always taken, since rebinding needs a name; a name must be `localhost`, the host
/// the node listens on, the public URL's host, or one of the allowed hosts.
struct HostCheckMiddleware<Context: RequestContext>: RouterMiddleware {
    let names: Set<String>

    init(configuration: FlexBridgeConfiguration) {
        var names: Set<String> = ["localhost"]
        names.insert(configuration.host.lowercased())
        if let host = configuration.publicURL?.host { names.insert(host.lowercased()) }
        for host in configuration.allowedHosts { names.insert(host.lowercased()) }
        self.names = names
    }

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        guard let authority = request.head.authority, !authority.isEmpty,
            request.uri.path != "/health"
        else { return try await next(request, context) }
        let host = Self.host(of: authority)
        guard IPAddress(host) != nil || names.contains(host) else {
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            let message =
                "This node does not serve the host \(host.prefix(100)). Add it with --public-url or FLEXBRIDGE_ALLOWED_HOSTS."
            let body = try JSONEncoder().encode(["error": ["code": "unknown_host", "message": message]])
            return Response(
                status: .misdirectedRequest,
                headers: headers,
                body: .init(byteBuffer: ByteBuffer(bytes: body))
            )
        }
        return try await next(request, context)
    }

    /// The host of an authority (`name:port`, `[::1]:8080`), lower-cased, without brackets or port.
    static func host(of authority: String) -> String {
        var text = Substring(authority.lowercased())
        if text.hasPrefix("[") {
            let end = text.firstIndex(of: "]") ?? text.endIndex
            return String(text[text.index(after: text.startIndex)..<end])
        }
        if let colon = text.lastIndex(of: ":") { text = text[..<colon] }
        return String(text)
    }
}
