import AmazonEFInventory
import AmazonSimulator
import FlexBridgeApp
import Foundation
import Hummingbird
import Logging
import SellingPartner

/// `flexbridge bench amazon`: how close FlexBridge's Amazon client comes to Amazon's rate limit. It runs the
/// simulator in-process with Amazon's default throttling (batchInventory: 50 calls/s, burst 100) and keeps
/// `workers` tasks calling batchInventory with 10 updates each for `seconds`, through the same client the sync
/// engine uses. The physical bound is the rate limit; the client should reach it without being answered 429.
public struct AmazonClientBenchmark: Sendable {
    public var seconds: Double
    public var workers: Int
    public var unavailableRate: Double

    public init(seconds: Double, workers: Int, unavailableRate: Double) {
        self.seconds = seconds
        self.workers = workers
        self.unavailableRate = unavailableRate
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var seconds: Double
        public var workers: Int
        public var configuredRate: Double
        public var succeeded: Int
        public var failed: Int
        public var sentToAmazon: Int
        public var throttled: Int
        public var injected: Int
        public var latencies: [Double]
        public var cpuSeconds: Double
        public var peakMemoryMegabytes: Double

        public var achievedRate: Double { Double(succeeded) / seconds }
        public var throttledShare: Double { sentToAmazon == 0 ? 0 : Double(throttled) / Double(sentToAmazon) }

        func percentile(_ p: Double) -> Double { FlexBench.percentile(latencies, p) }

        public var description: String {
            """
            batchInventory for \(String(format: "%.0f", seconds)) s with \(workers) workers against the simulator (Amazon's default throttling)
              configured rate      \(String(format: "%.1f", configuredRate)) calls/s (\(String(format: "%.0f", configuredRate * 10)) SKU updates/s)
              achieved             \(String(format: "%.2f", achievedRate)) calls/s = \(String(format: "%.1f", 100 * achievedRate / configuredRate))% of the rate, \(String(format: "%.0f", achievedRate * 10)) SKU updates/s
              calls                \(succeeded) succeeded, \(failed) ended in a typed error
              requests at Amazon   \(sentToAmazon), of which 429: \(throttled) (\(String(format: "%.2f", 100 * throttledShare))%), injected 503: \(injected)
              call latency         p50 \(String(format: "%.1f", percentile(0.5) * 1000)) ms, p99 \(String(format: "%.1f", percentile(0.99) * 1000)) ms (waiting for the bucket included)
              process              \(String(format: "%.1f", cpuSeconds)) s CPU, peak memory \(String(format: "%.0f", peakMemoryMegabytes)) MB (simulator included)
            """
        }
    }

    public func run() async throws -> Report {
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let configuration = Simulator.Configuration(faults: FaultSettings(unavailableRate: unavailableRate))
        let simulator = Simulator(configuration: configuration, logger: logger)
        let running = try await InProcessSimulator.start(simulator, logger: logger)
        defer { running.stop() }
        let base = running.base

        let merchant = "A1BENCHSELLER"
        let location = await simulator.ensureLocation(
            merchantID: merchant,
            name: "Bench",
            marketplaceID: "A21TJRUUN4KGV",
            channel: "MFN"
        )
        let skus = (0..<1000).map { String(format: "BENCH-%04d", $0) }
        try await simulator.addListings(merchantID: merchant, marketplaceID: "A21TJRUUN4KGV", skus: skus)
        let client = SellingPartnerClient(
            endpoint: .custom(base),
            login: LoginWithAmazon(
                tokenEndpoint: base.appendingPathComponent("auth/o2/token"),
                application: .init(clientID: configuration.clientID, clientSecret: configuration.clientSecret)
            ),
            refreshToken: try await simulator.authorize(merchantID: merchant),
            logger: logger
        )
        _ = try await client.tokens.token()
        let before = await simulator.recordedRequests().count

        let start = ContinuousClock.now
        let deadline = start + .seconds(seconds)
        let results = try await withThrowingTaskGroup(of: (Int, Int, [Double]).self) { group in
            for worker in 0..<workers {
                group.addTask {
                    var succeeded = 0
                    var failed = 0
                    var latencies: [Double] = []
                    var round = 0
                    while ContinuousClock.now < deadline {
                        round += 1
                        let sequence = Int(Date().timeIntervalSince1970 * 1000) * 100 + round % 100
                        let requests = (0..<10).map { index in
                            let sku = skus[(worker * 10 + index + round * workers * 10) % skus.count]
                            return AmazonEFInventory.Components.Schemas.InventoryRequest(
                                uri: "/inventory/update?locationId=\(location)&skuId=\(sku)",
                                method: .post,
                                body: .init(
                                    clientSequenceNumber: sequence,
                                    quantity: round % 50,
                                    marketplaceAttributes: .init(channelName: .mfn, marketplaceId: "A21TJRUUN4KGV")
                                )
                            )
                        }
                        let called = ContinuousClock.now
                        do {
                            _ = try await client.inventory.batchInventory(body: .json(.init(requests: requests)))
                                .code207
                            succeeded += 1
                        } catch {
                            guard error.sellingPartnerError != nil else { throw error }
                            failed += 1
                        }
                        let elapsed = ContinuousClock.now - called
                        latencies.append(
                            Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                        )
                    }
                    return (succeeded, failed, latencies)
                }
            }
            return try await group.reduce(into: (0, 0, [Double]())) { total, part in
                total.0 += part.0
                total.1 += part.1
                total.2 += part.2
            }
        }
        let elapsed = ContinuousClock.now - start
        let requests = await simulator.recordedRequests(after: before).filter { $0.operation == "batchInventory" }
        let usage = ProcessUsage.now()
        return Report(
            seconds: elapsed.seconds,
            workers: workers,
            configuredRate: RateLimit.amazonDefaults["batchInventory"]!.rate,
            succeeded: results.0,
            failed: results.1,
            sentToAmazon: requests.count,
            throttled: requests.filter { $0.fault == "throttled" }.count,
            injected: requests.filter { $0.fault == "unavailable" }.count,
            latencies: results.2,
            cpuSeconds: usage.cpuSeconds,
            peakMemoryMegabytes: usage.peakMemoryMegabytes
        )
    }
}
