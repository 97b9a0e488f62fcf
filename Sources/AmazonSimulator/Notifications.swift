import AmazonEFShipments
import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization

/// Where EXTERNAL_FULFILLMENT_SHIPMENT_STATUS_CHANGE notifications go: an HTTPS endpoint, as an EventBridge API
/// destination calls it, with the connection's shared secret in a header of the receiver's choosing.
public struct NotificationDestination: Sendable, Codable, Hashable {
    public var id: String
    public var url: String
    public var headerName: String
    public var secret: String

    public init(id: String, url: String, headerName: String, secret: String) {
        self.id = id
        self.url = url
        self.headerName = headerName
        self.secret = secret
    }
}

/// One delivery attempt's outcome, for the ground truth.
public struct NotificationDelivery: Sendable, Codable, Hashable {
    public var notificationId: String
    public var destinationId: String
    public var shipmentId: String
    public var shipmentStatus: String
    public var attempts: Int
    /// The receiver's last HTTP status, nil when it could not be reached.
    public var status: Int?
    public var delivered: Bool
    public var error: String?
}

/// Sends notifications in the background: each one to every destination, concurrently, retried with backoff as
/// EventBridge retries (here: up to 5 attempts, 0.2 s doubling), never blocking the API.
public final class Notifier: Service, Sendable {
    struct Message: Sendable {
        var destination: NotificationDestination
        var notificationID: String
        var shipmentID: String
        var shipmentStatus: String
        var body: Data
    }

    /// EventBridge delivers to an API destination many at once. AsyncHTTPClient's shared client keeps 8 connections
    /// per host: a bench's thousand sellers had their notifications wait seconds in its queue, behind a node taking
    /// half a second to file each (seen in the node's traces).
    static let client: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 64)
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }()

    private let stream: AsyncStream<Message>
    private let continuation: AsyncStream<Message>.Continuation
    private let log = Mutex<[NotificationDelivery]>([])
    private let logger: Logger

    public init(logger: Logger) {
        (stream, continuation) = AsyncStream.makeStream(of: Message.self)
        self.logger = logger
    }

    func send(_ message: Message) {
        continuation.yield(message)
    }

    /// Every delivery so far, oldest first.
    public var deliveries: [NotificationDelivery] { log.withLock { $0 } }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            for await message in stream.cancelOnGracefulShutdown() {
                group.addTask { await self.deliver(message) }
            }
        }
    }

    private func deliver(_ message: Message) async {
        var attempt = 0
        var delivery = NotificationDelivery(
            notificationId: message.notificationID,
            destinationId: message.destination.id,
            shipmentId: message.shipmentID,
            shipmentStatus: message.shipmentStatus,
            attempts: 0,
            delivered: false
        )
        while attempt < 5 {
            attempt += 1
            delivery.attempts = attempt
            do {
                var request = HTTPClientRequest(url: message.destination.url)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.headers.add(name: message.destination.headerName, value: message.destination.secret)
                request.body = .bytes(ByteBuffer(bytes: message.body))
                let response = try await Self.client.execute(request, timeout: .seconds(5))
                _ = try? await response.body.collect(upTo: 1 << 16)
                delivery.status = Int(response.status.code)
                if (200..<300).contains(response.status.code) {
                    delivery.delivered = true
                    delivery.error = nil
                    break
                }
                delivery.error = "HTTP \(response.status.code)"
            } catch {
                delivery.error = String(describing: error)
            }
            try? await Task.sleep(for: .milliseconds(200 * (1 << (attempt - 1))))
        }
        if !delivery.delivered {
            logger.warning(
                "Notification not delivered",
                metadata: [
                    "destination": "\(message.destination.url)", "shipment": "\(message.shipmentID)",
                    "error": "\(delivery.error ?? "")",
                ]
            )
        }
        log.withLock { $0.append(delivery) }
    }
}

extension Simulator {
    /// Sends EXTERNAL_FULFILLMENT_SHIPMENT_STATUS_CHANGE for a shipment to every destination.
    func notifyStatusChange(_ shipment: EF.Shipment) {
        push(
            "EXTERNAL_FULFILLMENT_SHIPMENT_STATUS_CHANGE",
            subject: shipment.id,
            status: shipment.status
        ) { time, subscriptionID, notificationID in
            [
                "notificationVersion": "1.0",
                "notificationType": "EXTERNAL_FULFILLMENT_SHIPMENT_STATUS_CHANGE",
                "payloadVersion": "1.0",
                "eventTime": time,
                "payload": [
                    "externalFulfillmentShipmentNotification": [
                        "merchantId": shipment.marketplaceAttributes.merchantId ?? "",
                        "locationId": shipment.locationId,
                        "channelName": shipment.marketplaceAttributes.channelName,
                        "shipmentId": shipment.id,
                        "shipmentStatus": shipment.status,
                    ]
                ],
                "notificationMetadata": [
                    "applicationId": configuration.clientID,
                    "subscriptionId": subscriptionID,
                    "publishTime": time,
                    "notificationId": notificationID,
                ],
            ]
        }
    }

    /// Sends a notification to every destination, wrapped as an EventBridge event as an API destination delivers
    /// it: `detail` gets the time, the destination's subscription id and the notification's id.
    func push(
        _ type: String,
        subject: String,
        status: String,
        detail: (_ time: String, _ subscriptionID: String, _ notificationID: String) -> [String: Any]
    ) {
        guard let notifier, !notificationDestinations.isEmpty else { return }
        let time = Self.timestamp(now())
        for destination in notificationDestinations {
            let notificationID = UUID().uuidString.lowercased()
            let event: [String: Any] = [
                "version": "0",
                "id": UUID().uuidString.lowercased(),
                "detail-type": type,
                "source": "aws.partner/sellingpartnerapi.amazon.com/simulator",
                "account": "000000000000",
                "time": time,
                "region": "us-east-1",
                "resources": [],
                "detail": detail(time, destination.id, notificationID),
            ]
            guard let body = try? JSONSerialization.data(withJSONObject: event, options: [.sortedKeys]) else {
                continue
            }
            notifier.send(
                .init(
                    destination: destination,
                    notificationID: notificationID,
                    shipmentID: subject,
                    shipmentStatus: status,
                    body: body
                )
            )
        }
    }

    /// Registers a destination; every later status change is sent there.
    public func addNotificationDestination(
        url: String,
        headerName: String?,
        secret: String
    ) throws(ControlError) -> NotificationDestination {
        guard let parsed = URL(string: url), let scheme = parsed.scheme, ["http", "https"].contains(scheme),
            parsed.host != nil
        else {
            throw ControlError("url must be an absolute http or https URL, got \(url)")
        }
        guard !secret.isEmpty else { throw ControlError("secret must not be empty") }
        let header = headerName ?? "x-api-key"
        guard !header.isEmpty, header.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw ControlError("headerName must be a header name (letters, digits, - and _), got \(header)")
        }
        let destination = NotificationDestination(
            id: "dest-\(notificationDestinations.count + 1)",
            url: url,
            headerName: header,
            secret: secret
        )
        notificationDestinations.append(destination)
        return destination
    }

    public func removeNotificationDestination(id: String) throws(ControlError) {
        guard notificationDestinations.contains(where: { $0.id == id }) else {
            throw ControlError("No destination with id \(id)")
        }
        notificationDestinations.removeAll { $0.id == id }
    }

    public func destinations() -> [NotificationDestination] { notificationDestinations }

    func attach(_ notifier: Notifier) { self.notifier = notifier }
}
