import AmazonSimulator
import AsyncHTTPClient
import FlexBridgeApp
import FlexCore
import FlexStore
import FlexStoreTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import Prometheus
import Testing

@Suite("Connecting a seller")
struct OnboardingTests {
    static let seller = "A1SIMSELLER"

    /// FlexBridge (in-process router) and the simulator (on a loopback port) side by side.
    func withFlexBridgeAndAmazon(
        clock: WallClock = .system,
        _ body:
            @Sendable (_ flexbridge: any TestClientProtocol, _ amazon: Simulator, _ amazonURL: String) async throws ->
            Void
    ) async throws {
        let simulator = Simulator(configuration: .init(throttling: false))
        let amazonApp = try await SimulatorServer.makeApplication(
            simulator: simulator,
            host: "127.0.0.1",
            port: 0,
            logger: Logger(label: "amazon")
        )
        try await amazonApp.test(.live) { amazonClient in
            let amazonURL = "http://127.0.0.1:\(amazonClient.port!)"
            try await TestDatabase.with(.sqlite) { database in
                var configuration = FlexBridgeConfiguration(
                    database: database.url,
                    masterKey: .value(MasterKey.generate()),
                    port: 0
                )
                configuration.publicURL = URL(string: "https://flexbridge.example")
                configuration.outbound = .localDevelopment  // the simulator runs on this machine
                let store = try await Store.open(configuration.storeConfiguration, clock: clock)
                let app = try FlexBridgeServer.buildApplication(
                    configuration: configuration,
                    store: store,
                    registry: PrometheusCollectorRegistry(),
                    logger: Logger(label: "flexbridge")
                )
                try await app.testAsAdmin(store, .router) { client in try await body(client, simulator, amazonURL) }
                try await store.close()
            }
        }
    }

    func json(_ response: TestResponse) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    func createConnection(
        _ client: any TestClientProtocol,
        amazonURL: String,
        extra: String = ""
    ) async throws -> String {
        let body =
            #"{"name":"Acme India","sellingPartnerId":"\#(Self.seller)","region":"EU","marketplaceIds":["A21TJRUUN4KGV"],"clientId":"amzn1.application-oa2-client.flexbridge-simulator","clientSecret":"simulator-client-secret","endpoint":"\#(amazonURL)"\#(extra)}"#
        return try await client.execute(
            uri: "/api/v1/connections",
            method: .post,
            headers: [.contentType: "application/json"],
            body: ByteBuffer(string: body)
        ) { response in
            #expect(response.status == .created, "\(String(buffer: response.body))")
            let connection = try json(response)
            #expect(connection["status"] as? String == "pending_authorization")
            #expect(connection["authorized"] as? Bool == false)
            #expect(connection["clientSecret"] == nil, "the secret is never returned")
            return try #require(connection["id"] as? String)
        }
    }

    /// The seller opens the link and confirms on Amazon's consent page; Amazon redirects the browser back.
    func consent(at link: String, as seller: String) async throws -> String {
        let url = try #require(URLComponents(string: link))
        let query = Dictionary(uniqueKeysWithValues: (url.queryItems ?? []).map { ($0.name, $0.value ?? "") })
        var form = URLComponents()
        form.queryItems = [
            .init(name: "application_id", value: query["application_id"]), .init(name: "state", value: query["state"]),
            .init(name: "redirect_uri", value: query["redirect_uri"]), .init(name: "selling_partner_id", value: seller),
        ]
        var request = HTTPClientRequest(url: "\(url.scheme!)://\(url.host!):\(url.port!)\(url.path)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: form.percentEncodedQuery ?? ""))
        let response = try await Self.browser.execute(request, timeout: .seconds(10))
        #expect(response.status == .found)
        return try #require(response.headers.first(name: "Location"))
    }

    static let browser = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: .init(redirectConfiguration: .disallow)
    )

    /// FlexBridge's part of a redirect URL to it.
    func path(of redirect: String) throws -> String {
        let url = try #require(URLComponents(string: redirect))
        #expect(url.host == "flexbridge.example")
        return url.path + "?" + (url.percentEncodedQuery ?? "")
    }

    @Test("a seller consents through the authorization link; the connection becomes active and passes its test")
    func consentFlow() async throws {
        try await withFlexBridgeAndAmazon { flexbridge, amazon, amazonURL in
            let id = try await createConnection(flexbridge, amazonURL: amazonURL)
            let link = try await flexbridge.execute(uri: "/api/v1/connections/\(id)/authorization-link", method: .post)
            { response in
                #expect(response.status == .created)
                return try #require(try json(response)["url"] as? String)
            }
            // The link is FlexBridge's own; opening it sends the browser to Amazon with a state of minutes.
            #expect(link.hasPrefix("https://flexbridge.example/connect/"), "\(link)")
            let linkPath = String(link.dropFirst("https://flexbridge.example".count))
            let consentPage = try await flexbridge.execute(uri: linkPath, method: .get) { response in
                #expect(response.status == .found)
                return response.headers[.location] ?? ""
            }
            #expect(consentPage.hasPrefix("\(amazonURL)/apps/authorize/consent?"))
            #expect(consentPage.contains("redirect_uri=https://flexbridge.example/api/v1/connections/callback"))
            try await flexbridge.execute(uri: "/connect/no-such-link", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(String(buffer: response.body).contains("Ask for a new one"))
            }
            // The browser route redirects to a consent link as well.
            try await flexbridge.execute(uri: "/api/v1/connections/\(id)/authorize", method: .get) { response in
                #expect(response.status == .found)
                let location = response.headers[.location] ?? ""
                #expect(location.hasPrefix("\(amazonURL)/apps/authorize/consent?"), "\(location)")
            }

            let callback = try path(of: try await consent(at: consentPage, as: Self.seller))
            try await flexbridge.execute(uri: callback, method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("now connected to seller \(Self.seller)"))
            }
            try await flexbridge.execute(uri: "/api/v1/connections/\(id)", method: .get) { response in
                let connection = try json(response)
                #expect(connection["status"] as? String == "active")
                #expect(connection["authorized"] as? Bool == true)
            }
            // A link works once.
            try await flexbridge.execute(uri: callback, method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("expired or was used"))
            }
            try await flexbridge.execute(uri: "/api/v1/connections/\(id)/test", method: .post) { response in
                let report = try json(response)
                #expect(report["ok"] as? Bool == true, "\(report)")
                #expect(
                    (report["checks"] as? [[String: Any]])?.map { $0["name"] as? String } == [
                        "authorization", "api access",
                    ]
                )
            }
        }
    }

    @Test("a consent's state works for ten minutes: the seller who comes back later is asked to open the link again")
    func stateExpires() async throws {
        let clock = TestClock(Date())
        try await withFlexBridgeAndAmazon(clock: clock.wallClock) { flexbridge, _, amazonURL in
            let id = try await createConnection(flexbridge, amazonURL: amazonURL)
            let link = try await flexbridge.execute(uri: "/api/v1/connections/\(id)/authorization-link", method: .post)
            { try #require(try json($0)["url"] as? String) }
            let path = String(link.dropFirst("https://flexbridge.example".count))
            func consentPage() async throws -> String {
                try await flexbridge.execute(uri: path, method: .get) { $0.headers[.location] ?? "" }
            }
            let late = try self.path(of: try await consent(at: try await consentPage(), as: Self.seller))
            clock.advance(by: .seconds(10 * 60 + 1))
            try await flexbridge.execute(uri: late, method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("expired"))
            }
            // The link itself still works for days: opened again, it makes a new state.
            let callback = try self.path(of: try await consent(at: try await consentPage(), as: Self.seller))
            try await flexbridge.execute(uri: callback, method: .get) { #expect($0.status == .ok) }
            clock.advance(by: .seconds(72 * 3600))
            try await flexbridge.execute(uri: path, method: .get) { #expect($0.status == .notFound) }
        }
    }

    @Test("consent from another seller account is refused and stores nothing")
    func wrongSeller() async throws {
        try await withFlexBridgeAndAmazon { flexbridge, _, amazonURL in
            let id = try await createConnection(flexbridge, amazonURL: amazonURL)
            let consentPage = try await flexbridge.execute(uri: "/api/v1/connections/\(id)/authorize", method: .get) {
                $0.headers[.location] ?? ""
            }
            let callback = try path(of: try await consent(at: consentPage, as: "A9SOMEONEELSE"))
            try await flexbridge.execute(uri: callback, method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(String(buffer: response.body).contains("A9SOMEONEELSE"))
            }
            try await flexbridge.execute(uri: "/api/v1/connections/\(id)", method: .get) { response in
                let answer = try json(response)
                #expect(answer["status"] as? String == "pending_authorization")
            }
            try await flexbridge.execute(
                uri: "/api/v1/connections/callback?state=forged&spapi_oauth_code=x",
                method: .get
            ) { response in
                #expect(response.status == .badRequest)
            }
        }
    }

    @Test(
        "a refresh token entered by hand activates the connection; a revoked one is found by the test and marks it for re-authorisation"
    )
    func manualTokenAndRevocation() async throws {
        try await withFlexBridgeAndAmazon { flexbridge, amazon, amazonURL in
            let id = try await createConnection(flexbridge, amazonURL: amazonURL)
            try await flexbridge.execute(uri: "/api/v1/connections/\(id)/test", method: .post) { response in
                let report = try json(response)
                #expect(report["ok"] as? Bool == false)
                let first = (report["checks"] as? [[String: Any]])?.first?["message"] as? String
                #expect(first?.contains("has not authorised") == true)
            }
            let token = try await amazon.authorize(
                merchantID: Self.seller,
                clientID: "amzn1.application-oa2-client.flexbridge-simulator"
            )
            try await flexbridge.execute(
                uri: "/api/v1/connections/\(id)/refresh-token",
                method: .put,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"refreshToken":"not-a-token"}"#)
            ) { response in
                #expect(response.status == .badRequest)
                let problem = try json(response)["error"] as? [String: Any]
                #expect(problem?["field"] as? String == "refreshToken")
            }
            try await flexbridge.execute(
                uri: "/api/v1/connections/\(id)/refresh-token",
                method: .put,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"refreshToken":"\#(token)"}"#)
            ) { response in
                #expect(response.status == .ok)
                let answer = try json(response)
                #expect(answer["status"] as? String == "active")
            }
            try await amazon.revoke(refreshToken: token)
            try await flexbridge.execute(uri: "/api/v1/connections/\(id)/test", method: .post) { response in
                let report = try json(response)
                #expect(report["ok"] as? Bool == false)
                let message = (report["checks"] as? [[String: Any]])?.first?["message"] as? String
                #expect(message?.contains("authorise FlexBridge again") == true)
            }
            try await flexbridge.execute(uri: "/api/v1/connections/\(id)", method: .get) { response in
                let answer = try json(response)
                #expect(answer["status"] as? String == "needs_reauthorization")
            }
        }
    }

    @Test(
        "bad input is refused with the field at fault and stores nothing; a second connection for the same seller is a conflict"
    )
    func badInput() async throws {
        try await withFlexBridgeAndAmazon { flexbridge, _, amazonURL in
            for (body, field) in [
                (
                    #"{"name":"X","sellingPartnerId":"A1","region":"EU","marketplaceIds":[],"clientId":"c","clientSecret":"s"}"#,
                    "marketplaceIds"
                ),
                (
                    #"{"name":" ","sellingPartnerId":"A1","region":"EU","marketplaceIds":["M"],"clientId":"c","clientSecret":"s"}"#,
                    "name"
                ),
                (
                    #"{"name":"X","sellingPartnerId":"A1","region":"EU","marketplaceIds":["M"],"clientId":"c","clientSecret":"s","endpoint":"ftp://x"}"#,
                    "endpoint"
                ),
                (
                    #"{"name":"X","sellingPartnerId":"A1","region":"EU","marketplaceIds":["M"],"clientId":"c","clientSecret":""}"#,
                    "clientSecret"
                ),
            ] {
                try await flexbridge.execute(
                    uri: "/api/v1/connections",
                    method: .post,
                    headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: body)
                ) { response in
                    #expect(response.status == .badRequest, "\(field)")
                    let problem = try json(response)["error"] as? [String: Any]
                    #expect(problem?["field"] as? String == field, "\(String(buffer: response.body))")
                }
            }
            try await flexbridge.execute(
                uri: "/api/v1/connections",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"name":"X","region":"MARS"}"#)
            ) { response in
                #expect(response.status == .badRequest)
            }
            _ = try await createConnection(flexbridge, amazonURL: amazonURL)
            try await flexbridge.execute(
                uri: "/api/v1/connections",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(
                    string:
                        #"{"name":"Again","sellingPartnerId":"\#(Self.seller)","region":"EU","marketplaceIds":["A21TJRUUN4KGV"],"clientId":"c","clientSecret":"s"}"#
                )
            ) { response in
                #expect(response.status == .conflict)
            }
            try await flexbridge.execute(uri: "/api/v1/connections", method: .get) { response in
                let answer = try json(response)
                #expect((answer["connections"] as? [Any])?.count == 1)
            }
            try await flexbridge.execute(uri: "/api/v1/connections/nope", method: .get) { response in
                #expect(response.status == .notFound)
            }
        }
    }
}
