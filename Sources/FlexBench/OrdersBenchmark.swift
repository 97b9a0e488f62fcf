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
import NIOFoundationCompat
import NIOHTTP1
import Prometheus
import ServiceLifecycle

/// `flexbridge bench orders`: orders from Amazon to handover, end to end. A FlexBridge node (HTTP API with the
/// notification endpoint, store on a fresh SQLite file, lease keeper, order and fulfilment workers) and the simulator
/// run in this process. The simulator does not throttle and advertises high rates, so FlexBridge's own speed is
/// measured, not Amazon's default limits.
///
/// 1. Latency from notification: orders are generated one at a time with a notification destination pointing at
///    the node; the time until `GET /api/v1/orders/{id}` finds each is measured.
/// 2. Latency when polling only: the destination is removed; the same, which the poll interval bounds.
/// 3. Throughput: `orders` are generated at once while a WMS stand-in reads the event feed and sends confirm, pack,
///    label and ship for each over HTTP, each step once the event of the one before arrives; the time until every
///    one is SHIPPED at the simulator gives orders/s, the spread of the shipping times the sustained rate.
public struct OrdersBenchmark: Sendable {
    public var orders: Int
    public var notificationSamples: Int
    public var pollSamples: Int
    /// Whether the simulator throttles at Amazon's default rates instead of answering everything.
    public var amazonRates: Bool

    public init(orders: Int, notificationSamples: Int = 100, pollSamples: Int = 5, amazonRates: Bool = false) {
        self.orders = orders
        self.notificationSamples = notificationSamples
        self.pollSamples = pollSamples
        self.amazonRates = amazonRates
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var orders: Int
        public var amazonRates: Bool
        public var seconds: Double
        /// Orders shipped a second between the 10th and the 90th percentile of the shipping times: the rate once
        /// the pipeline is full, without its filling and draining.
        public var sustained: Double
        /// Per step, seconds from the WMS's command to Amazon's acceptance (p50, p90).
        public var stages: [(step: String, p50: Double, p90: Double)]
        public var shipped: Int
        public var callsPerOrder: Double
        /// Calls per order, by operation.
        public var callsByOperation: [String: Double]
        public var notificationLatencies: [Double]
        public var pollLatencies: [Double]
        public var pollInterval: Double
        public var cpuSeconds: Double
        public var peakMemoryMegabytes: Double

        public var description: String {
            func ms(_ value: Double) -> String { String(format: "%.0f ms", value * 1000) }
            func s(_ value: Double) -> String { String(format: "%.1f s", value) }
            return """
                \(orders) orders generated at the simulator (\(amazonRates ? "Amazon's default rates, throttled" : "no throttling")), confirmed, packed, labelled and shipped through the API
                  all shipped at Amazon     \(s(seconds)) after the first was generated → \(String(format: "%.2f", Double(orders) / seconds)) orders/s
                  sustained                 \(String(format: "%.2f", sustained)) orders/s (10th to 90th percentile of the shipping times)
                  each step, command → done \(stages.map { "\($0.step) p50 \(s($0.p50)), p90 \(s($0.p90))" }.joined(separator: "; "))
                  shipped                   \(shipped) of \(orders)
                  Amazon calls per order    \(String(format: "%.1f", callsPerOrder)): \(callsByOperation.sorted { $0.value > $1.value }.map { "\($0.key) \(String(format: "%.2f", $0.value))" }.joined(separator: ", "))
                  notification → in the API p50 \(ms(percentile(notificationLatencies, 0.5))), p99 \(ms(percentile(notificationLatencies, 0.99))), max \(ms(notificationLatencies.max() ?? 0)) over \(notificationLatencies.count) orders
                  creation → in the API, polling only (every \(s(pollInterval)))
                                            p50 \(s(percentile(pollLatencies, 0.5))), max \(s(pollLatencies.max() ?? 0)) over \(pollLatencies.count) orders
                  process                   \(s(cpuSeconds)) CPU, peak memory \(String(format: "%.0f", peakMemoryMegabytes)) MB (FlexBridge and the simulator)
                """
        }
    }

    static let merchant = "A1BENCHORDERS"
    static let secret = "bench-notification-secret-0123"
    static let shipmentOperations = [
        "getShipments", "getShipment", "processShipment", "createPackages", "retrieveShippingOptions",
        "generateInvoice", "retrieveInvoice",
        "generateShipLabels", "updatePackageStatus",
    ]

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
        if !amazonRates {
            for operation in Self.shipmentOperations {
                try await simulator.setRateLimit(RateLimit(rate: 1000, burst: 2000), operation: operation)
            }
        }
        let orderConfiguration = OrderWorker.Configuration()
        let node = try await BenchNode.start(
            amazon: amazon,
            simulatorConfiguration: simulatorConfiguration,
            merchant: Self.merchant,
            notificationSecret: Self.secret,
            orders: orderConfiguration,
            logger: logger
        )
        let (store, connection, locationID, api, port) = (
            node.store, node.connection, node.locationID, node.api, node.port
        )
        // Warm: the order worker has made its first poll of every status (which fetches the first access token).
        while try await store.read({
            try await $0.orderWatermark(connectionID: connection.id, locationID: locationID, status: "CANCELLED")
        }) == nil {
            try await Task.sleep(for: .milliseconds(50))
        }
        let destination = try await simulator.addNotificationDestination(
            url: "http://127.0.0.1:\(port)/notifications/amazon",
            headerName: "x-api-key",
            secret: Self.secret
        )

        // 1. From notification to the API.
        var notificationLatencies: [Double] = []
        for _ in 0..<notificationSamples {
            let id = try await simulator.generateOrder(merchantID: Self.merchant, locationID: locationID)
            let created = ContinuousClock.now
            if try await waitVisible(api, id, timeout: .seconds(30)) {
                notificationLatencies.append((ContinuousClock.now - created).seconds)
            }
            try await Task.sleep(for: .milliseconds(20))
        }

        // 2. Polling only.
        try await simulator.removeNotificationDestination(id: destination.id)
        var pollLatencies: [Double] = []
        for sample in 0..<pollSamples {
            // Spread over the poll cycle, so that the samples see the whole range of waits.
            try await Task.sleep(for: .milliseconds(Int64(1000 + (sample * 3700) % 15_000)))
            let id = try await simulator.generateOrder(merchantID: Self.merchant, locationID: locationID)
            let created = ContinuousClock.now
            if try await waitVisible(api, id, timeout: .seconds(60)) {
                pollLatencies.append((ContinuousClock.now - created).seconds)
            }
        }
        _ = try await simulator.addNotificationDestination(
            url: "http://127.0.0.1:\(port)/notifications/amazon",
            headerName: "x-api-key",
            secret: Self.secret
        )
        let before = await simulator.recordedRequests().count
        let usageBefore = ProcessUsage.now()

        // 3. Throughput through the whole flow.
        let cursor = try await WMSStandIn(api: api).lastSequence()
        let started = ContinuousClock.now
        var generated: Set<String> = []
        for _ in 0..<orders {
            generated.insert(try await simulator.generateOrder(merchantID: Self.merchant, locationID: locationID))
        }
        let expected = generated
        let wms = Task {
            try await WMSStandIn(api: api).run(after: cursor, handles: { expected.contains($0) }) {
                $0 >= expected.count
            }
        }
        let deadline = ContinuousClock.now + .seconds(max(120, Double(orders) * (amazonRates ? 3 : 0.5)))
        var shippedAt: [String: Double] = [:]
        while ContinuousClock.now < deadline, shippedAt.count < orders {
            let now = (ContinuousClock.now - started).seconds
            for shipment in await simulator.groundTruth().shipments
            where generated.contains(shipment.id) && shipment.status == "SHIPPED" && shippedAt[shipment.id] == nil {
                shippedAt[shipment.id] = now
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let seconds = (ContinuousClock.now - started).seconds
        wms.cancel()
        _ = await wms.result
        let times = shippedAt.values.sorted()
        var sustained = 0.0
        if times.count >= 10 {
            let (low, high) = (times.count / 10, times.count * 9 / 10 - 1)
            sustained = Double(high - low) / max(0.001, times[high] - times[low])
        }
        var stageSeconds: [CommandType: [Double]] = [:]
        for id in generated {
            for command in try await store.read({
                try await $0.commands(shipmentID: ShipmentID(rawValue: id), connectionID: connection.id)
            })
            where command.status == .succeeded {
                stageSeconds[command.request.type, default: []].append(
                    command.updatedAt.timeIntervalSince(command.createdAt)
                )
            }
        }
        let stages = [CommandType.confirm, .pack, .label, .ship].map { type in
            (
                step: type.rawValue, p50: percentile(stageSeconds[type] ?? [], 0.5),
                p90: percentile(stageSeconds[type] ?? [], 0.9)
            )
        }
        let requests = await simulator.recordedRequests(after: before).filter {
            Self.shipmentOperations.contains($0.operation)
        }
        let calls = requests.count
        let callsByOperation = Dictionary(grouping: requests, by: \.operation).mapValues {
            Double($0.count) / Double(max(1, orders))
        }
        let usage = ProcessUsage.now()
        await node.stop()
        return Report(
            orders: orders,
            amazonRates: amazonRates,
            seconds: seconds,
            sustained: sustained,
            stages: stages,
            shipped: shippedAt.count,
            callsPerOrder: Double(calls) / Double(max(1, orders)),
            callsByOperation: callsByOperation,
            notificationLatencies: notificationLatencies,
            pollLatencies: pollLatencies,
            pollInterval: orderConfiguration.pollInterval.seconds,
            cpuSeconds: usage.cpuSeconds - usageBefore.cpuSeconds,
            peakMemoryMegabytes: usage.peakMemoryMegabytes
        )
    }

    private func waitVisible(_ api: BenchAPI, _ id: String, timeout: Duration) async throws -> Bool {
        let giveUp = ContinuousClock.now + timeout
        while ContinuousClock.now < giveUp {
            let response = try await HTTPClient.bench.execute(
                api.request("/orders/\(id)"),
                timeout: .seconds(10)
            )
            _ = try await response.body.collect(upTo: 1 << 22)
            if response.status == .ok { return true }
            try await Task.sleep(for: .milliseconds(5))
        }
        return false
    }

}
