import FlexBridgeAPI
import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import Hummingbird
import Logging
import OpenAPIHummingbird
import OpenAPIRuntime
import Synchronization

/// FlexBridge's API (openapi.yaml). Here, connections: adding a seller account, getting the seller's consent
/// through Login with Amazon or a refresh token entered by hand, and checking the connection end to end.
public struct APIHandler: APIProtocol {
    let store: Store
    let authorizer: any SellerAuthorizer
    /// Where Amazon sends the seller back: this node's `/api/v1/connections/callback`.
    let callback: CallbackAddress
    var callbackURL: String { callback.url }
    /// How long an authorization link works: long enough to be sent to the seller and opened later.
    let linkLifetime: TimeInterval
    /// Where failed requests are logged, with their cause.
    let logger: Logger
    /// Who may do what: API keys and the principal behind each request.
    let access: AccessUseCases
    /// Where connections' endpoints and webhooks may point.
    let outbound: OutboundPolicy
    var webhooks: WebhookUseCases { WebhookUseCases(store: store, outbound: outbound) }
    var connections: ConnectionUseCases { ConnectionUseCases(store: store, outbound: outbound) }
    var inventory: InventoryUseCases { InventoryUseCases(store: store) }
    var fulfilment: FulfilmentUseCases { FulfilmentUseCases(store: store) }
    var manifests: ManifestUseCases { ManifestUseCases(store: store) }

    public init(
        store: Store,
        authorizer: any SellerAuthorizer,
        callbackURL: String,
        linkLifetime: TimeInterval = 72 * 3600,
        outbound: OutboundPolicy = .production,
        logger: Logger = Logger(label: "flexbridge.api")
    ) {
        self.init(
            store: store,
            authorizer: authorizer,
            callback: CallbackAddress(callbackURL),
            linkLifetime: linkLifetime,
            outbound: outbound,
            logger: logger
        )
    }

    /// With a callback address known only once the server listens (`--port 0`).
    public init(
        store: Store,
        authorizer: any SellerAuthorizer,
        callback: CallbackAddress,
        linkLifetime: TimeInterval = 72 * 3600,
        outbound: OutboundPolicy = .production,
        logger: Logger = Logger(label: "flexbridge.api")
    ) {
        self.outbound = outbound
        self.store = store
        self.access = AccessUseCases(store: store)
        self.authorizer = authorizer
        self.callback = callback
        self.linkLifetime = linkLifetime
        self.logger = logger
    }

    public func listConnections(
        _ input: Operations.ListConnections.Input
    ) async throws -> Operations.ListConnections.Output {
        let connections = try await self.connections.connections(by: try caller()).map {
            Self.schema($0.connection, authorized: $0.authorized)
        }
        return .ok(.init(body: .json(.init(connections: connections))))
    }

    public func createConnection(
        _ input: Operations.CreateConnection.Input
    ) async throws -> Operations.CreateConnection.Output {
        guard case .json(let body) = input.body else {
            return .badRequest(Self.problem(.invalidInput, "A JSON body is required."))
        }
        var endpoint: URL?
        if let text = body.endpoint?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
            guard let url = URL(string: text) else {
                return .badRequest(
                    Self.problem(
                        .invalidInput,
                        "must be an absolute http or https URL, got \"\(text)\"",
                        field: "endpoint"
                    )
                )
            }
            endpoint = url
        }
        let principal = try caller()
        var connection = Connection(
            accountID: principal.account,
            name: body.name.trimmingCharacters(in: .whitespaces),
            sellingPartnerID: SellingPartnerID(rawValue: body.sellingPartnerId.trimmingCharacters(in: .whitespaces)),
            region: Region(rawValue: body.region.rawValue)!,
            marketplaceIDs: body.marketplaceIds.map { MarketplaceID(rawValue: $0) },
            applicationClientID: body.clientId.trimmingCharacters(in: .whitespaces),
            applicationID: body.applicationId.flatMap { $0.isEmpty ? nil : $0 },
            endpointOverride: endpoint,
            createdAt: store.clock.now()
        )
        do {
            try await connections.create(connection, clientSecret: body.clientSecret, by: principal)
            connection.accountID = principal.account
        } catch let refusal as ConnectionUseCases.Refusal {
            return .forbidden(.init(body: .json(Self.problemBody(.forbidden, refusal.description))))
        } catch let error as ValidationError {
            return .badRequest(Self.problem(.invalidInput, error.reason, field: error.field))
        } catch let error as StoreError where error.code == .invalidInput {
            let field = "clientSecret"
            guard error.message.hasPrefix(field + " ") else {
                return .badRequest(Self.problem(.invalidInput, error.message))
            }
            return .badRequest(
                Self.problem(.invalidInput, String(error.message.dropFirst(field.count + 1)), field: field)
            )
        } catch let error as StoreError where error.code == .conflict {
            return .conflict(.init(body: .json(Self.problemBody(.conflict, error.message))))
        }
        return .created(.init(body: .json(Self.schema(connection, authorized: false))))
    }

    public func getConnection(_ input: Operations.GetConnection.Input) async throws -> Operations.GetConnection.Output {
        guard let (connection, authorized) = try await load(input.path.connectionId) else {
            return .notFound(Self.notFound(input.path.connectionId))
        }
        return .ok(.init(body: .json(Self.schema(connection, authorized: authorized))))
    }

    public func deleteConnection(
        _ input: Operations.DeleteConnection.Input
    ) async throws -> Operations.DeleteConnection.Output {
        let id = ConnectionID(rawValue: input.path.connectionId)
        guard let connection = try await connections.disconnect(id, by: try caller()) else {
            return .notFound(Self.notFound(input.path.connectionId))
        }
        return .ok(.init(body: .json(Self.schema(connection, authorized: false))))
    }

    public func createAuthorizationLink(
        _ input: Operations.CreateAuthorizationLink.Input
    ) async throws -> Operations.CreateAuthorizationLink.Output {
        guard
            let (token, expiresAt) = try await connections.createLink(
                for: ConnectionID(rawValue: input.path.connectionId),
                lifetime: linkLifetime,
                by: try caller()
            )
        else { return .notFound(Self.notFound(input.path.connectionId)) }
        return .created(.init(body: .json(.init(url: callback.link(token), expiresAt: expiresAt))))
    }

    public func authorizeConnection(
        _ input: Operations.AuthorizeConnection.Input
    ) async throws -> Operations.AuthorizeConnection.Output {
        let connectionID = ConnectionID(rawValue: input.path.connectionId)
        guard try await visible(connectionID) != nil, let url = try await consentURL(for: connectionID) else {
            return .notFound(Self.notFound(input.path.connectionId))
        }
        return .found(.init(headers: .init(location: url.absoluteString)))
    }

    public func completeAuthorization(
        _ input: Operations.CompleteAuthorization.Input
    ) async throws -> Operations.CompleteAuthorization.Output {
        let query = input.query
        guard let (connection, credentials, redirectURI) = try await connections.consumeConsentState(query.state)
        else {
            return Self.page(
                ok: false,
                "This authorization link has expired or was used already, or its connection is gone. Ask for a new one."
            )
        }
        if let error = query.error {
            return Self.page(ok: false, "Amazon did not authorise FlexBridge: \(query.errorDescription ?? error).")
        }
        guard let code = query.spapiOauthCode, !code.isEmpty else {
            return Self.page(ok: false, "Amazon's answer carries no authorization code (spapi_oauth_code).")
        }
        if let seller = query.sellingPartnerId, seller != connection.sellingPartnerID.rawValue {
            return Self.page(
                ok: false,
                "You signed in to Seller Central as seller \(seller), but this connection is for seller \(connection.sellingPartnerID). Sign in with that account and open the link again."
            )
        }
        let refreshToken: String
        do {
            refreshToken = try await authorizer.refreshToken(
                forCode: code,
                redirectURI: redirectURI,
                connection: connection,
                clientSecret: credentials.clientSecret
            )
        } catch {
            return Self.page(
                ok: false,
                "Login with Amazon refused the authorization: \(error). Open a new authorization link."
            )
        }
        try await connections.consented(connection.id, refreshToken: refreshToken, seller: connection.sellingPartnerID)
        return Self.page(
            ok: true,
            "FlexBridge is now connected to seller \(connection.sellingPartnerID) (\(connection.name)). You can close this page."
        )
    }

    public func setRefreshToken(
        _ input: Operations.SetRefreshToken.Input
    ) async throws -> Operations.SetRefreshToken.Output {
        guard case .json(let body) = input.body else {
            return .badRequest(Self.problem(.invalidInput, "A JSON body is required."))
        }
        let token = body.refreshToken.trimmingCharacters(in: .whitespacesAndNewlines)
        guard token.hasPrefix("Atzr|") else {
            return .badRequest(
                Self.problem(
                    .invalidInput,
                    "must be a Login with Amazon refresh token, which starts with Atzr|",
                    field: "refreshToken"
                )
            )
        }
        let id = ConnectionID(rawValue: input.path.connectionId)
        guard let connection = try await connections.setRefreshToken(token, of: id, by: try caller()) else {
            return .notFound(Self.notFound(input.path.connectionId))
        }
        return .ok(.init(body: .json(Self.schema(connection, authorized: true))))
    }

    public func testConnection(
        _ input: Operations.TestConnection.Input
    ) async throws -> Operations.TestConnection.Output {
        let id = ConnectionID(rawValue: input.path.connectionId)
        guard let (connection, credentials, locations) = try await connections.forTest(id, by: try caller()) else {
            return .notFound(Self.notFound(input.path.connectionId))
        }
        let report = await authorizer.check(connection, credentials: credentials, locationIDs: locations)
        try await connections.recordTest(report, of: connection)
        let checks = report.checks.map { check in
            Components.Schemas.ConnectionTest.ChecksPayloadPayload(
                name: check.name,
                ok: check.ok,
                message: check.message
            )
        }
        return .ok(.init(body: .json(.init(ok: report.ok, checks: checks))))
    }

    // MARK: Helpers

    /// The principal the request is made by (``AccessMiddleware`` sets it).
    func caller() throws -> Principal {
        guard let principal = RequestPrincipal.current else { throw AccessUseCases.Refusal.missing }
        return principal
    }

    /// The connection, when the caller may see it: its account's, within its scope. What it may not see does not
    /// exist for it.
    func visible(_ id: ConnectionID) async throws -> Connection? {
        try await connections.connection(id, by: try caller())
    }

    /// Whether the principal may see the connection, read in `session`.
    static func sees(_ id: ConnectionID, _ principal: Principal, in session: StoreSession) async throws -> Bool {
        guard principal.sees(id), let connection = try await session.connection(id) else { return false }
        return connection.accountID == principal.account
    }

    /// The order, when the caller may see its connection.
    func visibleOrder(_ id: String) async throws -> Order? {
        let principal = try caller()
        return try await store.read { session in
            guard let order = try await session.order(ShipmentID(rawValue: id)),
                try await Self.sees(order.connectionID, principal, in: session)
            else { return nil }
            return order
        }
    }

    /// The connections the caller may see.
    func visibleConnections() async throws -> [ConnectionID] {
        try await connections.visibleIDs(by: try caller())
    }

    /// The connections a list shows: those the caller may see, narrowed to `asked` when the query names one.
    func listed(_ asked: String?) async throws -> [ConnectionID] {
        let visible = try await visibleConnections()
        guard let asked else { return visible }
        return visible.filter { $0.rawValue == asked }
    }

    func load(_ id: String) async throws -> (Connection, Bool)? {
        guard let connection = try await visible(ConnectionID(rawValue: id)) else { return nil }
        return (connection, try await connections.isAuthorized(connection.id))
    }

    /// How long a consent's `state` works: long enough to sign in to Seller Central and confirm, short enough that
    /// a state seen in a browser's history is of no use.
    static let stateLifetime: TimeInterval = 10 * 60

    /// Amazon's consent page for the connection, with a new single-use state bound to it; nil when it is gone.
    func consentURL(for connectionID: ConnectionID) async throws -> URL? {
        let callbackURL = self.callbackURL
        guard
            let (connection, state) = try await connections.newConsentState(
                for: connectionID,
                redirectURI: callbackURL,
                lifetime: Self.stateLifetime
            )
        else { return nil }
        return authorizer.consentURL(for: connection, state: state, redirectURI: callbackURL)
    }

    /// `GET /connect/{token}`: the link a seller was sent. While it works, each opening sends the browser to
    /// Amazon's consent page with a fresh state; otherwise a page says to ask for a new link.
    func openLink(_ token: String) async throws -> Response {
        guard let connectionID = try await connections.linkedConnection(token),
            let url = try await consentURL(for: connectionID)
        else {
            return Self.linkPage(
                status: .notFound,
                "This authorization link has expired or does not exist. Ask for a new one."
            )
        }
        return Response(status: .found, headers: [.location: url.absoluteString])
    }

    static func linkPage(status: HTTPResponse.Status, _ message: String) -> Response {
        let html =
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>FlexBridge</title></head><body><p>\(message)</p></body></html>"
        return Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: html))
        )
    }

    static func schema(_ connection: Connection, authorized: Bool) -> Components.Schemas.Connection {
        Components.Schemas.Connection(
            id: connection.id.rawValue,
            name: connection.name,
            sellingPartnerId: connection.sellingPartnerID.rawValue,
            region: .init(rawValue: connection.region.rawValue)!,
            marketplaceIds: connection.marketplaceIDs.map(\.rawValue),
            clientId: connection.applicationClientID,
            applicationId: connection.applicationID,
            endpoint: connection.endpointOverride?.absoluteString,
            status: .init(rawValue: connection.status.rawValue)!,
            authorized: authorized,
            createdAt: connection.createdAt,
            updatedAt: connection.updatedAt
        )
    }

    enum ProblemCode: String {
        case invalidInput = "invalid_input"
        case notFound = "not_found"
        case conflict
        case forbidden
    }

    static func problemBody(_ code: ProblemCode, _ message: String, field: String? = nil) -> Components.Schemas.Problem
    {
        .init(error: .init(code: code.rawValue, message: field.map { "\($0) \(message)" } ?? message, field: field))
    }

    static func problem(_ code: ProblemCode, _ message: String, field: String? = nil) -> Components.Responses.BadRequest
    {
        .init(body: .json(problemBody(code, message, field: field)))
    }

    static func notFound(_ id: String) -> Components.Responses.NotFound {
        .init(
            body: .json(
                .init(
                    error: .init(
                        code: ProblemCode.notFound.rawValue,
                        message: "No connection with id \(id).",
                        field: nil
                    )
                )
            )
        )
    }

    static func page(ok: Bool, _ message: String) -> Operations.CompleteAuthorization.Output {
        let title = ok ? "Connected" : "Not connected"
        let escaped = message.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        let html =
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>FlexBridge: \(title)</title></head><body><h1>\(title)</h1><p>\(escaped)</p></body></html>"
        return ok ? .ok(.init(body: .html(HTTPBody(html)))) : .badRequest(.init(body: .html(HTTPBody(html))))
    }
}

extension APIHandler {
    /// Serves these operations under `/api/v1`, and the consent links sellers open under `/connect`.
    public func register(on router: Router<BasicRequestContext>) throws {
        router.get("connect/:token") { _, context in
            try await self.openLink(context.parameters.get("token") ?? "")
        }
        try registerHandlers(
            on: router,
            serverURL: URL(string: FlexBridgeAPIDocument.basePath)!,
            middlewares: [
                ProblemMiddleware(logger: logger), AccessMiddleware(access: access), RequestValidationMiddleware(),
            ]
        )
    }
}

/// The URL Amazon sends sellers back to after consent. Set once the server listens when the port was chosen by the
/// system (`--port 0`), so that consent links name the real port.
public final class CallbackAddress: Sendable {
    private let value: Mutex<String>

    public init(_ url: String) {
        value = Mutex(url)
    }

    public var url: String { value.withLock { $0 } }

    /// The address of the consent link `token`: this node's `/connect/{token}`.
    public func link(_ token: String) -> String {
        let suffix = FlexBridgeAPIDocument.basePath + "/connections/callback"
        let callback = url
        let base = callback.hasSuffix(suffix) ? String(callback.dropLast(suffix.count)) : callback
        return base + "/connect/" + token
    }

    public func set(_ url: String) {
        value.withLock { $0 = url }
    }
}
