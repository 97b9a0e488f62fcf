import AmazonSimulator
import AsyncHTTPClient
import FlexCore
import FlexPanel
import FlexStore
import FlexUseCases
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Prometheus
import ServiceLifecycle
import UnixSignals

/// `flexbridge demo`: FlexBridge at work in one process. The Amazon simulator, a FlexBridge node on SQLite in a demo
/// folder, a demo seller connected through the real Login-with-Amazon consent flow, a location mapped to a hub, a
/// catalogue with stock, orders arriving all the time (some cancelled by customers, some returned), and a demo
/// warehouse that works them through FlexBridge's API with human-like delays. A second run takes the folder up again
/// (FlexBridge's database and the simulator's saved state); `--reset` starts afresh.
public struct DemoRunner: Sendable {
    public var folder: URL
    public var reset: Bool
    public var host: String
    public var port: Int
    public var simulatorPort: Int
    public var ordersPerMinute: Double
    /// What the node's `/metrics` answers from: the registry the process's metrics system was bootstrapped with.
    public var registry: PrometheusCollectorRegistry

    public init(
        folder: URL,
        reset: Bool = false,
        host: String = "127.0.0.1",
        port: Int = 8080,
        simulatorPort: Int = 8090,
        ordersPerMinute: Double = 6,
        registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
    ) {
        self.folder = folder
        self.reset = reset
        self.host = host
        self.port = port
        self.simulatorPort = simulatorPort
        self.ordersPerMinute = ordersPerMinute
        self.registry = registry
    }

    static let merchant = "A1DEMOSELLER"
    static let marketplace = "A21TJRUUN4KGV"
    static let hub = "BLR-DEMO"
    /// The demo warehouse's carriers for Amazon's ship-service levels: level, WMS carrier and method, and what
    /// Amazon is told (its carrier code, the carrier's name).
    static let shipMethods: [(level: String, carrier: String, method: String, code: String, name: String)] = [
        ("Standard", "indiapost", "speedpost", "Other", "India Post"),
        ("Expedited", "bluedart", "surface", "Other", "Blue Dart"),
        ("SecondDay", "bluedart", "air", "Other", "Blue Dart"),
        ("NextDay", "delhivery", "express", "Other", "Delhivery"),
    ]
    static let clientID = "amzn1.application-oa2-client.flexbridge-demo"
    static let clientSecret = "flexbridge-demo-client-secret"
    /// The demo catalogue: the WMS's SKU (an EAN), Amazon's merchant SKU and ASIN, and the units on hand.
    static let catalogue: [(ean: String, sku: String, asin: String, units: Int)] = [
        ("8901234500011", "TEE-CREW-BLK-M", "B0DEMO0001", 40), ("8901234500028", "TEE-CREW-BLK-L", "B0DEMO0002", 35),
        ("8901234500035", "TEE-CREW-WHT-M", "B0DEMO0003", 28), ("8901234500042", "HOODIE-GRY-M", "B0DEMO0004", 12),
        ("8901234500059", "HOODIE-GRY-L", "B0DEMO0005", 9), ("8901234500066", "CAP-NAVY", "B0DEMO0006", 60),
        ("8901234500073", "SOCKS-3PK", "B0DEMO0007", 120), ("8901234500080", "BOTTLE-750", "B0DEMO0008", 24),
        ("8901234500097", "TOTE-CANVAS", "B0DEMO0009", 50), ("8901234500103", "MUG-STONE", "B0DEMO0010", 18),
    ]

    public func run(logger: Logger) async throws {
        if reset { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let simulator = Simulator(
            configuration: .init(clientID: Self.clientID, clientSecret: Self.clientSecret),
            logger: logger
        )
        let saved = folder.appendingPathComponent("simulator.json")
        if let data = try? Data(contentsOf: saved) {
            do {
                try await simulator.restore(data)
            } catch {
                throw StartupError(
                    message:
                        "The demo folder \(folder.path) holds a simulator state this version cannot read; start afresh with --reset."
                )
            }
        }
        let simulatorApp = try await SimulatorServer.makeApplication(
            simulator: simulator,
            host: host,
            port: simulatorPort,
            logger: logger
        )
        var configuration = FlexBridgeConfiguration(
            database: try DatabaseURL(parsing: folder.appendingPathComponent("flexbridge.sqlite").path),
            host: host,
            port: port,
            logLevel: logger.logLevel,
            nodeID: "demo"
        )
        configuration.outbound = .localDevelopment
        configuration.notificationSecret = UUID().uuidString
        configuration.returnPollInterval = .seconds(10)
        configuration.statusPollInterval = .seconds(10)
        let server = FlexBridgeServer(
            configuration: configuration,
            registry: registry,
            logger: logger
        )
        let store = try await Store.open(
            configuration.storeConfiguration,
            logger: logger,
            currentTrace: { TraceContext.current }
        )
        let warehouse = DemoWarehouse(
            demo: self,
            simulator: simulator,
            store: store,
            notificationSecret: configuration.notificationSecret!,
            statePath: saved,
            logger: logger
        )
        let group: ServiceGroup
        do {
            group = ServiceGroup(
                configuration: .init(
                    services: [.init(service: simulatorApp)] + (try server.services(store: store))
                        + [.init(service: warehouse)],
                    gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger
                )
            )
        } catch {
            try? await store.close()
            throw error
        }
        do {
            try await group.run()
        } catch {
            try? await store.close()
            throw StartupError.explain(error, host: host, port: port)
        }
        try? await simulator.savedStateData()?.write(to: saved, options: .atomic)
    }
}

extension Simulator {
    /// The saved state, or nil when it cannot be made.
    nonisolated func savedStateData() async -> Data? { try? await savedState() }
}

/// The demo's seller set-up and its warehouse: works orders through FlexBridge's API as a warehouse would, a step at
/// a time with human-like delays, while the simulator plays the customers (cancellations, returns) and the stock
/// moves now and then. Saves the simulator's state once a minute and when it stops.
struct DemoWarehouse: Service {
    let demo: DemoRunner
    let simulator: Simulator
    let store: Store
    let notificationSecret: String
    let statePath: URL
    let logger: Logger

    var api: String { "http://\(demo.host):\(demo.port)/api/v1" }
    var amazon: String { "http://\(demo.host):\(demo.simulatorPort)" }

    func run() async throws {
        do {
            try await work()
        } catch is CancellationError {
            // Stopped (Ctrl-C) while setting up: nothing to report.
        }
    }

    private func work() async throws {
        try await cancelWhenGracefulShutdown {
            try await waitUntilUp()
            let session = try await setUp()
            say(banner(session))
            var floor = DemoFloor(session: session, warehouse: self)
            var saved = ContinuousClock.now
            while !Task.isCancelled {
                do {
                    try await floor.tick()
                } catch is CancellationError {
                    break
                } catch {
                    logger.warning("demo warehouse: a step failed; trying again", metadata: ["error": "\(error)"])
                }
                // The simulator's whole world (label files included) goes to disk: once a minute, and at the end.
                if saved.duration(to: .now) > .seconds(60) {
                    if let data = await simulator.savedStateData() { try? data.write(to: statePath, options: .atomic) }
                    saved = .now
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// What the warehouse works with: its API key, the seller's connection and location; and the panel's login.
    struct Session: Sendable {
        var key: String
        var connectionID: String
        var locationID: String
        var operatorPassword: String
    }

    /// The panel's demo operator: made on the first run with a random password kept in the demo folder (mode 0600),
    /// so that every run prints the same login.
    private func demoOperator() async throws -> String {
        let file = statePath.deletingLastPathComponent().appendingPathComponent("operator-password")
        if let saved = try? String(contentsOf: file, encoding: .utf8), !saved.isEmpty { return saved }
        let password = Panel.randomToken()
        _ = try await OperatorUseCases(store: store).create(
            name: "demo",
            password: password,
            role: .admin,
            connections: nil,
            by: .node()
        )
        guard
            FileManager.default.createFile(
                atPath: file.path,
                contents: Data(password.utf8),
                attributes: [.posixPermissions: 0o600]
            )
        else {
            throw StartupError(message: "The demo could not write the operator's password to \(file.path).")
        }
        return password
    }

    private func waitUntilUp() async throws {
        for _ in 0..<300 {
            if (try? await request(.GET, "http://\(demo.host):\(demo.port)/health", key: nil).status) == 200,
                (try? await request(.GET, "\(amazon)/_simulator/health", key: nil).status) == 200
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw StartupError(message: "The demo's FlexBridge or simulator did not start within 30 seconds.")
    }

    /// A key for this run, and — on the first run — the demo seller connected through Login with Amazon's consent
    /// flow, its location mapped to a hub, the catalogue listed and stocked. Every run registers FlexBridge for the
    /// simulator's notifications and starts the order generator.
    private func setUp() async throws -> Session {
        let (_, key) = try await AccessUseCases(store: store).createKey(
            name: "demo warehouse \(Int(Date().timeIntervalSince1970))",
            role: .admin,
            connections: nil,
            by: .node()
        )
        let existing = try await store.read { try await $0.connections() }
            .first { $0.sellingPartnerID.rawValue == DemoRunner.merchant }
        let connectionID: String
        let locationID: String
        if let existing {
            guard existing.endpoint.absoluteString == amazon else {
                throw StartupError(
                    message:
                        "The demo folder's seller talks to the simulator at \(existing.endpoint.absoluteString); run with --simulator-port \(existing.endpoint.port ?? demo.simulatorPort), or start afresh with --reset."
                )
            }
            connectionID = existing.id.rawValue
            guard
                let mapping = try await store.read({ try await $0.locationMappings(for: existing.id) }).first
            else {
                throw StartupError(message: "The demo folder's seller has no location; start afresh with --reset.")
            }
            locationID = mapping.locationID.rawValue
        } else {
            (connectionID, locationID) = try await connectSeller(key: key)
        }
        _ = try await simulator.addNotificationDestination(
            url: "http://\(demo.host):\(demo.port)/notifications/amazon",
            headerName: nil,
            secret: notificationSecret
        )
        try await simulator.setOrderGenerator(ordersPerMinute: demo.ordersPerMinute, merchantID: DemoRunner.merchant)
        // Merchant-fulfilled orders beside the Seller Flex ones: a third as many.
        try await simulator.setMFNOrderGenerator(
            ordersPerMinute: demo.ordersPerMinute / 3,
            merchantID: DemoRunner.merchant,
            marketplaceIDs: [DemoRunner.marketplace]
        )
        return Session(
            key: key,
            connectionID: connectionID,
            locationID: locationID,
            operatorPassword: try await demoOperator()
        )
    }

    private func connectSeller(key: String) async throws -> (String, String) {
        let created = try await request(
            .POST,
            "\(api)/connections",
            key: key,
            json: [
                "name": "Demo seller (India)", "sellingPartnerId": DemoRunner.merchant, "region": "EU",
                "marketplaceIds": [DemoRunner.marketplace], "clientId": DemoRunner.clientID,
                "clientSecret": DemoRunner.clientSecret, "endpoint": amazon,
            ]
        )
        guard created.status == 201, let connectionID = created.object?["id"] as? String else {
            throw StartupError(message: "The demo could not create its connection: \(created.status) \(created.text)")
        }
        // Login with Amazon's consent, as the seller's browser goes through it: FlexBridge's link to Amazon's
        // consent page, the seller's confirmation, Amazon's redirect back to FlexBridge's callback.
        let authorize = try await request(.GET, "\(api)/connections/\(connectionID)/authorize", key: key)
        guard let consentPage = authorize.location, let consent = URLComponents(string: consentPage) else {
            throw StartupError(message: "FlexBridge gave no consent page: \(authorize.status) \(authorize.text)")
        }
        var form = URLComponents()
        form.queryItems =
            (consent.queryItems ?? []).filter { ["application_id", "state", "redirect_uri"].contains($0.name) }
            + [URLQueryItem(name: "selling_partner_id", value: DemoRunner.merchant)]
        let confirmed = try await request(
            .POST,
            "\(amazon)/apps/authorize/consent",
            key: nil,
            body: form.percentEncodedQuery ?? "",
            contentType: "application/x-www-form-urlencoded"
        )
        guard let callback = confirmed.location else {
            throw StartupError(message: "The simulator's consent page refused: \(confirmed.status) \(confirmed.text)")
        }
        let back = try await request(.GET, callback, key: nil)
        guard back.status == 200 else {
            throw StartupError(message: "FlexBridge's consent callback failed: \(back.status) \(back.text)")
        }
        let locationID = await simulator.ensureLocation(
            merchantID: DemoRunner.merchant,
            name: "Demo warehouse, Bengaluru",
            marketplaceID: DemoRunner.marketplace,
            channel: "FBA"
        )
        try await simulator.addListings(
            merchantID: DemoRunner.merchant,
            marketplaceID: DemoRunner.marketplace,
            skus: DemoRunner.catalogue.map(\.sku)
        )
        for (path, method, body) in [
            (
                "/connections/\(connectionID)/hubs", HTTPMethod.PUT,
                ["hub": DemoRunner.hub, "locationId": locationID, "channel": "FBA"] as [String: Any]
            ),
            (
                "/connections/\(connectionID)/listings", .POST,
                [
                    "listings": DemoRunner.catalogue.map {
                        [
                            "clientSkuId": $0.ean, "channelSkuId": $0.sku, "channelSerialNo": $0.asin,
                            "marketplace": DemoRunner.marketplace,
                        ]
                    }
                ]
            ),
            (
                "/stock", .PUT,
                ["items": DemoRunner.catalogue.map { ["hub": DemoRunner.hub, "sku": $0.ean, "quantity": $0.units] }]
            ),
            (
                "/connections/\(connectionID)/settings", .PUT,
                [
                    "mfnOrderSyncEnabled": true, "productCode": "wms_sku",
                    "shipMethods": DemoRunner.shipMethods.map {
                        [
                            "serviceLevel": $0.level, "wmsCarrier": $0.carrier, "wmsMethod": $0.method,
                            "carrierCode": $0.code, "carrierName": $0.name, "shippingMethod": $0.method,
                        ]
                    },
                ]
            ),
        ] {
            let answer = try await request(method, api + path, key: key, json: body)
            guard (200..<300).contains(answer.status) else {
                throw StartupError(message: "The demo's set-up failed at \(path): \(answer.status) \(answer.text)")
            }
        }
        return (connectionID, locationID)
    }

    private func banner(_ session: Session) -> String {
        """

        FlexBridge demo — running. Stop with Ctrl-C; run it again to carry on, or with --reset to start afresh.

          Panel              http://\(demo.host):\(demo.port)/   log in as demo, password \(session.operatorPassword)
          FlexBridge API     http://\(demo.host):\(demo.port)/api/v1   (OpenAPI: Sources/FlexBridgeAPI/openapi.yaml)
          API key (admin)    \(session.key)
          Amazon simulator   \(amazon)   (ground truth: \(amazon)/_simulator/state)
          Demo seller        \(DemoRunner.merchant), connection \(session.connectionID)
          Location → hub     \(session.locationID) → \(DemoRunner.hub), \(DemoRunner.catalogue.count) SKUs
          Orders             about \(Int(demo.ordersPerMinute)) a minute; the demo warehouse confirms, packs, labels,
                             manifests and hands them over; customers cancel and return some
          MFN orders         about \(Int((demo.ordersPerMinute / 3).rounded())) a minute (merchant-fulfilled); shipped in one or two packages
                             with the carrier the ship-method table gives the service level

          Try:  curl -H "Authorization: Bearer \(session.key)" http://\(demo.host):\(demo.port)/api/v1/orders
                curl -H "Authorization: Bearer \(session.key)" "http://\(demo.host):\(demo.port)/api/v1/events?after=0"
                curl -H "Authorization: Bearer \(session.key)" http://\(demo.host):\(demo.port)/api/v1/stock/\(DemoRunner.catalogue[0].ean)

        """
    }

    /// Writes to standard output at once (a pipe would hold `print`'s text back).
    func say(_ text: String) {
        FileHandle.standardOutput.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }

    // MARK: HTTP

    struct Answer: Sendable {
        var status: Int
        var text: String
        var location: String?

        var object: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
        }
    }

    static let client = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: .init(redirectConfiguration: .disallow)
    )

    func request(
        _ method: HTTPMethod,
        _ url: String,
        key: String?,
        json: [String: Any]? = nil,
        body: String? = nil,
        contentType: String = "application/json",
        headers: [(String, String)] = []
    ) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(data: try JSONSerialization.data(withJSONObject: json)))
        } else if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await Self.client.execute(request, timeout: .seconds(30))
        let buffer = try await response.body.collect(upTo: 16 << 20)
        return Answer(
            status: Int(response.status.code),
            text: String(buffer: buffer),
            location: response.headers.first(name: "Location")
        )
    }
}
