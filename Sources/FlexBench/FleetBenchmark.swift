import AmazonSimulator
import AsyncHTTPClient
import FlexBridgeApp
import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `flexbridge bench fleet`: many sellers on one node. The simulator runs in this process at Amazon's rates, each
/// seller with its own tokens, location, SKUs and throttling buckets; the FlexBridge node is a `flexbridge serve`
/// child process, so that its CPU time and memory are its own. Each seller has a stock SKU (`S-i`, which the WMS
/// stand-in changes) and an order SKU (`O-i`, which the generated orders draw from, so that no reservation moves the
/// stock SKU's number on its way to Amazon).
///
/// 1. Set-up: the sellers' connections are written to the node's store before it starts; the time until every
///    seller's order poll has reached the simulator is reported.
/// 2. Idle: nothing happens for `idleSeconds`; the node's CPU and the Amazon calls per seller and minute are what a
///    connection costs with no work.
/// 3. Load, for `loadSeconds`: every seller's stock changes `stockChangesPerSecond` times a second (the WMS sends
///    each 100 ms the changes of those 100 ms in one `PUT /api/v1/stock`), and `ordersPerMinute` orders a minute
///    arrive per seller with Amazon's notification, which the WMS stand-in carries through confirm, pack, label and
///    ship as their events arrive. Measured: from the PUT's send to the simulator receiving that number (or a later
///    one: a number overtaken before it left is served by the later one); from an order's creation to its
///    `order.created` event read in the feed (the order is in the API in the same transaction).
public struct FleetBenchmark: Sendable {
    public var connections: Int
    public var idleSeconds: Double
    public var loadSeconds: Double
    /// Stock changes a second, per seller.
    public var stockChangesPerSecond: Double
    /// New orders a minute, per seller.
    public var ordersPerMinute: Double
    /// A PostgreSQL URL of an empty database; nil for an SQLite file in a temporary folder.
    public var database: String?
    /// A shared library the node runs with (`LD_PRELOAD`): another `malloc`, such as jemalloc.
    public var preload: String?

    public init(
        connections: Int,
        idleSeconds: Double = 300,
        loadSeconds: Double = 120,
        stockChangesPerSecond: Double = 1,
        ordersPerMinute: Double = 1,
        database: String? = nil,
        preload: String? = nil
    ) {
        self.connections = connections
        self.idleSeconds = idleSeconds
        self.loadSeconds = loadSeconds
        self.stockChangesPerSecond = stockChangesPerSecond
        self.ordersPerMinute = ordersPerMinute
        self.database = database
        self.preload = preload
    }

    public struct Report: Sendable, CustomStringConvertible {
        public var connections: Int
        public var database: String
        /// The node's `malloc`, as it reports it in `flexbridge_build_info`.
        public var allocator: String
        public var cores: Int
        public var setupSeconds: Double
        public var idleSeconds: Double
        public var idleCPU: Double
        public var idleCallsPerSellerMinute: Double
        public var idleCallsByOperation: [String: Double]
        public var idleMemoryMegabytes: Double
        public var loadSeconds: Double
        public var stockChangesPerSecond: Double
        public var ordersPerMinute: Double
        public var stockWrites: Int
        public var failedRequests: Int
        public var stockLatencies: [Double]
        public var ordersGenerated: Int
        public var notificationLatencies: [Double]
        public var ordersShipped: Int
        public var loadCPU: Double
        public var benchCPU: Double
        public var loadCallsPerSecond: Double
        public var throttled: Int
        public var peakMemoryMegabytes: Double

        public var description: String {
            func ms(_ values: [Double], _ p: Double) -> String {
                String(format: "%.0f ms", percentile(values, p) * 1000)
            }
            func share(_ cores: Double) -> String {
                String(
                    format: "%.2f cores = %.0f%% of this machine's %d",
                    cores,
                    100 * cores / Double(self.cores),
                    self.cores
                )
            }
            let byOperation = idleCallsByOperation.sorted { $0.value > $1.value }.map {
                "\($0.key) \(String(format: "%.2f", $0.value))"
            }.joined(separator: ", ")
            return """
                \(connections) sellers on one node (\(database), \(allocator) malloc), the simulator at Amazon's rates
                  set-up                    every seller's order poll at Amazon \(String(format: "%.1f", setupSeconds)) s after the node started
                  idle, \(String(format: "%.0f", idleSeconds)) s               node CPU \(share(idleCPU)); \(String(format: "%.1f", idleCallsPerSellerMinute)) Amazon calls a minute per seller (\(byOperation)); node memory \(String(format: "%.0f", idleMemoryMegabytes)) MB
                  load, \(String(format: "%.0f", loadSeconds)) s               per seller \(String(format: "%g", stockChangesPerSecond)) stock change/s and \(String(format: "%g", ordersPerMinute)) order/min: \(stockWrites) stock changes, \(ordersGenerated) orders
                  stock change → Amazon     p50 \(ms(stockLatencies, 0.5)), p99 \(ms(stockLatencies, 0.99)), max \(ms(stockLatencies, 1)) over \(stockLatencies.count) of \(stockWrites) changes
                  notification → API        p50 \(ms(notificationLatencies, 0.5)), p99 \(ms(notificationLatencies, 0.99)), max \(ms(notificationLatencies, 1)) over \(notificationLatencies.count) of \(ordersGenerated) orders
                  orders shipped at Amazon  \(ordersShipped) of \(ordersGenerated) by the end of the run
                  node under load           CPU \(share(loadCPU)); peak memory \(String(format: "%.0f", peakMemoryMegabytes)) MB; \(String(format: "%.0f", loadCallsPerSecond)) Amazon calls/s, \(throttled) answered 429
                  this process              CPU \(share(benchCPU)) (the simulator, the WMS stand-in, the generators)
                  failed API requests       \(failedRequests)
                """
        }
    }

    static let secret = "bench-fleet-notification-secret"

    static func merchant(_ index: Int) -> String { String(format: "A1FLEET%05d", index) }

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
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "flexbridge-fleet-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        // The sellers at Amazon, then in the node's store.
        var locations: [String] = []
        var refreshTokens: [String] = []
        for index in 0..<connections {
            let merchant = Self.merchant(index)
            locations.append(
                await simulator.ensureLocation(
                    merchantID: merchant,
                    name: "Fleet \(index)",
                    marketplaceID: BenchNode.marketplace,
                    channel: "MFN"
                )
            )
            try await simulator.addListings(
                merchantID: merchant,
                marketplaceID: BenchNode.marketplace,
                skus: ["S-\(index)", "O-\(index)"]
            )
            refreshTokens.append(try await simulator.authorize(merchantID: merchant))
        }
        let masterKey = MasterKey.generate()
        let databaseText = database ?? folder.appendingPathComponent("fleet.sqlite").path
        let databaseURL = try DatabaseURL(parsing: databaseText)
        let port = try freePort()
        var configuration = FlexBridgeConfiguration(database: databaseURL, masterKey: .value(masterKey), port: port)
        configuration.outbound = .localDevelopment
        let store = try await Store.open(configuration.storeConfiguration, logger: logger)
        guard try await store.read({ try await $0.connections() }).isEmpty else {
            try? await store.close()
            throw StartupError(message: "the database already holds connections; bench fleet needs an empty one")
        }
        let key = try await AccessUseCases(store: store).createKey(
            name: "bench",
            role: .wms,
            connections: nil,
            by: .node()
        ).secret
        for start in stride(from: 0, to: connections, by: 50) {
            try await store.transaction { session in
                for index in start..<min(connections, start + 50) {
                    let connection = Connection(
                        name: "Fleet \(index)",
                        sellingPartnerID: SellingPartnerID(rawValue: Self.merchant(index)),
                        region: .eu,
                        marketplaceIDs: [MarketplaceID(rawValue: BenchNode.marketplace)],
                        applicationClientID: simulatorConfiguration.clientID,
                        endpointOverride: amazon.base,
                        createdAt: Date()
                    )
                    try await session.insertConnection(
                        connection,
                        clientSecret: simulatorConfiguration.clientSecret,
                        actor: "bench"
                    )
                    try await session.authorize(connection.id, refreshToken: refreshTokens[index], actor: "bench")
                    try await session.setLocationMapping(
                        LocationMapping(
                            connectionID: connection.id,
                            hub: HubCode(rawValue: "H\(index)"),
                            locationID: LocationID(rawValue: locations[index]),
                            channel: .mfn,
                            createdAt: Date()
                        ),
                        actor: "bench"
                    )
                    try await session.upsertListings(
                        ["S-\(index)", "O-\(index)"].map {
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
            }
        }
        try await store.close()

        // The node.
        let node = try NodeProcess.start(
            environment: [
                "FLEXBRIDGE_DATABASE_URL": databaseText,
                "FLEXBRIDGE_MASTER_KEY": masterKey,
                "FLEXBRIDGE_HOST": "127.0.0.1",
                "FLEXBRIDGE_PORT": "\(port)",
                "FLEXBRIDGE_NODE_ID": "fleet",
                "FLEXBRIDGE_NOTIFICATION_SECRET": Self.secret,
                "FLEXBRIDGE_ALLOW_PRIVATE_ADDRESSES": "true",
                "FLEXBRIDGE_LOG_LEVEL": "warning",
            ].merging(preload.map { ["LD_PRELOAD": $0] } ?? [:]) { $1 },
            log: folder.appendingPathComponent("serve.log")
        )
        defer { node.stop() }
        let started = ContinuousClock.now
        let api = BenchAPI(base: "http://127.0.0.1:\(port)/api/v1", key: key)
        try await node.waitUntilHealthy(port: port, timeout: .seconds(120))
        let allocator = try await node.allocator(port: port)
        if let preload, allocator == "system" {
            throw StartupError(message: "the node runs on the C library's malloc, not on \(preload); \(node.logTail())")
        }
        let merchants = Set((0..<connections).map(Self.merchant))
        var polled: Set<String> = []
        var scanned = 0
        let setupLimit = Duration.seconds(60 + connections / 2)
        while polled.count < connections {
            guard ContinuousClock.now - started < setupLimit else {
                throw StartupError(
                    message:
                        "only \(polled.count) of \(connections) sellers were polled within \(setupLimit); \(node.logTail())"
                )
            }
            try node.checkAlive()
            let fresh = await simulator.recordedRequests(after: scanned)
            scanned += fresh.count
            for request in fresh where request.operation == "getShipments" {
                if let merchant = request.merchantID, merchants.contains(merchant) { polled.insert(merchant) }
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        let setupSeconds = (ContinuousClock.now - started).seconds
        // The order SKUs' stock, before anything is measured.
        try await putStock(api, (0..<connections).map { ("H\($0)", "O-\($0)", 1_000_000) })
        // Let the first rounds (every status, every return status, the first pushes) end.
        try await Task.sleep(for: .seconds(20))

        // 2. Idle.
        let idleBefore = (try node.cpuSeconds(), await simulator.recordedRequestCount)
        try await Task.sleep(for: .seconds(idleSeconds))
        let idleCPU = (try node.cpuSeconds() - idleBefore.0) / idleSeconds
        let idleRequests = await simulator.recordedRequests(after: idleBefore.1)
        let minutes = idleSeconds / 60
        let idleCallsByOperation = Dictionary(grouping: idleRequests, by: \.operation).mapValues {
            Double($0.count) / Double(connections) / minutes
        }
        let idleMemory = try node.memoryMegabytes().current

        // 3. Load.
        _ = try await simulator.addNotificationDestination(
            url: "http://127.0.0.1:\(port)/notifications/amazon",
            headerName: "x-api-key",
            secret: Self.secret
        )
        let ledger = FleetLedger(connections: connections)
        let standIn = WMSStandIn(api: api)
        let cursor = try await standIn.lastSequence()
        let wms = Task {
            try await standIn.run(
                after: cursor,
                handles: { _ in true },
                observe: { type, id in if type == "order.created" { ledger.seen(id) } },
                until: { _ in false }
            )
        }
        let loadBefore = (try node.cpuSeconds(), ProcessUsage.now().cpuSeconds, await simulator.recordedRequestCount)
        let loadStart = ContinuousClock.now
        scanned = loadBefore.2
        try await withThrowingTaskGroup(of: Void.self) { group in
            let writes = AsyncSemaphore(8)
            var nextStock = (0..<connections).map { Double($0) / Double(connections) / stockChangesPerSecond }
            var nextOrder = (0..<connections).map { Double($0) / Double(connections) * 60 / ordersPerMinute }
            var tick = 0
            while true {
                let now = (ContinuousClock.now - loadStart).seconds
                guard now < loadSeconds else { break }
                var items: [(hub: String, sku: String, quantity: Int)] = []
                for index in 0..<connections where stockChangesPerSecond > 0 && nextStock[index] <= now {
                    nextStock[index] += 1 / stockChangesPerSecond
                    items.append(("H\(index)", "S-\(index)", ledger.nextQuantity(index)))
                }
                if !items.isEmpty {
                    await writes.wait()
                    group.addTask {
                        defer { writes.signal() }
                        let sent = Date()
                        do {
                            try await putStock(api, items)
                            for item in items {
                                ledger.sent(Int(item.sku.dropFirst(2))!, quantity: item.quantity, at: sent)
                            }
                        } catch {
                            ledger.failed()
                        }
                    }
                }
                for index in 0..<connections where ordersPerMinute > 0 && nextOrder[index] <= now {
                    nextOrder[index] += 60 / ordersPerMinute
                    let id = try await simulator.generateOrder(
                        merchantID: Self.merchant(index),
                        locationID: locations[index],
                        skus: ["O-\(index)"]
                    )
                    ledger.created(id)
                }
                tick += 1
                if tick % 5 == 0 {
                    scanned = await scanArrivals(simulator, after: scanned, into: ledger)
                    try node.checkAlive()
                }
                let next = loadStart + .milliseconds(100 * (Int((now * 10).rounded(.down)) + 1))
                try await Task.sleep(until: next, clock: .continuous)
            }
            try await group.waitForAll()
        }
        let loadElapsed = (ContinuousClock.now - loadStart).seconds
        let loadCPU = (try node.cpuSeconds() - loadBefore.0) / loadElapsed
        let benchCPU = (ProcessUsage.now().cpuSeconds - loadBefore.1) / loadElapsed
        let loadRequests = await simulator.recordedRequestCount - loadBefore.2
        // What was sent last arrives, and the orders in flight ship.
        let drainEnd = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < drainEnd {
            scanned = await scanArrivals(simulator, after: scanned, into: ledger)
            if ledger.allArrived() && ledger.allSeen() { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        try await Task.sleep(for: .seconds(10))
        wms.cancel()
        _ = await wms.result
        let generated = ledger.generatedIDs()
        let shipped = await simulator.groundTruth().shipments.filter {
            generated.contains($0.id) && ($0.status == "SHIPPED" || $0.status == "DELIVERED")
        }.count
        let throttled = await simulator.recordedRequests(after: loadBefore.2).filter { $0.status == 429 }.count
        let memory = try node.memoryMegabytes()
        return Report(
            connections: connections,
            database: database == nil ? "SQLite" : "PostgreSQL",
            allocator: allocator,
            cores: ProcessInfo.processInfo.activeProcessorCount,
            setupSeconds: setupSeconds,
            idleSeconds: idleSeconds,
            idleCPU: idleCPU,
            idleCallsPerSellerMinute: Double(idleRequests.count) / Double(connections) / minutes,
            idleCallsByOperation: idleCallsByOperation,
            idleMemoryMegabytes: idleMemory,
            loadSeconds: loadElapsed,
            stockChangesPerSecond: stockChangesPerSecond,
            ordersPerMinute: ordersPerMinute,
            stockWrites: ledger.writes,
            failedRequests: ledger.failures,
            stockLatencies: ledger.stockLatencies(),
            ordersGenerated: generated.count,
            notificationLatencies: ledger.notificationLatencies(),
            ordersShipped: shipped,
            loadCPU: loadCPU,
            benchCPU: benchCPU,
            loadCallsPerSecond: Double(loadRequests) / loadElapsed,
            throttled: throttled,
            peakMemoryMegabytes: memory.peak
        )
    }

    /// Notes the stock numbers the simulator received since `after`; returns the log's new end.
    private func scanArrivals(_ simulator: Simulator, after: Int, into ledger: FleetLedger) async -> Int {
        let fresh = await simulator.recordedRequests(after: after)
        for request in fresh where request.operation == "batchInventory" && request.status == 207 {
            guard let body = request.body?.data(using: .utf8),
                let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
                let requests = object["requests"] as? [[String: Any]]
            else { continue }
            for item in requests {
                guard let uri = item["uri"] as? String, let query = URLComponents(string: uri)?.queryItems,
                    let sku = query.first(where: { $0.name == "skuId" })?.value, sku.hasPrefix("S-"),
                    let index = Int(sku.dropFirst(2)),
                    let quantity = (item["body"] as? [String: Any])?["quantity"] as? Int
                else { continue }
                ledger.arrived(index, quantity: quantity, at: request.time)
            }
        }
        return after + fresh.count
    }

    private func putStock(_ api: BenchAPI, _ items: [(hub: String, sku: String, quantity: Int)]) async throws {
        let body = items.map { #"{"hub":"\#($0.hub)","sku":"\#($0.sku)","quantity":\#($0.quantity)}"# }
        try await api.putStock(body: #"{"items":[\#(body.joined(separator: ","))]}"#)
    }
}

/// What the fleet benchmark sent and saw, shared by its tasks.
final class FleetLedger: Sendable {
    private struct State {
        /// Per seller: the last stock number given, the numbers sent with their times, the numbers Amazon received.
        var lastQuantity: [Int]
        var sent: [[(quantity: Int, at: Date)]]
        var arrived: [[(quantity: Int, at: Date)]]
        var created: [String: Date] = [:]
        var seenLatencies: [String: Double] = [:]
        var failures = 0
    }

    private let state: Mutex<State>

    init(connections: Int) {
        state = Mutex(
            State(
                lastQuantity: Array(repeating: 0, count: connections),
                sent: Array(repeating: [], count: connections),
                arrived: Array(repeating: [], count: connections)
            )
        )
    }

    func nextQuantity(_ index: Int) -> Int {
        state.withLock { state in
            state.lastQuantity[index] += 1
            return state.lastQuantity[index]
        }
    }

    func sent(_ index: Int, quantity: Int, at date: Date) {
        state.withLock { $0.sent[index].append((quantity, date)) }
    }

    func arrived(_ index: Int, quantity: Int, at date: Date) {
        state.withLock { $0.arrived[index].append((quantity, date)) }
    }

    func failed() { state.withLock { $0.failures += 1 } }

    func created(_ id: String) { state.withLock { $0.created[id] = Date() } }

    func seen(_ id: String) {
        let now = Date()
        state.withLock { state in
            guard let created = state.created[id], state.seenLatencies[id] == nil else { return }
            state.seenLatencies[id] = now.timeIntervalSince(created)
        }
    }

    var writes: Int { state.withLock { $0.sent.reduce(0) { $0 + $1.count } } }
    var failures: Int { state.withLock { $0.failures } }

    func generatedIDs() -> Set<String> { state.withLock { Set($0.created.keys) } }

    func allSeen() -> Bool { state.withLock { $0.seenLatencies.count == $0.created.count } }

    /// Whether every seller's last number sent has reached the simulator.
    func allArrived() -> Bool {
        state.withLock { state in
            zip(state.sent, state.arrived).allSatisfy { sent, arrived in
                guard let last = sent.last?.quantity else { return true }
                return arrived.contains { $0.quantity >= last }
            }
        }
    }

    /// Per number sent, the time until the simulator received it or a later one of the same seller; numbers never
    /// received are left out (the report says how many arrived).
    func stockLatencies() -> [Double] {
        state.withLock { state in
            var latencies: [Double] = []
            for (sent, arrived) in zip(state.sent, state.arrived) {
                let arrivals = arrived.sorted { $0.at < $1.at }
                for write in sent {
                    if let arrival = arrivals.first(where: { $0.quantity >= write.quantity && $0.at >= write.at }) {
                        latencies.append(arrival.at.timeIntervalSince(write.at))
                    }
                }
            }
            return latencies
        }
    }

    func notificationLatencies() -> [Double] { state.withLock { Array($0.seenLatencies.values) } }
}

/// A counting semaphore for tasks.
final class AsyncSemaphore: Sendable {
    private struct State {
        var available: Int
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(_ count: Int) { state = Mutex(State(available: count)) }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state in
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiters.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst()
        }
        waiter?.resume()
    }
}

/// A `flexbridge serve` child process of this executable, for benchmarks that measure the node alone.
struct NodeProcess: Sendable {
    let process: Process
    let log: URL

    static func start(environment: [String: String], log: URL) throws -> NodeProcess {
        let process = Process()
        process.executableURL = URL(
            fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        )
        process.arguments = ["serve"]
        var inherited = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("FLEXBRIDGE_") }
        inherited.merge(environment) { $1 }
        process.environment = inherited
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let output = try FileHandle(forWritingTo: log)
        process.standardOutput = output
        process.standardError = output
        try process.run()
        return NodeProcess(process: process, log: log)
    }

    func waitUntilHealthy(port: Int, timeout: Duration) async throws {
        let giveUp = ContinuousClock.now + timeout
        while ContinuousClock.now < giveUp {
            try checkAlive()
            if let response = try? await HTTPClient.bench.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(port)/health"),
                timeout: .seconds(5)
            ), response.status == .ok {
                return
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw StartupError(message: "the node did not answer /health within \(timeout); \(logTail())")
    }

    /// The node's `malloc`: the `allocator` label of its `flexbridge_build_info`.
    func allocator(port: Int) async throws -> String {
        let response = try await HTTPClient.bench.execute(
            HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"),
            timeout: .seconds(10)
        )
        let text = String(buffer: try await response.body.collect(upTo: 16 << 20))
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flexbridge_build_info{") }),
            let label = line.firstRange(of: "allocator=\""),
            let end = line[label.upperBound...].firstIndex(of: "\"")
        else {
            throw StartupError(message: "the node's /metrics names no allocator in flexbridge_build_info")
        }
        return String(line[label.upperBound..<end])
    }

    func checkAlive() throws {
        guard process.isRunning else {
            throw StartupError(message: "the node exited (\(process.terminationStatus)); \(logTail())")
        }
    }

    func logTail() -> String {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return "its log ends:\n" + text.split(separator: "\n").suffix(20).joined(separator: "\n")
    }

    /// User and system CPU time so far, from /proc.
    func cpuSeconds() throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8)
        // The fields after the command name, which is in parentheses and may hold spaces: utime and stime are the
        // 14th and 15th of the whole line.
        guard let close = stat.lastIndex(of: ")") else { throw StartupError(message: "unreadable /proc stat") }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else {
            throw StartupError(message: "unreadable /proc stat")
        }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Resident memory now and at its peak, from /proc.
    func memoryMegabytes() throws -> (current: Double, peak: Double) {
        let status = try String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
        func kilobytes(_ field: String) -> Double {
            let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
            return Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        return (kilobytes("VmRSS") / 1024, kilobytes("VmHWM") / 1024)
    }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        let giveUp = Date().addingTimeInterval(30)
        while process.isRunning, Date() < giveUp { usleep(100_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

/// A TCP port free on the loopback interface now.
func freePort() throws -> Int {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard socket >= 0 else { throw StartupError(message: "no socket for a free port") }
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
            bind(socket, pointer, length) == 0 && getsockname(socket, pointer, &length) == 0
        }
    }
    guard bound else { throw StartupError(message: "no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}
