import FlexCore
import FlexStore
import Logging

/// When a worker's next round runs, as its round says.
public struct NextRound: Sendable, Hashable {
    enum Measure: Sendable, Hashable {
        /// From the end of the round.
        case afterEnd
        /// From the start of the round: a steady pace, however long the round took.
        case afterStart
        /// As `afterStart`, but the first such wait of a run is a random part of the interval.
        case spreadAfterStart
    }

    let wait: Duration
    let measure: Measure

    /// At once: the round found work, there may be more.
    public static let now = NextRound(wait: .zero, measure: .afterEnd)

    /// After `wait` at most; a wake-up of the worker's signal (new work) ends the wait early.
    public static func within(_ wait: Duration) -> NextRound { NextRound(wait: wait, measure: .afterEnd) }

    /// `interval` after this round started (at once if it took longer); a wake-up ends the wait early.
    public static func paced(_ interval: Duration) -> NextRound { NextRound(wait: interval, measure: .afterStart) }

    /// As ``paced(_:)``, but the first wait of the worker's run is a random part of `interval`: the polls of many
    /// connections started together (a node's start, a dead node's sellers taken over) then fall at different
    /// moments of the interval, not all at once — a thousand sellers' polls in one burst held up every stock push
    /// behind them.
    public static func spread(_ interval: Duration) -> NextRound {
        NextRound(wait: interval, measure: .spreadAfterStart)
    }
}

/// One kind of work a node does for a connection whose lease it holds — push stock, fetch notified orders, poll,
/// run commands — as rounds: each round does what is due and says when the next should run. The ``WorkerRuntime``
/// runs the rounds, waits between them on its clock, and stops the worker the one way for all: cancelled, lease
/// lost, or the seller's consent withdrawn.
public protocol ConnectionWorker: Sendable {
    /// The work's name in the logs.
    var name: String { get }
    /// The signal that ends a wait early (the store raises it when a transaction made work for this worker); nil:
    /// waits run their full time.
    var wakeUp: WakeUp? { get }
    /// Does one round.
    func round() async throws -> NextRound
    /// Does one round; `woken`: the wait before it was ended by the worker's wake-up (a transaction made work for
    /// it), not by its time. The runtime calls this one; a worker that need not look for work first once woken
    /// implements it, the others are given ``round()``.
    func round(woken: Bool) async throws -> NextRound
    /// The wait after the `failures`-th failed round in a row.
    func retryDelay(afterFailures failures: Int) -> Duration
}

extension ConnectionWorker {
    public func retryDelay(afterFailures failures: Int) -> Duration { .seconds(2) }

    public func round(woken: Bool) async throws -> NextRound { try await round() }
}

/// Runs connection workers' rounds, every wait on one clock (a test's manual clock, or the continuous clock).
public struct WorkerRuntime<C: Clock<Duration>>: Sendable {
    public let clock: C
    let logger: Logger
    /// The part of the interval a ``NextRound/spread(_:)`` round's first wait takes, in [0, 1).
    let phase: @Sendable () -> Double

    public init(clock: C, logger: Logger, phase: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.clock = clock
        self.logger = logger
        self.phase = phase
    }

    /// Runs the worker's rounds until the task is cancelled, another node takes the connection's lease, Amazon
    /// refuses the seller's refresh token, or `drain` is raised (the round in flight ends first; a wait ends at once).
    /// A failed round is logged and tried again after the worker's retry delay.
    public func run(_ worker: some ConnectionWorker, until drain: Latch? = nil) async {
        var failures = 0
        var woken = false
        var spread = false
        while !Task.isCancelled, drain?.isRaised != true {
            let started = clock.now
            do {
                let next = try await worker.round(woken: woken)
                failures = 0
                woken = false
                var wait = next.wait
                if next.measure == .spreadAfterStart, !spread {
                    spread = true
                    wait = wait * phase()
                }
                if next.measure != .afterEnd { wait -= started.duration(to: clock.now) }
                guard wait > .zero else { continue }
                woken = try await self.wait(wait, for: worker, until: drain)
            } catch is CancellationError {
                return
            } catch  where error.isLeaseLost {
                logger.warning(
                    "\(worker.name) stopped: another node took the connection over",
                    metadata: ["error": "\(error)"]
                )
                return
            } catch let error as ConnectionNeedsReauthorization {
                logger.error(
                    "\(worker.name) stopped: the seller must authorise FlexBridge again",
                    metadata: ["error": "\(error.message)"]
                )
                return
            } catch {
                woken = false
                failures += 1
                let delay = worker.retryDelay(afterFailures: failures)
                logger.error(
                    "\(worker.name) round failed; trying again",
                    metadata: ["error": "\(error)", "in_seconds": "\(delay.components.seconds)"]
                )
                try? await clock.sleep(for: delay)
            }
        }
    }

    /// Runs the workers side by side until all have stopped.
    public func run(_ workers: [any ConnectionWorker], until drain: Latch? = nil) async {
        await withDiscardingTaskGroup { group in
            for worker in workers { group.addTask { await self.run(worker, until: drain) } }
        }
    }

    /// Waits `duration` between two rounds, less when the worker's wake-up is raised or `drain` is. Returns whether
    /// the worker's wake-up ended the wait.
    private func wait(_ duration: Duration, for worker: some ConnectionWorker, until drain: Latch?) async throws -> Bool
    {
        guard let drain else {
            guard let wakeUp = worker.wakeUp else {
                try await clock.sleep(for: duration)
                return false
            }
            return await wakeUp.wait(timeout: duration, clock: clock)
        }
        let woken = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await drain.wait()
                return false
            }
            group.addTask {
                guard let wakeUp = worker.wakeUp else {
                    try? await clock.sleep(for: duration)
                    return false
                }
                return await wakeUp.wait(timeout: duration, clock: clock)
            }
            defer { group.cancelAll() }
            return await group.next() ?? false
        }
        try Task.checkCancellation()
        return woken
    }
}

extension WorkerRuntime where C == ContinuousClock {
    public init(logger: Logger) { self.init(clock: ContinuousClock(), logger: logger) }
}

/// Any clock of `Duration`s behind one type, so that the node's services hold the clock they were given (the
/// continuous clock, or a test's manual one) without a generic parameter each.
public struct AnyClock: Clock, Sendable {
    public struct Instant: InstantProtocol {
        /// Time since the clock was wrapped.
        public var offset: Duration
        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private let elapsed: @Sendable () -> Duration
    private let sleepUntil: @Sendable (Duration, Duration?) async throws -> Void
    public let minimumResolution: Duration

    public init<C: Clock<Duration>>(_ clock: C) {
        let start = clock.now
        elapsed = { start.duration(to: clock.now) }
        sleepUntil = { offset, tolerance in
            try await clock.sleep(until: start.advanced(by: offset), tolerance: tolerance)
        }
        minimumResolution = clock.minimumResolution
    }

    /// The continuous clock: real time.
    public static var continuous: AnyClock { AnyClock(ContinuousClock()) }

    public var now: Instant { Instant(offset: elapsed()) }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        try await sleepUntil(deadline.offset, tolerance)
    }
}
