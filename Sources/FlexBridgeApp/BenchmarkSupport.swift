import AmazonSimulator
import Foundation
import Logging
import NIOCore
import ServiceLifecycle

/// What the benchmarks share: the simulator in this process, CPU and memory readings, percentiles.

/// The simulator served on a free loopback port inside this process, for benchmarks.
struct InProcessSimulator {
    let simulator: Simulator
    let base: URL
    private let server: Task<Void, any Error>

    static func start(_ simulator: Simulator, logger: Logger) async throws -> InProcessSimulator {
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let application = try await SimulatorServer.makeApplication(simulator: simulator, host: "127.0.0.1", port: 0, logger: logger) { channel in
            portContinuation.yield(channel.localAddress?.port ?? 0)
        }
        let server = Task { try await application.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            server.cancel()
            throw StartupError(message: "the simulator did not start")
        }
        return InProcessSimulator(simulator: simulator, base: URL(string: "http://127.0.0.1:\(port)")!, server: server)
    }

    func stop() {
        server.cancel()
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// CPU time and peak memory of this process so far.
struct ProcessUsage {
    var cpuSeconds: Double
    var peakMemoryMegabytes: Double

    static func now() -> ProcessUsage {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let cpu = Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        return ProcessUsage(cpuSeconds: cpu, peakMemoryMegabytes: Double(usage.ru_maxrss) / 1024)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

/// The value below which a share `p` of `values` lies (nearest rank).
func percentile(_ values: [Double], _ p: Double) -> Double {
    guard !values.isEmpty else { return 0 }
    let sorted = values.sorted()
    return sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))]
}
