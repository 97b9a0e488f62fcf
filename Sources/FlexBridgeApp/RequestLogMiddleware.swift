import Hummingbird
import Logging

/// Logs each request's method and path at debug level. Not its query: the consent callback carries Amazon's
/// authorization code and the single-use state there, and secrets never reach a log line; nor a consent link's
/// token. Not its headers: they
/// carry API keys.
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        context.logger.debug(
            "Request",
            metadata: [
                "hb.request.path": .string(Self.sayablePath(request)),
                "hb.request.method": .string(request.method.rawValue),
            ]
        )
        return try await next(request, context)
    }

    /// The request's path as logs and traces may say it: a consent link's token left out.
    static func sayablePath(_ request: Request) -> String {
        request.uri.path.hasPrefix("/connect/") ? "/connect/…" : request.uri.path
    }
}
