import AsyncHTTPClient
import FlexAPI
import FlexBridgeApp
import FlexCore
import FlexEngine
import FlexStore
import FlexStoreTesting
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Prometheus
import ServiceLifecycle
import Synchronization
import Testing

@Suite("Server")
struct ServerTests {
    @Test(
        "a node shuts down gracefully, even with a token fetch in flight: the server stops, the engine stops and releases its leases, the store closes"
    )
    func gracefulShutdown() async throws {
        // An Amazon whose Login with Amazon never answers until the test ends: the node's workers are waiting for a
        // token when the shutdown comes.
        let (gate, release) = AsyncStream<Void>.makeStream()
        let asked = Atomic<Int>(0)
        let router = Router()
        router.post("auth/o2/token") { _, _ -> Response in
            asked.add(1, ordering: .relaxed)
            for await _ in gate {}
            return Response(status: .serviceUnavailable)
        }
        let amazon = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await amazon.test(.live) { amazonClient in
            defer { release.finish() }
            try await TestDatabase.with(.sqlite) { database in
                var configuration = FlexBridgeConfiguration(
                    database: database.url,
                    masterKey: .value(MasterKey.generate()),
                    port: 0
                )
                configuration.outbound = .localDevelopment  // its Login with Amazon hangs on this machine
                let store = try await Store.open(configuration.storeConfiguration)
                let connection = Connection(
                    name: "Acme",
                    sellingPartnerID: "A1SELLER",
                    region: .eu,
                    marketplaceIDs: ["A21TJRUUN4KGV"],
                    applicationClientID: "c",
                    endpointOverride: URL(string: "http://127.0.0.1:\(amazonClient.port!)"),
                    createdAt: Date()
                )
                try await store.transaction { session in
                    try await session.insertConnection(connection, clientSecret: "s", actor: "test")
                    try await session.authorize(connection.id, refreshToken: "r", actor: "test")
                }
                let server = FlexBridgeServer(
                    configuration: configuration,
                    registry: PrometheusCollectorRegistry(),
                    logger: Logger(label: "test")
                )
                let group = try server.serviceGroup(store: store)
                let running = Task { try await group.run() }
                let name = Lease.name(for: connection.id)
                var held = false
                for _ in 0..<200 where !held {
                    held = try await store.read { try await $0.lease(name) }?.owner == configuration.nodeID
                    if !held { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(held, "the node took the connection's lease")
                // Its order poll is now waiting for an access token that does not come.
                for _ in 0..<200 where asked.load(ordering: .relaxed) == 0 {
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(asked.load(ordering: .relaxed) == 1, "one token fetch in flight, for all the workers")

                await group.triggerGracefulShutdown()
                // The group ends well before Login with Amazon's 30-second timeout would have ended the wait; a hang
                // fails here instead of holding the test run.
                let finished = try await withThrowingTaskGroup(of: Bool.self) { race in
                    race.addTask {
                        try await running.value
                        return true
                    }
                    race.addTask {
                        try await Task.sleep(for: .seconds(15))
                        return false
                    }
                    let first = try await race.next() ?? false
                    race.cancelAll()
                    return first
                }
                #expect(finished, "the service group ended after the graceful shutdown")
                await #expect(throws: (any Error).self, "the store is closed") {
                    try await store.read { try await $0.connections() }
                }
                let reopened = try await Store.open(configuration.storeConfiguration)
                let lease = try await reopened.read { try await $0.lease(name) }
                #expect(
                    lease?.expiresAt == Date(timeIntervalSince1970: 0),
                    "the lease was released, not left to expire"
                )
                try await reopened.close()
            }
        }
    }

    @Test("/health reports the database and its schema version; /metrics speaks Prometheus")
    func healthAndMetrics() async throws {
        try await TestDatabase.with(.sqlite) { database in
            let configuration = FlexBridgeConfiguration(
                database: database.url,
                masterKey: .value(MasterKey.generate()),
                port: 0
            )
            let store = try await Store.open(configuration.storeConfiguration)
            let registry = PrometheusCollectorRegistry()
            let app = try FlexBridgeServer.buildApplication(
                configuration: configuration,
                store: store,
                registry: registry,
                logger: Logger(label: "test")
            )
            try await app.testAsAdmin(store, .router) { client in
                try await client.execute(uri: "/health", method: .get) { response in
                    #expect(response.status == .ok)
                    let report = try JSONDecoder().decode(
                        HealthReport.self,
                        from: Data(response.body.readableBytesView)
                    )
                    #expect(report.status == "ok")
                    #expect(report.database == "sqlite")
                    #expect(report.schemaVersion == Database.knownMigrations.map(\.version).max())
                }
                try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                    let text = String(buffer: response.body)
                    #expect(text.contains("# TYPE flexbridge_build_info gauge"))
                    #expect(
                        text.contains(
                            "flexbridge_build_info{version=\"\(FlexBridgeVersion.current)\",database=\"sqlite\",allocator=\"\(MemoryAllocator.current.rawValue)\"} 1"
                        )
                    )
                }
            }
            // With the database gone, health says so instead of answering ok.
            try await store.close()
            try await app.test(.router) { client in
                try await client.execute(uri: "/health", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    let report = try JSONDecoder().decode(
                        HealthReport.self,
                        from: Data(response.body.readableBytesView)
                    )
                    #expect(report.status == "unavailable")
                    #expect(report.error != nil)
                }
            }
        }
    }

    @Test("a request naming a host the node does not serve is refused (DNS rebinding); addresses and its names pass")
    func hostCheck() async throws {
        try await TestDatabase.with(.sqlite) { database in
            var configuration = FlexBridgeConfiguration(
                database: database.url,
                masterKey: .value(MasterKey.generate()),
                port: 0
            )
            configuration.publicURL = URL(string: "https://flexbridge.acme.example")
            configuration.allowedHosts = ["bridge.internal"]
            let store = try await Store.open(configuration.storeConfiguration)
            let app = try FlexBridgeServer.buildApplication(
                configuration: configuration,
                store: store,
                registry: PrometheusCollectorRegistry(),
                logger: Logger(label: "test")
            )
            let key = try await TestKeys.make(store)
            try await app.test(.live) { client in
                let port = try #require(client.port)
                // A client of its own: the test client sets Host itself.
                func status(host: String, path: String = "/api/v1/connections") async throws -> Int {
                    var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
                    request.headers.add(name: "Host", value: host)
                    request.headers.add(name: "Authorization", value: "Bearer \(key)")
                    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                    _ = try await response.body.collect(upTo: 1 << 20)
                    return Int(response.status.code)
                }
                for (host, allowed) in [
                    ("evil.example.com", false), ("evil.example.com:8080", false), ("127.0.0.1", true),
                    ("10.0.0.3:8080", true), ("[::1]:8080", true), ("localhost:8080", true),
                    ("flexbridge.acme.example", true), ("BRIDGE.internal", true),
                ] {
                    #expect(try await status(host: host) == (allowed ? 200 : 421), "\(host)")
                }
                #expect(try await status(host: "evil.example.com", path: "/health") == 200, "health answers anyone")
            }
            try await store.close()
        }
    }

    @Test("with a certificate and key, serve answers HTTPS (and consent links say https); a bad file is one sentence")
    func tls() async throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
        let certificate = fixtures.appendingPathComponent("test-tls-certificate.pem").path
        try await TestDatabase.with(.sqlite) { database in
            var configuration = FlexBridgeConfiguration(
                database: database.url,
                masterKey: .value(MasterKey.generate()),
                port: 0
            )
            configuration.tlsCertificatePath = certificate
            configuration.tlsKeyPath = fixtures.appendingPathComponent("test-tls-key.pem").path
            #expect(configuration.authorizationCallbackURL.hasPrefix("https://"))
            let store = try await Store.open(configuration.storeConfiguration)
            let app = try FlexBridgeServer.buildApplication(
                configuration: configuration,
                store: store,
                registry: PrometheusCollectorRegistry(),
                logger: Logger(label: "test")
            )
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(certificate)
            let https = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(tlsConfiguration: tls))
            do {
                try await app.test(.live) { client in
                    let port = try #require(client.port)
                    let response = try await https.execute(
                        HTTPClientRequest(url: "https://127.0.0.1:\(port)/health"),
                        timeout: .seconds(30)
                    )
                    #expect(response.status == .ok)
                    _ = try await response.body.collect(upTo: 1 << 16)
                    await #expect(throws: (any Error).self, "plain HTTP is not answered") {
                        _ = try await HTTPClient.shared.execute(
                            HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"),
                            timeout: .seconds(10)
                        )
                    }
                }
            } catch {
                try await https.shutdown()
                throw error
            }
            try await https.shutdown()
            try await store.close()
            configuration.tlsKeyPath = fixtures.appendingPathComponent("missing.pem").path
            let reopened = try await Store.open(configuration.storeConfiguration)
            #expect(throws: StartupError.self) {
                _ = try FlexBridgeServer.buildApplication(
                    configuration: configuration,
                    store: reopened,
                    registry: PrometheusCollectorRegistry(),
                    logger: Logger(label: "test")
                )
            }
            try await reopened.close()
        }
    }

    @Test("with --port 0, consent links send the seller back to the port the system chose, not to :0")
    func consentLinksOnAChosenPort() async throws {
        try await TestDatabase.with(.sqlite) { database in
            let configuration = FlexBridgeConfiguration(
                database: database.url,
                masterKey: .value(MasterKey.generate()),
                port: 0
            )
            let store = try await Store.open(configuration.storeConfiguration)
            let app = try FlexBridgeServer.buildApplication(
                configuration: configuration,
                store: store,
                registry: PrometheusCollectorRegistry(),
                logger: Logger(label: "test")
            )
            try await app.testAsAdmin(store, .live) { client in
                let port = try #require(client.port)
                let body =
                    #"{"name":"A","sellingPartnerId":"A1","region":"EU","marketplaceIds":["A21TJRUUN4KGV"],"clientId":"c","clientSecret":"s"}"#
                let id = try await client.execute(
                    uri: "/api/v1/connections",
                    method: .post,
                    headers: [.contentType: "application/json"],
                    body: ByteBuffer(string: body)
                ) { response in
                    try #require(
                        (try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])?[
                            "id"
                        ] as? String
                    )
                }
                try await client.execute(uri: "/api/v1/connections/\(id)/authorization-link", method: .post) {
                    response in
                    let link = try #require(
                        (try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])?[
                            "url"
                        ] as? String
                    )
                    #expect(link.hasPrefix("http://127.0.0.1:\(port)/connect/"), "\(link)")
                }
                try await client.execute(uri: "/api/v1/connections/\(id)/authorize", method: .get) { response in
                    let consent = response.headers[.location] ?? ""
                    let redirect = URLComponents(string: consent)?.queryItems?.first { $0.name == "redirect_uri" }?
                        .value
                    #expect(redirect == "http://127.0.0.1:\(port)/api/v1/connections/callback", "\(consent)")
                }
            }
            try await store.close()
        }
    }

    @Test("a port in use is a one-sentence start-up error naming the port")
    func portInUse() async throws {
        let blocker = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(blocker.localAddress?.port)
        try await TestDatabase.with(.sqlite) { database in
            let configuration = FlexBridgeConfiguration(
                database: database.url,
                masterKey: .value(MasterKey.generate()),
                port: port
            )
            let server = FlexBridgeServer(
                configuration: configuration,
                registry: PrometheusCollectorRegistry(),
                logger: Logger(label: "test")
            )
            let error = await #expect(throws: StartupError.self) { try await server.run() }
            #expect(error?.message.contains("Port \(port) on 127.0.0.1 is already in use") == true)
        }
        try await blocker.close()
    }
}
