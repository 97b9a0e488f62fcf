import FlexCore
import FlexStore
import Foundation
import Logging
import Metrics
import SellingPartner
import Tracing

/// Mirrors one connection's Amazon returns. Amazon sends no notification for them, so each mapped return location
/// is polled: new returns by `createdSince` every `pollInterval`, and changes by `lastUpdatedSince` once per status
/// (Amazon takes that filter only with a location and a status) every `statusPollInterval`, each on its own
/// watermark minus an overlap, following every page.
/// Every copy is upserted by return id and `lastUpdatedDateTime` with its event in the same transaction, so a
/// return read twice changes nothing.
public struct ReturnWorker: ConnectionWorker {
    public struct Configuration: Sendable {
        /// How often every return location is polled for new returns.
        public var pollInterval: Duration
        /// How often every return location is polled for changes, one call per status (fifteen), and at the first
        /// round after a start.
        public var statusPollInterval: Duration
        /// How far before each watermark a poll starts again, for changes Amazon made visible late.
        public var overlap: TimeInterval
        /// How far back the first poll of a location reaches.
        public var firstPollLookBack: TimeInterval
        /// Returns per page (Amazon's maximum is 100).
        public var pageSize: Int

        public init(
            pollInterval: Duration = .seconds(60),
            statusPollInterval: Duration = .seconds(300),
            overlap: TimeInterval = 120,
            firstPollLookBack: TimeInterval = 30 * 86400,
            pageSize: Int = 100
        ) {
            self.pollInterval = pollInterval
            self.statusPollInterval = statusPollInterval
            self.overlap = overlap
            self.firstPollLookBack = firstPollLookBack
            self.pageSize = min(100, max(1, pageSize))
        }
    }

    public let connectionID: ConnectionID
    /// The lease the worker works under; every write checks it is still held (nil: unchecked, for tests).
    public let lease: Lease?
    let store: Store
    let amazon: any ExternalFulfillmentReturns
    let configuration: Configuration
    let statusPolls: FullPollSchedule
    let logger: Logger

    public init(
        connectionID: ConnectionID,
        store: Store,
        client amazon: any ExternalFulfillmentReturns,
        configuration: Configuration = .init(),
        lease: Lease? = nil,
        logger: Logger
    ) {
        self.connectionID = connectionID
        self.lease = lease
        self.store = store
        self.amazon = amazon
        self.configuration = configuration
        self.statusPolls = FullPollSchedule(every: configuration.statusPollInterval)
        self.logger = logger
    }

    public var name: String { "return poll" }
    public var wakeUp: WakeUp? { nil }

    public func round() async throws -> NextRound {
        try await statusPolls.round { everything in try await poll(statuses: everything) }
        return .spread(configuration.pollInterval)
    }

    /// One poll of a return location: new returns, or changes to those in one status.
    enum Poll: Sendable, Hashable {
        case created
        case updated(ReturnStatus)

        var key: String {
            switch self {
            case .created: "created"
            case .updated(let status): status.rawValue
            }
        }
    }

    /// Polls every return location the connection maps and still works, once for new returns and, unless `statuses`
    /// is false, once per status, following every page. Returns how many returns changed.
    @discardableResult
    public func poll(statuses: Bool = true) async throws -> Int {
        let locations = try await store.read { [connectionID] session -> [LocationID]? in
            guard let connection = try await session.connection(connectionID), connection.status == .active,
                connection.settings.orderSyncEnabled
            else { return nil }
            let mapped = Set(try await session.locationMappings(for: connectionID).map(\.locationID))
            let states = try await session.locationStates(connectionID: connectionID)
            return mapped.filter { states[$0]?.isWorked ?? true }.sorted()
        }
        guard let locations else { return 0 }
        let polls = [Poll.created] + (statuses ? ReturnStatus.allCases.map(Poll.updated) : [])
        // Side by side: the client's token bucket paces the calls, and one slow page holds up only its own poll.
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for location in locations {
                for poll in polls {
                    group.addTask { try await self.poll(location, poll) }
                }
            }
            var changed = 0
            for try await count in group { changed += count }
            return changed
        }
    }

    /// Polls one location for new returns or one status in a trace of its own.
    private func poll(_ location: LocationID, _ poll: Poll) async throws -> Int {
        try await withRedactedSpan("return.poll", context: .topLevel) { span in
            span.attributes["flexbridge.connection"] = connectionID.rawValue
            span.attributes["flexbridge.location"] = location.rawValue
            span.attributes["flexbridge.poll"] = poll.key
            let changed = try await pollPages(location, poll)
            span.attributes["flexbridge.changed"] = changed
            return changed
        }
    }

    private func pollPages(_ location: LocationID, _ poll: Poll) async throws -> Int {
        let watermark = try await store.read { [connectionID] in
            try await $0.returnWatermark(connectionID: connectionID, locationID: location, poll: poll.key)
        }
        let since = (watermark ?? store.clock.now().addingTimeInterval(-configuration.firstPollLookBack))
            .addingTimeInterval(-configuration.overlap)
        var newest = PollWatermark(held: watermark, start: since)
        var token: String?
        var changed = 0
        repeat {
            let pageToken = token
            let page = try await callAmazon(store: store, connectionID: connectionID, lease: lease, isolation: nil) {
                switch poll {
                case .created:
                    try await amazon.returns(
                        locationID: location,
                        status: nil,
                        createdSince: since,
                        updatedSince: nil,
                        pageSize: configuration.pageSize,
                        nextToken: pageToken
                    )
                case .updated(let status):
                    try await amazon.returns(
                        locationID: location,
                        status: status,
                        createdSince: nil,
                        updatedSince: since,
                        pageSize: configuration.pageSize,
                        nextToken: pageToken
                    )
                }
            }
            for item in page.returns {
                let source = poll == .created ? "poll:created" : "poll"
                let unknown =
                    ReturnStatus(rawValue: item.facts.status) == nil
                    ? UnknownAmazonValue(
                        field: "return.status",
                        value: item.facts.status,
                        subjectKey: "returnId",
                        subject: item.facts.id.rawValue
                    ) : nil
                let change = try await store.transaction(fencedBy: lease) { [connectionID] session in
                    let change = try await session.upsertReturn(item, connectionID: connectionID, source: source)
                    if let unknown, UnknownAmazonValue.isEntered(by: change) {
                        try await session.appendEvents([try unknown.event(connectionID: connectionID)])
                    }
                    return change
                }
                if change != .unchanged { changed += 1 }
                if UnknownAmazonValue.isEntered(by: change) { unknown?.report(logger, connectionID: connectionID) }
                let time = poll == .created ? item.facts.createdAt : item.facts.updatedAt
                newest.saw(time)
            }
            token = page.nextToken
        } while token != nil
        if let moved = newest.moved {
            try await store.transaction(fencedBy: lease) { [connectionID] in
                try await $0.setReturnWatermark(
                    moved,
                    connectionID: connectionID,
                    locationID: location,
                    poll: poll.key
                )
            }
        }
        return changed
    }
}
