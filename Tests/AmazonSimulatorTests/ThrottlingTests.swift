import AmazonSimulator
import Foundation
import Testing

@Suite("Throttling")
struct ThrottlingTests {
    @Test(
        "a token bucket admits its burst, then its rate",
        arguments: [(2.0, 10.0), (50.0, 100.0), (1.0, 5.0), (0.5, 1.0)]
    )
    func bucket(rate: Double, burst: Double) {
        var bucket = TokenBucket(rate: rate, burst: burst, now: 0)
        var admitted = 0
        let seconds = 120.0
        // A client that tries every millisecond.
        for step in 0..<Int(seconds * 1000) where bucket.take(now: Double(step) / 1000) {
            admitted += 1
        }
        let expected = burst + rate * seconds
        #expect(abs(Double(admitted) - expected) <= 1, "admitted \(admitted), expected \(expected)")
    }

    @Test(
        "over HTTP, a burst beyond the bucket answers 429 with Amazon's body and headers; the admitted rate is within 10% of the configured one"
    )
    func overHTTP() async throws {
        let (clock, time) = SimulatorClock.manual()
        var configuration = Simulator.Configuration(throttling: true)
        configuration.rateLimits["getShipments"] = RateLimit(rate: 5, burst: 5)
        try await LiveSimulator.run(configuration: configuration, clock: clock) { live in
            let path = "/externalFulfillment/2024-09-11/shipments?status=ACCEPTED"
            var statuses: [Int] = []
            for _ in 0..<8 { statuses.append(try await live.call(.GET, path).status) }
            #expect(statuses == [200, 200, 200, 200, 200, 429, 429, 429])
            let throttled = try await live.call(.GET, path)
            #expect(throttled.status == 429)
            #expect(throttled.firstErrorCode == "QuotaExceeded")
            #expect(throttled.headers["x-amzn-requestid"] != nil)

            // Twenty simulated seconds of a client calling every 10 ms: 5 per second get through.
            var admitted = 0
            for _ in 0..<2000 {
                time.advance(seconds: 0.01)
                let response = try await live.call(.GET, path)
                if response.status == 200 {
                    admitted += 1
                    #expect(response.headers["x-amzn-ratelimit-limit"] == "5.0")
                }
            }
            let rate = Double(admitted) / 20
            #expect(abs(rate - 5) / 5 < 0.1, "admitted \(rate)/s against 5/s")
            // Buckets are per seller: another seller is not throttled by this one.
            let other = try await live.accessToken(for: "A2OTHERSELLER")
            #expect(try await live.call(.GET, path, token: other).status == 200)
        }
    }

    @Test("throttling can be switched off and rates changed on the control path")
    func control() async throws {
        var configuration = Simulator.Configuration(throttling: true)
        configuration.rateLimits["getShipment"] = RateLimit(rate: 0.001, burst: 1)
        try await LiveSimulator.run(configuration: configuration) { live in
            let path = "/externalFulfillment/2024-09-11/shipments/NOPE"
            #expect(try await live.call(.GET, path).status == 404)
            #expect(try await live.call(.GET, path).status == 429)
            let off = try await RawHTTP.send(.PUT, "\(live.base)/_simulator/throttling", json: #"{"enabled":false}"#)
            #expect(off.status == 200)
            for _ in 0..<5 { #expect(try await live.call(.GET, path).status == 404) }
            _ = try await RawHTTP.send(.PUT, "\(live.base)/_simulator/throttling", json: #"{"enabled":true}"#)
            let limit = try await RawHTTP.send(
                .PUT,
                "\(live.base)/_simulator/rate-limits/getShipment",
                json: #"{"rate":1000,"burst":50}"#
            )
            #expect(limit.status == 200)
            for _ in 0..<20 { #expect(try await live.call(.GET, path).status == 404) }
            let unknown = try await RawHTTP.send(
                .PUT,
                "\(live.base)/_simulator/rate-limits/noSuchOperation",
                json: #"{"rate":1,"burst":1}"#
            )
            #expect(unknown.status == 400)
            let zero = try await RawHTTP.send(
                .PUT,
                "\(live.base)/_simulator/rate-limits/getShipment",
                json: #"{"rate":0,"burst":1}"#
            )
            #expect(zero.status == 400)
        }
    }
}
