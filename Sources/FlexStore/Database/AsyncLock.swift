import DequeModule
import Synchronization

/// A first-in, first-out lock for async code: one holder at a time, waiters served in arrival order.
///
/// SQLite has a single writer; FlexBridge's writes to one SQLite file go through one connection, and this lock
/// keeps one transaction's statements from interleaving with another's. It is a mutex, not an actor: taking a free
/// lock does not leave the thread the transaction runs on (an actor would be two hops through Swift's shared pool
/// for every write transaction), and a released lock passes straight to the first waiter.
final class AsyncLock: Sendable {
    private struct State {
        var isLocked = false
        var waiters: Deque<CheckedContinuation<Void, Never>> = []
    }

    private let state = Mutex(State())

    func lock() async {
        let taken = state.withLock { state in
            guard !state.isLocked else { return false }
            state.isLocked = true
            return true
        }
        if taken { return }
        await withCheckedContinuation { continuation in
            // Released meanwhile: taken now. Otherwise the holder's unlock hands the lock to this waiter.
            let takenNow = state.withLock { state in
                guard state.isLocked else {
                    state.isLocked = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if takenNow { continuation.resume() }
        }
    }

    func unlock() {
        // The lock stays taken when a waiter is handed it, so that no newcomer overtakes the queue.
        let next = state.withLock { state in
            guard let next = state.waiters.popFirst() else {
                state.isLocked = false
                return CheckedContinuation<Void, Never>?.none
            }
            return next
        }
        next?.resume()
    }
}
