import AmazonEFInventory
import AmazonEFLocation
import AmazonEFReturns
import AmazonEFShipments
import AmazonOrders
import AmazonOrdersV0
import AmazonSimulator
import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime
import Testing

/// A simulator listening on a free loopback port, with a signed-in seller, for tests that talk to it over HTTP as
/// FlexBridge and Amazon's SDKs do.
struct LiveSimulator: Sendable {
    static let merchant = "A1SIMSELLER"
    static let india = "A21TJRUUN4KGV"
    static let unitedStates = "ATVPDKIKX0DER"

    let simulator: Simulator
    let configuration: Simulator.Configuration
    let base: String
    let accessToken: String

    static func run<T: Sendable>(
        configuration: Simulator.Configuration = Simulator.Configuration(throttling: false),
        clock: SimulatorClock = .system,
        _ body: @Sendable (LiveSimulator) async throws -> T
    ) async throws -> T {
        let simulator = Simulator(configuration: configuration, clock: clock)
        let application = try await SimulatorServer.makeApplication(
            simulator: simulator,
            host: "127.0.0.1",
            port: 0,
            logger: Logger(label: "simulator.test")
        )
        return try await application.test(.live) { client in
            let base = "http://127.0.0.1:\(client.port!)"
            let token = try await signIn(
                base: base,
                merchant: merchant,
                simulator: simulator,
                configuration: configuration
            )
            return try await body(
                LiveSimulator(simulator: simulator, configuration: configuration, base: base, accessToken: token)
            )
        }
    }

    /// Mints a refresh token and exchanges it at the token endpoint, as a connector would.
    static func signIn(
        base: String,
        merchant: String,
        simulator: Simulator,
        configuration: Simulator.Configuration
    ) async throws -> String {
        let refresh = try await simulator.authorize(merchantID: merchant)
        let response = try await RawHTTP.send(
            .POST,
            "\(base)/auth/o2/token",
            form: [
                "grant_type": "refresh_token", "refresh_token": refresh, "client_id": configuration.clientID,
                "client_secret": configuration.clientSecret,
            ]
        )
        #expect(response.status == 200)
        return try #require(response.json?["access_token"] as? String)
    }

    func accessToken(for merchant: String) async throws -> String {
        try await Self.signIn(base: base, merchant: merchant, simulator: simulator, configuration: configuration)
    }

    // MARK: Generated clients

    var shipments: AmazonEFShipments.Client { client(token: accessToken) }

    func client(token: String) -> AmazonEFShipments.Client {
        AmazonEFShipments.Client(
            serverURL: URL(string: base)!,
            transport: AsyncHTTPClientTransport(),
            middlewares: [AccessToken(token: token)]
        )
    }

    var inventory: AmazonEFInventory.Client {
        AmazonEFInventory.Client(
            serverURL: URL(string: base)!,
            transport: AsyncHTTPClientTransport(),
            middlewares: [AccessToken(token: accessToken)]
        )
    }

    var returns: AmazonEFReturns.Client {
        AmazonEFReturns.Client(
            serverURL: URL(string: base)!,
            transport: AsyncHTTPClientTransport(),
            middlewares: [AccessToken(token: accessToken)]
        )
    }

    var locations: AmazonEFLocation.Client {
        AmazonEFLocation.Client(
            serverURL: URL(string: base)!,
            transport: AsyncHTTPClientTransport(),
            middlewares: [AccessToken(token: accessToken)]
        )
    }

    var orders: AmazonOrders.Client {
        AmazonOrders.Client(
            serverURL: URL(string: base)!,
            configuration: .init(dateTranscoder: .iso8601WithFractionalSeconds),
            transport: AsyncHTTPClientTransport(),
            middlewares: [AccessToken(token: accessToken)]
        )
    }

    var ordersV0: AmazonOrdersV0.Client {
        AmazonOrdersV0.Client(
            serverURL: URL(string: base)!,
            configuration: .init(dateTranscoder: .iso8601WithFractionalSeconds),
            transport: AsyncHTTPClientTransport(),
            middlewares: [AccessToken(token: accessToken)]
        )
    }

    // MARK: Raw HTTP, for status codes and error bodies

    func call(
        _ method: HTTPClientRequestMethod,
        _ path: String,
        json: String? = nil,
        token: String? = nil
    ) async throws -> RawHTTP.Response {
        try await RawHTTP.send(method, base + path, json: json, headers: ["x-amz-access-token": token ?? accessToken])
    }

    // MARK: Building blocks

    /// A sandbox location for the seller.
    func createLocation(
        name: String = "Warehouse \(UUID().uuidString.prefix(8))",
        marketplace: String = india,
        channel: String = "MFN"
    ) async throws -> String {
        let response = try await call(
            .POST,
            "/externalFulfillment/2026-07-30/location",
            json:
                #"{"merchantIds":["\#(Self.merchant)"],"marketplaceId":"\#(marketplace)","channels":["\#(channel)"],"locationName":"\#(name)"}"#
        )
        #expect(response.status == 201, "\(response.text)")
        return try #require((response.json?["locationIds"] as? [String: Any])?[channel] as? String)
    }

    /// A sandbox shipment at the location.
    func createShipment(
        location: String,
        marketplace: String = india,
        channel: String = "MFN",
        shippingType: String = "MARKETPLACE",
        orderTypes: [String] = [],
        multipleLines: Bool = false,
        multipleUnits: Bool = false
    ) async throws -> String {
        let types = orderTypes.map { "\"\($0)\"" }.joined(separator: ",")
        let response = try await call(
            .POST,
            "/externalFulfillment/2024-09-11/shipments",
            json: """
                {"locationId":"\(location)","marketplaceId":"\(marketplace)","marketplaceChannel":"\(channel)",\
                "shippingType":"\(shippingType)","orderType":[\(types)],"lineItemCount":"\(multipleLines ? "MULTIPLE" : "SINGLE")",\
                "quantityCount":"\(multipleUnits ? "MULTIPLE" : "SINGLE")"}
                """
        )
        #expect(response.status == 200, "\(response.text)")
        return try #require(response.json?["shipmentId"] as? String)
    }

    func shipment(_ id: String) async throws -> AmazonEFShipments.Components.Schemas.Shipment {
        try await shipments.getShipment(path: .init(shipmentId: id)).ok.body.json
    }

    /// A package holding every unit of the shipment, with serial numbers and customs data when the lines need them.
    func packagesJSON(
        for shipment: AmazonEFShipments.Components.Schemas.Shipment,
        id: String = "P1",
        weightGrams: String = "500"
    ) -> String {
        "{\"packages\":[\(packageJSON(for: shipment, id: id, weightGrams: weightGrams))]}"
    }

    func packageJSON(
        for shipment: AmazonEFShipments.Components.Schemas.Shipment,
        id: String = "P1",
        weightGrams: String = "500"
    ) -> String {
        let items = shipment.lineItems.map { line in
            var item = #"{"packageLineItemId":"\#(line.shipmentLineItemId)","quantity":\#(line.numberOfUnits)"#
            if line.complianceAttributes.serialNumberRequirement == "REQUIRED" {
                item +=
                    ",\"serialNumbers\":["
                    + (0..<line.numberOfUnits).map { "\"SN-\(line.shipmentLineItemId)-\($0)\"" }.joined(separator: ",")
                    + "]"
            }
            if line.complianceAttributes.countryOfOriginRequirement == "REQUIRED" {
                item += #","countryOfOrigin":"IN""#
            }
            if line.complianceAttributes.itemValueRequirement == "REQUIRED" {
                item += #","itemValue":{"value":"10","currencyCode":"USD"}"#
            }
            return item + "}"
        }
        return """
            {"id":"\(id)","dimensions":{"length":{"value":"30","dimensionUnit":"CM"},"width":{"value":"20","dimensionUnit":"CM"},\
            "height":{"value":"10","dimensionUnit":"CM"}},"weight":{"value":"\(weightGrams)","weightUnit":"G"},\
            "packageLineItems":[\(items.joined(separator: ","))]}
            """
    }

    /// Drives a new shipment through Amazon's workflow until it reaches `status`.
    func shipment(
        at status: String,
        marketplace: String = india,
        shippingType: String = "MARKETPLACE"
    ) async throws -> String {
        let location = try await createLocation(marketplace: marketplace)
        let id = try await createShipment(location: location, marketplace: marketplace, shippingType: shippingType)
        let path = "/externalFulfillment/2024-09-11/shipments/\(id)"
        let order = [
            "ACCEPTED", "CONFIRMED", "PACKAGE_CREATED", "PICKUP_SLOT_RETRIEVED", "INVOICE_GENERATED",
            "SHIPLABEL_GENERATED", "SHIPPED", "DELIVERED",
        ]
        if status == "CANCELLED" {
            try expectStatus(
                204,
                try await call(
                    .PATCH,
                    path,
                    json: #"{"updateType":"SHIPMENT_STATUS_CHANGE","updates":{"status":"CANCELLED"}}"#
                )
            )
            return id
        }
        let target = try #require(order.firstIndex(of: status))
        for step in order.prefix(target + 1).dropFirst() {
            let response: RawHTTP.Response
            switch step {
            case "CONFIRMED": response = try await call(.POST, "\(path)?operation=CONFIRM")
            case "PACKAGE_CREATED":
                response = try await call(.POST, "\(path)/packages", json: packagesJSON(for: try await shipment(id)))
            case "PICKUP_SLOT_RETRIEVED": response = try await call(.GET, "\(path)/shippingOptions?packageId=P1")
            case "INVOICE_GENERATED": response = try await call(.POST, "\(path)/invoice")
            case "SHIPLABEL_GENERATED": response = try await call(.PUT, "\(path)/shipLabels?operation=GENERATE")
            case "SHIPPED": response = try await call(.PATCH, "\(path)/packages/P1", json: #"{"status":"SHIPPED"}"#)
            default:
                response = try await call(
                    .PATCH,
                    path,
                    json: #"{"updateType":"SHIPMENT_STATUS_CHANGE","updates":{"status":"DELIVERED"}}"#
                )
            }
            #expect((200..<300).contains(response.status), "\(step): \(response.text)")
        }
        #expect(try await shipment(id).status == status)
        return id
    }

    func expectStatus(
        _ status: Int,
        _ response: RawHTTP.Response,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        #expect(response.status == status, "\(response.text)", sourceLocation: sourceLocation)
    }
}

/// Adds the seller's access token, as every SP-API client does.
struct AccessToken: ClientMiddleware {
    let token: String

    func intercept(
        _ request: HTTPRequest,
        body: HTTPBody?,
        baseURL: URL,
        operationID: String,
        next: @Sendable (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        request.headerFields[HTTPField.Name("x-amz-access-token")!] = token
        return try await next(request, body, baseURL)
    }
}

/// The HTTP methods the tests use.
// swift-format-ignore: AlwaysUseLowerCamelCase
enum HTTPClientRequestMethod: String, Sendable {
    case GET, POST, PUT, PATCH, DELETE
}

/// Plain HTTP over AsyncHTTPClient: status, headers and body as received.
enum RawHTTP {
    /// A client that hands redirects back instead of following them, as the consent tests need.
    static let client = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: HTTPClient.Configuration(redirectConfiguration: .disallow)
    )

    struct Response: @unchecked Sendable {
        var status: Int
        var headers: [String: String]
        var data: Data
        var text: String { String(decoding: data, as: UTF8.self) }
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: data) as? [String: Any] }
        var jsonArray: [Any]? { try? JSONSerialization.jsonObject(with: data) as? [Any] }
        var firstErrorCode: String? { ((json?["errors"] as? [[String: Any]])?.first?["code"]) as? String }
    }

    static func send(
        _ method: HTTPClientRequestMethod,
        _ url: String,
        json: String? = nil,
        form: [String: String]? = nil,
        headers: [String: String] = [:]
    ) async throws -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = NIOHTTP1.HTTPMethod(rawValue: method.rawValue)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "content-type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        if let form {
            let allowed = CharacterSet.alphanumerics.union(.init(charactersIn: "-._~"))
            let text = form.sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }
                .joined(separator: "&")
            request.headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: text))
        }
        let response = try await client.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 16 << 20)
        var fields: [String: String] = [:]
        for header in response.headers { fields[header.name.lowercased()] = header.value }
        return Response(status: Int(response.status.code), headers: fields, data: Data(body.readableBytesView))
    }
}
