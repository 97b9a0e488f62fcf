import Foundation

/// A URL the WMS gave to receive events as they happen. Each webhook reads the event feed from its own position,
/// in order, and moves on only when the receiver answered 2xx: at least once, never skipped.
public struct Webhook: Sendable, Hashable {
    public var id: String
    /// The account whose events the webhook delivers; no other account's.
    public var accountID: AccountID
    /// The connections whose events it delivers: those its creator could see. Events of no connection (a hub's
    /// stock) go to every webhook of the account.
    public var scope: ConnectionScope
    public var url: URL
    /// The event types sent (`order.created`, or `order.*` for a family); every event when empty.
    public var eventTypes: [String]
    /// The sequence of the last event delivered (or passed over as not wanted).
    public var position: Int64
    /// Failed attempts at the event after `position`; 0 while deliveries succeed.
    public var attempts: Int
    public var nextAttemptAt: Date
    public var lastStatus: Int?
    public var lastError: String?
    public var lastDeliveredAt: Date?
    public var createdAt: Date

    public init(
        id: String,
        accountID: AccountID = .default,
        scope: ConnectionScope = .all,
        url: URL,
        eventTypes: [String],
        position: Int64,
        attempts: Int,
        nextAttemptAt: Date,
        lastStatus: Int?,
        lastError: String?,
        lastDeliveredAt: Date?,
        createdAt: Date
    ) {
        self.id = id
        self.accountID = accountID
        self.scope = scope
        self.url = url
        self.eventTypes = eventTypes
        self.position = position
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastStatus = lastStatus
        self.lastError = lastError
        self.lastDeliveredAt = lastDeliveredAt
        self.createdAt = createdAt
    }

    /// Whether the webhook delivers this event: one of its types, of a connection it may see.
    public func wants(_ event: OutboxEvent) -> Bool {
        (event.connectionID.map(scope.contains) ?? true) && wants(event.type)
    }

    /// Whether the webhook wants an event of this type.
    public func wants(_ type: String) -> Bool {
        eventTypes.isEmpty
            || eventTypes.contains { pattern in
                pattern == type || pattern == "*" || (pattern.hasSuffix(".*") && type.hasPrefix(pattern.dropLast(1)))
            }
    }

    /// The wait before attempt `attempts + 1` after a failure: 1 s doubling to an hour.
    public static func retryDelay(afterAttempts attempts: Int) -> TimeInterval {
        min(3600, pow(2, Double(max(0, attempts - 1))))
    }

    /// Checks a webhook's URL and secret, naming the field at fault.
    public static func validate(url text: String, secret: String?) throws(ValidationError) -> URL {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
            url.host != nil
        else {
            throw ValidationError(field: "url", reason: "must be an absolute http or https URL, got \"\(text)\"")
        }
        if let secret, secret.count < 16 {
            throw ValidationError(field: "secret", reason: "must be at least 16 characters, got \(secret.count)")
        }
        return url
    }
}
