import FlexCore
import FlexStore
import Foundation
import Logging
import Metrics
import SellingPartner
import ServiceLifecycle

/// Runs the workers of every connection whose lease this node holds — an ``InventoryWorker``, an ``OrderWorker``'s
/// fetching and polling, a ``FulfilmentWorker`` and a ``ReturnWorker`` each, through one ``WorkerRuntime`` — starting them as the
/// ``LeaseKeeper`` reports a lease gained and stopping them as it reports one lost, all in one task group: a
/// shutdown cancels every worker and waits for each to end.
public struct ConnectionSync: Service {
    private let store: Store
    private let leases: LeaseKeeper
    private let clients: AmazonClients
    private let inventory: InventoryWorker.Configuration
    private let orders: OrderWorker.Configuration
    private let fulfilment: FulfilmentWorker.Configuration
    private let returns: ReturnWorker.Configuration
    private let merchantOrders: MerchantOrderWorker.Configuration
    private let listings: ListingsWorker.Configuration
    private let fba: FBAStockWorker.Configuration
    private let inbound: FBAInboundWorker.Configuration
    private let inboundPlans: InboundPlanWorker.Configuration
    private let runtime: WorkerRuntime<AnyClock>
    /// Which endpoints a connection may send its secrets to.
    private let outbound: OutboundPolicy
    private let logger: Logger

    public init(
        store: Store,
        leases: LeaseKeeper,
        clients: AmazonClients = AmazonClients(),
        inventory: InventoryWorker.Configuration = .init(),
        orders: OrderWorker.Configuration = .init(),
        fulfilment: FulfilmentWorker.Configuration = .init(),
        returns: ReturnWorker.Configuration = .init(),
        merchantOrders: MerchantOrderWorker.Configuration = .init(),
        listings: ListingsWorker.Configuration = .init(),
        fba: FBAStockWorker.Configuration = .init(),
        inbound: FBAInboundWorker.Configuration = .init(),
        inboundPlans: InboundPlanWorker.Configuration = .init(),
        clock: AnyClock = .continuous,
        outbound: OutboundPolicy = .production,
        logger: Logger = Logger(label: "flexbridge.sync")
    ) {
        self.outbound = outbound
        self.store = store
        self.leases = leases
        self.clients = clients
        self.inventory = inventory
        self.inboundPlans = inboundPlans
        self.orders = orders
        self.fulfilment = fulfilment
        self.returns = returns
        self.merchantOrders = merchantOrders
        self.listings = listings
        self.fba = fba
        self.inbound = inbound
        self.runtime = WorkerRuntime(clock: clock, logger: logger)
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                // The last run of each connection held: stopped when its lease is lost, and waited for before the
                // next lease's run starts, so that two runs of one connection never overlap.
                var runs: [ConnectionID: Run] = [:]
                for await update in leases.updates {
                    for id in update.lost {
                        if update.handedOver[id] != nil { runs[id]?.drain.raise() } else { runs[id]?.stop.wake() }
                    }
                    // A connection handed over to another node: its lease is given up once the calls in flight have
                    // ended, so that the next node never works beside this one.
                    for id in update.handedOver.keys {
                        let run = runs[id]
                        group.addTask { [leases, logger] in
                            await run?.ended.wait()
                            do {
                                try await leases.finishHandOver(id)
                            } catch {
                                logger.warning(
                                    "a handed-over connection's lease could not be given up; it expires instead",
                                    metadata: ["connection": "\(id)", "error": "\(error)"]
                                )
                            }
                        }
                    }
                    for (id, lease) in update.gained {
                        let previous = runs[id]
                        previous?.stop.wake()
                        let run = Run()
                        runs[id] = run
                        group.addTask {
                            defer { run.ended.wake() }
                            if let previous { await previous.ended.wait() }
                            guard !Task.isCancelled else { return }
                            await self.sync(id, lease: lease, until: run.stop, drain: run.drain)
                        }
                    }
                }
                group.cancelAll()
            }
        }
    }

    /// One run of a connection's workers, under one lease.
    private final class Run: Sendable {
        /// Raised when the lease is lost or retaken.
        let stop = WakeUp()
        /// Raised when the connection is handed over: the workers end their rounds in flight, then stop.
        let drain = Latch()
        /// Raised when the run's workers have all ended.
        let ended = WakeUp()
    }

    /// How long a handed-over connection's workers have to end their rounds in flight before they are cancelled.
    static let handOverGrace: Duration = .seconds(20)

    /// Runs the connection's workers under `lease` until `stop` is raised or the task is cancelled, or — once `drain`
    /// is raised — until the workers have ended their rounds in flight (at most ``handOverGrace``). Workers that stop
    /// on their own (the seller's consent withdrawn) leave the connection idle until its lease changes.
    private func sync(_ id: ConnectionID, lease: Lease, until stop: WakeUp, drain: Latch) async {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await stop.wait()
                return true
            }
            group.addTask {
                await self.work(id, lease: lease, drain: drain)
                return drain.isRaised
            }
            group.addTask {
                await drain.wait()
                try? await runtime.clock.sleep(for: Self.handOverGrace)
                return !Task.isCancelled
            }
            for await stopped in group where stopped { break }
            group.cancelAll()
        }
    }

    private func work(_ id: ConnectionID, lease: Lease, drain: Latch) async {
        var client: SellingPartnerClient?
        while client == nil, !Task.isCancelled, !drain.isRaised {
            do {
                // A connection stored with an endpoint this node does not allow (an internal service) never gets
                // the client secret or the refresh token sent to it.
                if let connection = try await store.read({ try await $0.connection(id) }) {
                    try outbound.check(endpoint: connection.endpoint)
                }
                client = try await clients.client(for: id, store: store)
            } catch let refused as ValidationError {
                logger.error(
                    "connection sync refused: the connection's endpoint is not allowed on this node",
                    metadata: ["connection": "\(id)", "error": "\(refused)"]
                )
                try? await runtime.clock.sleep(for: .seconds(60))
            } catch {
                logger.error("connection sync cannot start", metadata: ["connection": "\(id)", "error": "\(error)"])
                try? await runtime.clock.sleep(for: .seconds(2))
            }
        }
        guard let client else { return }
        let inventoryWorker = InventoryWorker(
            connectionID: id,
            store: store,
            client: client,
            configuration: inventory,
            lease: lease,
            logger: logger
        )
        let orderWorker = OrderWorker(
            connectionID: id,
            store: store,
            client: client,
            configuration: orders,
            lease: lease,
            logger: logger
        )
        let fulfilmentWorker = FulfilmentWorker(
            connectionID: id,
            store: store,
            client: client,
            merchant: client,
            configuration: fulfilment,
            lease: lease,
            logger: logger
        )
        let returnWorker = ReturnWorker(
            connectionID: id,
            store: store,
            client: client,
            configuration: returns,
            lease: lease,
            logger: logger
        )
        let merchantOrderWorker = MerchantOrderWorker(
            connectionID: id,
            store: store,
            client: client,
            configuration: merchantOrders,
            lease: lease,
            logger: logger
        )
        let listingsWorker = ListingsWorker(
            connectionID: id,
            store: store,
            client: client,
            configuration: listings,
            lease: lease,
            logger: logger
        )
        let fbaWorker = FBAStockWorker(
            connectionID: id,
            store: store,
            client: client,
            configuration: fba,
            lease: lease,
            logger: logger
        )
        let inboundWorker = FBAInboundWorker(
            connectionID: id,
            store: store,
            client: client,
            configuration: inbound,
            lease: lease,
            logger: logger
        )
        let planWorker = InboundPlanWorker(
            connectionID: id,
            store: store,
            client: client,
            configuration: inboundPlans,
            lease: lease,
            logger: logger
        )
        logger.info("connection sync started", metadata: ["connection": "\(id)", "epoch": "\(lease.epoch)"])
        await runtime.run(
            [inventoryWorker] + orderWorker.workers + [fulfilmentWorker, returnWorker] + merchantOrderWorker.workers
                + [listingsWorker, fbaWorker, inboundWorker, planWorker],
            until: drain
        )
        logger.info("connection sync ended", metadata: ["connection": "\(id)", "epoch": "\(lease.epoch)"])
    }
}

/// Makes the Amazon client of a connection from what the store holds.
public struct AmazonClients: Sendable {
    public var configuration: SellingPartnerClient.Configuration

    public init(configuration: SellingPartnerClient.Configuration = .init()) {
        self.configuration = configuration
    }

    /// The clients of a node, which names itself to Amazon in its `User-Agent`.
    public static func node(_ name: String) -> AmazonClients {
        AmazonClients(configuration: .init(userAgent: SellingPartnerClient.Configuration.userAgent(node: name)))
    }

    public struct NotAuthorized: Error, CustomStringConvertible {
        public var connectionID: ConnectionID
        public var description: String {
            "Connection \(connectionID) holds no refresh token: the seller has not authorised FlexBridge."
        }
    }

    public func client(for id: ConnectionID, store: Store) async throws -> SellingPartnerClient {
        let (connection, credentials) = try await store.read { session in
            guard let connection = try await session.connection(id) else {
                throw StoreError.notFound("Connection \(id)")
            }
            return (connection, try await session.credentials(for: id))
        }
        guard let refreshToken = credentials.refreshToken else { throw NotAuthorized(connectionID: id) }
        return client(
            for: connection,
            clientSecret: credentials.clientSecret,
            refreshToken: refreshToken,
            activity: store.activity,
            clock: store.clock
        )
    }

    /// The connection's client; with `activity`, every call's outcome is counted for the dashboard.
    /// The kind of a failed attempt, for the per-connection error counter (four values: bounded labels); nil when
    /// Amazon answered with success.
    static func errorKind(_ status: Int?) -> String? {
        switch status {
        case nil: "unanswered"
        case 429?: "throttled"
        case (400..<500)?: "refused"
        case (500...)?: "failed"
        default: nil
        }
    }

    public func client(
        for connection: Connection,
        clientSecret: String,
        refreshToken: String,
        activity: SyncActivity? = nil,
        clock: WallClock = .system
    ) -> SellingPartnerClient {
        var configuration = configuration
        if let activity {
            let connectionID = connection.id
            let observed = configuration.observe
            let dimensions = [("connection", connectionID.rawValue)]
            let calls = Counter(label: "flexbridge_connection_amazon_calls_total", dimensions: dimensions)
            configuration.observe = { operation, status in
                observed?(operation, status)
                activity.record(.amazonAnswer(status: status), for: connectionID, at: clock.now())
                calls.increment()
                if let kind = Self.errorKind(status) {
                    Counter(
                        label: "flexbridge_connection_amazon_errors_total",
                        dimensions: dimensions + [("kind", kind)]
                    ).increment()
                }
            }
        }
        return SellingPartnerClient(
            endpoint: .custom(connection.endpoint),
            login: AmazonSellerAuthorizer.login(for: connection, clientSecret: clientSecret),
            refreshToken: refreshToken,
            configuration: configuration
        )
    }
}
