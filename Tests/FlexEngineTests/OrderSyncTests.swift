import AmazonEFShipments
import AmazonSimulator
import FlexCore
import FlexStore
import FlexStoreTesting
import Foundation
import Logging
import SellingPartner
import Testing

@testable import FlexEngine

@Suite("Order sync against the simulator")
struct OrderSyncTests {
    func worker(_ amazon: InventoryFixture) async throws -> (OrderWorker, SellingPartnerClient) {
        // The simulator does not throttle here; the client need not pace getShipments at Amazon's 2 calls/s.
        var limits = RateLimiter.amazonDefaults
        limits["getShipments"] = .init(rate: 200, burst: 400)
        let client = try await AmazonClients(configuration: .init(rateLimits: limits)).client(
            for: amazon.connection.id,
            store: amazon.store
        )
        return (
            OrderWorker(
                connectionID: amazon.connection.id,
                store: amazon.store,
                client: client,
                logger: Logger(label: "test.orders")
            ), client
        )
    }

    func events(_ amazon: InventoryFixture) async throws -> [OutboxEvent] {
        try await amazon.store.read { try await $0.events(after: 0, account: .default, limit: 1000) }.filter {
            $0.type.hasPrefix("order.")
        }
    }

    @Test(
        "polling finds new orders once, whatever the overlap re-reads, and sees a marketplace cancellation",
        arguments: TestEngine.available
    )
    func polling(engine: TestEngine) async throws {
        try await InventoryFixture.run(engine: engine) { amazon in
            let (worker, client) = try await worker(amazon)
            var ids: [String] = []
            for _ in 0..<3 {
                ids.append(
                    try await amazon.simulator.generateOrder(
                        merchantID: InventoryFixture.merchant,
                        locationID: amazon.locationID
                    )
                )
            }
            #expect(try await worker.poll() == 3)
            #expect(try await worker.poll() == 0, "the overlap reads them again; nothing changes")
            let created = try await events(amazon)
            #expect(created.map(\.type) == ["order.created", "order.created", "order.created"])
            #expect(Set(created.compactMap(\.subject)) == Set(ids))
            let order = try #require(try await amazon.store.read { try await $0.order(ShipmentID(rawValue: ids[0])) })
            #expect(order.locationID.rawValue == amazon.locationID)
            #expect(order.status == "ACCEPTED" || order.status == "CREATED")
            #expect(order.shipment.contains(ids[0]))

            _ = try await client.shipments.updateSandboxShipment(
                path: .init(shipmentId: ids[1]),
                body: .json(.init(updateType: .shipmentStatusChange, updates: .init(status: .cancelled)))
            ).noContent
            #expect(try await worker.poll() == 1)
            let last = try #require(try await events(amazon).last)
            #expect(last.type == "order.cancelled" && last.subject == ids[1])
            let history = try await amazon.store.read {
                try await $0.orderHistory(ShipmentID(rawValue: ids[1]), connectionID: amazon.connection.id)
            }
            #expect(history.map(\.status).last == "CANCELLED")
        }
    }

    @Test(
        "a shipment status Amazon adds later (not in its model) stops neither the fetch nor the seller's orders: kept as Amazon sent it, said once in an event, and the order carries on along the known statuses",
        arguments: TestEngine.available
    )
    func unknownStatus(engine: TestEngine) async throws {
        try await InventoryFixture.run(engine: engine) { amazon in
            let (worker, _) = try await worker(amazon)
            var ids: [String] = []
            for _ in 0..<2 {
                ids.append(
                    try await amazon.simulator.generateOrder(
                        merchantID: InventoryFixture.merchant,
                        locationID: amazon.locationID
                    )
                )
            }
            #expect(try await worker.poll() == 2)
            // Amazon lists shipments by status, so one in a status FlexBridge does not know comes by its
            // notification (SHIPMENT_STATUS_CHANGE), fetched by id.
            func said() async throws -> [OutboxEvent] {
                try await amazon.store.read { try await $0.events(after: 0, account: .default, limit: 1000) }.filter {
                    $0.type == "amazon.unknown_value"
                }
            }
            try await amazon.simulator.forceShipmentStatus(ids[0], to: "AWAITING_CARRIER_ASSIGNMENT")
            try await amazon.notify(ids[0])
            #expect(try await worker.fetchNotified() == 1)
            let held = try #require(try await amazon.store.read { try await $0.order(ShipmentID(rawValue: ids[0])) })
            #expect(held.status == "AWAITING_CARRIER_ASSIGNMENT")
            #expect(held.shipment.contains("AWAITING_CARRIER_ASSIGNMENT"), "the document is kept as Amazon sent it")
            let unknown = try await said()
            #expect(unknown.count == 1 && unknown.first?.subject == ids[0])
            #expect(unknown.first?.payload.contains(#""field":"shipment.status""#) == true)
            #expect(unknown.first?.payload.contains(#""value":"AWAITING_CARRIER_ASSIGNMENT""#) == true)
            // The seller's other orders go on.
            try await amazon.simulator.forceShipmentStatus(ids[1], to: "CONFIRMED")
            #expect(try await worker.poll() == 1)
            #expect(
                try await amazon.store.read { try await $0.order(ShipmentID(rawValue: ids[1])) }?.status == "CONFIRMED"
            )
            try await amazon.notify(ids[0])
            #expect(try await worker.fetchNotified() == 0, "the same copy again: nothing changes, nothing said twice")
            // Amazon moves it on to a status it knows: the order follows.
            try await amazon.simulator.forceShipmentStatus(ids[0], to: "CONFIRMED")
            #expect(try await worker.poll() == 1)
            #expect(
                try await amazon.store.read { try await $0.order(ShipmentID(rawValue: ids[0])) }?.status == "CONFIRMED"
            )
            #expect(try await said().count == 1)
        }
    }

    @Test(
        "a poll that finds nothing newer writes nothing: copies the store holds already are seen by a read, and the watermark has not moved",
        arguments: TestEngine.available
    )
    func pollWithNothingNew(engine: TestEngine) async throws {
        try await InventoryFixture.run(engine: engine) { amazon in
            // Node A's lease was taken over by node B: any write under A's is refused.
            let name = Lease.name(for: amazon.connection.id)
            let stale = try #require(
                try await amazon.store.transaction {
                    try await $0.acquireLease(name, owner: "node-a", ttl: .seconds(60))
                }
            )
            let current = try #require(
                try await amazon.store.transaction {
                    try await $0.acquireLease(name, owner: "node-b", ttl: .seconds(60), replacing: "node-a")
                }
            )
            var limits = RateLimiter.amazonDefaults
            limits["getShipments"] = .init(rate: 200, burst: 400)
            let client = try await AmazonClients(configuration: .init(rateLimits: limits)).client(
                for: amazon.connection.id,
                store: amazon.store
            )
            func worker(_ lease: Lease) -> OrderWorker {
                OrderWorker(
                    connectionID: amazon.connection.id,
                    store: amazon.store,
                    client: client,
                    lease: lease,
                    logger: Logger(label: "test.orders")
                )
            }
            for _ in 0..<12 {
                _ = try await amazon.simulator.generateOrder(
                    merchantID: InventoryFixture.merchant,
                    locationID: amazon.locationID
                )
            }
            #expect(try await worker(current).poll() == 12)
            // B's watermarks read back, the overlap reading the twelve again: nothing to write, so A's poll is not
            // refused.
            #expect(try await worker(stale).poll() == 0)
        }
    }

    @Test("a poll's watermark moves only when Amazon's time moved by a millisecond, however its text parsed")
    func watermarkPrecision() throws {
        // Amazon's timestamps carry milliseconds; some parse to a Date a few ulps off the same millisecond read back.
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        let parsed = try (0..<1000).lazy.map { index in
            try style.parse(style.format(Date(timeIntervalSince1970: 1_796_000_000 + Double(index) * 0.0137)))
        }.first { $0 != Date(millisecondsSince1970: $0.millisecondsSince1970) }
        let time = try #require(parsed, "no timestamp parses off its millisecond; the case is not exercised")
        let held = Date(millisecondsSince1970: time.millisecondsSince1970)
        var unmoved = PollWatermark(held: held, start: held.addingTimeInterval(-120))
        unmoved.saw(time)
        unmoved.saw(held.addingTimeInterval(-5))
        #expect(unmoved.moved == nil)
        var moved = PollWatermark(held: held, start: held)
        moved.saw(time.addingTimeInterval(0.001))
        #expect(moved.moved == Date(millisecondsSince1970: held.millisecondsSince1970 + 1))
        #expect(PollWatermark(held: nil, start: held).moved == held, "the first poll stores where it began")
    }

    @Test("the polling round asks for every status at its first round, then only for new and cancelled orders")
    func pollingRounds() async throws {
        try await InventoryFixture.run { amazon in
            let (worker, _) = try await worker(amazon)
            let polling = try #require(worker.workers.first { $0.name == "order poll" })
            func statusesAsked(_ round: () async throws -> Void) async throws -> Set<String> {
                let before = await amazon.simulator.recordedRequests().count
                try await round()
                return Set(
                    await amazon.simulator.recordedRequests(after: before).filter { $0.operation == "getShipments" }
                        .compactMap { request in
                            URLComponents(string: request.path)?.queryItems?.first { $0.name == "status" }?.value
                        }
                )
            }
            let all = Set(ShipmentStatus.allCases.map(\.rawValue))
            #expect(try await statusesAsked { _ = try await polling.round() } == all)
            #expect(try await statusesAsked { _ = try await polling.round() } == ["CREATED", "ACCEPTED", "CANCELLED"])
            #expect(try await statusesAsked { _ = try await worker.poll() } == all, "a poll asked for asks for all")
        }
    }

    @Test("new orders are polled every 15 s until a notification for the seller arrives, then every 60 s")
    func pollPace() async throws {
        try await InventoryFixture.run { amazon in
            /// A new order at Amazon, with its notification filed.
            func notifiedOrder() async throws {
                let id = try await amazon.simulator.generateOrder(
                    merchantID: InventoryFixture.merchant,
                    locationID: amazon.locationID
                )
                try await amazon.notify(id)
            }
            func polling(_ worker: OrderWorker) throws -> any ConnectionWorker {
                try #require(worker.workers.first { $0.name == "order poll" })
            }
            let (worker, client) = try await worker(amazon)
            #expect(try await polling(worker).round() == .spread(.seconds(15)))
            #expect(try await worker.fetchNotified() == 0, "nothing notified yet")
            #expect(try await polling(worker).round() == .spread(.seconds(15)))
            try await notifiedOrder()
            #expect(try await worker.fetchNotified() == 1)
            #expect(try await polling(worker).round() == .spread(.seconds(60)))

            // A notification older than the window counts for nothing: back to the fast pace.
            let forgetful = OrderWorker(
                connectionID: amazon.connection.id,
                store: amazon.store,
                client: client,
                configuration: .init(notifiedWindow: .zero),
                logger: Logger(label: "test.orders")
            )
            try await notifiedOrder()
            #expect(try await forgetful.fetchNotified() == 1)
            #expect(try await polling(forgetful).round() == .spread(.seconds(15)))

            // Polls slowed below the notified pace stay that slow when notifications arrive.
            let slow = OrderWorker(
                connectionID: amazon.connection.id,
                store: amazon.store,
                client: client,
                configuration: .init(pollInterval: .seconds(120)),
                logger: Logger(label: "test.orders")
            )
            try await notifiedOrder()
            #expect(try await slow.fetchNotified() == 1)
            #expect(try await polling(slow).round() == .spread(.seconds(120)))
        }
    }

    @Test(
        "a notification filed while its shipment is being fetched is not taken away by that fetch: the shipment is read again",
        arguments: TestEngine.available
    )
    func notificationDuringFetch(engine: TestEngine) async throws {
        try await InventoryFixture.run(engine: engine) { amazon in
            let id = try await amazon.simulator.generateOrder(
                merchantID: InventoryFixture.merchant,
                locationID: amazon.locationID
            )
            let connectionID = amazon.connection.id
            func filed() async throws -> [ShipmentID] {
                try await amazon.store.read { try await $0.shipmentFetches(connectionID: connectionID, limit: 10) }
            }
            try await amazon.notify(id)
            let read = try await amazon.store.read {
                try await $0.notifiedShipments(connectionID: connectionID, limit: 10)
            }
            #expect(read.map(\.notifications) == [1])
            // Amazon changed the shipment again while the first notification's fetch was reading it.
            try await amazon.notify(id)
            try await amazon.store.transaction {
                try await $0.completeShipmentFetch(
                    connectionID: connectionID,
                    shipmentID: ShipmentID(rawValue: id),
                    notifications: read[0].notifications
                )
            }
            #expect(try await filed() == [ShipmentID(rawValue: id)], "the second notification is still filed")
            let (worker, _) = try await worker(amazon)
            #expect(try await worker.fetchNotified() == 1)
            #expect(try await filed().isEmpty)
        }
    }

    @Test("a notified shipment is fetched at once; order sync off fetches nothing")
    func notification() async throws {
        try await InventoryFixture.run { amazon in
            let (worker, _) = try await worker(amazon)
            let id = try await amazon.simulator.generateOrder(
                merchantID: InventoryFixture.merchant,
                locationID: amazon.locationID
            )
            try await amazon.settings { $0.orderSyncEnabled = false }
            let connection = try await amazon.notify(id)
            #expect(connection == [amazon.connection.id])
            #expect(try await worker.fetchNotified() == 0)
            #expect(try await amazon.store.read { try await $0.order(ShipmentID(rawValue: id)) } == nil)

            try await amazon.settings { $0.orderSyncEnabled = true }
            #expect(try await worker.fetchNotified() == 1)
            let history = try await amazon.store.read {
                try await $0.orderHistory(ShipmentID(rawValue: id), connectionID: amazon.connection.id)
            }
            #expect(history.map(\.source) == ["notification"])
            #expect(
                try await amazon.store.read {
                    try await $0.shipmentFetches(connectionID: amazon.connection.id, limit: 10)
                }.isEmpty
            )
            #expect(try await worker.poll() == 0, "the poll reads the same copy: no second order.created")
            #expect(try await events(amazon).map(\.type) == ["order.created"])
        }
    }
}
