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
