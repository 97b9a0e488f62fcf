import AmazonSimulator
import AsyncHTTPClient
import FlexBridgeApp
import FlexCore
import FlexEngine
import FlexStore
import FlexUseCases
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Prometheus
import ServiceLifecycle

/// What the benchmarks share: the simulator in this process, CPU and memory readings, percentiles.

/// The simulator served on a free loopback port inside this process, for benchmarks.
struct InProcessSimulator {
    let simulator: Simulator
    let base: URL
    private let server: Task<Void, any Error>

    static func start(_ simulator: Simulator, logger: Logger) async throws -> InProcessSimulator {
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let application = try await SimulatorServer.makeApplication(
            simulator: simulator,
            host: "127.0.0.1",
            port: 0,
            logger: logger
        ) { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
        }
        let server = Task { try await application.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            server.cancel()
            throw StartupError(message: "the simulator did not start")
        }
        return InProcessSimulator(simulator: simulator, base: URL(string: "http://127.0.0.1:\(port)")!, server: server)
    }

    func stop() {
        server.cancel()
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// CPU time and peak memory of this process so far.
struct ProcessUsage {
    var cpuSeconds: Double
    var peakMemoryMegabytes: Double

    static func now() -> ProcessUsage {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu =
            Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(
                usage.ru_utime.tv_usec + usage.ru_stime.tv_usec
            ) / 1e6
        return ProcessUsage(cpuSeconds: cpu, peakMemoryMegabytes: Double(usage.ru_maxrss) / 1024)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// The value below which a share `p` of `values` lies (nearest rank).
func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))]
}

/// The API of a bench node, called as a WMS calls it: with its API key.
struct BenchAPI: Sendable {
    /// `http://127.0.0.1:PORT/api/v1`.
    let base: String
    let key: String

    /// A request for `base` + `path`, with the key.
    func request(_ path: String) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: base + path)
        request.headers.add(name: "Authorization", value: "Bearer \(key)")
        return request
    }

    /// `PUT /stock` with `body` (`{"items":[…]}`), which must be accepted.
    func putStock(body: String) async throws {
        var request = request("/stock")
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.bench.execute(request, timeout: .seconds(120))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        guard response.status == .accepted else {
            throw StartupError(message: "PUT /api/v1/stock answered \(response.status.code): \(text)")
        }
    }
}

/// A FlexBridge node in this process, for benchmarks: a fresh SQLite store in a folder of its own, a seller of the
/// in-process simulator connected and authorised with one MFN location mapped to hub HUB1, and the HTTP API, the
/// lease keeper and the connection's workers running.
struct BenchNode {
    static let marketplace = "A21TJRUUN4KGV"

    let store: Store
    let connection: Connection
    let locationID: String
    /// The API, with a wms key.
    let api: BenchAPI
    let port: Int
    let leases: LeaseKeeper
    private let group: ServiceGroup
    private let task: Task<Void, any Error>
    private let folder: URL

    /// Starts the node; `prepare` runs in the transaction that creates the connection (listings, say).
    static func start(
        amazon: InProcessSimulator,
        simulatorConfiguration: Simulator.Configuration,
        merchant: String,
        notificationSecret: String? = nil,
        orders: OrderWorker.Configuration = .init(),
        merchantOrders: MerchantOrderWorker.Configuration = .init(),
        logger: Logger,
        prepare: @Sendable (StoreSession, Connection) async throws -> Void = { _, _ in }
    ) async throws -> BenchNode {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flexbridge-bench-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let locationID = await amazon.simulator.ensureLocation(
            merchantID: merchant,
            name: "Bench",
            marketplaceID: marketplace,
            channel: "MFN"
        )
        var configuration = FlexBridgeConfiguration(
            database: .sqlite(path: folder.appendingPathComponent("bench.sqlite").path),
            masterKey: .value(MasterKey.generate()),
            port: 0
        )
        configuration.notificationSecret = notificationSecret
        configuration.outbound = .localDevelopment
        let store = try await Store.open(configuration.storeConfiguration, logger: logger)
        let key = try await AccessUseCases(store: store).createKey(
            name: "bench",
            role: .wms,
            connections: nil,
            by: .node()
        ).secret
        let connection = Connection(
            name: "Bench",
            sellingPartnerID: SellingPartnerID(rawValue: merchant),
            region: .eu,
            marketplaceIDs: [MarketplaceID(rawValue: marketplace)],
            applicationClientID: simulatorConfiguration.clientID,
            endpointOverride: amazon.base,
            createdAt: Date()
        )
        let refreshToken = try await amazon.simulator.authorize(merchantID: merchant)
        try await store.transaction { session in
            try await session.insertConnection(
                connection,
                clientSecret: simulatorConfiguration.clientSecret,
                actor: "bench"
            )
            try await session.authorize(connection.id, refreshToken: refreshToken, actor: "bench")
            try await session.setLocationMapping(
                LocationMapping(
                    connectionID: connection.id,
                    hub: "HUB1",
                    locationID: LocationID(rawValue: locationID),
                    channel: .mfn,
                    createdAt: Date()
                ),
                actor: "bench"
            )
            try await prepare(session, connection)
        }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let application = try FlexBridgeServer.buildApplication(
            configuration: configuration,
            store: store,
            registry: PrometheusCollectorRegistry(),
            logger: logger
        ) { channel in portContinuation.yield(channel.localAddress?.port ?? 0) }
        let leases = LeaseKeeper(
            store: store,
            configuration: .init(owner: "bench", ttl: .seconds(30), interval: .seconds(5)),
            logger: logger
        )
        let group = ServiceGroup(
            configuration: .init(
                services: [
                    .init(service: leases),
                    .init(
                        service: ConnectionSync(
                            store: store,
                            leases: leases,
                            orders: orders,
                            merchantOrders: merchantOrders,
                            outbound: .localDevelopment,
                            logger: logger
                        )
                    ),
                    .init(service: application),
                ],
                logger: logger
            )
        )
        let task = Task { try await group.run() }
        var portIterator = ports.makeAsyncIterator()
        guard let port = await portIterator.next(), port > 0 else {
            throw StartupError(message: "FlexBridge did not start")
        }
        while await leases.leases[connection.id] == nil { try await Task.sleep(for: .milliseconds(50)) }
        return BenchNode(
            store: store,
            connection: connection,
            locationID: locationID,
            api: BenchAPI(base: "http://127.0.0.1:\(port)/api/v1", key: key),
            port: port,
            leases: leases,
            group: group,
            task: task,
            folder: folder
        )
    }

    /// Shuts the node down and removes its folder.
    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
        try? await store.close()
        try? FileManager.default.removeItem(at: folder)
    }
}

extension HTTPClient {
    /// The benchmarks' client to the node's API: a busy WMS keeps more connections open than AsyncHTTPClient's
    /// default 8 a host, which queued the fleet benchmark's stock writes, event reads and commands behind each other.
    static let bench: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()
}
