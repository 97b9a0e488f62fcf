import DequeModule

/// A first-in, first-out lock for async code: one holder at a time, waiters served in arrival order.
///
/// SQLite has a single writer; FlexBridge's writes to one SQLite file go through one connection, and this lock
/// keeps one transaction's statements from interleaving with another's.
actor AsyncLock {
    private var isLocked = false
    private var waiters: Deque<CheckedContinuation<Void, Never>> = []

    func lock() async {
        if !isLocked {
            isLocked = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func unlock() {
        if let next = waiters.popFirst() {
            next.resume()
        } else {
            isLocked = false
        }
    }
}
