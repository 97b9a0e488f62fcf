import FlexCore
import FlexStore
import Foundation
import Logging
import SellingPartner
import ServiceLifecycle

/// Runs the workers of every connection whose lease this node holds — an ``InventoryWorker``, an
/// ``OrderWorker`` and a ``FulfilmentWorker`` each — starting and stopping them as leases are gained and lost.
public actor ConnectionSync: Service {
    private let store: Store
    private let leases: LeaseKeeper
    private let clients: AmazonClients
    private let inventory: InventoryWorker.Configuration
    private let orders: OrderWorker.Configuration
    private let fulfilment: FulfilmentWorker.Configuration
    private let logger: Logger
    private var workers: [ConnectionID: (lease: Lease, task: Task<Void, Never>)] = [:]

    public init(
        store: Store,
        leases: LeaseKeeper,
        clients: AmazonClients = AmazonClients(),
        inventory: InventoryWorker.Configuration = .init(),
        orders: OrderWorker.Configuration = .init(),
        fulfilment: FulfilmentWorker.Configuration = .init(),
        logger: Logger = Logger(label: "flexbridge.sync")
    ) {
        self.store = store
        self.leases = leases
        self.clients = clients
        self.inventory = inventory
        self.orders = orders
        self.fulfilment = fulfilment
        self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            while !Task.isCancelled {
                await self.adjust()
                try? await Task.sleep(for: .seconds(1))
            }
        }
        for (_, worker) in workers { worker.task.cancel() }
        for (_, worker) in workers { await worker.task.value }
        workers.removeAll()
    }

    /// Starts workers for newly held leases and stops those whose lease is gone or was retaken.
    func adjust() async {
        let held = await leases.leases
        for (id, worker) in workers where held[id]?.epoch != worker.lease.epoch {
            worker.task.cancel()
            workers[id] = nil
        }
        for (id, lease) in held where workers[id] == nil {
            do {
                let client = try await clients.client(for: id, store: store)
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
                    configuration: fulfilment,
                    lease: lease,
                    logger: logger
                )
                workers[id] = (
                    lease,
                    Task {
                        async let inventory: Void = inventoryWorker.run()
                        async let orders: Void = orderWorker.run()
                        async let fulfilment: Void = fulfilmentWorker.run()
                        _ = await (inventory, orders, fulfilment)
                    }
                )
                logger.info("connection sync started", metadata: ["connection": "\(id)"])
            } catch {
                logger.error("connection sync cannot start", metadata: ["connection": "\(id)", "error": "\(error)"])
            }
        }
    }
}

/// Makes the Amazon client of a connection from what the store holds.
public struct AmazonClients: Sendable {
    public var configuration: SellingPartnerClient.Configuration

    public init(configuration: SellingPartnerClient.Configuration = .init()) {
        self.configuration = configuration
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
        return client(for: connection, clientSecret: credentials.clientSecret, refreshToken: refreshToken)
    }

    public func client(for connection: Connection, clientSecret: String, refreshToken: String) -> SellingPartnerClient {
        SellingPartnerClient(
            endpoint: .custom(connection.endpoint),
            login: AmazonSellerAuthorizer.login(for: connection, clientSecret: clientSecret),
            refreshToken: refreshToken,
            configuration: configuration
        )
    }
}
