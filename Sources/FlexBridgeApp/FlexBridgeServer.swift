import FlexAPI
import FlexCore
import FlexEngine
import FlexPanel
import FlexStore
import FlexUseCases
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOSSL
import Prometheus
import SellingPartner
import ServiceLifecycle
import UnixSignals

/// Wires the parts of a FlexBridge node together. The executable parses its arguments and calls ``run(_:)``;
/// tests call ``buildApplication(configuration:store:registry:logger:)`` with a test configuration.
public struct FlexBridgeServer: Sendable {
    public let configuration: FlexBridgeConfiguration
    public let registry: PrometheusCollectorRegistry
    public let logger: Logger
    /// The exporter of the node's spans (``NodeTracing``), nil when traces are off.
    public let tracing: (any Service)?

    public init(
        configuration: FlexBridgeConfiguration,
        registry: PrometheusCollectorRegistry,
        logger: Logger,
        tracing: (any Service)? = nil
    ) {
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        self.tracing = tracing
    }

    /// The HTTP application over an open store.
    public static func buildApplication(
        configuration: FlexBridgeConfiguration,
        store: Store,
        registry: PrometheusCollectorRegistry,
        logger: Logger,
        authorizer: (any SellerAuthorizer)? = nil,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        let callback = CallbackAddress(configuration.authorizationCallbackURL)
        let authorizer = authorizer ?? AmazonSellerAuthorizer(outbound: configuration.outbound)
        let router = Router()
        router.add(middleware: RequestTracingMiddleware())
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: RequestLogMiddleware())
        router.add(middleware: HostCheckMiddleware(configuration: configuration))
        OperationsRoutes(store: store, registry: registry).register(on: router)
        try APIHandler(
            store: store,
            authorizer: authorizer,
            callback: callback,
            outbound: configuration.outbound,
            logger: logger
        ).register(on: router)
        NotificationRoutes(store: store, secret: configuration.notificationSecret).register(on: router)
        try Panel(
            store: store,
            secureCookies: configuration.tlsCertificatePath != nil,
            stockBound: (AmazonClients().configuration.rateLimits["batchInventory"]?.rate ?? 0)
                * Double(InventoryRules.itemsPerCall),
            authorizer: authorizer,
            outbound: configuration.outbound,
            consentLink: { callback.link($0) }
        ).register(on: router)
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "flexbridge",
                metricName: "build",
                unitName: "info",
                helpText: "Always 1; the labels say which FlexBridge runs on which database and memory allocator."
            ),
            labels: [
                ("version", FlexBridgeVersion.current), ("database", store.database.kind.rawValue),
                ("allocator", MemoryAllocator.current.rawValue),
            ]
        ).set(to: 1)
        return Application(
            router: router,
            server: try httpServer(configuration),
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: "FlexBridge"
            ),
            onServerRunning: { channel in
                if configuration.publicURL == nil, configuration.port == 0, let port = channel.localAddress?.port {
                    var listening = configuration
                    listening.port = port
                    callback.set(listening.authorizationCallbackURL)
                }
                await onServerRunning(channel)
            },
            logger: logger
        )
    }

    /// HTTP, or HTTPS with the configured certificate chain and key; a file that cannot be read is a one-sentence
    /// start-up error naming it.
    static func httpServer(_ configuration: FlexBridgeConfiguration) throws -> HTTPServerBuilder {
        guard let certificatePath = configuration.tlsCertificatePath, let keyPath = configuration.tlsKeyPath else {
            return .http1()
        }
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw StartupError(
                message:
                    "Cannot read the TLS certificate \(certificatePath): it must be a readable PEM file (\(error))."
            )
        }
        guard !certificates.isEmpty else {
            throw StartupError(message: "The TLS certificate file \(certificatePath) holds no certificate.")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw StartupError(
                message:
                    "Cannot read the TLS private key \(keyPath): it must be a readable, unencrypted PEM file (\(error))."
            )
        }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificates.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        tls.minimumTLSVersion = .tlsv12
        return try .tls(.http1(), tlsConfiguration: tls)
    }

    /// Opens the store (migrating it), then runs the HTTP server and the engine's services in one service group
    /// until SIGTERM or SIGINT, and shuts them down in reverse order: server, engine, store.
    public func run() async throws {
        // An address that cannot be listened on is said before anything else happens (migrations included).
        do {
            _ = try SocketAddress.makeAddressResolvingHost(configuration.host, port: 0)
        } catch {
            throw StartupError(
                message:
                    "Cannot listen on \(configuration.host): the name does not resolve to an address of this machine. Choose another with --host or FLEXBRIDGE_HOST."
            )
        }
        let store = try await Store.open(
            configuration.storeConfiguration,
            logger: logger,
            currentTrace: { TraceContext.current }
        )
        let group: ServiceGroup
        do {
            group = try serviceGroup(store: store, gracefulShutdownSignals: [.sigterm, .sigint])
        } catch {
            try? await store.close()
            throw error
        }
        do {
            try await group.run()
            logger.notice("FlexBridge stopped", metadata: ["node": "\(configuration.nodeID)"])
        } catch {
            try? await store.close()
            throw StartupError.explain(error, host: configuration.host, port: configuration.port)
        }
    }

    /// The services of a node over an open store, in start order — span exporter (when traces are on), store, lease keeper, connection sync, webhook
    /// dispatcher, backlog metrics, HTTP server — shut down in reverse: the server stops taking requests, the engine finishes and
    /// releases its leases, the store closes last.
    public func serviceGroup(store: Store, gracefulShutdownSignals: [UnixSignal] = []) throws -> ServiceGroup {
        ServiceGroup(
            configuration: .init(
                services: try services(store: store),
                gracefulShutdownSignals: gracefulShutdownSignals,
                logger: logger
            )
        )
    }

    /// The node's services over an open store, in start order (see ``serviceGroup(store:gracefulShutdownSignals:)``),
    /// for a group that runs more beside them (`flexbridge demo`).
    public func services(store: Store) throws -> [ServiceGroupConfiguration.ServiceConfiguration] {
        let leaseKeeper = LeaseKeeper(
            store: store,
            configuration: .init(
                owner: configuration.nodeID,
                ttl: configuration.leaseTTL,
                // A round is two statements whatever the number of connections: often enough that a dead node's
                // connections (seen by its presence lock) are taken within seconds.
                interval: min(configuration.leaseTTL / 3, .seconds(5)),
                isDeadOwner: FlexBridgeConfiguration.isDeadLocalNode,
                presence: configuration.nodePresence
            ),
            logger: logger
        )
        let configuration = self.configuration
        let logger = self.logger
        let application = try Self.buildApplication(
            configuration: configuration,
            store: store,
            registry: registry,
            logger: logger
        ) {
            channel in
            let address = channel.localAddress.map {
                "\($0.ipAddress ?? configuration.host):\($0.port ?? configuration.port)"
            }
            logger.notice(
                "FlexBridge is listening",
                metadata: [
                    "address":
                        "\(configuration.tlsCertificatePath == nil ? "http" : "https")://\(address ?? "\(configuration.host):\(configuration.port)")",
                    "database": "\(configuration.database)",
                    "node": "\(configuration.nodeID)",
                    "allocator": "\(MemoryAllocator.current.rawValue)",
                ]
            )
        }
        // The span exporter first: it stops last, after the spans of the node's last work.
        let tracing: [ServiceGroupConfiguration.ServiceConfiguration] = self.tracing.map { [.init(service: $0)] } ?? []
        return tracing + [
            .init(service: store),
            .init(service: leaseKeeper),
            .init(
                service: ConnectionSync(
                    store: store,
                    leases: leaseKeeper,
                    clients: .node(configuration.nodeID),
                    orders: OrderWorker.Configuration(
                        pollInterval: configuration.orderPollInterval,
                        notifiedPollInterval: configuration.notifiedOrderPollInterval,
                        fullPollInterval: configuration.statusPollInterval
                    ),
                    returns: ReturnWorker.Configuration(
                        pollInterval: configuration.returnPollInterval,
                        statusPollInterval: configuration.statusPollInterval,
                        pageSize: configuration.returnPageSize
                    ),
                    merchantOrders: MerchantOrderWorker.Configuration(pollInterval: configuration.mfnPollInterval),
                    outbound: configuration.outbound,
                    logger: logger
                )
            ),
            .init(service: WebhookDispatcher(store: store, outbound: configuration.outbound, logger: logger)),
            .init(service: BacklogMetrics(store: store, leases: leaseKeeper, logger: logger)),
            .init(service: application),
        ]
    }

}

/// A start-up failure a person can fix, said in one sentence.
public struct StartupError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }

    /// Turns the errors a person can fix into one sentence saying how.
    static func explain(_ error: any Error, host: String, port: Int) -> any Error {
        if let error = error as? IOError, error.errnoCode == EADDRINUSE {
            return StartupError(
                message:
                    "Port \(port) on \(host) is already in use. Stop the other process or choose another port with --port or FLEXBRIDGE_PORT."
            )
        }
        if let error = error as? IOError, error.errnoCode == EACCES {
            return StartupError(
                message:
                    "Not allowed to listen on port \(port). Ports below 1024 need privileges; choose another with --port or FLEXBRIDGE_PORT."
            )
        }
        if let error = error as? IOError, error.errnoCode == EADDRNOTAVAIL {
            return StartupError(
                message:
                    "Cannot listen on \(host): this machine has no such address. Choose another with --host or FLEXBRIDGE_HOST."
            )
        }
        return error
    }
}

/// FlexBridge's version, as reported by `flexbridge --version` and `/metrics`.
public enum FlexBridgeVersion {
    public static let current = "0.1.0"
}
