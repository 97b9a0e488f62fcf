import Synchronization

/// A value shared by tasks (a worker's rounds, a keeper and the task it starts), behind a lock; a class, so that
/// escaping closures can capture it.
final class Guarded<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func withLock<T>(_ body: (inout Value) -> T) -> T { value.withLock { body(&$0) } }
}

/// A signal that, once raised, stays raised: every wait, before or after, returns (or when its task is cancelled).
/// How a node asks a connection's workers to stop between rounds, when it hands the connection over.
public final class Latch: Sendable {
    private struct State {
        var raised = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var isRaised: Bool { state.withLock { $0.raised } }

    public func raise() {
        let waiters = state.withLock { state in
            state.raised = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the latch is raised, or when the task is cancelled.
    public func wait() async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state in
                    if state.raised || Task.isCancelled { return true }
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

/// When a worker that polls a few things every round and everything now and then last polled everything: the first
/// round after a start polls everything, then one every `interval`, a failed one counting as not done.
final class FullPollSchedule: Sendable {
    let interval: Duration
    private let lastStart = Mutex<ContinuousClock.Instant?>(nil)

    init(every interval: Duration) { self.interval = interval }

    /// Runs `round` with true when everything is due, and notes the round's start once it succeeded.
    @discardableResult
    func round<T>(
        isolation: isolated (any Actor)? = #isolation,
        _ round: (_ everything: Bool) async throws -> T
    ) async throws -> T {
        let now = ContinuousClock.now
        let due = lastStart.withLock { last in last.map { now - $0 >= interval } ?? true }
        let result = try await round(due)
        if due { lastStart.withLock { $0 = now } }
        return result
    }
}
