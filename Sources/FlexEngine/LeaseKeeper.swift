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
        /// Whether the node holds its presence lock on PostgreSQL (``Store/holdPresence(of:held:)``) and judges
        /// other nodes by theirs; without it a dead node's connections are taken when its leases expire.
        public var presence: Bool
        /// The `malloc` the node runs on.
        public var allocator: MemoryAllocator
        /// How many connections a node on the C library's `malloc` holds before it says, once, that jemalloc would
        /// spare it a tenth of its CPU (docs/operations.md).
        public var allocatorAdviceConnections: Int

        public init(
            owner: String,
            ttl: Duration = .seconds(30),
            interval: Duration = .seconds(10),
            isDeadOwner: @escaping @Sendable (String) -> Bool = { _ in false },
            presence: Bool = true,
            allocator: MemoryAllocator = .current,
            allocatorAdviceConnections: Int = 300
        ) {
            self.owner = owner
            self.ttl = ttl
            self.interval = interval
            self.isDeadOwner = isDeadOwner
            self.presence = presence
            self.allocator = allocator
            self.allocatorAdviceConnections = allocatorAdviceConnections
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
    /// gained), the connections lost, and among them those handed over to another node, whose leases are given up
    /// once their work has stopped (``finishHandOver(_:)``).
    public struct Update: Sendable {
        public var gained: [ConnectionID: Lease]
        public var lost: Set<ConnectionID>
        public var handedOver: [ConnectionID: Lease] = [:]
    }

    private let store: Store
    private let configuration: Configuration
    private let logger: Logger
    private var held: [ConnectionID: Lease] = [:]
    /// Leases above the share, no longer renewed, waiting for their connection's work to stop.
    private var pendingHandOvers: [ConnectionID: Lease] = [:]
    /// Whether this node holds its presence lock (it says so in its announcement).
    private var presenceHeld = false
    /// Whether the node has said that it would run better on jemalloc.
    private var advisedAllocator = false
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

    /// One round: announce this node, renew what is held up to the node's share, hand over the surplus, take free
    /// connections up to the share, drop connections that are no longer active.
    @discardableResult
    public func tick() async throws -> Changes {
        let wanted = Set(try await store.read { try await $0.activeConnectionIDs() })
        var changes = Changes()
        // Said whatever happens later in the round: `held` already changed, so a change not said now (a store call
        // failing below) would never be said, and its connection's workers never started or stopped.
        var handedOver: [ConnectionID: Lease] = [:]
        defer {
            if !changes.gained.isEmpty || !changes.lost.isEmpty {
                continuation.yield(
                    Update(
                        gained: held.filter { changes.gained.contains($0.key) },
                        lost: changes.lost,
                        handedOver: handedOver
                    )
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
        let (leases, nodes, present) = try await store.read { [configuration] session in
            (
                try await session.leases(), try await session.announcedNodes(),
                configuration.presence ? try await session.presentNodeKeys() : nil
            )
        }
        let owner = configuration.owner
        // Dead: a process of this host that no longer runs, or — on PostgreSQL — a node announced with a presence lock
        // that PostgreSQL has given back (its connection dropped). Owners that announced no lock (an older version,
        // presence off) count as alive until their leases expire.
        var deadOwners: Set<String> = []
        var liveNodes: Set<String> = [owner]
        for node in nodes where node.owner != owner {
            if let key = node.presenceKey, let present, !present.contains(key) {
                deadOwners.insert(node.owner)
            } else if !configuration.isDeadOwner(node.owner) {
                liveNodes.insert(node.owner)
            }
        }
        for lease in leases.values where lease.owner != owner && lease.expiresAt > now {
            if configuration.isDeadOwner(lease.owner) { deadOwners.insert(lease.owner) }
        }
        let plan = LeaseShares.plan(
            wanted: wanted,
            held: Set(held.keys),
            leases: leases,
            owner: owner,
            deadOwners: deadOwners,
            liveNodes: liveNodes.count,
            now: now
        )
        // The surplus stops here; its leases are given up once its workers have ended (``finishHandOver(_:)``), or
        // expire unrenewed if they never end.
        for id in plan.handOver {
            if let lease = held.removeValue(forKey: id) {
                handedOver[id] = lease
                changes.lost.insert(id)
            }
        }
        pendingHandOvers.merge(handedOver) { $1 }
        let presenceKey = presenceHeld ? Lease.presenceKey(for: owner) : nil
        let taken = try await store.transaction { [configuration] session in
            try await session.announceNode(owner, presenceKey: presenceKey, ttl: configuration.ttl)
            return try await session.acquireShare(
                renewing: plan.renew.map { Lease.name(for: $0) },
                candidates: plan.candidates.map { Lease.name(for: $0) },
                limit: plan.take,
                owner: owner,
                ttl: configuration.ttl,
                replacing: deadOwners
            )
        }
        for id in Set(plan.renew + plan.candidates).sorted() {
            let name = Lease.name(for: id)
            let lease = taken[name]
            if let previous = leases[name], lease != nil, deadOwners.contains(previous.owner) {
                logger.notice(
                    "took over a dead node's connection at once",
                    metadata: ["connection": "\(id)", "dead node": "\(previous.owner)"]
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
                    "handedOver": "\(handedOver.keys.map(\.rawValue).sorted())",
                    "held": "\(held.count)",
                    "share": "\(LeaseShares.share(connections: wanted.count, liveNodes: liveNodes.count))",
                    "nodes": "\(liveNodes.count)",
                ]
            )
        }
        adviseAllocator()
        return changes
    }

    /// Says once, when the node comes to hold many connections on the C library's `malloc`, that jemalloc would serve
    /// it better: glibc's `malloc` cost a node of 1,000 sellers a tenth of its CPU (BENCHMARKS.md).
    private func adviseAllocator() {
        guard !advisedAllocator, configuration.allocator == .system,
            held.count >= configuration.allocatorAdviceConnections
        else { return }
        advisedAllocator = true
        logger.notice(
            "this node holds many connections on the C library's malloc; run it with jemalloc preloaded (LD_PRELOAD) for about a tenth less CPU: see docs/operations.md, \"The memory allocator\"",
            metadata: ["held": "\(held.count)", "allocator": "\(configuration.allocator.rawValue)"]
        )
    }

    /// Says that this node holds its presence lock, so that its announcements carry the lock's key from the next
    /// round on (``run()`` calls it when ``Store/holdPresence(of:held:)`` reports the lock held).
    public func markPresenceHeld() {
        presenceHeld = true
    }

    /// Gives up the lease of a connection handed over once its workers have ended, so that another node takes it at
    /// once; does nothing for a connection not being handed over.
    public func finishHandOver(_ id: ConnectionID) async throws {
        guard let lease = pendingHandOvers.removeValue(forKey: id) else { return }
        try await store.transaction { try await $0.releaseLease(lease) }
    }

    /// Gives up every lease this node holds.
    public func releaseAll() async throws {
        let leases = Array(held.values) + Array(pendingHandOvers.values)
        continuation.yield(Update(gained: [:], lost: Set(held.keys)))
        held.removeAll()
        pendingHandOvers.removeAll()
        let owner = configuration.owner
        let node = try await store.read { try await $0.lease(Lease.node(owner)) }
        try await store.transaction { session in
            for lease in leases { try await session.releaseLease(lease) }
            // The node leaves: the others' shares grow at once.
            if let node, node.owner == owner { try await session.releaseLease(node) }
        }
    }

    /// Renews and takes leases every `interval` (at once when a connection is authorised or changes status on this
    /// node; other nodes' changes are seen at the next round) until the node shuts down, then releases them all so that
    /// another node takes over at once.
    ///
    /// On PostgreSQL the node holds its presence lock (``Store/holdPresence(of:held:)``) the whole time, and its first
    /// round waits for it (up to five seconds), so that its first announcement already carries the lock's key: the
    /// other nodes then know it dead the moment PostgreSQL gives the lock back.
    public func run() async throws {
        let held = WakeUp()
        let everHeld = Guarded(false)
        let presence = Task { [store, configuration] in
            guard configuration.presence else { return }
            await store.holdPresence(of: configuration.owner) {
                everHeld.withLock { $0 = true }
                held.wake()
                Task { await self.markPresenceHeld() }
            }
        }
        defer { presence.cancel() }
        if store.database.kind == .postgres, configuration.presence {
            await held.wait(timeout: .seconds(5))
            if everHeld.withLock({ $0 }) {
                presenceHeld = true
            } else {
                logger.warning("this node's presence lock is not held yet; other nodes see it alive by its leases only")
            }
        }
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
