import Foundation

/// Something that happened which the WMS should hear about. Events are written in the same transaction as the
/// change they describe and delivered at least once; `id` stays the same on every delivery so that receivers can
/// drop duplicates, and `sequence` orders the feed.
public struct OutboxEvent: Sendable, Hashable, Codable {
    /// The position in the feed, strictly increasing in commit order; the cursor of `GET /api/v1/events`.
    public var sequence: Int64
    /// The account the event belongs to: its connection's, or the account's own.
    public var accountID: AccountID
    /// The stable id receivers deduplicate on.
    public var id: UUID
    /// What happened, such as `order.created`.
    public var type: String
    public var connectionID: ConnectionID?
    /// What the event is about, such as a shipment id.
    public var subject: String?
    /// The event's data as JSON text.
    public var payload: String
    public var createdAt: Date

    public init(
        sequence: Int64,
        accountID: AccountID = .default,
        id: UUID,
        type: String,
        connectionID: ConnectionID?,
        subject: String?,
        payload: String,
        createdAt: Date
    ) {
        self.sequence = sequence
        self.accountID = accountID
        self.id = id
        self.type = type
        self.connectionID = connectionID
        self.subject = subject
        self.payload = payload
        self.createdAt = createdAt
    }
}

/// What an event says happened — every type FlexBridge writes, named once.
public enum EventType: String, Sendable, Hashable, CaseIterable {
    /// An Amazon shipment seen for the first time.
    case orderCreated = "order.created"
    /// Amazon's copy moved forward.
    case orderUpdated = "order.updated"
    /// Cancelled by the marketplace, the customer or Amazon.
    case orderCancelled = "order.cancelled"
    /// Refused by the seller.
    case orderRejected = "order.rejected"
    case commandSucceeded = "order.command_succeeded"
    case commandFailed = "order.command_failed"
    case manifestCreated = "manifest.created"
    case manifestHandedOver = "manifest.handed_over"
    /// An Amazon return seen for the first time.
    case returnCreated = "return.created"
    /// Amazon's copy of a return moved forward.
    case returnUpdated = "return.updated"
    /// The return was called off (by the customer or Amazon): nothing is coming back.
    case returnCancelled = "return.cancelled"
    /// The warehouse recorded the parcel's arrival and grades.
    case returnReceived = "return.received"
    /// A location's mode changed (pilot, live, outgoing, handed over).
    case locationModeChanged = "location.mode_changed"
}

/// An event about to be written; the store gives it its id and sequence.
public struct NewEvent: Sendable, Hashable {
    public var type: String
    /// The account of an event about no connection; an event about a connection is its account's.
    public var accountID: AccountID?
    public var connectionID: ConnectionID?
    public var subject: String?
    public var payload: String

    public init(
        type: String,
        accountID: AccountID? = nil,
        connectionID: ConnectionID? = nil,
        subject: String? = nil,
        payload: String = "{}"
    ) {
        self.type = type
        self.accountID = accountID
        self.connectionID = connectionID
        self.subject = subject
        self.payload = payload
    }

    public init(_ type: EventType, connectionID: ConnectionID? = nil, subject: String? = nil, payload: String = "{}") {
        self.init(type: type.rawValue, connectionID: connectionID, subject: subject, payload: payload)
    }
}
