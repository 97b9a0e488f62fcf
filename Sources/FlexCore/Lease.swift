import Foundation

/// The right of one node to do the work named by the lease (such as syncing one connection) until it expires.
///
/// `epoch` grows each time the lease changes hands. Work done under a lease carries the epoch it was granted with,
/// so that a node that lost its lease while paused cannot overwrite what the new owner did (a fencing token).
public struct Lease: Sendable, Hashable, Codable {
    public var name: String
    public var owner: String
    public var epoch: Int64
    public var expiresAt: Date

    public init(name: String, owner: String, epoch: Int64, expiresAt: Date) {
        self.name = name
        self.owner = owner
        self.epoch = epoch
        self.expiresAt = expiresAt
    }

    /// The lease that names the work of syncing one connection.
    public static func name(for connection: ConnectionID) -> String { "connection:\(connection.rawValue)" }
}

/// Where wall-clock time comes from, so that tests can set it instead of waiting for it.
public struct WallClock: Sendable {
    private let read: @Sendable () -> Date

    public init(_ read: @escaping @Sendable () -> Date) { self.read = read }

    /// The current time.
    public func now() -> Date { read() }

    /// The system's clock.
    public static let system = WallClock { Date() }
}

extension Lease {
    /// The lease by which a running node announces itself: renewed with its connections' leases each round, so that
    /// its expiry is the node's last sign of life, and the number of live nodes sets each node's share.
    public static func node(_ owner: String) -> String { "node:\(owner)" }

    /// The key under which a node holds PostgreSQL's session-level advisory lock while it runs (with
    /// ``presenceNamespace``): PostgreSQL gives the lock back the moment the node's connection drops, so a killed node
    /// is seen dead at once instead of when its leases expire. FNV-1a of the owner's name, non-negative; two nodes
    /// sharing a key only make the dead one look alive until its leases expire.
    public static func presenceKey(for owner: String) -> Int32 {
        var hash: UInt32 = 2_166_136_261
        for byte in owner.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return Int32(bitPattern: hash & 0x7FFF_FFFF)
    }

    /// The first key of the two-key advisory locks that say a node is alive ("FLXB").
    public static let presenceNamespace: Int32 = 0x464C_5842
}

/// How a node decides, each round, which connections it keeps, which it hands over and how many it takes: every node
/// aims at its share, ⌈active connections ÷ live nodes⌉, so that the connections spread over the nodes and a node
/// that joins or leaves moves only what it must.
public enum LeaseShares {
    /// What one node does in one round.
    public struct Plan: Sendable, Hashable {
        /// Held leases to renew.
        public var renew: [ConnectionID]
        /// Held leases above the share, given up once their connection's work has stopped.
        public var handOver: [ConnectionID]
        /// Connections whose lease looked free, expired or a dead node's, in the order to try them.
        public var candidates: [ConnectionID]
        /// How many of the candidates to take at most.
        public var take: Int
    }

    /// A node's share of `connections` active connections among `liveNodes` (this one included).
    public static func share(connections: Int, liveNodes: Int) -> Int {
        let nodes = max(1, liveNodes)
        return (connections + nodes - 1) / nodes
    }

    /// The plan of `owner`'s round, from the active connections, those it holds, the stored leases as read at `now`,
    /// the owners known dead and the number of live nodes.
    public static func plan(
        wanted: Set<ConnectionID>,
        held: Set<ConnectionID>,
        leases: [String: Lease],
        owner: String,
        deadOwners: Set<String>,
        liveNodes: Int,
        now: Date
    ) -> Plan {
        let share = share(connections: wanted.count, liveNodes: liveNodes)
        let kept = held.intersection(wanted).sorted()
        // The surplus is the end of the sorted list: a node hands over the same connections whenever it has to,
        // not a different few each round.
        let renew = Array(kept.prefix(share))
        let handOver = Array(kept.dropFirst(share))
        let candidates = wanted.subtracting(held).sorted().filter { id in
            guard let lease = leases[Lease.name(for: id)] else { return true }
            return lease.expiresAt <= now || lease.owner == owner || deadOwners.contains(lease.owner)
        }
        return Plan(renew: renew, handOver: handOver, candidates: candidates, take: max(0, share - renew.count))
    }
}
