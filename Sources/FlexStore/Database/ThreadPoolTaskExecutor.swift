import NIOPosix

/// A task executor that runs Swift jobs on a `NIOThreadPool`'s threads, in the order they come.
///
/// SQLite's writer has a thread of its own, and each statement of a write transaction hops to it and back. Without a
/// preference the way back is a job on Swift's shared pool, which under load queues behind every other task of the
/// process — about 2 ms a transaction was measured under 1,000 sellers, nearly all of it waiting, while SQLite's one
/// write lock was held. With the writer's thread as the transaction's preferred executor, a statement's continuation
/// is queued on the thread that just ran the statement, and the lock is held for the transaction's own work.
final class ThreadPoolTaskExecutor: TaskExecutor {
    private let threads: NIOThreadPool

    init(threads: NIOThreadPool) {
        self.threads = threads
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        threads.submit { state in
            switch state {
            case .active: job.runSynchronously(on: self.asUnownedTaskExecutor())
            // The pool has shut down (the store is closing): the job still runs, on Swift's shared pool.
            case .cancelled: globalConcurrentExecutor.enqueue(ExecutorJob(job))
            }
        }
    }
}
