import Algorithms
import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import Logging
import Metrics
import SellingPartner
import Tracing

/// Sends one connection's pending stock to Amazon, as fast as the connection's rate limit allows, and repairs drift.
///
/// Each round claims the oldest pending items (their sequence numbers stored before any call), sends them in
/// batchInventory calls of 10 — several in flight, the client's token bucket setting the pace — and records each
/// item's answer. When nothing is pending and reconciliation is due, it fetches Amazon's numbers page by page and
/// marks drifted items pending. One worker per connection, on the node that holds the connection's lease.
public actor InventoryWorker {
    public struct Configuration: Sendable {
        /// batchInventory calls in flight at once; enough to keep the rate limit busy while answers are on the way.
        public var callsInFlight: Int
        /// How long the worker waits when idle before looking again: a safety net, since every write that gives it
        /// work wakes it (on PostgreSQL, on any node), and an item waiting for its retry wakes it at its time.
        public var pollInterval: Duration
        /// The longest an item waits before being retried after Amazon failed.
        public var maximumRetryDelay: TimeInterval

        public init(
            callsInFlight: Int = 16,
            pollInterval: Duration = .seconds(10),
            maximumRetryDelay: TimeInterval = 60
        ) {
            self.callsInFlight = callsInFlight
            self.pollInterval = pollInterval
            self.maximumRetryDelay = maximumRetryDelay
        }
    }

    public let connectionID: ConnectionID
    /// The lease the worker works under; every write checks it is still held (nil: unchecked, for tests).
    public let lease: Lease?
    private let store: Store
    /// Amazon's inventory API, as SellingPartner gives it.
    private let amazon: any ExternalFulfillmentInventory
    private let configuration: Configuration
    private let logger: Logger
    private var consecutiveFailures = 0
    private var lastReconciliation: Date
    private var reconciliationCursor: InventoryKey?
    private let sentCounter: Counter
    private let refusedCounter: Counter
    private let failedCounter: Counter
    private let fetchCounter: Counter
    private let unusableSettingCounter: Counter
    private let latencyTimer = Timer(label: "flexbridge_inventory_sync_latency_seconds")
    private let latencyGauge: Gauge
    private var reportedSettingProblem: ValidationError?
    /// When the first item waiting for a retry is due, as the last round that found nothing to send saw it.
    private var nextRetry: Date?
    /// Whether the last round sent everything that was pending when it began, all of it answered: the next change
    /// wakes the worker, so it need not look again at once.
    private var drained = false
    /// The connection's status and settings as the last round that found nothing to send read them (nil: it read
    /// none, or the connection is gone): what that round's reconciliation goes by, without reading them again.
    private var looked: ConnectionSyncState?

    public init(
        connectionID: ConnectionID,
        store: Store,
        client amazon: any ExternalFulfillmentInventory,
        configuration: Configuration = Configuration(),
        lease: Lease? = nil,
        logger: Logger
    ) {
        self.connectionID = connectionID
        self.lease = lease
        self.store = store
        self.amazon = amazon
        self.configuration = configuration
        self.logger = logger
        lastReconciliation = store.clock.now()
        let dimensions = [("connection", connectionID.rawValue)]
        sentCounter = Counter(label: "flexbridge_inventory_items_applied_total", dimensions: dimensions)
        refusedCounter = Counter(label: "flexbridge_inventory_items_refused_total", dimensions: dimensions)
        failedCounter = Counter(label: "flexbridge_inventory_items_failed_total", dimensions: dimensions)
        fetchCounter = Counter(label: "flexbridge_inventory_reconciliation_fetches_total", dimensions: dimensions)
        unusableSettingCounter = Counter(label: "flexbridge_unusable_stored_settings_total", dimensions: dimensions)
        latencyGauge = Gauge(label: "flexbridge_connection_stock_latency_seconds", dimensions: dimensions)
    }

    /// Works until cancelled, another node takes the connection over, or Amazon refuses the seller's refresh token.
    public func run() async {
        await WorkerRuntime(logger: logger).run(self)
    }

    /// One round: claims pending items and sends them. Returns whether there was anything to do.
    ///
    /// `woken`: the round follows a wake-up, a write that made work for the connection: it claims at once, the
    /// connection's status and settings read in the claim's own transaction. Otherwise (and when a woken claim finds
    /// nothing to send) one read looks first, so that an idle connection costs no write transaction.
    @discardableResult
    public func syncRound(woken: Bool = false) async throws -> Bool {
        nextRetry = nil
        drained = false
        looked = nil
        let limit = configuration.callsInFlight * InventoryRules.itemsPerCall
        if woken, let claimed = try await claim(limit: limit), claimed.0.examined > 0 {
            return try await send(claimed.0, limit: limit)
        }
        let round = try await store.read { [connectionID] in try await $0.inventorySyncState(connectionID) }
        looked = round?.sync
        guard let settings = syncingSettings(round?.sync), let due = round?.due else { return false }
        guard due <= store.clock.now() else {
            nextRetry = due
            return false
        }
        let claim = try await store.transaction(fencedBy: lease) { [connectionID] session in
            try await session.claimInventory(connectionID: connectionID, settings: settings, limit: limit)
        }
        return try await send(claim, limit: limit)
    }

    /// What a claim took: the items to send, and how many pending items it looked at.
    private typealias Claim = (updates: [InventoryUpdate], examined: Int)

    /// Claims what is due, in one transaction that first reads whether the connection's inventory sync runs (nil:
    /// it does not), with which settings.
    private func claim(limit: Int) async throws -> (Claim, ConnectionSettings)? {
        let claimed: (Claim, ConnectionSettings)? = try await store.transaction(fencedBy: lease) {
            [connectionID] session in
            guard let settings = try await session.connectionSyncState(connectionID)?.inventorySettings else {
                return nil
            }
            return (
                try await session.claimInventory(connectionID: connectionID, settings: settings, limit: limit), settings
            )
        }
        if let claimed { reportSettingProblem(in: claimed.1) }
        return claimed
    }

    /// Sends what a claim took and records the answers. Returns whether the claim examined anything.
    private func send(_ claim: Claim, limit: Int) async throws -> Bool {
        guard !claim.updates.isEmpty else { return claim.examined > 0 }
        let outcomes = try await inBatches(claim.updates) { try await self.send($0) }
        try await store.transaction(fencedBy: lease) { try await $0.recordInventoryOutcomes(outcomes) }
        count(outcomes)
        let applied = outcomes.count { if case .applied = $0 { true } else { false } }
        if applied > 0 { store.activity.record(.skusSent(applied), for: connectionID, at: store.clock.now()) }
        let failed = outcomes.contains { if case .failed = $0 { true } else { false } }
        consecutiveFailures = failed ? consecutiveFailures + 1 : 0
        drained = claim.examined < limit && !failed
        return true
    }

    /// Fetches the next page of Amazon's numbers when reconciliation is due. Returns whether it fetched anything.
    ///
    /// `known`: the connection's status and settings as just read; nil: read them.
    @discardableResult
    public func reconcileIfDue(force: Bool = false, known: ConnectionSyncState? = nil) async throws -> Bool {
        let sync: ConnectionSyncState? =
            if let known { known } else {
                try await store.read { [connectionID] in try await $0.connectionSyncState(connectionID) }
            }
        guard let settings = syncingSettings(sync) else { return false }
        let interval = settings.reconciliationInterval
        let now = store.clock.now()
        guard
            force || reconciliationCursor != nil
                || (interval > 0 && now.timeIntervalSince(lastReconciliation) >= interval)
        else {
            return false
        }
        let keys = try await store.read { [connectionID, reconciliationCursor, configuration] session in
            try await session.syncedInventoryKeys(
                connectionID: connectionID,
                after: reconciliationCursor,
                limit: configuration.callsInFlight * InventoryRules.itemsPerCall
            )
        }
        guard let last = keys.last else {
            reconciliationCursor = nil
            lastReconciliation = now
            return false
        }
        reconciliationCursor = last.0
        let outcomes = try await inBatches(keys) { try await self.fetch($0) }
        try await store.transaction(fencedBy: lease) { try await $0.recordInventoryOutcomes(outcomes) }
        fetchCounter.increment(by: keys.count)
        return true
    }

    /// Reconciles every item now, start to end, whatever the interval.
    public func reconcileAll() async throws {
        reconciliationCursor = nil
        var first = true
        while try await reconcileIfDue(force: first) || reconciliationCursor != nil { first = false }
    }

    /// The connection's settings while its inventory sync runs (active, switched on); nil otherwise.
    private func syncingSettings(_ sync: ConnectionSyncState?) -> ConnectionSettings? {
        guard let settings = sync?.inventorySettings else { return nil }
        reportSettingProblem(in: settings)
        return settings
    }

    /// Says once that a stored setting is out of range: stored before its range was enforced, it is used within its
    /// range (every rule clamps).
    private func reportSettingProblem(in settings: ConnectionSettings) {
        do {
            try settings.validate()
            reportedSettingProblem = nil
        } catch  where reportedSettingProblem != error {
            reportedSettingProblem = error
            logger.error(
                "a stored setting is out of range; FlexBridge uses the nearest allowed value until it is set again",
                metadata: ["connection": "\(connectionID)", "setting": "\(error.field)", "reason": "\(error.reason)"]
            )
            unusableSettingCounter.increment()
        } catch {}
    }

    /// Sends `items` in batchInventory calls of 10, all at once (the rate limiter paces them), and gathers the outcomes.
    private func inBatches<Item: Sendable>(
        _ items: [Item],
        _ call: @escaping @Sendable ([Item]) async throws -> [InventoryOutcome]
    ) async throws -> [InventoryOutcome] {
        try await withThrowingTaskGroup(of: [InventoryOutcome].self) { group in
            for batch in items.chunks(ofCount: InventoryRules.itemsPerCall) {
                group.addTask { try await call(Array(batch)) }
            }
            var all: [InventoryOutcome] = []
            for try await outcomes in group { all += outcomes }
            return all
        }
    }

    private func count(_ outcomes: [InventoryOutcome]) {
        let now = store.clock.now()
        for outcome in outcomes {
            switch outcome {
            case .applied(let update, _):
                sentCounter.increment()
                // From the stock change to Amazon's answer: one histogram for the node, the latest per connection.
                let latency = max(0, now.timeIntervalSince(update.changedAt))
                latencyTimer.recordSeconds(latency)
                latencyGauge.record(latency)
            case .refused: refusedCounter.increment()
            case .failed, .staleSequence: failedCounter.increment()
            case .fetched: break
            }
        }
    }

    // MARK: Talking to Amazon

    /// Sends one call's items in a span of the trace of the first traced stock write among them (a new trace when
    /// none was traced), linked to the others' traces.
    private func send(_ batch: [InventoryUpdate]) async throws -> [InventoryOutcome] {
        let traces = Array(batch.compactMap(\.trace).uniqued())
        return try await withRedactedSpan("inventory.push", context: traces.first.instrumentationContext) { span in
            span.attributes["flexbridge.connection"] = connectionID.rawValue
            // Off (a no-op span), the SKUs' list is not made: a thousand pushes a second go through here.
            if span.isRecording { span.attributes["flexbridge.skus"] = batch.map(\.key.merchantSKU.rawValue) }
            for other in traces.dropFirst() {
                span.addLink(SpanLink(context: other.instrumentationContext, attributes: [:]))
            }
            let outcomes = try await push(batch)
            let applied = outcomes.count { if case .applied = $0 { true } else { false } }
            span.attributes["flexbridge.applied"] = applied
            if applied < outcomes.count {
                span.setStatus(
                    SpanStatus(code: .error, message: "\(outcomes.count - applied) of \(outcomes.count) not applied")
                )
            }
            return outcomes
        }
    }

    private func push(_ batch: [InventoryUpdate]) async throws -> [InventoryOutcome] {
        let answers: [InventoryAnswer]
        do {
            answers = try await callAmazon(store: store, connectionID: connectionID, lease: lease) {
                try await amazon.update(batch)
            }
        } catch let error as ConnectionNeedsReauthorization {
            throw error
        } catch {
            return batch.map { failure($0.key, error) }
        }
        let retryAt = retryAt()
        return batch.enumerated().map { index, update in
            InventoryMachine.outcome(of: update, answer: index < answers.count ? answers[index] : nil, retryAt: retryAt)
        }
    }

    private func fetch(_ batch: [(InventoryKey, MarketplaceID)]) async throws -> [InventoryOutcome] {
        let answers: [InventoryAnswer]
        do {
            answers = try await callAmazon(store: store, connectionID: connectionID, lease: lease) {
                try await amazon.fetch(batch.map { (key: $0.0, marketplaceID: $0.1) })
            }
        } catch let error as ConnectionNeedsReauthorization {
            throw error
        } catch {
            logger.warning(
                "reconciliation fetch failed; the page is tried again next round",
                metadata: ["error": "\(error)"]
            )
            return []
        }
        return zip(batch, answers).compactMap { item, answer in
            InventoryMachine.outcome(ofFetch: item.0, answer: answer)
        }
    }

    private func failure(_ key: InventoryKey, _ error: any Error) -> InventoryOutcome {
        let cause = error.sellingPartnerError ?? error
        let code: String =
            if let error = cause as? AmazonAPIError { error.code ?? "HTTP_\(error.status)" } else {
                "AMAZON_UNREACHABLE"
            }
        return .failed(key, code: code, message: String(describing: cause), retryAt: retryAt())
    }

    private func retryAt() -> Date {
        store.clock.now().addingTimeInterval(
            min(configuration.maximumRetryDelay, pow(2, Double(min(consecutiveFailures + 1, 10))))
        )
    }
}

extension InventoryWorker: ConnectionWorker {
    public nonisolated var name: String { "inventory sync" }
    public nonisolated var wakeUp: WakeUp? { store.wakeUps.signal(for: connectionID, .inventory) }

    public func round() async throws -> NextRound { try await round(woken: false) }

    /// Sends what is pending (claiming at once when `woken`), else reconciles when due; idle, waits for new stock,
    /// the first retry's time or the poll interval, whichever comes first.
    public func round(woken: Bool) async throws -> NextRound {
        do {
            var worked = try await syncRound(woken: woken)
            if worked, drained { return .within(configuration.pollInterval) }
            // The round that found nothing read the connection's status and settings: reconciliation goes by them.
            if !worked { worked = try await reconcileIfDue(known: looked) }
            if worked { return .now }
            guard let nextRetry else { return .within(configuration.pollInterval) }
            let wait = max(0.05, nextRetry.timeIntervalSince(store.clock.now()))
            return .within(min(configuration.pollInterval, .milliseconds(Int64(wait * 1000))))
        } catch {
            if !(error is CancellationError) { consecutiveFailures += 1 }
            throw error
        }
    }

    public nonisolated func retryDelay(afterFailures failures: Int) -> Duration {
        .seconds(min(configuration.maximumRetryDelay, pow(2, Double(min(failures, 10)))))
    }
}
