import AmazonEFInventory
import AmazonEFLocation
import AmazonEFReturns
import AmazonEFShipments
import AmazonFBAInventory
import AmazonFeeds
import AmazonInbound
import AmazonInboundV0
import AmazonListings
import AmazonOrders
import AmazonOrdersV0
import Foundation
import Hummingbird
import Logging
import NIOCore
import OpenAPIHummingbird
import OpenAPIRuntime
import ServiceLifecycle

/// The simulator over HTTP: Amazon's APIs at Amazon's paths, Login with Amazon at `/auth/o2/token` and
/// `/apps/authorize/consent`, and the control path `/_simulator/…` (docs/simulator.md).
public enum SimulatorServer {
    /// The HTTP application serving `simulator`, with the notifier and order generator as its services.
    public static func makeApplication(
        simulator: Simulator,
        host: String = "127.0.0.1",
        port: Int,
        logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) async throws -> some ApplicationProtocol {
        let notifier = Notifier(logger: logger)
        await simulator.attach(notifier)
        let router = try makeRouter(simulator: simulator, logger: logger)
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "AmazonSimulator"),
            services: [notifier, OrderGenerator(simulator: simulator)],
            onServerRunning: onServerRunning,
            logger: logger
        )
    }

    static func makeRouter(simulator: Simulator, logger: Logger) throws -> Router<BasicRequestContext> {
        let router = Router()
        let configuration = OpenAPIRuntime.Configuration(dateTranscoder: LenientDateTranscoder())
        let middlewares: [any ServerMiddleware] = [Gateway(simulator: simulator, logger: logger)]
        let root = URL(string: "/")!
        try (simulator as any AmazonEFShipments.APIProtocol).registerHandlers(
            on: router,
            serverURL: root,
            configuration: configuration,
            middlewares: middlewares
        )
        try (simulator as any AmazonEFInventory.APIProtocol).registerHandlers(
            on: router,
            serverURL: root,
            configuration: configuration,
            middlewares: middlewares
        )
        try (simulator as any AmazonEFReturns.APIProtocol).registerHandlers(
            on: router,
            serverURL: root,
            configuration: configuration,
            middlewares: middlewares
        )
        try (simulator as any AmazonEFLocation.APIProtocol).registerHandlers(
            on: router,
            serverURL: root,
            configuration: configuration,
            middlewares: middlewares
        )
        try (simulator as any AmazonOrders.APIProtocol).registerHandlers(
            on: router,
            serverURL: root,
            configuration: configuration,
            middlewares: middlewares
        )
        try (simulator as any AmazonOrdersV0.APIProtocol).registerHandlers(
            on: router,
            serverURL: root,
            configuration: configuration,
            middlewares: middlewares
        )
        try (simulator as any AmazonListings.APIProtocol).registerHandlers(
            on: router,
            serverURL: root,
            configuration: configuration,
            middlewares: middlewares
        )
        try (simulator as any AmazonFeeds.APIProtocol).registerHandlers(
            on: router,
            serverURL: root,
            configuration: configuration,
            middlewares: middlewares
        )
        try (simulator as any AmazonFBAInventory.APIProtocol).registerHandlers(
            on: router,
            serverURL: root,
            configuration: configuration,
            middlewares: middlewares
        )
        try (simulator as any AmazonInboundV0.APIProtocol).registerHandlers(
            on: router,
            serverURL: root,
            configuration: configuration,
            middlewares: middlewares
        )
        try (simulator as any AmazonInbound.APIProtocol).registerHandlers(
            on: router,
            serverURL: root,
            configuration: configuration,
            middlewares: middlewares
        )
        LoginRoutes.add(to: router, simulator: simulator)
        ControlRoutes.add(to: router, simulator: simulator)
        return router
    }
}

/// Accepts ISO-8601 date-times with or without fractional seconds, as Amazon does in query parameters.
struct LenientDateTranscoder: DateTranscoder {
    func encode(_ date: Date) throws -> String { Simulator.timestamp(date) }

    func decode(_ text: String) throws -> Date {
        guard let date = Simulator.parseTimestamp(text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: [], debugDescription: "\(text) is not an ISO-8601 date-time")
            )
        }
        return date
    }
}

/// Makes the generator's orders while it is set (`PUT /_simulator/order-generator`).
struct OrderGenerator: Service {
    let simulator: Simulator

    func run() async throws {
        let clock = ContinuousClock()
        var last = clock.now
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let now = clock.now
            let elapsed = now - last
            last = now
            let wait = await simulator.generatorTick(
                elapsed: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            )
            try? await Task.sleep(for: .seconds(wait))
        }
    }
}

/// JSON in and out of the control path and the token endpoint.
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(Simulator.timestamp(date))
        }
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    static func error(_ message: String, status: HTTPResponse.Status = .badRequest) -> Response {
        make(["error": message], status: status)
    }

    /// Decodes a JSON body, or says what is wrong with it and where.
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int = 1 << 20) async throws -> T {
        let buffer = try await request.body.collect(upTo: limit)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw ControlError(describe(error))
        }
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? "the body" : path
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "\(key.stringValue) is required" + (parent == "the body" ? "" : " in \(parent)")
        case .typeMismatch(let type, let context): return "\(path(context)) must be a \(type)"
        case .valueNotFound(let type, let context): return "\(path(context)) must be a \(type), not null"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty
                ? "The body is not valid JSON" : "\(path(context)) is invalid: \(context.debugDescription)"
        @unknown default: return "The body could not be read"
        }
    }
}
