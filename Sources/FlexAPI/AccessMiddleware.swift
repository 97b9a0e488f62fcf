import FlexBridgeAPI
import FlexCore
import FlexUseCases
import Foundation
import HTTPTypes
import OpenAPIRuntime

/// The principal a request is made by, set by ``AccessMiddleware`` for the handler it calls (the generated server
/// passes handlers no request context).
enum RequestPrincipal {
    @TaskLocal static var current: Principal?
}

/// Lets a request reach its handler only with an API key whose role allows the operation: no key, or a malformed,
/// unknown or revoked one, is a 401 with `WWW-Authenticate`; a role without the operation's permission is a 403.
/// Which connections the key may see is the handlers' business: another connection's things answer 404.
struct AccessMiddleware: ServerMiddleware {
    let access: AccessUseCases

    /// The permission each operation needs; nil for the one a browser reaches without a key (Amazon's consent
    /// callback, bound to its single-use state instead). An operation missing here is refused to everybody but an
    /// admin; a test checks every operation of openapi.yaml is here.
    static let permissions: [String: Permission?] = [
        "listConnections": .read,
        "createConnection": .manageConnections,
        "completeAuthorization": nil,
        "getConnection": .read,
        "deleteConnection": .manageConnections,
        "createAuthorizationLink": .manageConnections,
        "authorizeConnection": .manageConnections,
        "setRefreshToken": .manageConnections,
        "testConnection": .manageConnections,
        "getSettings": .read,
        "putSettings": .changeSettings,
        "listConfigChanges": .read,
        "listHubMappings": .read,
        "putHubMapping": .changeSettings,
        "deleteHubMapping": .changeSettings,
        "deleteListing": .writeStock,
        "importListings": .writeStock,
        "resyncInventory": .writeStock,
        "importSequenceNumbers": .writeStock,
        "putStock": .writeStock,
        "putPrices": .writeStock,
        "listPrices": .read,
        "getStock": .read,
        "listInventoryItems": .read,
        "listReturns": .read,
        "getReturn": .read,
        "receiveReturn": .workOrders,
        "listLocations": .read,
        "listListingItems": .read,
        "listAsinListings": .read,
        "listAmazonWarehouses": .read,
        "listFbaStock": .read,
        "listStockOrders": .read,
        "getStockOrder": .read,
        "createInboundPlan": .writeStock,
        "listInboundPlans": .read,
        "getInboundPlan": .read,
        "chooseInboundPlacement": .writeStock,
        "chooseInboundTransportation": .writeStock,
        "resumeInboundPlan": .writeStock,
        "getInboundPlanLabels": .read,
        "getLocation": .read,
        "setLocationMode": .changeSettings,
        "listOrders": .read,
        "getOrder": .read,
        "listEvents": .read,
        "submitCommand": .workOrders,
        "listCommands": .read,
        "getCommand": .read,
        "listOrderDocuments": .read,
        "downloadDocument": .read,
        "ordersAtRisk": .read,
        "createManifest": .workOrders,
        "listManifests": .read,
        "getManifest": .read,
        "getManifestPDF": .read,
        "handOverManifest": .workOrders,
        "createWebhook": .manageWebhooks,
        "listWebhooks": .read,
        "deleteWebhook": .manageWebhooks,
        "retryWebhook": .manageWebhooks,
        "createApiKey": .manageAccess,
        "listApiKeys": .manageAccess,
        "revokeApiKey": .manageAccess,
        "createOperator": .manageAccess,
        "listOperators": .manageAccess,
        "disableOperator": .manageAccess,
        "listAccountChanges": .manageAccess,
    ]

    func intercept(
        _ request: HTTPRequest,
        body: HTTPBody?,
        metadata: ServerRequestMetadata,
        operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let needed = Self.permissions[operationID] ?? .manageAccess
        guard let needed else { return try await next(request, body, metadata) }
        do {
            let principal = try await access.authenticate(authorization: request.headerFields[.authorization])
            try AccessUseCases.require(needed, of: principal)
            return try await RequestPrincipal.$current.withValue(principal) {
                try await next(request, body, metadata)
            }
        } catch let refusal as AccessUseCases.Refusal {
            return Self.refuse(refusal)
        }
    }

    static func refuse(_ refusal: AccessUseCases.Refusal) -> (HTTPResponse, HTTPBody?) {
        guard refusal.isUnauthenticated else {
            return ProblemResponse.make(status: .forbidden, code: "forbidden", message: refusal.description)
        }
        var (response, body) = ProblemResponse.make(
            status: .unauthorized,
            code: "unauthorized",
            message: refusal.description
        )
        let error =
            switch refusal {
            case .missing: ""
            default: ", error=\"invalid_token\""
            }
        response.headerFields[.wwwAuthenticate] = "Bearer realm=\"flexbridge\"\(error)"
        return (response, body)
    }
}
