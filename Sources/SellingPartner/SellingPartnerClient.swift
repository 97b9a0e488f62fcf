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
import AsyncHTTPClient
import FlexCore
import Foundation
import Logging
import NIOCore
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime

/// Where a connection's Amazon is: a region's production or sandbox endpoint, or any base URL (the simulator).
public enum SellingPartnerEndpoint: Sendable, Hashable {
    case production(Region)
    case sandbox(Region)
    case custom(URL)

    public var url: URL {
        switch self {
        case .production(let region): region.endpoint
        case .sandbox(let region): region.sandboxEndpoint
        case .custom(let url): url
        }
    }
}

/// The one way FlexBridge talks to Amazon for one connection (a seller account in a region): Amazon's generated
/// clients behind FlexBridge's middleware — retries outside, then the seller's rate limits, then the access token.
public struct SellingPartnerClient: Sendable {
    public struct Configuration: Sendable {
        /// `User-Agent` as Amazon requires: the application, its version, the language and platform.
        public var userAgent: String
        public var retry: RetryPolicy
        public var rateLimits: [String: RateLimiter.Limit]
        /// Told of every attempt's outcome: the operation and Amazon's HTTP status, nil when no answer came.
        public var observe: (@Sendable (_ operation: String, _ status: Int?) -> Void)?

        /// The `User-Agent` of a node: Amazon's required parts, and the node's name, so that Amazon's request log (the
        /// simulator's, in the tests of several nodes) tells which node made each call.
        public static func userAgent(node: String? = nil) -> String {
            "FlexBridge/0.1.0 (Language=Swift/6; Platform=Linux\(node.map { "; Node=\($0)" } ?? ""))"
        }

        public init(
            userAgent: String = Configuration.userAgent(),
            retry: RetryPolicy = RetryPolicy(),
            rateLimits: [String: RateLimiter.Limit] = RateLimiter.amazonDefaults,
            observe: (@Sendable (_ operation: String, _ status: Int?) -> Void)? = nil
        ) {
            self.userAgent = userAgent
            self.retry = retry
            self.rateLimits = rateLimits
            self.observe = observe
        }
    }

    /// Connections a node keeps open to one Amazon host (HTTP/1.1), shared by all its sellers.
    public static let connectionsPerHost = 256

    /// The HTTP client every seller's calls share. Every seller of a region calls the same host, so the pool's limit
    /// per host is the node's limit: AsyncHTTPClient's default of 8 queued the calls of a node with many sellers
    /// behind 8 connections (a thousand sellers topped out near 340 calls a second against the simulator, the calls
    /// waiting in the pool, not at Amazon's rate limits). HTTP/2, where Amazon offers it, multiplexes instead.
    /// Otherwise AsyncHTTPClient's shared configuration (timeouts, redirects, decompression).
    public static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool = .init(
            idleTimeout: .seconds(600),
            concurrentHTTP1ConnectionsPerHostSoftLimit: connectionsPerHost
        )
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    public let endpoint: SellingPartnerEndpoint
    public let tokens: AccessTokenProvider
    public let rateLimiter: RateLimiter
    public let shipments: AmazonEFShipments.Client
    public let inventory: AmazonEFInventory.Client
    public let returns: AmazonEFReturns.Client
    public let locations: AmazonEFLocation.Client
    public let orders: AmazonOrders.Client
    public let ordersV0: AmazonOrdersV0.Client
    public let listingsItems: AmazonListings.Client
    public let feeds: AmazonFeeds.Client
    public let fbaInventory: AmazonFBAInventory.Client
    public let inboundV0: AmazonInboundV0.Client
    public let inbound: AmazonInbound.Client
    let httpClient: HTTPClient
    let retry: RetryPolicy
    let logger: Logger

    public init(
        endpoint: SellingPartnerEndpoint,
        login: LoginWithAmazon,
        refreshToken: String,
        configuration: Configuration = Configuration(),
        httpClient: HTTPClient = SellingPartnerClient.sharedHTTPClient,
        logger: Logger = Logger(label: "flexbridge.amazon"),
        clock: @escaping @Sendable () -> Date = { Date() },
        sleep: @escaping @Sendable (Double) async throws -> Void = { try await Task.sleep(for: .seconds($0)) },
        transport: (any ClientTransport)? = nil
    ) {
        self.endpoint = endpoint
        self.httpClient = httpClient
        self.retry = configuration.retry
        self.logger = logger
        tokens = AccessTokenProvider(login: login, refreshToken: refreshToken, clock: clock)
        rateLimiter = RateLimiter(defaults: configuration.rateLimits, sleep: sleep)
        let middlewares: [any ClientMiddleware] = [
            TracingMiddleware(),
            RetryMiddleware(policy: configuration.retry, logger: logger, sleep: sleep, observe: configuration.observe),
            RateLimitMiddleware(limiter: rateLimiter),
            AuthenticationMiddleware(tokens: tokens, userAgent: configuration.userAgent),
        ]
        let transport =
            transport
            ?? AsyncHTTPClientTransport(
                configuration: .init(
                    client: httpClient,
                    timeout: .milliseconds(Int64(configuration.retry.timeout * 1000))
                )
            )
        let clientConfiguration = OpenAPIRuntime.Configuration(dateTranscoder: .iso8601)
        shipments = .init(
            serverURL: endpoint.url,
            configuration: clientConfiguration,
            transport: transport,
            middlewares: middlewares
        )
        inventory = .init(
            serverURL: endpoint.url,
            configuration: clientConfiguration,
            transport: transport,
            middlewares: middlewares
        )
        returns = .init(
            serverURL: endpoint.url,
            configuration: clientConfiguration,
            transport: transport,
            middlewares: middlewares
        )
        locations = .init(
            serverURL: endpoint.url,
            configuration: clientConfiguration,
            transport: transport,
            middlewares: middlewares
        )
        // The Orders APIs type their times as date-times, which Amazon writes with or without fractions of a second.
        let ordersConfiguration = OpenAPIRuntime.Configuration(dateTranscoder: AmazonDateTranscoder())
        orders = .init(
            serverURL: endpoint.url,
            configuration: ordersConfiguration,
            transport: transport,
            middlewares: middlewares
        )
        ordersV0 = .init(
            serverURL: endpoint.url,
            configuration: ordersConfiguration,
            transport: transport,
            middlewares: middlewares
        )
        listingsItems = .init(
            serverURL: endpoint.url,
            configuration: ordersConfiguration,
            transport: transport,
            middlewares: middlewares
        )
        feeds = .init(
            serverURL: endpoint.url,
            configuration: ordersConfiguration,
            transport: transport,
            middlewares: middlewares
        )
        fbaInventory = .init(
            serverURL: endpoint.url,
            configuration: ordersConfiguration,
            transport: transport,
            middlewares: middlewares
        )
        inboundV0 = .init(
            serverURL: endpoint.url,
            configuration: ordersConfiguration,
            transport: transport,
            middlewares: middlewares
        )
        inbound = .init(
            serverURL: endpoint.url,
            configuration: ordersConfiguration,
            transport: transport,
            middlewares: middlewares
        )
    }
}

/// ISO 8601 date-times as Amazon writes them, with fractions of a second or without; written without.
struct AmazonDateTranscoder: DateTranscoder {
    func encode(_ date: Date) throws -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false))
    }

    func decode(_ text: String) throws -> Date {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
        throw DecodingError.dataCorrupted(
            .init(codingPath: [], debugDescription: "\(text) is not an ISO 8601 date-time")
        )
    }
}
