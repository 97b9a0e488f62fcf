import FlexCore
import FlexStore
import Foundation
import Logging
import ServiceLifecycle

/// Holds this node's leases on the connections it syncs, so that several nodes sharing one PostgreSQL never sync
/// one connection twice: each round it renews the leases it holds and takes those of active connections that are
/// free or expired; on shutdown it releases them so that another node takes over at once.
public actor LeaseKeeper: Service {
    /// How the keeper paces itself.
    public struct Configuration: Sendable {
        /// The node's name in the lease table; unique per running process.
        public var owner: String
        /// How long a lease lasts without renewal: the longest a dead node's connections stay unsynced.
        public var ttl: Duration
        /// How often leases are renewed and free ones taken; well below `ttl`.
        public var interval: Duration
        /// Whether another owner's name is known to be a dead process — this node's own previous run, killed —
        /// whose leases can be taken at once instead of after they expire. Unknown owners count as alive.
        public var isDeadOwner: @Sendable (String) -> Bool

        public init(
            owner: String,
            ttl: Duration = .seconds(30),
            interval: Duration = .seconds(10),
            isDeadOwner: @escaping @Sendable (String) -> Bool = { _ in false }
        ) {
            self.owner = owner
            self.ttl = ttl
            self.interval = interval
            self.isDeadOwner = isDeadOwner
        }
    }

    /// What one round changed.
    public struct Changes: Sendable, Hashable {
        /// Connections this node now holds and did not before.
        public var gained: Set<ConnectionID> = []
        /// Connections this node held and no longer does.
        public var lost: Set<ConnectionID> = []

        public init(gained: Set<ConnectionID> = [], lost: Set<ConnectionID> = []) {
            self.gained = gained
            self.lost = lost
        }
    }

    /// What changed in the leases this node holds: the leases gained (a lease retaken at a new epoch is lost and
    /// gained), the connections lost.
    public struct Update: Sendable {
        public var gained: [ConnectionID: Lease]
        public var lost: Set<ConnectionID>
    }

    private let store: Store
    private let configuration: Configuration
    private let logger: Logger
    private var held: [ConnectionID: Lease] = [:]
    private let continuation: AsyncStream<Update>.Continuation

    /// Every change of the leases this node holds, from the first, for the one consumer that starts and stops the
    /// connections' workers (``ConnectionSync``). Ends when the keeper has released its leases at shutdown.
    public nonisolated let updates: AsyncStream<Update>

    private let clock: AnyClock

    public init(
        store: Store,
        configuration: Configuration,
        clock: AnyClock = .continuous,
        logger: Logger = Logger(label: "flexbridge.leases")
    ) {
        self.store = store
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        (updates, continuation) = AsyncStream.makeStream()
    }

    /// The leases this node holds now, by connection.
    public var leases: [ConnectionID: Lease] { held }

    /// One round: renew what is held, take what is free, drop connections that are no longer active.
    @discardableResult
    public func tick() async throws -> Changes {
        let connections = try await store.read { try await $0.connections() }
        let wanted = Set(connections.filter { $0.status == .active }.map(\.id))
        var changes = Changes()
        // Said whatever happens later in the round: `held` already changed, so a change not said now (a store call
        // failing below) would never be said, and its connection's workers never started or stopped.
        defer {
            if !changes.gained.isEmpty || !changes.lost.isEmpty {
                continuation.yield(
                    Update(gained: held.filter { changes.gained.contains($0.key) }, lost: changes.lost)
                )
            }
        }
        for id in held.keys where !wanted.contains(id) {
            if let lease = held.removeValue(forKey: id) {
                try await store.transaction { try await $0.releaseLease(lease) }
                changes.lost.insert(id)
            }
        }
        let now = store.clock.now()
        var deadOwners: [String: String] = [:]
        for (name, lease) in try await store.read({ try await $0.leases() })
        where lease.owner != configuration.owner && lease.expiresAt > now && configuration.isDeadOwner(lease.owner) {
            deadOwners[name] = lease.owner
        }
        // Every wanted lease renewed or taken in one transaction: one round costs the same whatever the number of
        // connections.
        let names = wanted.map { Lease.name(for: $0) }
        let taken = try await store.transaction { [configuration] session in
            try await session.acquireLeases(
                names,
                owner: configuration.owner,
                ttl: configuration.ttl,
                replacing: Set(deadOwners.values)
            )
        }
        for id in wanted.sorted() {
            let name = Lease.name(for: id)
            let lease = taken[name]
            if let dead = deadOwners[name], lease != nil {
                logger.notice(
                    "took over a dead node's connection at once",
                    metadata: ["connection": "\(id)", "dead node": "\(dead)"]
                )
            }
            switch (held[id], lease) {
            case (nil, let lease?):
                changes.gained.insert(id)
                held[id] = lease
            case (let previous?, let lease?) where previous.epoch != lease.epoch:
                // Held before, but the lease expired in between and was retaken: work under the old epoch is void.
                changes.lost.insert(id)
                changes.gained.insert(id)
                held[id] = lease
            case (_?, let lease?):
                held[id] = lease
            case (_?, nil):
                held[id] = nil
                changes.lost.insert(id)
            case (nil, nil):
                break
            }
        }
        if !changes.gained.isEmpty || !changes.lost.isEmpty {
            logger.info(
                "connection leases changed",
                metadata: [
                    "gained": "\(changes.gained.map(\.rawValue).sorted())",
                    "lost": "\(changes.lost.map(\.rawValue).sorted())",
                ]
            )
        }
        return changes
    }

    /// Gives up every lease this node holds.
    public func releaseAll() async throws {
        let leases = Array(held.values)
        continuation.yield(Update(gained: [:], lost: Set(held.keys)))
        held.removeAll()
        try await store.transaction { session in
            for lease in leases { try await session.releaseLease(lease) }
        }
    }

    /// Renews and takes leases every `interval` (at once when a connection is authorised or changes status on this
    /// node; other nodes' changes are seen at the next round) until the node shuts down, then releases them all so that
    /// another node takes over at once.
    public func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            await WorkerRuntime(clock: clock, logger: logger).run(self)
        }
        defer { continuation.finish() }
        try await releaseAll()
    }
}

/// The keeper's rounds run on the engine's runtime (it stops only when cancelled; a failed round is tried again at the
/// next interval).
extension LeaseKeeper: ConnectionWorker {
    public nonisolated var name: String { "lease keeper" }
    public nonisolated var wakeUp: WakeUp? { store.wakeUps.connections }

    public func round() async throws -> NextRound {
        try await tick()
        return .within(configuration.interval)
    }

    public nonisolated func retryDelay(afterFailures failures: Int) -> Duration { configuration.interval }
}
