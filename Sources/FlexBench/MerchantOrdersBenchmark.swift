import AmazonSimulator
import AsyncHTTPClient
import FlexCore
import FlexEngine
import FlexStore
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// `flexbridge bench orders --source mfn`: merchant-fulfilled orders from Amazon to shipped, at Amazon's rates. A
/// FlexBridge node and the simulator run in this process; the simulator throttles the Orders API as Amazon does
/// (searchOrders 0.0056/s burst 20, getOrder 0.5/s burst 30, confirmShipment 2/s burst 10), so what is measured is
/// what a seller gets.
///
/// 1. Notification → API: orders placed one at a time, `spacing` apart (getOrder's rate), each timed from its
///    placing until `GET /api/v1/orders/{id}` finds it.
/// 2. Polling only (when asked for samples): the destination removed, each order timed until the searchOrders
///    safety net, every `pollInterval`, brings it.
/// 3. Throughput: `orders` placed at once, a WMS stand-in ships each in one package as soon as it appears; the time
///    until every one is SHIPPED at the simulator gives orders/s, with Amazon's calls per order.
public struct MerchantOrdersBenchmark: Sendable {
    public var orders: Int
    public var notificationSamples: Int
    public var pollSamples: Int
    public var pollInterval: Duration
    /// Whether the simulator throttles at Amazon's rates (the default) instead of answering everything.
    public var amazonRates: Bool

    public init(
        orders: Int,
        notificationSamples: Int = 30,
        pollSamples: Int = 0,
        pollInterval: Duration = .seconds(180),
        amazonRates: Bool = true
    ) {
        self.orders = orders
        self.notificationSamples = notificationSamples
        self.pollSamples = pollSamples
        self.pollInterval = pollInterval
        self.amazonRates = amazonRates
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var orders: Int
        public var amazonRates: Bool
        public var seconds: Double
        public var shipped: Int
        public var callsPerOrder: Double
        public var callsByOperation: [String: Double]
        public var notificationLatencies: [Double]
        public var pollLatencies: [Double]
        public var pollInterval: Double
        public var cpuSeconds: Double
        public var peakMemoryMegabytes: Double

        public var description: String {
            func ms(_ value: Double) -> String { String(format: "%.0f ms", value * 1000) }
            func s(_ value: Double) -> String { String(format: "%.1f s", value) }
            let polled =
                pollLatencies.isEmpty
                ? "not sampled (--poll-samples); searchOrders runs every \(s(pollInterval)), the rate Amazon allows"
                : "p50 \(s(percentile(pollLatencies, 0.5))), max \(s(pollLatencies.max() ?? 0)) over \(pollLatencies.count) orders"
            return """
                \(orders) MFN orders placed at the simulator (\(amazonRates ? "Amazon's rates, throttled" : "no throttling")), each shipped in one package through the API
                  all shipped at Amazon     \(s(seconds)) after the first was placed → \(String(format: "%.2f", Double(orders) / seconds)) orders/s
                  shipped                   \(shipped) of \(orders)
                  Amazon calls per order    \(String(format: "%.1f", callsPerOrder)): \(callsByOperation.sorted { $0.value > $1.value }.map { "\($0.key) \(String(format: "%.2f", $0.value))" }.joined(separator: ", "))
                  notification → in the API p50 \(ms(percentile(notificationLatencies, 0.5))), p99 \(ms(percentile(notificationLatencies, 0.99))), max \(ms(notificationLatencies.max() ?? 0)) over \(notificationLatencies.count) orders
                  placed → in the API, polling only
                                            \(polled)
                  process                   \(s(cpuSeconds)) CPU, peak memory \(String(format: "%.0f", peakMemoryMegabytes)) MB (FlexBridge and the simulator)
                """
        }
    }

    static let merchant = "A1BENCHMFN"
    static let secret = "bench-notification-secret-0123"
    static let operations = ["searchOrders", "getOrder", "confirmShipment"]

    public func run() async throws -> Report {
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let simulatorConfiguration = Simulator.Configuration(throttling: amazonRates)
        let amazon = try await InProcessSimulator.start(
            Simulator(configuration: simulatorConfiguration, logger: logger),
            logger: logger
        )
        defer { amazon.stop() }
        let simulator = amazon.simulator
        let node = try await BenchNode.start(
            amazon: amazon,
            simulatorConfiguration: simulatorConfiguration,
            merchant: Self.merchant,
            notificationSecret: Self.secret,
            merchantOrders: .init(pollInterval: pollInterval),
            logger: logger
        ) { session, connection in
            try await session.updateSettings(of: connection.id, actor: "bench") {
                $0.mfnOrderSyncEnabled = true
                $0.shipMethods = MFNWorldLevels.all.map {
                    ShipMethodMapping(serviceLevel: $0, wmsCarrier: "ups", wmsMethod: $0, carrierCode: "UPS")
                }
            }
        }
        let (store, connection, api, port) = (node.store, node.connection, node.api, node.port)
        let marketplace = connection.marketplaceIDs[0].rawValue
        // Warm: the first search has run (which fetches the first access token).
        while try await store.read({
            try await $0.orderWatermark(connectionID: connection.id, locationID: "mfn", status: "")
        }) == nil {
            try await Task.sleep(for: .milliseconds(50))
        }
        let destination = try await simulator.addNotificationDestination(
            url: "http://127.0.0.1:\(port)/notifications/amazon",
            headerName: "x-api-key",
            secret: Self.secret
        )
        func place() async throws -> String {
            try await simulator.createMFNOrder(.init(merchantID: Self.merchant, marketplaceID: marketplace))
        }

        // 1. From notification to the API, one order per getOrder token (two seconds apart at Amazon's rate).
        var notificationLatencies: [Double] = []
        for _ in 0..<notificationSamples {
            let id = try await place()
            let placed = ContinuousClock.now
            if try await waitVisible(api, id, timeout: .seconds(60)) {
                notificationLatencies.append((ContinuousClock.now - placed).seconds)
            }
            try await Task.sleep(until: placed + .milliseconds(amazonRates ? 2100 : 20))
        }

        // 2. Polling only.
        var pollLatencies: [Double] = []
        if pollSamples > 0 {
            try await simulator.removeNotificationDestination(id: destination.id)
            for _ in 0..<pollSamples {
                let id = try await place()
                let placed = ContinuousClock.now
                if try await waitVisible(api, id, timeout: pollInterval * 2 + .seconds(30)) {
                    pollLatencies.append((ContinuousClock.now - placed).seconds)
                }
            }
            _ = try await simulator.addNotificationDestination(
                url: "http://127.0.0.1:\(port)/notifications/amazon",
                headerName: "x-api-key",
                secret: Self.secret
            )
        }
        let before = await simulator.recordedRequests().count
        let usageBefore = ProcessUsage.now()

        // 3. Throughput: every order shipped as soon as the WMS sees it.
        let started = ContinuousClock.now
        var placed: Set<String> = []
        for _ in 0..<orders { placed.insert(try await place()) }
        let expected = placed
        let wms = Task { try await shipEach(api, expected) }
        let deadline = ContinuousClock.now + .seconds(max(300, Double(orders) * (amazonRates ? 8 : 0.5)))
        var shipped = 0
        while ContinuousClock.now < deadline {
            shipped = await simulator.groundTruth().mfnOrders.filter {
                expected.contains($0.id) && $0.status == "SHIPPED"
            }.count
            if shipped == orders { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let seconds = (ContinuousClock.now - started).seconds
        wms.cancel()
        _ = await wms.result
        let requests = await simulator.recordedRequests(after: before).filter { Self.operations.contains($0.operation) }
        let usage = ProcessUsage.now()
        await node.stop()
        return Report(
            orders: orders,
            amazonRates: amazonRates,
            seconds: seconds,
            shipped: shipped,
            callsPerOrder: Double(requests.count) / Double(max(1, orders)),
            callsByOperation: Dictionary(grouping: requests, by: \.operation).mapValues {
                Double($0.count) / Double(max(1, orders))
            },
            notificationLatencies: notificationLatencies,
            pollLatencies: pollLatencies,
            pollInterval: pollInterval.seconds,
            cpuSeconds: usage.cpuSeconds - usageBefore.cpuSeconds,
            peakMemoryMegabytes: usage.peakMemoryMegabytes
        )
    }

    /// The WMS's part: each order, once the API has it, shipped in one package of every line.
    private func shipEach(_ api: BenchAPI, _ orders: Set<String>) async throws {
        var waiting = orders
        while !Task.isCancelled, !waiting.isEmpty {
            for id in waiting.sorted() {
                let response = try await HTTPClient.bench.execute(api.request("/orders/\(id)"), timeout: .seconds(10))
                let body = try await response.body.collect(upTo: 1 << 22)
                guard response.status == .ok,
                    let detail = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any],
                    let lines = detail["lines"] as? [[String: Any]]
                else { continue }
                let items = lines.compactMap { line -> String? in
                    guard let id = line["lineItemId"] as? String, let quantity = line["quantity"] as? Int else {
                        return nil
                    }
                    return #"{"lineItemId":"\#(id)","quantity":\#(quantity)}"#
                }
                var request = api.request("/orders/\(id)/commands")
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.headers.add(name: "Idempotency-Key", value: "\(id):ship")
                request.body = .bytes(
                    ByteBuffer(
                        string: #"{"type":"ship","trackingId":"1Z\#(id)","items":[\#(items.joined(separator: ","))]}"#
                    )
                )
                let answer = try await HTTPClient.bench.execute(request, timeout: .seconds(30))
                _ = try await answer.body.collect(upTo: 1 << 20)
                if answer.status == .accepted || answer.status == .ok { waiting.remove(id) }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    private func waitVisible(_ api: BenchAPI, _ id: String, timeout: Duration) async throws -> Bool {
        let giveUp = ContinuousClock.now + timeout
        while ContinuousClock.now < giveUp {
            let response = try await HTTPClient.bench.execute(api.request("/orders/\(id)"), timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 22)
            if response.status == .ok { return true }
            try await Task.sleep(for: .milliseconds(5))
        }
        return false
    }
}

/// Amazon's ship-service levels the simulator's orders carry.
enum MFNWorldLevels {
    static let all = ["Standard", "Expedited", "SecondDay", "NextDay"]
}
