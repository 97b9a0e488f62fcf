import Foundation

/// What a connection's sync did in one minute, added up over every node: the dashboard's charts and its "last
/// push", "last poll" and "last notification".
public struct SyncMinute: Sendable, Hashable {
    /// Minutes since 1970.
    public var minute: Int64
    public var skusSent = 0
    public var amazonCalls = 0
    /// Calls Amazon answered 429.
    public var throttled = 0
    /// Calls Amazon refused otherwise, or left unanswered.
    public var amazonErrors = 0
    public var orderPolls = 0
    public var notifications = 0
    public var commandsFailed = 0
    public var lastPushAt: Date?
    public var lastPollAt: Date?
    public var lastNotificationAt: Date?

    public init(minute: Int64) {
        self.minute = minute
    }

    public static func minute(of date: Date) -> Int64 { Int64((date.timeIntervalSince1970 / 60).rounded(.down)) }

    /// What happened, to be counted in its minute.
    public enum Event: Sendable, Hashable {
        /// Stock of this many SKUs accepted by Amazon.
        case skusSent(Int)
        /// An answer from Amazon with this HTTP status; nil when none came.
        case amazonAnswer(status: Int?)
        case orderPoll
        case notification
        case commandFailed
    }

    public mutating func add(_ event: Event, at date: Date) {
        switch event {
        case .skusSent(let count):
            skusSent += count
            lastPushAt = Self.later(lastPushAt, date)
        case .amazonAnswer(let status):
            amazonCalls += 1
            if status == 429 { throttled += 1 } else if !(200..<300).contains(status ?? 0) { amazonErrors += 1 }
        case .orderPoll:
            orderPolls += 1
            lastPollAt = Self.later(lastPollAt, date)
        case .notification:
            notifications += 1
            lastNotificationAt = Self.later(lastNotificationAt, date)
        case .commandFailed:
            commandsFailed += 1
        }
    }

    /// Adds another count of the same minute.
    public mutating func add(_ other: SyncMinute) {
        skusSent += other.skusSent
        amazonCalls += other.amazonCalls
        throttled += other.throttled
        amazonErrors += other.amazonErrors
        orderPolls += other.orderPolls
        notifications += other.notifications
        commandsFailed += other.commandsFailed
        lastPushAt = Self.later(lastPushAt, other.lastPushAt)
        lastPollAt = Self.later(lastPollAt, other.lastPollAt)
        lastNotificationAt = Self.later(lastNotificationAt, other.lastNotificationAt)
    }

    static func later(_ a: Date?, _ b: Date?) -> Date? {
        switch (a, b) {
        case (let a?, let b?): max(a, b)
        default: a ?? b
        }
    }
}
