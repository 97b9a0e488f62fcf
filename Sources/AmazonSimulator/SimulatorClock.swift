import Foundation
import Synchronization

/// The simulator's sense of time: wall-clock time for Amazon's timestamps and token expiry, and a monotonic count
/// of seconds for throttling. Tests use ``manual(start:)`` and move it; the server uses ``system``.
public struct SimulatorClock: Sendable {
    private let wall: @Sendable () -> Date
    private let monotonic: @Sendable () -> Double

    public init(wall: @escaping @Sendable () -> Date, monotonic: @escaping @Sendable () -> Double) {
        self.wall = wall
        self.monotonic = monotonic
    }

    /// The current wall-clock time.
    public func now() -> Date { wall() }

    /// Seconds on a monotonic scale, for rate limiting.
    public func seconds() -> Double { monotonic() }

    /// The machine's clocks.
    public static var system: SimulatorClock {
        let start = ContinuousClock.now
        return SimulatorClock(
            wall: { Date() },
            monotonic: {
                let elapsed = ContinuousClock.now - start
                return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            }
        )
    }

    /// A clock that stands still until the returned control moves it.
    public static func manual(start: Date = Date(timeIntervalSince1970: 1_790_000_000)) -> (SimulatorClock, ManualTime)
    {
        let time = ManualTime(start: start)
        return (SimulatorClock(wall: { time.now }, monotonic: { time.elapsed }), time)
    }
}

/// Moves a manual ``SimulatorClock``.
public final class ManualTime: Sendable {
    private let state: Mutex<(start: Date, elapsed: Double)>

    init(start: Date) { state = Mutex((start, 0)) }

    var now: Date { state.withLock { $0.start.addingTimeInterval($0.elapsed) } }
    var elapsed: Double { state.withLock { $0.elapsed } }

    /// Moves both wall and monotonic time forward.
    public func advance(seconds: Double) {
        state.withLock { $0.elapsed += seconds }
    }
}
