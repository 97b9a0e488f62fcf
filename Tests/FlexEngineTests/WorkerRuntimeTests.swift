import FlexCore
import FlexEngine
import FlexStore
import FlexStoreTesting
import Foundation
import Logging
import Synchronization
import Testing

/// A worker that plays a script of rounds and counts them.
final class ScriptedWorker: ConnectionWorker {
    struct Failure: Error {}
    struct Stalled: Error {
        var rounds: Int
        var expected: Int
    }

    let name = "scripted"
    let wakeUp: WakeUp?
    private let state: Mutex<(script: [@Sendable () throws -> NextRound], rounds: Int, woken: [Bool])>
    /// What a round returns once the script is played.
    let otherwise: NextRound

    init(
        wakeUp: WakeUp? = WakeUp(),
        otherwise: NextRound = .within(.seconds(60)),
        _ script: [@Sendable () throws -> NextRound] = []
    ) {
        self.wakeUp = wakeUp
        self.otherwise = otherwise
        state = Mutex((script, 0, []))
    }

    var rounds: Int { state.withLock { $0.rounds } }
    /// Whether the runtime told each round that a wake-up ended the wait before it.
    var woken: [Bool] { state.withLock { $0.woken } }

    func round(woken: Bool) async throws -> NextRound {
        state.withLock { $0.woken.append(woken) }
        return try await round()
    }

    func round() async throws -> NextRound {
        let step = state.withLock { state in
            state.rounds += 1
            return state.script.isEmpty ? nil : state.script.removeFirst()
        }
        return try step?() ?? otherwise
    }

    func retryDelay(afterFailures failures: Int) -> Duration { .seconds(2 * failures) }

    /// Waits (in real time) until the worker has run `count` rounds and the runtime waits on the clock again.
    func reach(_ count: Int, on clock: ManualClock) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while rounds < count {
            guard ContinuousClock.now < deadline else { throw Stalled(rounds: rounds, expected: count) }
            try await Task.sleep(for: .milliseconds(1))
        }
        try await clock.waitForSleepers(1)
    }
}

@Suite("The engine runtime: rounds, waits on an injected clock, wake-ups, back-off and the ways a worker stops")
struct WorkerRuntimeTests {
    static func run<T: Sendable>(
        _ worker: ScriptedWorker,
        on clock: ManualClock = ManualClock(),
        phase: @escaping @Sendable () -> Double = { 0.5 },
        _ body: @Sendable (ManualClock, Task<Void, Never>) async throws -> T
    ) async throws -> T {
        let runtime = WorkerRuntime(
            clock: clock,
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }),
            phase: phase
        )
        let task = Task { await runtime.run(worker) }
        defer { task.cancel() }
        return try await body(clock, task)
    }

    @Test(
        "the next round runs when the round said, or at once when the store wakes the worker; the round is told which"
    )
    func waits() async throws {
        let worker = ScriptedWorker()
        try await Self.run(worker) { clock, _ in
            try await worker.reach(1, on: clock)
            clock.advance(by: .seconds(59))
            try await clock.waitForSleepers(1)
            #expect(worker.rounds == 1)
            clock.advance(by: .seconds(1))
            try await worker.reach(2, on: clock)
            worker.wakeUp?.wake()
            try await worker.reach(3, on: clock)
            #expect(clock.now.offset == .seconds(60), "the wake-up did not wait for the clock")
            clock.advance(by: .seconds(60))
            try await worker.reach(4, on: clock)
            #expect(worker.woken == [false, false, true, false])
        }
    }

    @Test("a round that found work is followed at once; a paced round counts its own time")
    func paces() async throws {
        let clock = ManualClock()
        let worker = ScriptedWorker(
            wakeUp: nil,
            otherwise: .paced(.seconds(15)),
            [{ .now }, { .now }]
        )
        try await Self.run(worker, on: clock) { clock, _ in
            try await worker.reach(3, on: clock)
            #expect(clock.now.offset == .zero)
            // The third round (paced at 15 s) took no clock time: the fourth waits all 15 s.
            clock.advance(by: .seconds(14))
            try await clock.waitForSleepers(1)
            #expect(worker.rounds == 3)
            clock.advance(by: .seconds(1))
            try await worker.reach(4, on: clock)
        }
    }

    @Test("a paced round that took part of its interval waits only the rest")
    func pacedRemainder() async throws {
        let clock = ManualClock()
        let worker = ScriptedWorker(
            wakeUp: nil,
            otherwise: .paced(.seconds(15)),
            [
                {
                    clock.advance(by: .seconds(10))
                    return .paced(.seconds(15))
                }
            ]
        )
        try await Self.run(worker, on: clock) { clock, _ in
            try await worker.reach(1, on: clock)
            clock.advance(by: .seconds(4))
            try await clock.waitForSleepers(1)
            #expect(worker.rounds == 1)
            clock.advance(by: .seconds(1))
            try await worker.reach(2, on: clock)
        }
    }

    @Test(
        "a spread round's first wait is its part of the interval (its own time counted), every later one the whole interval"
    )
    func spread() async throws {
        let clock = ManualClock()
        let worker = ScriptedWorker(
            wakeUp: nil,
            otherwise: .spread(.seconds(20)),
            [
                {
                    clock.advance(by: .seconds(2))
                    return .spread(.seconds(20))
                }
            ]
        )
        try await Self.run(worker, on: clock, phase: { 0.25 }) { clock, _ in
            // 20 s × 0.25 = 5 s from the first round's start, 2 s of which the round took.
            try await worker.reach(1, on: clock)
            clock.advance(by: .seconds(2))
            try await clock.waitForSleepers(1)
            #expect(worker.rounds == 1)
            clock.advance(by: .seconds(1))
            try await worker.reach(2, on: clock)
            #expect(clock.now.offset == .seconds(5))
            // From then on the whole interval.
            clock.advance(by: .seconds(19))
            try await clock.waitForSleepers(1)
            #expect(worker.rounds == 2)
            clock.advance(by: .seconds(1))
            try await worker.reach(3, on: clock)
            clock.advance(by: .seconds(20))
            try await worker.reach(4, on: clock)
        }
    }

    @Test("failed rounds back off by the worker's delay; a round that succeeds resets the count")
    func backOff() async throws {
        let fail: @Sendable () throws -> NextRound = { throw ScriptedWorker.Failure() }
        let worker = ScriptedWorker([fail, fail, { .within(.seconds(60)) }, fail])
        try await Self.run(worker) { clock, _ in
            try await worker.reach(1, on: clock)
            clock.advance(by: .seconds(1))
            try await clock.waitForSleepers(1)
            #expect(worker.rounds == 1)
            clock.advance(by: .seconds(1))  // the first failure waits 2 s
            try await worker.reach(2, on: clock)
            clock.advance(by: .seconds(3))
            try await clock.waitForSleepers(1)
            #expect(worker.rounds == 2)
            clock.advance(by: .seconds(1))  // the second waits 4 s
            try await worker.reach(3, on: clock)
            clock.advance(by: .seconds(60))
            try await worker.reach(4, on: clock)  // failed again: the first of a new run, 2 s
            clock.advance(by: .seconds(2))
            try await worker.reach(5, on: clock)
        }
    }

    @Test("a lost lease or withdrawn consent stops the worker for good; cancelling stops it during a wait")
    func stops() async throws {
        let lease = Lease(name: "connection:x", owner: "node", epoch: 1, expiresAt: .distantFuture)
        for error: any Error in [StoreError.leaseLost(lease), ConnectionNeedsReauthorization(message: "refused")] {
            let worker = ScriptedWorker([{ .now }, { throw error }])
            try await Self.run(worker) { clock, task in
                await task.value
                #expect(worker.rounds == 2)
                #expect(clock.sleeping == 0)
            }
        }
        let worker = ScriptedWorker()
        try await Self.run(worker) { clock, task in
            try await worker.reach(1, on: clock)
            task.cancel()
            await task.value
            #expect(worker.rounds == 1)
            #expect(clock.sleeping == 0)
        }
    }

    /// A worker whose round waits until the test lets it end, and says whether it was cancelled.
    final class HeldWorker: ConnectionWorker {
        let name = "held"
        let wakeUp: WakeUp? = nil
        let entered = Latch()
        let release = Latch()
        let counts = Mutex((rounds: 0, finished: 0, cancelled: 0))

        func round() async throws -> NextRound {
            counts.withLock { $0.rounds += 1 }
            entered.raise()
            await release.wait()
            counts.withLock {
                $0.finished += 1
                if Task.isCancelled { $0.cancelled += 1 }
            }
            return .within(.seconds(60))
        }
    }

    @Test("a drained worker ends its round in flight, uncancelled, and starts no other; a drain ends a wait at once")
    func drain() async throws {
        let runtime = WorkerRuntime(
            clock: ManualClock(),
            logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        )
        let held = HeldWorker()
        let drain = Latch()
        let running = Task { await runtime.run(held, until: drain) }
        await held.entered.wait()
        drain.raise()
        try await Task.sleep(for: .milliseconds(50))
        held.release.raise()
        await running.value
        let counts = held.counts.withLock { $0 }
        #expect(counts.rounds == 1 && counts.finished == 1 && counts.cancelled == 0)

        // Between rounds: the wait (60 s on a clock that never moves) ends when the drain is raised.
        let clock = ManualClock()
        let waiting = ScriptedWorker()
        let drainWaiting = Latch()
        let task = Task {
            await WorkerRuntime(clock: clock, logger: Logger(label: "test")).run(waiting, until: drainWaiting)
        }
        try await waiting.reach(1, on: clock)
        drainWaiting.raise()
        await task.value
        #expect(waiting.rounds == 1)
    }
}
