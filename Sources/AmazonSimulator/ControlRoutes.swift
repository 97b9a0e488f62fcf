import AmazonEFReturns
import Foundation
import Hummingbird
import NIOCore

/// The control path `/_simulator/…`: what Amazon's sandbox lacks, documented in docs/simulator.md. No Amazon client
/// calls these paths; they take and give plain JSON and answer `{"error": "…"}` with 400 or 404 when refused.
enum ControlRoutes {
    struct AuthorizationRequest: Decodable { var merchantId: String; var clientId: String? }
    struct Authorization: Encodable { var merchantId: String; var refreshToken: String }
    struct RevocationRequest: Decodable { var refreshToken: String }
    struct ListingsRequest: Decodable { var merchantId: String; var marketplaceId: String; var skus: [String] }
    struct SubmissionStatusRequest: Decodable {
        var merchantId: String
        var sku: String
        /// Nil: answer as Amazon does again.
        var status: String?
    }

    struct StatusRequest: Decodable {
        var status: String
        /// Any status, even one Amazon's model does not have yet (returns only; the shipments', MFN orders', feeds'
        /// and inbound operations' status routes take any status).
        var force: Bool?
    }
    struct CancelRequest: Decodable { var reason: String? }
    struct ApplicationRequest: Decodable { var clientId: String; var clientSecret: String; var applicationId: String? }
    struct DestinationRequest: Decodable { var url: String; var headerName: String?; var secret: String }
    struct FaultRequest: Decodable {
        var operation: String?
        var internalErrorRate: Double?
        var unavailableRate: Double?
        var dropAfterApplyRate: Double?
        var latencyMilliseconds: Int?
    }
    struct ThrottlingRequest: Decodable { var enabled: Bool }
    struct OrdersRequest: Decodable { var merchantId: String; var locationId: String?; var count: Int? }
    struct GeneratorRequest: Decodable { var merchantId: String; var ordersPerMinute: Double }
    struct MFNGeneratorRequest: Decodable {
        var merchantId: String
        var ordersPerMinute: Double
        var marketplaceIds: [String]
    }
    struct MFNOrderRequest: Decodable {
        var merchantId: String
        var marketplaceId: String
        var serviceLevel: String?
        /// SKU → units.
        var items: [String: Int]?
        var prime: Bool?
        var pendingSeconds: Double?
        var count: Int?
    }
    struct MFNCancelRequest: Decodable { var by: String?; var reason: String? }
    /// Listings by item, or `count` of them named `prefix` and a number.
    struct ListingsItemsRequest: Decodable {
        var merchantId: String
        var items: [ListingSpecification]?
        var count: Int?
        var prefix: String?
        var marketplaceIds: [String]?
        var quantity: Int?
        var price: Double?
    }

    struct InboundOperationsRequest: Codable { var seconds: Double }

    struct FBAInventoryRequest: Decodable {
        var merchantId: String
        var marketplaceId: String
        var items: [FBAStockSpecification]
    }

    static func add(to router: Router<BasicRequestContext>, simulator: Simulator) {
        let control = router.group("_simulator")

        control.get("health") { _, _ in JSONResponse.make(["status": "ok"]) }

        control.post("authorizations") { request, _ in
            try await answer(status: .created) {
                let body = try await JSONResponse.decode(AuthorizationRequest.self, from: request)
                let token = try await simulator.authorize(merchantID: body.merchantId, clientID: body.clientId)
                return Authorization(merchantId: body.merchantId, refreshToken: token)
            }
        }
        control.post("authorizations/revoke") { request, _ in
            try await answer {
                let body = try await JSONResponse.decode(RevocationRequest.self, from: request)
                try await simulator.revoke(refreshToken: body.refreshToken)
                return ["revoked": true]
            }
        }
        control.post("applications") { request, _ in
            try await answer(status: .created) {
                let body = try await JSONResponse.decode(ApplicationRequest.self, from: request)
                try await simulator.registerApplication(
                    clientID: body.clientId,
                    clientSecret: body.clientSecret,
                    applicationID: body.applicationId
                )
                return ["clientId": body.clientId, "applicationId": body.applicationId ?? body.clientId]
            }
        }
        control.post("shipments/{id}/cancel") { request, context in
            try await answer {
                let id = try context.parameters.require("id")
                let body =
                    request.head.method == .post
                    ? try? await JSONResponse.decode(CancelRequest.self, from: request) : nil
                return ["id": id, "status": try await simulator.cancelShipment(id: id, reason: body?.reason)]
            }
        }
        control.post("access-tokens/expire") { _, _ in
            await simulator.expireAccessTokens()
            return JSONResponse.make(["expired": true])
        }

        control.post("listings") { request, _ in
            try await answer(status: .created) {
                let body = try await JSONResponse.decode(ListingsRequest.self, from: request)
                try await simulator.addListings(
                    merchantID: body.merchantId,
                    marketplaceID: body.marketplaceId,
                    skus: body.skus
                )
                return ["added": body.skus.count]
            }
        }

        control.post("listings-items") { request, _ in
            try await answer(status: .created) {
                let body = try await JSONResponse.decode(ListingsItemsRequest.self, from: request, limit: 64 << 20)
                var items = body.items ?? []
                if let count = body.count {
                    guard (1...200_000).contains(count) else { throw ControlError("count must be 1 to 200000") }
                    let prefix = body.prefix ?? "SKU-"
                    items += (1...count).map {
                        ListingSpecification(
                            sku: prefix + String(format: "%06d", $0),
                            marketplaceIDs: body.marketplaceIds ?? [],
                            quantity: body.quantity,
                            price: body.price
                        )
                    }
                }
                return ["listings": try await simulator.putListings(items, merchantID: body.merchantId)]
            }
        }
        control.post("listings-items/submission-status") { request, _ in
            try await answer {
                let body = try await JSONResponse.decode(SubmissionStatusRequest.self, from: request)
                try await simulator.forceSubmissionStatus(
                    merchantID: body.merchantId,
                    sku: body.sku,
                    status: body.status
                )
                return ["sku": body.sku, "status": body.status ?? "as Amazon answers"]
            }
        }
        control.put("fba-inventory") { request, _ in
            try await answer {
                let body = try await JSONResponse.decode(FBAInventoryRequest.self, from: request, limit: 64 << 20)
                let changed = try await simulator.putFBAStock(
                    body.items,
                    merchantID: body.merchantId,
                    marketplaceID: body.marketplaceId
                )
                return ["changed": changed]
            }
        }
        control.post("inbound-shipments") { request, _ in
            try await answer(status: .created) {
                let body = try await JSONResponse.decode(InboundShipmentSpecification.self, from: request)
                return ["shipmentId": try await simulator.createInboundShipment(body)]
            }
        }
        control.post("inbound-shipments/:id") { request, context in
            try await answer {
                let id = context.parameters.get("id") ?? ""
                let body = try await JSONResponse.decode(InboundShipmentProgress.self, from: request)
                try await simulator.progressInboundShipment(id, body)
                return ["shipmentId": id]
            }
        }
        control.put("inbound-operations") { request, _ in
            try await answer {
                let body = try await JSONResponse.decode(InboundOperationsRequest.self, from: request)
                try await simulator.setInboundOperationSeconds(body.seconds)
                return body
            }
        }
        control.post("inbound-plans/{id}/expire") { _, context in
            try await answer {
                let id = try context.parameters.require("id")
                return ExpiredOptions(inboundPlanId: id, expired: try await simulator.expireInboundPlanOptions(id))
            }
        }
        control.put("feed-processing") { request, _ in
            try await answer {
                let timing = try await JSONResponse.decode(FeedTiming.self, from: request)
                try await simulator.setFeedTiming(timing)
                return timing
            }
        }
        // A feed document's signed URL, as Amazon's S3 serves it: PUT the feed, GET a processing report.
        control.put("feed-documents/{id}") { request, context -> Response in
            let id = try context.parameters.require("id")
            let query = request.uri.queryParameters
            if let refused = await simulator.refusal(
                id,
                upload: true,
                contentType: request.headers[.contentType],
                expires: query["expires"].map(String.init),
                signature: query["signature"].map(String.init)
            ) {
                return s3Error(refused)
            }
            let body = try await request.body.collect(upTo: 100 << 20)
            await simulator.upload(id, data: Data(body.readableBytesView))
            return Response(status: .ok, headers: [.eTag: "\"\(PageToken.digest(id))\""])
        }
        control.get("feed-documents/{id}") { request, context -> Response in
            let id = try context.parameters.require("id")
            let query = request.uri.queryParameters
            if let refused = await simulator.refusal(
                id,
                upload: false,
                contentType: nil,
                expires: query["expires"].map(String.init),
                signature: query["signature"].map(String.init)
            ) {
                return s3Error(refused)
            }
            guard let document = await simulator.feedDocument(id) else { return s3Error("NoSuchKey") }
            return Response(
                status: .ok,
                headers: [.contentType: document.contentType],
                body: .init(byteBuffer: ByteBuffer(bytes: document.data))
            )
        }

        control.post("orders") { request, _ in
            try await answer(status: .created) {
                let body = try await JSONResponse.decode(OrdersRequest.self, from: request)
                let count = body.count ?? 1
                guard (1...10_000).contains(count) else { throw ControlError("count must be 1 to 10000, got \(count)") }
                var ids: [String] = []
                for _ in 0..<count {
                    ids.append(
                        try await simulator.generateOrder(merchantID: body.merchantId, locationID: body.locationId)
                    )
                }
                return ["shipmentIds": ids]
            }
        }
        control.put("order-generator") { request, _ in
            try await answer {
                let body = try await JSONResponse.decode(GeneratorRequest.self, from: request)
                try await simulator.setOrderGenerator(
                    ordersPerMinute: body.ordersPerMinute,
                    merchantID: body.merchantId
                )
                return ["ordersPerMinute": body.ordersPerMinute]
            }
        }

        control.put("mfn-order-generator") { request, _ in
            try await answer {
                let body = try await JSONResponse.decode(MFNGeneratorRequest.self, from: request)
                try await simulator.setMFNOrderGenerator(
                    ordersPerMinute: body.ordersPerMinute,
                    merchantID: body.merchantId,
                    marketplaceIDs: body.marketplaceIds
                )
                return ["ordersPerMinute": body.ordersPerMinute]
            }
        }
        control.post("mfn-orders") { request, _ in
            try await answer(status: .created) {
                let body = try await JSONResponse.decode(MFNOrderRequest.self, from: request)
                let count = body.count ?? 1
                guard (1...10_000).contains(count) else { throw ControlError("count must be 1 to 10000, got \(count)") }
                let specification = MFNOrderSpecification(
                    merchantID: body.merchantId,
                    marketplaceID: body.marketplaceId,
                    serviceLevel: body.serviceLevel,
                    items: body.items ?? [:],
                    prime: body.prime ?? false,
                    pendingSeconds: body.pendingSeconds ?? 0
                )
                var ids: [String] = []
                for _ in 0..<count { ids.append(try await simulator.createMFNOrder(specification)) }
                return ["orderIds": ids]
            }
        }
        control.post("mfn-orders/{id}/cancel") { request, context in
            try await answer {
                let id = try context.parameters.require("id")
                let body = try? await JSONResponse.decode(MFNCancelRequest.self, from: request)
                let by = body?.by ?? "AMAZON"
                guard ["AMAZON", "BUYER"].contains(by) else {
                    throw ControlError("by must be AMAZON or BUYER, got \(by)")
                }
                try await simulator.cancelMFNOrder(id, by: by, reason: body?.reason ?? "UnableToFulfill")
                return ["id": id, "status": "CANCELLED"]
            }
        }
        // Any status, one Amazon's model does not have included: a value Amazon may add later, that a connector
        // must carry on through.
        let forcedStatuses: [(String, @Sendable (Simulator, String, String) async throws -> Void)] = [
            ("shipments", { try await $0.forceShipmentStatus($1, to: $2) }),
            ("mfn-orders", { try await $0.forceMFNOrderStatus($1, to: $2) }),
            ("feeds", { try await $0.forceFeedStatus($1, to: $2) }),
            ("inbound-operations", { try await $0.forceInboundOperationStatus($1, to: $2) }),
        ]
        for (collection, force) in forcedStatuses {
            control.post(RouterPath("\(collection)/{id}/status")) { request, context in
                try await answer {
                    let id = try context.parameters.require("id")
                    let body = try await JSONResponse.decode(StatusRequest.self, from: request)
                    try await force(simulator, id, body.status)
                    return ["id": id, "status": body.status]
                }
            }
        }
        control.post("mfn-orders/{id}/cancellation-request") { request, context in
            try await answer {
                let id = try context.parameters.require("id")
                let body = try? await JSONResponse.decode(MFNCancelRequest.self, from: request)
                try await simulator.requestMFNCancellation(id, reason: body?.reason ?? "BuyerCanceled")
                return ["id": id, "buyerRequestedCancel": "true"]
            }
        }

        control.post("shipments/{id}/replace") { request, context in
            try await answer(status: .created) {
                let id = try context.parameters.require("id")
                let body = try? await JSONResponse.decode(ReplaceRequest.self, from: request)
                return ["shipmentId": try await simulator.replaceShipment(id: id, type: body?.type)]
            }
        }
        control.post("returns") { request, _ in
            try await answer(status: .created) {
                let body = try await JSONResponse.decode(ReturnRequest.self, from: request)
                let returns = try await simulator.createReturns(body)
                return CreatedReturns(
                    id: returns[0].id,
                    returns: returns.map {
                        .init(id: $0.id, rmaId: $0.returnMetadata.rmaId, status: $0.status)
                    }
                )
            }
        }
        control.post("returns/{id}/status") { request, context in
            try await answer {
                let id = try context.parameters.require("id")
                let body = try await JSONResponse.decode(StatusRequest.self, from: request)
                let item = try await simulator.advanceReturn(id: id, to: body.status, force: body.force ?? false)
                return ["id": item.id, "status": item.status]
            }
        }

        control.post("notifications/destinations") { request, _ in
            try await answer(status: .created) {
                let body = try await JSONResponse.decode(DestinationRequest.self, from: request)
                return try await simulator.addNotificationDestination(
                    url: body.url,
                    headerName: body.headerName,
                    secret: body.secret
                )
            }
        }
        control.get("notifications/destinations") { _, _ in JSONResponse.make(await simulator.destinations()) }
        control.delete("notifications/destinations/{id}") { _, context in
            try await answer {
                try await simulator.removeNotificationDestination(id: try context.parameters.require("id"))
                return ["removed": true]
            }
        }

        control.put("faults") { request, _ in
            try await answer {
                let body = try await JSONResponse.decode(FaultRequest.self, from: request)
                let settings = FaultSettings(
                    internalErrorRate: body.internalErrorRate ?? 0,
                    unavailableRate: body.unavailableRate ?? 0,
                    dropAfterApplyRate: body.dropAfterApplyRate ?? 0,
                    latencyMilliseconds: body.latencyMilliseconds ?? 0
                )
                try await simulator.setFaults(settings, operation: body.operation)
                return settings
            }
        }
        control.put("rate-limits/{operation}") { request, context in
            try await answer {
                let operation = try context.parameters.require("operation")
                let limit = try await JSONResponse.decode(RateLimit.self, from: request)
                try await simulator.setRateLimit(limit, operation: operation)
                return limit
            }
        }
        control.put("throttling") { request, _ in
            try await answer {
                let body = try await JSONResponse.decode(ThrottlingRequest.self, from: request)
                await simulator.setThrottling(body.enabled)
                return ["enabled": body.enabled]
            }
        }

        control.get("state") { _, _ in JSONResponse.make(await simulator.groundTruth()) }
        control.get("requests") { request, _ in
            let after = request.uri.queryParameters.get("after", as: Int.self) ?? 0
            return JSONResponse.make(await simulator.recordedRequests(after: after))
        }
        control.get("documents/{id}") { _, context -> Response in
            let id = try context.parameters.require("id")
            guard let document = await simulator.document(id: id) else {
                return JSONResponse.error("No document with id \(id)", status: .notFound)
            }
            return Response(
                status: .ok,
                headers: [.contentType: document.contentType],
                body: .init(byteBuffer: ByteBuffer(bytes: document.data))
            )
        }
    }

    /// What `POST /_simulator/shipments/{id}/replace` takes: REPLACEMENT (default) or EXCHANGE.
    struct ReplaceRequest: Decodable {
        var type: String?
    }

    struct ExpiredOptions: Encodable {
        var inboundPlanId: String
        var expired: Int
    }

    struct CreatedReturns: Encodable {
        struct Item: Encodable { var id: String; var rmaId: String?; var status: String }
        var id: String
        var returns: [Item]
    }

    /// Runs a control operation: its value as JSON, or its refusal as `{"error": …}`.
    /// S3's refusal of a signed request: 403 (404 for a missing key) with its XML error.
    static func s3Error(_ code: String) -> Response {
        let name = code.split(separator: ":").first.map(String.init) ?? code
        let xml =
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>\(name)</Code><Message>\(code)</Message></Error>"
        return Response(
            status: name == "NoSuchKey" ? .notFound : .forbidden,
            headers: [.contentType: "application/xml"],
            body: .init(byteBuffer: ByteBuffer(string: xml))
        )
    }

    static func answer(
        status: HTTPResponse.Status = .ok,
        _ operation: () async throws -> some Encodable
    ) async throws -> Response {
        do {
            return JSONResponse.make(try await operation(), status: status)
        } catch let error as ControlError {
            return JSONResponse.error(error.message, status: error.notFound ? .notFound : .badRequest)
        }
    }
}
