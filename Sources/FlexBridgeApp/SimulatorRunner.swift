import AmazonSimulator
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import UnixSignals

/// `flexbridge simulate`: the Amazon simulator as a process, printing the test application's credentials and every
/// endpoint once it listens.
public struct SimulatorRunner: Sendable {
    public var host: String
    public var port: Int
    public var configuration: Simulator.Configuration
    public var ordersPerMinute: Double
    public var merchantID: String

    public init(
        host: String,
        port: Int,
        configuration: Simulator.Configuration,
        ordersPerMinute: Double,
        merchantID: String
    ) {
        self.host = host
        self.port = port
        self.configuration = configuration
        self.ordersPerMinute = ordersPerMinute
        self.merchantID = merchantID
    }

    public func run(logger: Logger) async throws {
        let simulator = Simulator(configuration: configuration, logger: logger)
        if ordersPerMinute > 0 {
            _ = await simulator.ensureLocation(
                merchantID: merchantID,
                name: "Simulated warehouse",
                marketplaceID: "A21TJRUUN4KGV",
                channel: "MFN"
            )
            do {
                try await simulator.setOrderGenerator(ordersPerMinute: ordersPerMinute, merchantID: merchantID)
            } catch {
                throw StartupError(message: error.message)
            }
        }
        let configuration = self.configuration
        let host = self.host
        let ordersPerMinute = self.ordersPerMinute
        let merchantID = self.merchantID
        let application = try await SimulatorServer.makeApplication(
            simulator: simulator,
            host: host,
            port: port,
            logger: logger
        ) { channel in
            let base = "http://\(host):\(channel.localAddress?.port ?? 0)"
            FileHandle.standardOutput.write(
                Data(
                    """
                    Amazon simulator listening on \(base)
                      Test application   client id \(configuration.clientID)
                                         client secret \(configuration.clientSecret)
                      SP-API endpoint    \(base)  (Amazon's paths: /externalFulfillment/…)
                      LWA token          \(base)/auth/o2/token
                      Consent page       \(base)/apps/authorize/consent?application_id=\(configuration.clientID)&state=STATE&redirect_uri=URL
                      Refresh token      curl -X POST \(base)/_simulator/authorizations -d '{"merchantId":"\(merchantID)"}'
                      Ground truth       \(base)/_simulator/state  and  \(base)/_simulator/requests
                      Throttling         \(configuration.throttling ? "Amazon's default rates" : "off")
                      Faults             500: \(configuration.faults.internalErrorRate), 503: \(configuration.faults.unavailableRate), dropped: \(configuration.faults.dropAfterApplyRate)
                      Orders per minute  \(ordersPerMinute > 0 ? "\(ordersPerMinute) for \(merchantID)" : "none (POST /_simulator/orders makes some)")
                    Control path documented in docs/simulator.md. Stop with Ctrl-C.

                    """.utf8
                )
            )
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: application)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger
            )
        )
        do {
            try await group.run()
        } catch {
            throw StartupError.explain(error, host: host, port: port)
        }
    }
}
