import AmazonSimulator
import AsyncHTTPClient
import FlexBridgeApp
import FlexCore
import FlexEngine
import FlexStore
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// `flexbridge bench listings`: MFN stock from the WMS to Amazon's listings, at Amazon's rates. A FlexBridge node
/// and the simulator run in this process; the simulator throttles the Listings and Feeds APIs as Amazon does
/// (patchListingsItem 5/s burst 5, a JSON listings feed's createFeed five per five minutes with a burst of five)
/// and takes `baseSeconds` plus `secondsPerThousandMessages` per thousand messages over each feed, one feed at a
/// time per seller.
///
/// 1. Flood: `skus` merchant-fulfilled listings get a new quantity at once (the MFN hub switched on after the WMS
///    sent its stock); timed until every quantity is the one Amazon holds, against the bound Amazon's feed budget
///    and processing set (every feed of 25,000 submitted as soon as the budget allows, processed back to back).
/// 2. Idle: single changes one at a time, each timed from `PUT /api/v1/stock` until Amazon holds it.
public struct ListingsBenchmark: Sendable {
    public var skus: Int
    public var idleSamples: Int
    public var timing: FeedTiming

    public init(skus: Int, idleSamples: Int = 30, timing: FeedTiming = FeedTiming()) {
        self.skus = skus
        self.idleSamples = idleSamples
        self.timing = timing
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var skus: Int
        public var timing: FeedTiming
        public var seconds: Double
        public var bound: Double
        public var converged: Int
        public var feeds: Int
        public var patched: Int
        public var callsByOperation: [String: Int]
        public var idleLatencies: [Double]
        public var cpuSeconds: Double
        public var peakMemoryMegabytes: Double

        public var description: String {
            func ms(_ value: Double) -> String { String(format: "%.0f ms", value * 1000) }
            func s(_ value: Double) -> String { String(format: "%.1f s", value) }
            return """
                \(skus) MFN listings, each given a new quantity at once, through a FlexBridge node to the simulator at Amazon's rates
                  (feeds take \(s(timing.queueSeconds)) queued + \(s(timing.baseSeconds)) + \(s(timing.secondsPerThousandMessages)) per thousand messages, one at a time)
                  all at Amazon              \(s(seconds)) → \(String(format: "%.0f", Double(skus) / max(seconds, 0.001))) SKUs/s; \(converged) of \(skus) hold the WMS's number
                  bound                      \(s(bound)) (Amazon's feed budget and processing) → ratio \(String(format: "%.2f", seconds / max(bound, 0.001)))
                  routes                     \(feeds) feed\(feeds == 1 ? "" : "s"), \(patched) SKUs by patchListingsItem
                  Amazon calls               \(callsByOperation.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
                  one change when idle       p50 \(ms(percentile(idleLatencies, 0.5))), p99 \(ms(percentile(idleLatencies, 0.99))), max \(ms(idleLatencies.max() ?? 0)) over \(idleLatencies.count) changes
                  process                    \(s(cpuSeconds)) CPU, peak memory \(String(format: "%.0f", peakMemoryMegabytes)) MB (FlexBridge and the simulator)
                """
        }
    }

    static let merchant = "A1BENCHLISTINGS"
    static let hub = "MFN"

    /// The earliest Amazon could hold every quantity: feeds of 25,000 submitted as Amazon's budget allows (five at
    /// once, then one a minute), each processed after the one before.
    public static func bound(skus: Int, timing: FeedTiming) -> Double {
        var end = 0.0
        var remaining = skus
        var index = 0
        while remaining > 0 {
            let messages = min(remaining, ListingRules.messagesPerFeed)
            let submitted = Double(max(0, index - 4)) * 60
            let start = max(submitted + timing.queueSeconds, end)
            end = start + timing.baseSeconds + timing.secondsPerThousandMessages * Double(messages) / 1000
            remaining -= messages
            index += 1
        }
        return end
    }

    public func run() async throws -> Report {
        var logger = Logger(label: "bench")
        // FLEXBRIDGE_BENCH_LOG=warning (or info, debug) shows what the node and the simulator log.
        logger.logLevel =
            ProcessInfo.processInfo.environment["FLEXBRIDGE_BENCH_LOG"].flatMap(Logger.Level.init(rawValue:))
            ?? .critical
        let simulatorConfiguration = Simulator.Configuration()
        let amazon = try await InProcessSimulator.start(
            Simulator(configuration: simulatorConfiguration, logger: logger),
            logger: logger
        )
        defer { amazon.stop() }
        let simulator = amazon.simulator
        try await simulator.setFeedTiming(timing)
        let marketplace = BenchNode.marketplace
        let skuIDs = (0..<skus).map { String(format: "MFN-%06d", $0) }
        _ = try await simulator.putListings(
            skuIDs.map { ListingSpecification(sku: $0, marketplaceIDs: [marketplace], quantity: 0) },
            merchantID: Self.merchant
        )
        let node = try await BenchNode.start(
            amazon: amazon,
            simulatorConfiguration: simulatorConfiguration,
            merchant: Self.merchant,
            logger: logger
        ) { session, connection in
            for start in stride(from: 0, to: skuIDs.count, by: 10_000) {
                try await session.upsertListings(
                    skuIDs[start..<min(skuIDs.count, start + 10_000)].map {
                        Listing(
                            connectionID: connection.id,
                            marketplaceID: MarketplaceID(rawValue: marketplace),
                            warehouseSKU: WarehouseSKU(rawValue: $0),
                            merchantSKU: MerchantSKU(rawValue: $0),
                            asin: "B000000001",
                            updatedAt: Date(),
                            fulfilledBy: .merchant
                        )
                    },
                    refreshInventory: false
                )
            }
        }
        let (store, connection, api) = (node.store, node.connection, node.api)
        func quantity(_ index: Int) -> Int { 1 + index % 100 }
        // The WMS's stock first, the MFN hub named after: every listing changes at once.
        for start in stride(from: 0, to: skus, by: 10_000) {
            let items = (start..<min(skus, start + 10_000)).map {
                #"{"hub":"\#(Self.hub)","sku":"\#(skuIDs[$0])","quantity":\#(quantity($0))}"#
            }
            try await send(api, .PUT, "/stock", #"{"items":[\#(items.joined(separator: ","))]}"#)
        }
        let before = await simulator.recordedRequests().count
        let usageBefore = ProcessUsage.now()
        let started = ContinuousClock.now
        try await store.transaction { session in
            _ = try await session.updateSettings(of: connection.id, actor: "bench") {
                $0.mfnStockHubs = [HubCode(rawValue: Self.hub)]
            }
        }
        let bound = Self.bound(skus: skus, timing: timing)
        let deadline = started + .seconds(max(120, bound * 3))
        var converged = 0
        while ContinuousClock.now < deadline {
            let held = await simulator.listingQuantities(merchantID: Self.merchant)
            converged = skuIDs.indices.count { held[skuIDs[$0]] == quantity($0) }
            if converged == skus { break }
            try await Task.sleep(for: .seconds(1))
        }
        let seconds = (ContinuousClock.now - started).seconds
        let requests = await simulator.recordedRequests(after: before)
        let feeds = try await store.read { try await $0.listingFeeds(connectionID: connection.id, limit: 1000) }

        // Idle: one change at a time, once nothing is left to send.
        while try await store.read({ session in
            let pending = try await session.pendingListingCount(connectionID: connection.id)
            let open = try await session.openListingFeeds(connectionID: connection.id)
            return pending > 0 || !open.isEmpty
        }) {
            try await Task.sleep(for: .milliseconds(100))
        }
        var idleLatencies: [Double] = []
        for sample in 0..<min(idleSamples, skus) {
            let sku = skuIDs[sample]
            let units = 1000 + sample
            let sent = Date()
            try await send(
                api,
                .PUT,
                "/stock",
                #"{"items":[{"hub":"\#(Self.hub)","sku":"\#(sku)","quantity":\#(units)}]}"#
            )
            let giveUp = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < giveUp {
                if let held = await simulator.listingQuantity(merchantID: Self.merchant, sku: sku),
                    held.quantity == units
                {
                    idleLatencies.append(max(0, Date().timeIntervalSince(sent)))
                    break
                }
                try await Task.sleep(for: .milliseconds(2))
            }
            // patchListingsItem's rate: one change in flight at a time is what idle means.
            try await Task.sleep(for: .milliseconds(250))
        }
        let usage = ProcessUsage.now()
        await node.stop()
        return Report(
            skus: skus,
            timing: timing,
            seconds: seconds,
            bound: bound,
            converged: converged,
            feeds: feeds.filter { $0.status != "cancelled" }.count,
            patched: requests.filter { $0.operation == "patchListingsItem" && $0.status == 200 }.count,
            callsByOperation: Dictionary(grouping: requests.filter { $0.status != 429 }, by: \.operation)
                .mapValues(\.count),
            idleLatencies: idleLatencies,
            cpuSeconds: usage.cpuSeconds - usageBefore.cpuSeconds,
            peakMemoryMegabytes: usage.peakMemoryMegabytes
        )
    }

    private func send(_ api: BenchAPI, _ method: HTTPMethod, _ path: String, _ body: String) async throws {
        var request = api.request(path)
        request.method = method
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.bench.execute(request, timeout: .seconds(120))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        guard response.status == .accepted else {
            throw StartupError(message: "\(method) /api/v1\(path) answered \(response.status.code): \(text)")
        }
    }
}
