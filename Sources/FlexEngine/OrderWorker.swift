import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import Logging
import SellingPartner
import Tracing

/// Mirrors one connection's Amazon shipments as orders: fetches at once the shipments Amazon notified about, and
/// polls `getShipments` per location and status with a `lastUpdatedAfter` watermark minus an overlap, following every
/// page, so that a lost notification costs at most one poll interval. Every copy is upserted by shipment id and
/// `lastUpdatedDateTime` with its event in the same transaction: an order is `order.created` once, however often it
/// is read.
public actor OrderWorker {
    public struct Configuration: Sendable {
        /// How often every location is polled for the statuses Amazon changes by itself: new orders and
        /// cancellations.
        public var pollInterval: Duration
        /// The same for a seller whose notifications arrive: a notified shipment came within `notifiedWindow`. The
        /// poll is then the safety net for a lost notification, and costs that much delay at most.
        public var notifiedPollInterval: Duration
        /// How recent a notification must be for the seller's notifications to count as arriving.
        public var notifiedWindow: Duration
        /// How often every location is polled for every status, those FlexBridge's own calls change included (an order
        /// confirmed or shipped outside FlexBridge, a carrier's scan), and at the first round after a start.
        public var fullPollInterval: Duration
        /// How far before the watermark each poll starts again, for shipments whose update Amazon made visible late.
        public var overlap: TimeInterval
        /// How far back the first poll of a location reaches.
        public var firstPollLookBack: TimeInterval
        /// Shipments per page.
        public var pageSize: Int
        /// Notified shipments fetched at once.
        public var concurrentFetches: Int

        public init(
            pollInterval: Duration = .seconds(15),
            notifiedPollInterval: Duration = .seconds(60),
            notifiedWindow: Duration = .seconds(86400),
            fullPollInterval: Duration = .seconds(300),
            overlap: TimeInterval = 120,
            firstPollLookBack: TimeInterval = 7 * 86400,
            pageSize: Int = 100,
            concurrentFetches: Int = 8
        ) {
            self.concurrentFetches = concurrentFetches
            self.pollInterval = pollInterval
            self.notifiedPollInterval = notifiedPollInterval
            self.notifiedWindow = notifiedWindow
            self.fullPollInterval = fullPollInterval
            self.overlap = overlap
            self.firstPollLookBack = firstPollLookBack
            self.pageSize = pageSize
        }
    }

    /// The statuses Amazon moves shipments into by itself, polled every `pollInterval`: new orders and cancellations.
    /// Every other status is entered by the seller's own calls (which FlexBridge records as it makes them) or by a
    /// carrier, and is polled every `fullPollInterval`; Amazon's status notifications bring every change sooner.
    static let watchedStatuses: [ShipmentStatus] = [.created, .accepted, .cancelled]

    public let connectionID: ConnectionID
    /// The lease the worker works under; every write checks it is still held (nil: unchecked, for tests).
    public let lease: Lease?
    private let store: Store
    /// Amazon's shipments API, as SellingPartner gives it.
    private let amazon: any ExternalFulfillmentShipments
    private let configuration: Configuration
    private let fullPolls: FullPollSchedule
    private let logger: Logger
    /// When the last notified shipment was found to fetch.
    private var lastNotified: ContinuousClock.Instant?

    public init(
        connectionID: ConnectionID,
        store: Store,
        client amazon: any ExternalFulfillmentShipments,
        configuration: Configuration = .init(),
        lease: Lease? = nil,
        logger: Logger
    ) {
        self.connectionID = connectionID
        self.lease = lease
        self.store = store
        self.amazon = amazon
        self.configuration = configuration
        self.fullPolls = FullPollSchedule(every: configuration.fullPollInterval)
        self.logger = logger
    }

    /// Works until cancelled, another node takes the connection over, or Amazon refuses the seller's refresh token:
    /// fetching and polling side by side, so that a notified shipment is fetched at once even while a poll is under
    /// way.
    public func run() async {
        await WorkerRuntime(logger: logger).run(workers)
    }

    /// The order worker's two kinds of round, to run side by side.
    public nonisolated var workers: [any ConnectionWorker] { [NotifiedFetching(worker: self), Polling(worker: self)] }

    /// Fetches the shipments Amazon notified about as soon as a notification is filed.
    public struct NotifiedFetching: ConnectionWorker {
        let worker: OrderWorker
        public var name: String { "order fetch" }
        public var wakeUp: WakeUp? { worker.store.wakeUps.signal(for: worker.connectionID, .orders) }

        public func round() async throws -> NextRound {
            try await worker.fetchNotified()
            // Filing a notification wakes it (on PostgreSQL, filed on any node); the wait is a safety net.
            return .within(.seconds(30))
        }
    }

    /// Polls every location for new orders and cancellations at the configured pace (slower while the seller's
    /// notifications arrive), and for every status at the first round and every `fullPollInterval`.
    public struct Polling: ConnectionWorker {
        let worker: OrderWorker
        public var name: String { "order poll" }
        public var wakeUp: WakeUp? { nil }

        public func round() async throws -> NextRound {
            try await worker.pollRound()
            return .spread(await worker.pollInterval)
        }
    }

    /// The pace of the polls of new and cancelled orders: `notifiedPollInterval` while the seller's notifications
    /// arrive, `pollInterval` for a seller none came for in `notifiedWindow` (not subscribed, or its destination
    /// broken), so that its new orders are found as fast as before. Never faster than `pollInterval`.
    var pollInterval: Duration {
        guard let lastNotified, lastNotified.duration(to: .now) < configuration.notifiedWindow else {
            return configuration.pollInterval
        }
        return max(configuration.notifiedPollInterval, configuration.pollInterval)
    }

    /// One round of the polling worker: every status at the first round and every `fullPollInterval`, else the
    /// watched statuses.
    func pollRound() async throws {
        try await fullPolls.round { everything in
            try await poll(statuses: everything ? ShipmentStatus.allCases : Self.watchedStatuses)
        }
    }

    /// Fetches every shipment Amazon notified about, several at once, so that one slow answer does not hold up the
    /// others. Returns how many orders changed.
    @discardableResult
    public func fetchNotified() async throws -> Int {
        var changed = 0
        var syncChecked = false
        while true {
            let ids = try await store.read { [connectionID, configuration] in
                try await $0.notifiedShipments(connectionID: connectionID, limit: configuration.concurrentFetches * 4)
            }
            guard !ids.isEmpty else { return changed }
            // Nothing notified (most rounds) costs that one read; order sync off leaves the notifications filed.
            if !syncChecked {
                guard try await syncEnabled() else { return 0 }
                syncChecked = true
            }
            lastNotified = .now
            changed += try await withThrowingTaskGroup(of: Int.self) { group in
                var started = 0
                var total = 0
                for notified in ids {
                    if started >= configuration.concurrentFetches, let done = try await group.next() { total += done }
                    started += 1
                    group.addTask { try await self.fetch(notified) ? 1 : 0 }
                }
                for try await done in group { total += done }
                return total
            }
        }
    }

    /// Fetches a notified shipment in a span of the notification's trace (a new trace when it was not traced).
    private nonisolated func fetch(_ notified: NotifiedShipment) async throws -> Bool {
        try await withRedactedSpan("order.fetch", context: notified.trace.instrumentationContext) { span in
            span.attributes["flexbridge.connection"] = connectionID.rawValue
            span.attributes["flexbridge.order"] = notified.shipmentID.rawValue
            span.attributes["amazon.shipment_status"] = notified.status
            let id = notified.shipmentID
            // The echo of a change the fulfilment worker made and recorded while the notification was on its way.
            if let status = notified.status,
                try await store.read({ [connectionID] in
                    try await $0.holds(status, shipmentID: id, connectionID: connectionID)
                })
            {
                try await complete(notified)
                return false
            }
            do {
                let shipment = try await callAmazon(
                    store: store,
                    connectionID: connectionID,
                    lease: lease,
                    isolation: nil
                ) {
                    try await self.amazon.shipment(id)
                }
                let changed = try await record(shipment, source: "notification", fetched: notified)
                span.attributes["flexbridge.changed"] = changed
                return changed
            } catch let error as AmazonAPIError where error.status == 404 {
                logger.warning("Amazon does not know a notified shipment; dropped", metadata: ["shipment": "\(id)"])
            }
            try await complete(notified)
            return false
        }
    }

    /// Polls every location once for each of `statuses` (all by default), following every page. Returns how many
    /// orders changed.
    @discardableResult
    public func poll(statuses: [ShipmentStatus] = ShipmentStatus.allCases) async throws -> Int {
        guard try await syncEnabled() else { return 0 }
        let (mapped, handedOver) = try await store.read { [connectionID] session in
            (
                Set(try await session.locationMappings(for: connectionID).map(\.locationID.rawValue)),
                Set(
                    try await session.locationStates(connectionID: connectionID).values.filter { !$0.isWorked }.map(
                        \.locationID.rawValue
                    )
                )
            )
        }
        // A location handed over to another connector is that connector's to poll.
        let locations: [String?] = mapped.isEmpty ? [nil] : mapped.subtracting(handedOver).sorted()
        // Statuses side by side: the client's token bucket paces them, and one slow page holds up only its own.
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for location in locations {
                for status in statuses {
                    group.addTask { try await self.poll(location: location, status: status) }
                }
            }
            var changed = 0
            for try await count in group { changed += count }
            store.activity.record(.orderPoll, for: connectionID, at: store.clock.now())
            return changed
        }
    }

    /// Polls one location and status in a span of its own, the trace of what it finds (an order it confirms
    /// automatically goes on in it).
    private nonisolated func poll(
        location: String?,
        status: ShipmentStatus
    ) async throws -> Int {
        try await withRedactedSpan("order.poll", context: .topLevel) { span in
            span.attributes["flexbridge.connection"] = connectionID.rawValue
            span.attributes["flexbridge.location"] = location
            span.attributes["amazon.shipment_status"] = status.rawValue
            let changed = try await pollPages(location: location, status: status)
            span.attributes["flexbridge.changed"] = changed
            return changed
        }
    }

    private nonisolated func pollPages(
        location: String?,
        status: ShipmentStatus
    ) async throws -> Int {
        let key = location ?? ""
        let watermark = try await store.read { [connectionID] in
            try await $0.orderWatermark(connectionID: connectionID, locationID: key, status: status.rawValue)
        }
        let now = store.clock.now()
        let after = (watermark ?? now.addingTimeInterval(-configuration.firstPollLookBack)).addingTimeInterval(
            -configuration.overlap
        )
        var newest = PollWatermark(held: watermark, start: after)
        var token: String?
        var changed = 0
        repeat {
            let pageToken = token
            let page = try await callAmazon(store: store, connectionID: connectionID, lease: lease, isolation: nil) {
                try await self.amazon.shipments(
                    status: status,
                    locationID: location,
                    updatedAfter: after,
                    pageSize: self.configuration.pageSize,
                    pageToken: pageToken
                )
            }
            for shipment in page.shipments {
                if try await record(shipment, source: "poll") { changed += 1 }
                newest.saw(shipment.updatedAt)
            }
            token = page.nextToken
        } while token != nil
        if let moved = newest.moved {
            try await store.transaction(fencedBy: lease) { [connectionID] in
                try await $0.setOrderWatermark(
                    moved,
                    connectionID: connectionID,
                    locationID: key,
                    status: status.rawValue
                )
            }
        }
        return changed
    }

    /// Stores a copy of a shipment; returns whether the order changed. `fetched`: the notified fetch this copy
    /// answers, completed in the same transaction (or on its own when the copy changes nothing).
    private nonisolated func record(
        _ shipment: AmazonShipment,
        source: String,
        fetched: NotifiedShipment? = nil
    ) async throws -> Bool {
        let order = Order(shipment, connectionID: connectionID, now: store.clock.now())
        // A location handed over to another connector: its new orders (notified to every app of the seller) are that
        // connector's, not the WMS's. A copy no newer than the one held (a polling overlap, a notification and a
        // poll) changes nothing: both seen by a read, they cost no write transaction (held copies only move forward,
        // so the transaction would find the same).
        let (worked, held) = try await store.read { [connectionID] session in
            (
                try await session.locationState(connectionID: connectionID, locationID: shipment.locationID).isWorked,
                try await session.heldOrder(shipment.id, connectionID: connectionID)
            )
        }
        if !worked || held.map({ !OrderMachine.supersedes(order, $0) }) == true {
            if let fetched { try await complete(fetched) }
            return false
        }
        // A status this version does not know (Amazon adds them over time) is kept as sent and said.
        let unknown =
            shipment.knownStatus == nil
            ? UnknownAmazonValue(
                field: "shipment.status",
                value: shipment.status,
                subjectKey: "shipmentId",
                subject: shipment.id.rawValue
            ) : nil
        // An order confirmed automatically is confirmed in the trace of the fetch or poll that found it.
        let trace = TraceContext.current
        let (change, said) = try await store.transaction(fencedBy: lease) { [connectionID] session in
            if let fetched {
                try await session.completeShipmentFetch(
                    connectionID: connectionID,
                    shipmentID: fetched.shipmentID,
                    notifications: fetched.notifications
                )
            }
            let change = try await session.upsertOrder(order, source: source, trace: trace)
            guard let unknown, UnknownAmazonValue.isEntered(shipment.status, by: change) else { return (change, false) }
            try await session.appendEvents([try unknown.event(connectionID: connectionID)])
            return (change, true)
        }
        if said { unknown?.report(logger, connectionID: connectionID) }
        return change != .unchanged
    }

    /// Ends a notified fetch, unless a notification was filed for the shipment since: it is then read again.
    private nonisolated func complete(_ fetch: NotifiedShipment) async throws {
        try await store.transaction(fencedBy: lease) { [connectionID] in
            try await $0.completeShipmentFetch(
                connectionID: connectionID,
                shipmentID: fetch.shipmentID,
                notifications: fetch.notifications
            )
        }
    }

    /// Whether the connection is active with order sync on: its status and settings read, not the whole connection.
    private func syncEnabled() async throws -> Bool {
        guard
            let sync = try await store.read({ [connectionID] in try await $0.connectionSyncState(connectionID) })
        else { return false }
        return sync.status == .active && sync.settings.orderSyncEnabled
    }

    private func call<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        try await callAmazon(store: store, connectionID: connectionID, lease: lease, body)
    }
}
