import FlexCore
import Synchronization

/// Wakes a connection's workers when there is new work for them (the API recorded stock, an operator changed a
/// setting), so that a change reaches Amazon in milliseconds instead of at the next poll. On PostgreSQL the store
/// also tells the other nodes (NOTIFY at commit, ``Store`` listens), so that a WMS writing to one node is served by
/// the node that holds the connection; workers also poll.
public final class WakeUps: Sendable {
    /// The kinds of worker a connection has.
    public enum Work: String, Sendable, Hashable, CaseIterable {
        case inventory
        case orders
        /// Commands to run against Amazon.
        case fulfilment
        /// Merchant-fulfilled orders Amazon notified about.
        case merchantOrders
        /// Stock for merchant-fulfilled listings (the Listings API and feeds).
        case listings
        /// FBA stock to read (its setting changed).
        case fba
        /// Send to Amazon plans to carry on (a new plan, a choice, a resume).
        case inboundPlans
    }

    /// Woken when events were written, so that webhooks go out at once.
    public let events = WakeUp()

    private struct Key: Hashable {
        var connectionID: ConnectionID
        var work: Work
    }

    private let signals = Mutex<[Key: WakeUp]>([:])

    /// Woken when a connection was authorised or changed status, so that the lease keeper takes it at once
    /// instead of at its next round.
    public let connections = WakeUp()

    public init() {}

    /// The signal of one connection's worker of a kind.
    public func signal(for connectionID: ConnectionID, _ work: Work) -> WakeUp {
        signals.withLock { signals in
            let key = Key(connectionID: connectionID, work: work)
            if let signal = signals[key] { return signal }
            let signal = WakeUp()
            signals[key] = signal
            return signal
        }
    }

    /// Wakes these connections' workers of a kind.
    public func wake(_ connectionIDs: some Sequence<ConnectionID>, _ work: Work) {
        for id in connectionIDs { signal(for: id, work).wake() }
    }
}

/// A signal workers wait on: a wake wakes every waiter; a wake while nobody waits is kept for the next wait, so none is
/// lost; several wakes make one. (Usually one worker waits; during a lease hand-over the next one may briefly too.)
public final class WakeUp: Sendable {
    private struct State {
        var pending = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Whether a wake waits to be taken by the next wait.
    public var isPending: Bool { state.withLock { $0.pending } }

    public func wake() {
        let waiters = state.withLock { state in
            guard !state.waiters.isEmpty else {
                state.pending = true
                return [CheckedContinuation<Void, Never>]()
            }
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns at the first wake since the last wait, or after `timeout` on `clock`, or when the task is cancelled;
    /// whether a wake ended the wait.
    @discardableResult
    public func wait(timeout: Duration, clock: some Clock<Duration> = ContinuousClock()) async -> Bool {
        if state.withLock({ state in
            defer { state.pending = false }
            return state.pending
        }) {
            return true
        }
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                try? await clock.sleep(for: timeout)
                return false
            }
            group.addTask {
                await self.waitForWake()
                return !Task.isCancelled
            }
            defer { group.cancelAll() }
            return await group.next() ?? false
        }
    }

    /// Returns at the first wake since the last wait, or when the task is cancelled.
    public func wait() async {
        await waitForWake()
    }

    private func waitForWake() async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
