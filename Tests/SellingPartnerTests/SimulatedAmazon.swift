import AmazonEFLocation
import AmazonEFShipments
import AmazonSimulator
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SellingPartner

/// The simulator on a free loopback port, and a SellingPartner client for one of its sellers.
struct SimulatedAmazon: Sendable {
    static let merchant = "A1SIMSELLER"
    let simulator: Simulator
    let base: URL
    let application: ApplicationCredentials

    static func run<T: Sendable>(
        configuration: Simulator.Configuration = Simulator.Configuration(throttling: false),
        _ body: @Sendable (SimulatedAmazon) async throws -> T
    ) async throws -> T {
        let simulator = Simulator(configuration: configuration)
        let app = try await SimulatorServer.makeApplication(
            simulator: simulator,
            host: "127.0.0.1",
            port: 0,
            logger: Logger(label: "simulator")
        )
        return try await app.test(.live) { client in
            try await body(
                SimulatedAmazon(
                    simulator: simulator,
                    base: URL(string: "http://127.0.0.1:\(client.port!)")!,
                    application: ApplicationCredentials(
                        clientID: configuration.clientID,
                        clientSecret: configuration.clientSecret
                    )
                )
            )
        }
    }

    var login: LoginWithAmazon {
        LoginWithAmazon(tokenEndpoint: base.appendingPathComponent("auth/o2/token"), application: application)
    }

    /// A client for the merchant, with a fresh refresh token; sleeping is skipped unless `sleeps` is true.
    func client(
        merchant: String = merchant,
        configuration: SellingPartnerClient.Configuration = .init(),
        sleeps: Bool = false
    ) async throws -> SellingPartnerClient {
        let refreshToken = try await simulator.authorize(merchantID: merchant)
        let sleep: @Sendable (Double) async throws -> Void = { seconds in
            if sleeps { try await Task.sleep(for: .seconds(seconds)) }
        }
        return SellingPartnerClient(
            endpoint: .custom(base),
            login: login,
            refreshToken: refreshToken,
            configuration: configuration,
            sleep: sleep
        )
    }

    /// A sandbox location and an ACCEPTED shipment at it, through the client.
    func shipment(using client: SellingPartnerClient) async throws -> String {
        let location = try await client.locations.createSandboxLocation(
            body: .json(
                .init(
                    merchantIds: [Self.merchant],
                    marketplaceId: "A21TJRUUN4KGV",
                    channels: [.mfn],
                    locationName: UUID().uuidString
                )
            )
        ).created.body.json.locationIds.mfn!
        return try await client.shipments.createSandboxShipment(
            body: .json(
                .init(
                    locationId: location,
                    marketplaceId: "A21TJRUUN4KGV",
                    marketplaceChannel: .mfn,
                    shippingType: .marketplace
                )
            )
        ).ok.body.json.shipmentId
    }
}
