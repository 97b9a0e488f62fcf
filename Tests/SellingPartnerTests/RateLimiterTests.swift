import Foundation
import SellingPartner
import Synchronization
import Testing

@Suite("Rate limiter")
struct RateLimiterTests {
    /// A clock that moves only when the limiter sleeps.
    final class FakeTime: Sendable {
        let now = Mutex(0.0)
        var clock: @Sendable () -> Double { { self.now.withLock { $0 } } }
        var sleep: @Sendable (Double) async throws -> Void { { seconds in self.now.withLock { $0 += seconds } } }
    }

    @Test("half of Amazon's burst at once, then Amazon's rate: callers wait instead of sending")
    func paces() async throws {
        let time = FakeTime()
        let limiter = RateLimiter(defaults: ["op": .init(rate: 10, burst: 20)], clock: time.clock, sleep: time.sleep)
        for _ in 0..<10 { #expect(try await limiter.acquire("op") == 0) }
        let waited = try await limiter.acquire("op")
        #expect(abs(waited - 0.1) < 1e-9)
        // 1,000 calls in a row take 100 s at 10 per second.
        let start = time.now.withLock { $0 }
        for _ in 0..<1000 { try await limiter.acquire("op") }
        let elapsed = time.now.withLock { $0 } - start
        #expect(abs(elapsed - 100) < 0.5, "\(elapsed)")
    }

    @Test("operations have separate buckets: a busy one does not delay another")
    func separateBuckets() async throws {
        let time = FakeTime()
        let limiter = RateLimiter(
            defaults: ["slow": .init(rate: 1, burst: 1), "fast": .init(rate: 50, burst: 100)],
            clock: time.clock,
            sleep: { _ in }
        )
        for _ in 0..<20 { try await limiter.acquire("slow") }
        #expect(try await limiter.acquire("fast") == 0)
    }

    @Test("x-amzn-RateLimit-Limit sets the rate; a 429 halves it and successes bring it back")
    func adapts() async throws {
        let time = FakeTime()
        let limiter = RateLimiter(defaults: ["op": .init(rate: 10, burst: 10)], clock: time.clock, sleep: time.sleep)
        await limiter.observe(rateLimit: 2, for: "op")
        #expect(await limiter.currentRate("op") == 2)
        await limiter.throttled("op")
        #expect(await limiter.currentRate("op") == 1)
        for _ in 0..<30 { await limiter.succeeded("op") }
        #expect(await limiter.currentRate("op") == 2)
    }
}
