import AmazonSimulator
import AsyncHTTPClient
import FlexBridgeApp
import FlexCore
import FlexEngine
import FlexStore
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import Prometheus
import ServiceLifecycle

/// `flexbridge bench inventory`: stock from the WMS to Amazon, end to end. A FlexBridge node (HTTP API, store on a
/// fresh SQLite file, lease keeper, inventory sync) and the simulator with Amazon's default throttling run in this
/// process; the WMS's part is played over HTTP: `skus` stock levels are PUT to `/api/v1/stock` in requests of
/// `requestSize`, then single changes one at a time. Amazon's own record of when each update was applied is the
/// finish line. The physical bound is batchInventory's rate × 10 SKUs per call.
public struct InventoryBenchmark: Sendable {
    public var skus: Int
    public var requestSize: Int
    public var idleSamples: Int

    public init(skus: Int, requestSize: Int = 10_000, idleSamples: Int = 50) {
        self.skus = skus
        self.requestSize = requestSize
        self.idleSamples = idleSamples
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var skus: Int
        public var rate: Double
        public var seconds: Double
        public var converged: Int
        public var calls: Int
        public var throttled: Int
        public var latencies: [Double]
        public var idleLatencies: [Double]
        public var cpuSeconds: Double
        public var peakMemoryMegabytes: Double

        public var bound: Double { Double(skus) / (rate * 10) }

        public var description: String {
            func ms(_ value: Double) -> String { String(format: "%.0f ms", value * 1000) }
            func s(_ value: Double) -> String { String(format: "%.1f s", value) }
            return """
                \(skus) SKU changes through PUT /api/v1/stock to the simulator (Amazon's default throttling: \(String(format: "%.0f", rate)) batchInventory calls/s)
                  all applied at Amazon   \(s(seconds)) after the first 202; physical bound \(s(bound)) → \(String(format: "%.3f", seconds / bound)) × the bound
                  throughput              \(String(format: "%.0f", Double(skus) / seconds)) SKUs/s (bound \(String(format: "%.0f", rate * 10)))
                  converged               \(converged) of \(skus) SKUs hold the quantity sent last
                  calls at Amazon         \(calls) batchInventory, of which 429: \(throttled) (\(String(format: "%.2f", calls == 0 ? 0 : 100 * Double(throttled) / Double(calls)))%)
                  202 → applied, load     p50 \(s(percentile(latencies, 0.5))), p99 \(s(percentile(latencies, 0.99))) (queueing behind the rate limit included)
                  202 → applied, idle     p50 \(ms(percentile(idleLatencies, 0.5))), p99 \(ms(percentile(idleLatencies, 0.99))), max \(ms(idleLatencies.max() ?? 0)) over \(idleLatencies.count) single changes
                  process                 \(s(cpuSeconds)) CPU, peak memory \(String(format: "%.0f", peakMemoryMegabytes)) MB (FlexBridge and the simulator)
                """
        }
    }

    static let merchant = "A1BENCHSELLER"

    public func run() async throws -> Report {
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let simulatorConfiguration = Simulator.Configuration()
        let amazon = try await InProcessSimulator.start(
            Simulator(configuration: simulatorConfiguration, logger: logger),
            logger: logger
        )
        defer { amazon.stop() }
        let simulator = amazon.simulator
        let skuIDs = (0..<skus).map { String(format: "BENCH-%06d", $0) }
        try await simulator.addListings(merchantID: Self.merchant, marketplaceID: BenchNode.marketplace, skus: skuIDs)
        let node = try await BenchNode.start(
            amazon: amazon,
            simulatorConfiguration: simulatorConfiguration,
            merchant: Self.merchant,
            logger: logger
        ) {
            session,
            connection in
            try await session.upsertListings(
                skuIDs.map {
                    Listing(
                        connectionID: connection.id,
                        marketplaceID: MarketplaceID(rawValue: BenchNode.marketplace),
                        warehouseSKU: WarehouseSKU(rawValue: $0),
                        merchantSKU: MerchantSKU(rawValue: $0),
                        asin: "B000000001",
                        updatedAt: Date()
                    )
                }
            )
        }
        let (store, connection, locationID) = (node.store, node.connection, node.locationID)
        let api = node.api
        // The inventory sync starts its worker within a second of the lease.
        try await Task.sleep(for: .milliseconds(1500))
        let before = await simulator.recordedRequests().count
        let usageBefore = ProcessUsage.now()

        // Load: every SKU changes.
        func quantity(_ index: Int) -> Int { 1 + index % 100 }
        var accepted: [Date] = []
        for start in stride(from: 0, to: skus, by: requestSize) {
            let items = (start..<min(skus, start + requestSize)).map {
                #"{"hub":"HUB1","sku":"\#(skuIDs[$0])","quantity":\#(quantity($0))}"#
            }
            try await api.putStock(body: #"{"items":[\#(items.joined(separator: ","))]}"#)
            accepted.append(Date())
        }
        let deadline = ContinuousClock.now + .seconds(max(120, 5 * Double(skus) / 500))
        while try await store.read({ try await $0.pendingInventoryCount(connectionID: connection.id) }) > 0,
            ContinuousClock.now < deadline
        {
            try await Task.sleep(for: .milliseconds(200))
        }
        var latencies: [Double] = []
        var converged = 0
        var lastApplied = accepted[0]
        for (index, sku) in skuIDs.enumerated() {
            guard let stock = await simulator.stock(locationID: locationID, sku: sku, channel: "MFN") else { continue }
            if stock.quantity == quantity(index) { converged += 1 }
            latencies.append(stock.updatedAt.timeIntervalSince(accepted[index / requestSize]))
            lastApplied = max(lastApplied, stock.updatedAt)
        }
        let requests = await simulator.recordedRequests(after: before).filter { $0.operation == "batchInventory" }

        // Idle: one change at a time.
        var idleLatencies: [Double] = []
        for sample in 0..<min(idleSamples, skus) {
            let sku = skuIDs[sample]
            try await api.putStock(body: #"{"items":[{"hub":"HUB1","sku":"\#(sku)","quantity":\#(1000 + sample)}]}"#)
            let sent = Date()
            let giveUp = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < giveUp {
                if let stock = await simulator.stock(locationID: locationID, sku: sku, channel: "MFN"),
                    stock.quantity == 1000 + sample
                {
                    idleLatencies.append(max(0, stock.updatedAt.timeIntervalSince(sent)))
                    break
                }
                try await Task.sleep(for: .milliseconds(2))
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let usage = ProcessUsage.now()
        await node.stop()

        return Report(
            skus: skus,
            rate: RateLimit.amazonDefaults["batchInventory"]!.rate,
            seconds: lastApplied.timeIntervalSince(accepted[0]),
            converged: converged,
            calls: requests.count,
            throttled: requests.filter { $0.fault == "throttled" }.count,
            latencies: latencies,
            idleLatencies: idleLatencies,
            cpuSeconds: usage.cpuSeconds - usageBefore.cpuSeconds,
            peakMemoryMegabytes: usage.peakMemoryMegabytes
        )
    }
}
