import FlexCore
import FlexEngine
import FlexStore
import FlexStoreTesting
import FlexUseCases
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import InMemoryTracing
import Logging
import NIOCore
import Synchronization
import Testing
import Tracing

@testable import FlexBridgeApp

@Suite("Traces of API requests")
struct TracingAPITests {
    static let secret = "tracing-notification-secret"

    /// The propagation headers of a new trace the caller started (as a WMS's tracer sends `traceparent`), with the
    /// trace's id.
    static func callerTrace() async throws -> (traceID: String, headers: HTTPFields) {
        let (traceID, context) = try await TestTracing.traced("WMS") { TraceContext.current }
        var headers: HTTPFields = [.contentType: "application/json"]
        for (name, value) in try #require(context).fields { headers[HTTPField.Name(name)!] = value }
        return (traceID, headers)
    }

    /// The trace and span a stored trace continues.
    static func continued(_ trace: TraceContext?) throws -> InMemorySpanContext {
        let trace = try #require(trace)
        return try #require(trace.instrumentationContext.inMemorySpanContext)
    }

    /// The span with this id, finished or not, with its kind and attributes.
    static func span(_ id: String) -> (kind: SpanKind, attributes: SpanAttributes)? {
        if let span = TestTracing.tracer.finishedSpans.first(where: { $0.spanID == id }) {
            return (span.kind, span.attributes)
        }
        return TestTracing.tracer.activeSpans.first { $0.spanID == id }.map { ($0.kind, $0.attributes) }
    }

    @Test(
        "a stock write, a command and a notification keep the trace their caller sent, under the request's server span; consent secrets stay out of spans"
    )
    func requestsKeepTheirTrace() async throws {
        _ = TestTracing.tracer
        try await FulfilmentAPITests.withServer(notificationSecret: Self.secret) { store, connection, client in
            try await store.transaction { session in
                try await session.setLocationMapping(
                    LocationMapping(
                        connectionID: connection.id,
                        hub: "H1",
                        locationID: "L1",
                        channel: .mfn,
                        createdAt: Date()
                    ),
                    actor: "test"
                )
                try await session.upsertListings([
                    Listing(
                        connectionID: connection.id,
                        marketplaceID: "A21TJRUUN4KGV",
                        warehouseSKU: "W-MUG",
                        merchantSKU: "MUG",
                        asin: "B000000001",
                        updatedAt: Date()
                    )
                ])
            }

            // Stock.
            let stock = try await Self.callerTrace()
            let stockStatus = try await client.execute(
                uri: "/api/v1/stock",
                method: .put,
                headers: stock.headers,
                body: ByteBuffer(string: #"{"items":[{"hub":"H1","sku":"W-MUG","quantity":5}]}"#)
            ) { $0.status }
            #expect(stockStatus == .accepted)
            let claimed = try await store.transaction { session in
                try await session.claimInventory(connectionID: connection.id, settings: connection.settings, limit: 10)
            }
            let stockContext = try Self.continued(try #require(claimed.updates.first).trace)
            #expect(stockContext.traceID == stock.traceID, "the item carries the caller's trace")
            let server = Self.span(stockContext.spanID)
            #expect(server?.kind == .server, "under the request's server span, not the caller's span")
            #expect(server?.attributes["http.route"]?.toSpanAttribute() == .string("/api/v1/stock"))
            #expect(server?.attributes["url.path"]?.toSpanAttribute() == .string("/api/v1/stock"))

            // A command.
            let command = try await Self.callerTrace()
            var commandHeaders = command.headers
            commandHeaders[HTTPField.Name("Idempotency-Key")!] = "traced"
            let commandID = try await client.execute(
                uri: "/api/v1/orders/SHIP-9/commands",
                method: .post,
                headers: commandHeaders,
                body: ByteBuffer(string: #"{"type":"confirm"}"#)
            ) { response in
                #expect(response.status == .accepted)
                return try #require(try FulfilmentAPITests.json(response.body)["id"] as? String)
            }
            let stored = try #require(try await store.read { try await $0.command(CommandID(rawValue: commandID)) })
            let commandContext = try Self.continued(stored.trace)
            #expect(commandContext.traceID == command.traceID)
            #expect(Self.span(commandContext.spanID)?.kind == .server)

            // A notification: its fetch continues under the span that filed it.
            let notification = try await Self.callerTrace()
            var notificationHeaders = notification.headers
            notificationHeaders[HTTPField.Name("x-api-key")!] = Self.secret
            let event =
                #"{"detail-type":"EXTERNAL_FULFILLMENT_SHIPMENT_STATUS_CHANGE","detail":{"payload":{"externalFulfillmentShipmentNotification":{"merchantId":"A1SELLER","locationId":"L1","shipmentId":"SHIP-10","shipmentStatus":"ACCEPTED"}}}}"#
            let notified = try await client.execute(
                uri: "/notifications/amazon",
                method: .post,
                headers: notificationHeaders,
                body: ByteBuffer(string: event)
            ) { $0.status }
            #expect(notified == .ok)
            let fetch = try #require(
                try await store.read { try await $0.notifiedShipments(connectionID: connection.id, limit: 10) }.first
            )
            let fetchContext = try Self.continued(fetch.trace)
            #expect(fetchContext.traceID == notification.traceID)
            let filing = try #require(
                TestTracing.spans(of: notification.traceID).first { $0.operationName == "notification.file" }
            )
            #expect(fetchContext.spanID == filing.spanID)
            #expect(filing.attributes["flexbridge.order"]?.toSpanAttribute() == .string("SHIP-10"))

            // An MFN order's ORDER_CHANGE: its fetch continues under the span that filed it, too.
            try await store.transaction {
                _ = try await $0.updateSettings(of: connection.id, actor: "test") { $0.mfnOrderSyncEnabled = true }
            }
            let orderChange = try await Self.callerTrace()
            var orderChangeHeaders = orderChange.headers
            orderChangeHeaders[HTTPField.Name("x-api-key")!] = Self.secret
            let orderEvent =
                #"{"detail-type":"ORDER_CHANGE","detail":{"NotificationType":"ORDER_CHANGE","Payload":{"OrderChangeNotification":{"NotificationLevel":"OrderLevel","SellerId":"A1SELLER","AmazonOrderId":"171-0000000-0000009","OrderChangeType":"OrderStatusChange","Summary":{"MarketplaceId":"A21TJRUUN4KGV","OrderStatus":"Unshipped","FulfillmentType":"MFN"}}}}}"#
            let orderNotified = try await client.execute(
                uri: "/notifications/amazon",
                method: .post,
                headers: orderChangeHeaders,
                body: ByteBuffer(string: orderEvent)
            ) { $0.status }
            #expect(orderNotified == .ok)
            let orderFetch = try #require(
                try await store.read { try await $0.merchantOrderFetches(connectionID: connection.id, limit: 10) }.first
            )
            #expect(orderFetch.orderID == "171-0000000-0000009")
            let orderFetchContext = try Self.continued(orderFetch.trace)
            #expect(orderFetchContext.traceID == orderChange.traceID)
            let orderFiling = try #require(
                TestTracing.spans(of: orderChange.traceID).first { $0.operationName == "notification.file" }
            )
            #expect(orderFetchContext.spanID == orderFiling.spanID)
            #expect(orderFiling.attributes["flexbridge.order"]?.toSpanAttribute() == .string("171-0000000-0000009"))
            #expect(
                orderFiling.attributes["flexbridge.connections"]?.toSpanAttribute()
                    == .stringArray([connection.id.rawValue])
            )

            // A later write the caller did not trace starts a trace of its own, which replaces the first one's.
            let plain = try await client.execute(
                uri: "/api/v1/stock",
                method: .put,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: #"{"items":[{"hub":"H1","sku":"W-MUG","quantity":6}]}"#)
            ) { $0.status }
            #expect(plain == .accepted)
            let again = try await store.transaction { session in
                try await session.claimInventory(connectionID: connection.id, settings: connection.settings, limit: 10)
            }
            #expect(again.updates.map(\.quantity) == [6])
            let later = try Self.continued(again.updates.first?.trace)
            #expect(later.traceID != stock.traceID)
            #expect(Self.span(later.spanID)?.kind == .server)

            // The consent callback's code and state, and a consent link's token, are secrets: spans say neither.
            let consent = try await Self.callerTrace()
            for uri in [
                "/api/v1/connections/callback?spapi_oauth_code=SECRET-CODE&state=SECRET-STATE&selling_partner_id=A1",
                "/connect/SECRET-LINK-TOKEN",
            ] {
                _ = try await client.execute(uri: uri, method: .get, headers: consent.headers) { $0.status }
            }
            let servers = TestTracing.spans(of: consent.traceID).filter { $0.kind == .server }
            #expect(servers.count == 2)
            for span in servers {
                #expect(!"\(span.operationName) \(span.attributes)".contains("SECRET"), "\(span.attributes)")
            }
        }
    }
}

@Suite("Traces' configuration")
struct NodeTracingTests {
    @Test(
        "a webhook's delivery of an event continues the trace of the work that wrote the event; an untraced event's is a trace of its own",
        arguments: TestEngine.available
    )
    func webhookDeliveryCarriesItsTrace(engine: TestEngine) async throws {
        _ = TestTracing.tracer
        let received = Mutex<[String]>([])
        let router = Router()
        router.post("/hook") { request, _ -> HTTPResponse.Status in
            received.withLock { $0.append(request.headers[HTTPField.Name("FlexBridge-Event-Type")!] ?? "") }
            return .noContent
        }
        let receiver = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await receiver.test(.live) { hook in
            try await TestDatabase.withStore(engine, currentTrace: { TraceContext.current }) { store, _ in
                let webhook = try await store.transaction {
                    try await $0.createWebhook(
                        account: .default,
                        url: try #require(URL(string: "http://127.0.0.1:\(hook.port!)/hook")),
                        secret: "whsec-tracing-0123456789",
                        eventTypes: ["test.*"],
                        fromStart: true
                    )
                }
                let written = try await TestTracing.traced("PUT /api/v1/stock") {
                    try await store.transaction {
                        try await $0.appendEvents([NewEvent(type: "test.traced", subject: "A")])
                    }
                }
                _ = try await store.transaction {
                    try await $0.appendEvents([NewEvent(type: "test.untraced", subject: "B")])
                }
                let dispatcher = WebhookDispatcher(store: store, outbound: .localDevelopment)
                #expect(try await dispatcher.deliverDue() == 2)
                #expect(received.withLock { $0 } == ["test.traced", "test.untraced"])
                let deliveries = TestTracing.tracer.finishedSpans.filter {
                    $0.operationName == "webhook.deliver"
                        && $0.attributes["flexbridge.webhook"]?.toSpanAttribute() == .string(webhook.id)
                }
                #expect(deliveries.count == 2)
                let traced = try #require(deliveries.first { $0.traceID == written.traceID })
                #expect(traced.attributes["flexbridge.event_type"]?.toSpanAttribute() == .string("test.traced"))
                #expect(traced.attributes["http.response.status_code"]?.toSpanAttribute() == .int64(204))
                #expect(
                    TestTracing.spans(of: written.traceID).contains {
                        $0.operationName == "POST" && $0.parentSpanID == traced.spanID
                    },
                    "the HTTP client's span of the POST is the delivery's child"
                )
                let untraced = try #require(deliveries.first { $0.traceID != written.traceID })
                #expect(untraced.parentSpanID == nil, "a trace of its own")
                #expect(untraced.attributes["flexbridge.event_type"]?.toSpanAttribute() == .string("test.untraced"))
            }
        }
    }

    @Test("traces are on only with an OTLP endpoint, and off again with OTEL_SDK_DISABLED or OTEL_TRACES_EXPORTER=none")
    func requested() {
        let endpoint = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"]
        #expect(!NodeTracing.isRequested([:]))
        #expect(!NodeTracing.isRequested(["OTEL_EXPORTER_OTLP_ENDPOINT": "  "]))
        #expect(!NodeTracing.isRequested(["OTEL_SERVICE_NAME": "flexbridge-eu"]))
        #expect(NodeTracing.isRequested(endpoint))
        #expect(NodeTracing.isRequested(["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector.example/v1/traces"]))
        #expect(!NodeTracing.isRequested(endpoint.merging(["OTEL_SDK_DISABLED": "TRUE"]) { $1 }))
        #expect(!NodeTracing.isRequested(endpoint.merging(["OTEL_TRACES_EXPORTER": "none"]) { $1 }))
    }

    @Test(
        "what the exporter cannot do (gRPC, another propagator, a remote sampler, an endpoint that is no http(s) URL) is a one-sentence start-up error"
    )
    func refused() throws {
        for (name, value) in [
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"), ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "thrift"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"), ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://c/x"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "HTTP/JSON"),
            ("OTEL_PROPAGATORS", "tracecontext,baggage"), ("OTEL_PROPAGATORS", "b3"),
            ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
        ] {
            let environment = ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"].merging([name: value]) { $1 }
            #expect {
                try NodeTracing.bootstrap(environment: environment, logger: Logger(label: "test"))
            } throws: { error in
                "\(error)".contains(name) && "\(error)".contains(value)
            }
        }
        for fine in ["http/protobuf", "http/json"] {
            try NodeTracing.check([
                "OTEL_EXPORTER_OTLP_PROTOCOL": fine, "OTEL_EXPORTER_OTLP_ENDPOINT": "https://c:4318",
                "OTEL_PROPAGATORS": "tracecontext", "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            ])
        }
    }

    @Test("the exporter's messages lose the values of the variables they name (the headers carry credentials)")
    func valuesOmitted() {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "otel") { label in
            JSONLogHandler(label: label) { line in lines.withLock { $0.append(line) } }
        }
        logger.handler = OmittingVariableValues(base: logger.handler)
        logger[metadataKey: "environment_key"] = "OTEL_EXPORTER_OTLP_HEADERS"
        logger[metadataKey: "environment_value"] = "x-honeycomb-team=SECRET"
        logger[metadataKey: "carrier"] = "[Authorization: Bearer SECRET]"
        logger.warning("Failed to update configuration from environment", metadata: ["new_value": "SECRET"])
        let written = lines.withLock { $0 }
        #expect(written.count == 1)
        #expect(written.first?.contains("OTEL_EXPORTER_OTLP_HEADERS") == true)
        #expect(written.first?.contains("SECRET") == false)
    }
}
