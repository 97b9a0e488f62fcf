import AmazonEFInventory
import AmazonEFReturns
import AmazonEFShipments
import FlexCore
import Foundation
import HTTPTypes
import OpenAPIRuntime
import SellingPartner
import Synchronization
import Testing

/// Amazon's own request/response pairs (the static sandbox examples of its models, extracted into
/// Fixtures/amazon-sandbox-examples.json by scripts/derive-amazon-openapi): for each, the request FlexBridge builds
/// from the example's parameters must be the example's request, and the example's response must decode.
@Suite("Contract with Amazon's sandbox examples")
struct ContractTests {
    struct Example: Decodable, Sendable, CustomTestStringConvertible {
        struct Parameter: Decodable, Sendable {
            var name: String
            var `in`: String
            var value: JSONValue?
        }
        var operationId: String
        var method: String
        var path: String
        var status: Int
        var parameters: [Parameter]
        var response: JSONValue?

        var testDescription: String {
            "\(operationId) \(status) \(parameters.map { "\($0.name)=\($0.value.map { "\($0)" } ?? "")" }.joined(separator: " "))"
                .prefix(140).description
        }

        func value(_ name: String) -> JSONValue? { parameters.first { $0.name == name }?.value }
        func string(_ name: String) -> String? {
            switch value(name) {
            case .string(let text): text
            case .number(let number): String(Int(number))
            default: nil
            }
        }
        func body<T: Decodable>(_ type: T.Type) throws -> T? {
            guard let body = value("body") else { return nil }
            return try JSONDecoder().decode(T.self, from: JSONEncoder().encode(body))
        }
    }

    static let examples: [Example] = {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Fixtures/amazon-sandbox-examples.json"
        )
        return (try? JSONDecoder().decode([Example].self, from: Data(contentsOf: url))) ?? []
    }()

    /// Answers every request with the example's response and keeps what was sent.
    final class CannedAmazon: ClientTransport, Sendable {
        let status: Int
        let body: Data
        let sent = Mutex<[(HTTPRequest, Data?)]>([])

        init(status: Int, body: Data) {
            self.status = status
            self.body = body
        }

        func send(
            _ request: HTTPRequest,
            body: HTTPBody?,
            baseURL: URL,
            operationID: String
        ) async throws -> (HTTPResponse, HTTPBody?) {
            let data: Data? = if let body { try await Data(collecting: body, upTo: 1 << 20) } else { nil }
            sent.withLock { $0.append((request, data)) }
            var fields = HTTPFields()
            fields[.contentType] = "application/json"
            fields[HTTPField.Name("x-amzn-RequestId")!] = "example-request"
            return (
                HTTPResponse(status: .init(code: status), headerFields: fields),
                status == 204 ? nil : HTTPBody(self.body)
            )
        }
    }

    /// Amazon's examples whose request body does not fit Amazon's own schema (an empty package), which a typed
    /// client therefore cannot send; their responses are still checked.
    static func bodyFitsSchema(_ example: Example) -> Bool {
        !(["createPackages", "updatePackage"].contains(example.operationId) && example.value("body") == .object([:]))
    }

    static func requestCanBeBuilt(_ example: Example) -> Bool {
        let dates = [
            "lastUpdatedAfter", "lastUpdatedBefore", "createdSince", "createdUntil", "lastUpdatedSince",
            "lastUpdatedUntil",
        ]
        let datesParse = dates.allSatisfy { name in
            example.string(name).map { (try? Date.ISO8601FormatStyle().parse($0)) != nil } ?? true
        }
        return datesParse && (!example.parameters.isEmpty || example.operationId == "listReturns")
    }

    @Test("the fixture holds Amazon's examples for every operation FlexBridge calls")
    func coverage() {
        let operations = Set(Self.examples.map(\.operationId))
        #expect(Self.examples.count == 53)
        #expect(operations.count == 13)
    }

    @Test(
        "each example: the request FlexBridge builds matches, the response decodes",
        arguments: ContractTests.examples
    )
    func example(_ example: Example) async throws {
        let responseData = try example.response.map { try JSONEncoder().encode($0) } ?? Data()
        let amazon = CannedAmazon(status: example.status, body: responseData)
        let client = SellingPartnerClient(
            endpoint: .custom(URL(string: "https://sellingpartnerapi-eu.amazon.com")!),
            login: LoginWithAmazon(application: .init(clientID: "id", clientSecret: "secret")),
            refreshToken: "Atzr|example",
            sleep: { _ in },
            transport: amazon
        )
        await client.tokens.preload(AccessToken(value: "Atza|example", expiresAt: Date().addingTimeInterval(3600)))

        guard Self.bodyFitsSchema(example) else {
            // Kept so that the day Amazon corrects these examples, this test says the exception can go.
            #expect(example.status == 204)
            #expect(throws: DecodingError.self) { try example.body(AmazonEFShipments.Components.Schemas.Package.self) }
            return
        }
        guard Self.requestCanBeBuilt(example) else {
            // Amazon's "invalid request" examples leave out required parameters or send an impossible date, which a
            // typed client cannot do; their answer must still read as Amazon's error.
            #expect(example.status == 400)
            let decoded = try? JSONDecoder().decode(ErrorList.self, from: responseData)
            #expect(decoded?.errors.isEmpty == false)
            return
        }
        do {
            try await call(example, on: client)
            #expect((200..<300).contains(example.status), "a \(example.status) example must not succeed")
        } catch {
            let apiError = try #require(error.sellingPartnerError as? AmazonAPIError, "\(error)")
            #expect(apiError.status == example.status)
            #expect(
                apiError.code == (try? JSONDecoder().decode(ErrorList.self, from: responseData))?.errors.first?.code
            )
            #expect(apiError.requestID == "example-request")
        }

        let (request, body) = try #require(amazon.sent.withLock { $0.first })
        #expect(request.method.rawValue == example.method)
        var path = example.path
        for parameter in example.parameters where parameter.in == "path" {
            path = path.replacingOccurrences(of: "{\(parameter.name)}", with: parameter.value?.text ?? "")
        }
        let sentURL = try #require(URLComponents(string: request.path ?? ""))
        #expect(sentURL.path == path)
        let sentQuery = Dictionary(uniqueKeysWithValues: (sentURL.queryItems ?? []).map { ($0.name, $0.value ?? "") })
        let expectedQuery = Dictionary(
            uniqueKeysWithValues: example.parameters.filter { $0.in == "query" }.map {
                ($0.name, $0.value?.text ?? "")
            }
        )
        #expect(sentQuery == expectedQuery)
        if let expectedBody = example.value("body") {
            let sentBody = try body.map { try JSONDecoder().decode(JSONValue.self, from: $0) }
            #expect(sentBody == expectedBody)
        }
        #expect(request.headerFields[HTTPField.Name("x-amz-access-token")!] == "Atza|example")
    }

    struct ErrorList: Decodable {
        struct Entry: Decodable { var code: String }
        var errors: [Entry]
    }

    /// Calls the example's operation with the example's parameters through the typed client.
    func call(_ example: Example, on client: SellingPartnerClient) async throws {
        let shipmentID = example.string("shipmentId") ?? ""
        let packageID = example.string("packageId") ?? ""
        func date(_ name: String) -> Date? { example.string(name).flatMap { try? Date.ISO8601FormatStyle().parse($0) } }
        switch example.operationId {
        case "batchInventory":
            _ = try await client.inventory.batchInventory(
                body: .json(try example.body(AmazonEFInventory.Components.Schemas.BatchInventoryRequest.self)!)
            ).code207.body.json
        case "getShipments":
            _ = try await client.shipments.getShipments(
                query: .init(
                    locationId: example.string("locationId"),
                    marketplaceId: example.string("marketplaceId"),
                    channelName: example.string("channelName"),
                    status: .init(rawValue: example.string("status") ?? "")!,
                    lastUpdatedAfter: date("lastUpdatedAfter"),
                    lastUpdatedBefore: date("lastUpdatedBefore"),
                    maxResults: example.string("maxResults").flatMap(Int.init),
                    paginationToken: example.string("paginationToken")
                )
            ).ok.body.json
        case "getShipment":
            _ = try await client.shipments.getShipment(path: .init(shipmentId: shipmentID)).ok.body.json
        case "processShipment":
            let body = try example.body(AmazonEFShipments.Components.Schemas.ShipmentAcknowledgementRequest.self)
            _ = try await client.shipments.processShipment(
                path: .init(shipmentId: shipmentID),
                query: .init(operation: .init(rawValue: example.string("operation")!)!),
                body: body.map { .json($0) }
            ).noContent
        case "createPackages":
            _ = try await client.shipments.createPackages(
                path: .init(shipmentId: shipmentID),
                body: .json(try example.body(AmazonEFShipments.Components.Schemas.Packages.self)!)
            ).noContent
        case "updatePackage":
            _ = try await client.shipments.updatePackage(
                path: .init(shipmentId: shipmentID, packageId: packageID),
                body: .json(try example.body(AmazonEFShipments.Components.Schemas.Package.self)!)
            ).noContent
        case "updatePackageStatus":
            _ = try await client.shipments.updatePackageStatus(
                path: .init(shipmentId: shipmentID, packageId: packageID),
                query: .init(status: example.string("status").flatMap { .init(rawValue: $0) }),
                body: try example.body(AmazonEFShipments.Components.Schemas.PackageDeliveryStatus.self).map {
                    .json($0)
                }
            ).noContent
        case "retrieveShippingOptions":
            _ = try await client.shipments.retrieveShippingOptions(
                path: .init(shipmentId: shipmentID),
                query: .init(packageId: packageID)
            ).ok.body.json
        case "generateInvoice":
            _ = try await client.shipments.generateInvoice(path: .init(shipmentId: shipmentID)).ok.body.json
        case "retrieveInvoice":
            _ = try await client.shipments.retrieveInvoice(path: .init(shipmentId: shipmentID)).ok.body.json
        case "generateShipLabels":
            _ = try await client.shipments.generateShipLabels(
                path: .init(shipmentId: shipmentID),
                query: .init(
                    shippingOptionId: example.string("shippingOptionId"),
                    operation: .init(rawValue: example.string("operation")!)!
                ),
                body: try example.body(AmazonEFShipments.Components.Schemas.ShipLabelsInput.self).map { .json($0) }
            ).ok.body.json
        case "listReturns":
            _ = try await client.returns.listReturns(
                query: .init(
                    returnLocationId: example.string("returnLocationId"),
                    rmaId: example.string("rmaId"),
                    status: example.string("status").flatMap { .init(rawValue: $0) },
                    reverseTrackingId: example.string("reverseTrackingId"),
                    createdSince: date("createdSince"),
                    createdUntil: date("createdUntil"),
                    lastUpdatedSince: date("lastUpdatedSince"),
                    lastUpdatedUntil: date("lastUpdatedUntil"),
                    lastUpdatedAfter: date("lastUpdatedAfter"),
                    lastUpdatedBefore: date("lastUpdatedBefore"),
                    maxResults: example.string("maxResults").flatMap(Int64.init),
                    nextToken: example.string("nextToken")
                )
            ).ok.body.json
        case "getReturn":
            _ = try await client.returns.getReturn(path: .init(returnId: example.string("returnId")!)).ok.body.json
        default:
            Issue.record("no call for \(example.operationId)")
        }
    }
}

extension JSONValue {
    /// The value as it stands in a path or query: strings and whole numbers bare, anything else as JSON.
    fileprivate var text: String {
        switch self {
        case .string(let value): value
        case .number(let value): value == value.rounded() ? String(Int(value)) : String(value)
        default: (try? String(decoding: JSONEncoder().encode(self), as: UTF8.self)) ?? ""
        }
    }
}
