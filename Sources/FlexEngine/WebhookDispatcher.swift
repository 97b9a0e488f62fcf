import AsyncHTTPClient
import Crypto
import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SellingPartner
import ServiceLifecycle
import Tracing

/// Sends the event feed to every webhook, in order and at least once: an event is passed only once its receiver
/// answered 2xx; a failure waits (1 s doubling to an hour) and the same event goes again, with the same id. A
/// webhook is held by one node at a time, so deliveries never overtake each other.
///
/// Each request is signed: `FlexBridge-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
/// Receivers check it with their copy of the secret and refuse old timestamps.
public struct WebhookDispatcher: Service {
    public struct Configuration: Sendable {
        /// How long one answer may take.
        public var timeout: TimeInterval
        /// Events read per round.
        public var batchSize: Int

        public init(timeout: TimeInterval = 10, batchSize: Int = 100) {
            self.timeout = timeout
            self.batchSize = batchSize
        }
    }

    let store: Store
    let httpClient: HTTPClient
    let configuration: Configuration
    let clock: AnyClock
    /// Where webhooks may point, checked again before each round of deliveries (DNS may have changed).
    let outbound: OutboundPolicy
    let logger: Logger

    /// The client webhooks are posted with: it follows no redirect, so that a receiver cannot send FlexBridge on to
    /// an address it would refuse.
    public static let client = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: .init(redirectConfiguration: .disallow)
    )

    public init(
        store: Store,
        httpClient: HTTPClient = WebhookDispatcher.client,
        configuration: Configuration = .init(),
        clock: AnyClock = .continuous,
        outbound: OutboundPolicy = .production,
        logger: Logger = Logger(label: "flexbridge.webhooks")
    ) {
        self.outbound = outbound
        self.store = store
        self.httpClient = httpClient
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
    }

    /// Delivers until the node shuts down, as rounds of the engine's runtime.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await WorkerRuntime(clock: clock, logger: logger).run(self)
        }
    }

    /// Delivers what is due to every webhook, side by side. Returns how many events went out or were passed.
    @discardableResult
    public func deliverDue() async throws -> Int {
        let due = try await store.read { try await $0.dueWebhooks() }
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for webhook in due { group.addTask { try await self.deliver(webhook) } }
            return try await group.reduce(0, +)
        }
    }

    func deliver(_ webhook: Webhook) async throws -> Int {
        let claimed = try await store.transaction { [store, configuration] in
            try await $0.claimWebhook(
                webhook.id,
                until: store.clock.now().addingTimeInterval(configuration.timeout * 2 + 30)
            )
        }
        guard claimed else { return 0 }
        let secret = try await store.read { try await $0.webhookSecret(webhook.id) }
        let events = try await store.read { [configuration] in
            try await $0.events(after: webhook.position, account: webhook.accountID, limit: configuration.batchSize)
        }
        // Each delivery continues the trace its event was written in.
        let traces = try await store.read { try await $0.eventTraces(events.filter(webhook.wants).map(\.sequence)) }
        var moved = 0
        if events.contains(where: webhook.wants) {
            do {
                try await outbound.checkDelivery(to: webhook.url)
            } catch {
                try await store.transaction {
                    try await $0.recordWebhookFailure(webhook.id, status: nil, error: "Not sent: its \(error).")
                }
                logger.warning(
                    "webhook not sent: its address is not allowed",
                    metadata: ["webhook": "\(webhook.id)", "error": "\(error)"]
                )
                return moved
            }
        }
        for event in events {
            guard webhook.wants(event) else {
                try await store.transaction {
                    try await $0.recordWebhookDelivery(webhook.id, position: event.sequence, status: nil)
                }
                moved += 1
                continue
            }
            let status: Int
            do {
                status = try await withRedactedSpan(
                    "webhook.deliver",
                    context: traces[event.sequence].instrumentationContext
                ) { span in
                    span.attributes["flexbridge.webhook"] = webhook.id
                    span.attributes["flexbridge.event"] = event.id.uuidString.lowercased()
                    span.attributes["flexbridge.event_type"] = event.type
                    let status = try await post(event, to: webhook.url, secret: secret)
                    span.attributes["http.response.status_code"] = status
                    if !(200..<300).contains(status) {
                        span.setStatus(SpanStatus(code: .error, message: "The receiver answered \(status)"))
                    }
                    return status
                }
            } catch {
                try await store.transaction {
                    try await $0.recordWebhookFailure(webhook.id, status: nil, error: "\(error)")
                }
                logger.warning(
                    "webhook delivery failed",
                    metadata: ["webhook": "\(webhook.id)", "event": "\(event.id)", "error": "\(error)"]
                )
                return moved
            }
            guard (200..<300).contains(status) else {
                try await store.transaction {
                    try await $0.recordWebhookFailure(
                        webhook.id,
                        status: status,
                        error: "The receiver answered \(status)."
                    )
                }
                logger.warning(
                    "webhook refused an event",
                    metadata: ["webhook": "\(webhook.id)", "event": "\(event.id)", "status": "\(status)"]
                )
                return moved
            }
            try await store.transaction {
                try await $0.recordWebhookDelivery(webhook.id, position: event.sequence, status: status)
            }
            moved += 1
        }
        try await store.transaction { try await $0.releaseWebhook(webhook.id) }
        return moved
    }

    func post(_ event: OutboxEvent, to url: URL, secret: String) async throws -> Int {
        let body = try Self.body(event)
        let timestamp = Int(store.clock.now().timeIntervalSince1970)
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "FlexBridge-Webhooks/1")
        request.headers.add(name: "FlexBridge-Event-Id", value: event.id.uuidString.lowercased())
        request.headers.add(name: "FlexBridge-Event-Type", value: event.type)
        request.headers.add(
            name: "FlexBridge-Signature",
            value: Self.signature(body: body, secret: secret, timestamp: timestamp)
        )
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await httpClient.execute(
            request,
            timeout: .milliseconds(Int64(configuration.timeout * 1000))
        )
        _ = try? await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }

    /// The JSON delivered: the event with its data as an object.
    static func body(_ event: OutboxEvent) throws -> Data {
        let data = (try? JSONDecoder().decode(JSONValue.self, from: Data(event.payload.utf8))) ?? .string(event.payload)
        var object: [String: JSONValue] = [
            "id": .string(event.id.uuidString.lowercased()), "sequence": .number(Double(event.sequence)),
            "type": .string(event.type),
            "createdAt": .string(Date.ISO8601FormatStyle(includingFractionalSeconds: true).format(event.createdAt)),
            "data": data,
        ]
        if let connection = event.connectionID { object["connectionId"] = .string(connection.rawValue) }
        if let subject = event.subject { object["subject"] = .string(subject) }
        return try JSONText.data(object)
    }

    /// `t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
    public static func signature(body: Data, secret: String, timestamp: Int) -> String {
        var message = Data("\(timestamp).".utf8)
        message.append(body)
        let mac = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(timestamp),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }
}

/// The dispatcher's rounds run on the same runtime as a connection's workers (it stops only when cancelled).
extension WebhookDispatcher: ConnectionWorker {
    public var name: String { "webhook delivery" }
    public var wakeUp: WakeUp? { store.wakeUps.events }

    /// Delivers what is due; then waits for the next attempt's time (at most 2 s: events other nodes wrote are seen
    /// by polling) or for events written on this node.
    public func round() async throws -> NextRound {
        if try await deliverDue() > 0 { return .now }
        let next = try await store.read { try await $0.nextWebhookAttempt() }
        let wait = next.map { max(0.05, min(2, $0.timeIntervalSince(store.clock.now()))) } ?? 2
        return .within(.milliseconds(Int64(wait * 1000)))
    }
}
