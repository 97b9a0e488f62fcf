import AmazonEFReturns
import AmazonEFShipments
import AmazonSimulator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Synchronization
import Testing

@Suite("Control path")
struct ControlPathTests {
    @Test(
        "returns for a shipped order: created on the control path, listed and read through Amazon's Returns API, moved through their lifecycle"
    )
    func returns() async throws {
        try await LiveSimulator.run { live in
            let unshipped = try await live.shipment(at: "CONFIRMED")
            let refused = try await RawHTTP.send(
                .POST,
                "\(live.base)/_simulator/returns",
                json: #"{"shipmentId":"\#(unshipped)"}"#
            )
            #expect(refused.status == 400)
            #expect((refused.json?["error"] as? String)?.contains("only SHIPPED or DELIVERED") == true)

            let shipped = try await live.shipment(at: "SHIPPED")
            let location = try await live.shipment(shipped).locationId
            let created = try await RawHTTP.send(
                .POST,
                "\(live.base)/_simulator/returns",
                json: #"{"shipmentId":"\#(shipped)"}"#
            )
            #expect(created.status == 201)
            let id = try #require(created.json?["id"] as? String)
            let listed = try await live.returns.listReturns(query: .init(returnLocationId: location)).ok.body.json
            #expect(listed.returns?.map(\.id) == [id])
            let item = try await live.returns.getReturn(path: .init(returnId: id)).ok.body.json
            #expect(item.status == "CREATED")
            #expect(item.marketplaceChannelDetails.shipmentId == shipped)
            #expect(item.returnShippingInfo.forwardTrackingInfo?.trackingId != nil)

            for status in [
                "CARRIER_NOTIFIED_TO_PICK_UP_FROM_CUSTOMER", "CARRIER_OUT_FOR_PICK_UP_FROM_CUSTOMER",
                "PICKED_FROM_CUSTOMER", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED",
            ] {
                let moved = try await RawHTTP.send(
                    .POST,
                    "\(live.base)/_simulator/returns/\(id)/status",
                    json: #"{"status":"\#(status)"}"#
                )
                #expect(moved.status == 200, "\(status): \(moved.text)")
            }
            let delivered = try await live.returns.getReturn(path: .init(returnId: id)).ok.body.json
            #expect(delivered.status == "DELIVERED")
            #expect(delivered.returnShippingInfo.deliveryDateTime != nil)
            #expect(delivered.lastUpdatedDateTime > item.lastUpdatedDateTime)
            let backwards = try await RawHTTP.send(
                .POST,
                "\(live.base)/_simulator/returns/\(id)/status",
                json: #"{"status":"CREATED"}"#
            )
            #expect(backwards.status == 400)

            // Filters and their rules.
            #expect(
                try await live.returns.listReturns(query: .init(status: .created)).ok.body.json.returns?.isEmpty == true
            )
            #expect(
                try await live.returns.listReturns(query: .init(status: .delivered)).ok.body.json.returns?.count == 1
            )
            #expect(
                try await live.returns.listReturns(query: .init(rmaId: item.returnMetadata.rmaId)).ok.body.json.returns?
                    .count == 1
            )
            let needsLocation = try await live.call(
                .GET,
                "/externalFulfillment/2024-09-11/returns?lastUpdatedSince=2020-01-01T00:00:00Z"
            )
            try live.expectStatus(400, needsLocation)
            try live.expectStatus(404, try await live.call(.GET, "/externalFulfillment/2024-09-11/returns/NOPE"))
        }
    }

    @Test("listReturns pages with nextToken")
    func returnPages() async throws {
        try await LiveSimulator.run { live in
            var ids: [String] = []
            for _ in 0..<3 {
                let shipped = try await live.shipment(at: "SHIPPED")
                let created = try await RawHTTP.send(
                    .POST,
                    "\(live.base)/_simulator/returns",
                    json: #"{"shipmentId":"\#(shipped)"}"#
                )
                ids.append(try #require(created.json?["id"] as? String))
            }
            var seen: [String] = []
            var token: String?
            repeat {
                let page = try await live.returns.listReturns(query: .init(maxResults: 2, nextToken: token)).ok.body
                    .json
                seen += page.returns?.map(\.id) ?? []
                token = page.nextToken
            } while token != nil
            #expect(seen == ids)
        }
    }

    @Test(
        "status changes are pushed to registered destinations with the shared secret header, as an EventBridge API destination sends them"
    )
    func notifications() async throws {
        let received = Mutex<[(secret: String?, body: Data)]>([])
        let router = Router()
        router.post("hook") { request, _ -> HTTPResponse.Status in
            let buffer = try await request.body.collect(upTo: 1 << 20)
            let secret = request.headers[HTTPField.Name("x-api-key")!]
            received.withLock { $0.append((secret, Data(buffer.readableBytesView))) }
            return .ok
        }
        let receiver = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await receiver.test(.live) { hook in
            try await LiveSimulator.run { live in
                let register = try await RawHTTP.send(
                    .POST,
                    "\(live.base)/_simulator/notifications/destinations",
                    json: #"{"url":"http://127.0.0.1:\#(hook.port!)/hook","secret":"s3cret"}"#
                )
                #expect(register.status == 201)
                let bad = try await RawHTTP.send(
                    .POST,
                    "\(live.base)/_simulator/notifications/destinations",
                    json: #"{"url":"not a url","secret":"x"}"#
                )
                #expect(bad.status == 400)

                let id = try await live.shipment(at: "CONFIRMED")
                var deliveries: [NotificationDelivery] = []
                for _ in 0..<200 {
                    deliveries = await live.simulator.groundTruth().notifications.filter { $0.shipmentId == id }
                    if deliveries.count >= 2 { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                #expect(Set(deliveries.map(\.shipmentStatus)) == ["ACCEPTED", "CONFIRMED"])
                #expect(deliveries.allSatisfy { $0.delivered && $0.status == 200 })
                let bodies = received.withLock { $0 }.map { received in
                    (
                        secret: received.secret,
                        body: (try? JSONSerialization.jsonObject(with: received.body)) as? [String: Any] ?? [:]
                    )
                }
                #expect(bodies.allSatisfy { $0.secret == "s3cret" })
                let event = try #require(
                    bodies.first { (($0.body["detail"] as? [String: Any])?["payload"] as? [String: Any]) != nil }
                )
                #expect(event.body["detail-type"] as? String == "EXTERNAL_FULFILLMENT_SHIPMENT_STATUS_CHANGE")
                let detail = try #require(event.body["detail"] as? [String: Any])
                #expect(detail["notificationType"] as? String == "EXTERNAL_FULFILLMENT_SHIPMENT_STATUS_CHANGE")
                let payload =
                    (detail["payload"] as? [String: Any])?["externalFulfillmentShipmentNotification"] as? [String: Any]
                #expect(payload?["shipmentId"] as? String == id)
                #expect(payload?["merchantId"] as? String == LiveSimulator.merchant)
            }
        }
    }

    @Test(
        "injected 500s and 503s apply nothing; a dropped connection applies the call; all of it shows in the request log"
    )
    func faults() async throws {
        try await LiveSimulator.run { live in
            let id = try await live.shipment(at: "ACCEPTED")
            let path = "/externalFulfillment/2024-09-11/shipments/\(id)"
            let set = try await RawHTTP.send(
                .PUT,
                "\(live.base)/_simulator/faults",
                json: #"{"operation":"processShipment","unavailableRate":1}"#
            )
            #expect(set.status == 200)
            let unavailable = try await live.call(.POST, "\(path)?operation=CONFIRM")
            #expect(unavailable.status == 503)
            #expect(unavailable.firstErrorCode == "ServiceUnavailable")
            #expect(try await live.shipment(id).status == "ACCEPTED")
            // Other operations are not affected.
            try live.expectStatus(200, try await live.call(.GET, path))

            _ = try await RawHTTP.send(
                .PUT,
                "\(live.base)/_simulator/faults",
                json: #"{"operation":"processShipment","internalErrorRate":1}"#
            )
            try live.expectStatus(500, try await live.call(.POST, "\(path)?operation=CONFIRM"))

            _ = try await RawHTTP.send(
                .PUT,
                "\(live.base)/_simulator/faults",
                json: #"{"operation":"processShipment","dropAfterApplyRate":1}"#
            )
            await #expect(throws: (any Error).self) { _ = try await live.call(.POST, "\(path)?operation=CONFIRM") }
            #expect(try await live.shipment(id).status == "CONFIRMED", "a dropped answer still applied the call")

            let log = await live.simulator.recordedRequests().filter { $0.operation == "processShipment" }
            #expect(log.map(\.fault) == ["unavailable", "internalError", "dropAfterApply"])
            #expect(log.allSatisfy { $0.merchantID == LiveSimulator.merchant }, "faulted calls name their seller too")

            let invalid = try await RawHTTP.send(
                .PUT,
                "\(live.base)/_simulator/faults",
                json: #"{"unavailableRate":1.5}"#
            )
            #expect(invalid.status == 400)
            #expect((invalid.json?["error"] as? String)?.contains("unavailableRate") == true)
            _ = try await RawHTTP.send(.PUT, "\(live.base)/_simulator/faults", json: #"{"latencyMilliseconds":0}"#)
            try live.expectStatus(409, try await live.call(.POST, "\(path)?operation=CONFIRM"))
        }
    }

    @Test("the order generator makes orders at its rate with variety, for the merchant's locations")
    func generator() async throws {
        try await LiveSimulator.run { live in
            let location = try await live.createLocation()
            try await live.simulator.setOrderGenerator(ordersPerMinute: 600, merchantID: LiveSimulator.merchant)
            // Drive the generator's clock by hand: 30 simulated seconds at 600 a minute are 300 orders.
            try await live.simulator.setOrderGenerator(ordersPerMinute: 0, merchantID: LiveSimulator.merchant)
            for _ in 0..<300 {
                try await live.simulator.generateOrder(merchantID: LiveSimulator.merchant, locationID: location)
            }
            let truth = await live.simulator.groundTruth()
            #expect(truth.shipments.count == 300)
            var shipments: [AmazonEFShipments.Components.Schemas.Shipment] = []
            var token: String?
            repeat {
                let page = try await live.shipments.getShipments(
                    query: .init(status: .accepted, maxResults: 100, paginationToken: token)
                ).ok.body.json
                shipments += page.shipments ?? []
                token = page.pagination?.nextToken
            } while token != nil
            #expect(shipments.count == 300)
            #expect(shipments.contains { $0.lineItems.count > 1 })
            #expect(shipments.contains { $0.lineItems.contains { $0.numberOfUnits > 1 } })
            #expect(shipments.contains { $0.shippingInfo.shippingType == "SELF" })
            #expect(
                shipments.contains {
                    $0.lineItems.contains { $0.complianceAttributes.serialNumberRequirement == "REQUIRED" }
                }
            )
            #expect(Set(shipments.map(\.shipmentInfo.buyerOrderId)).count == 300)

            let generated = try await RawHTTP.send(
                .POST,
                "\(live.base)/_simulator/orders",
                json: #"{"merchantId":"\#(LiveSimulator.merchant)","count":5}"#
            )
            #expect(generated.status == 201)
            #expect((generated.json?["shipmentIds"] as? [String])?.count == 5)
            let refused = try await RawHTTP.send(
                .PUT,
                "\(live.base)/_simulator/order-generator",
                json: #"{"merchantId":"X","ordersPerMinute":-1}"#
            )
            #expect(refused.status == 400)
        }
    }

    @Test("the running generator creates orders as time passes")
    func runningGenerator() async throws {
        try await LiveSimulator.run { live in
            let set = try await RawHTTP.send(
                .PUT,
                "\(live.base)/_simulator/order-generator",
                json: #"{"merchantId":"\#(LiveSimulator.merchant)","ordersPerMinute":6000}"#
            )
            #expect(set.status == 200)
            var count = 0
            for _ in 0..<100 where count < 5 {
                try await Task.sleep(for: .milliseconds(50))
                count = await live.simulator.groundTruth().shipments.count
            }
            #expect(count >= 5)
        }
    }

    @Test("a marketplace cancellation on the control path: neither throttled nor faulted, shown in the state")
    func cancellation() async throws {
        try await LiveSimulator.run { live in
            let id = try await live.shipment(at: "PACKAGE_CREATED")
            _ = try await RawHTTP.send(.PUT, "\(live.base)/_simulator/faults", json: #"{"internalErrorRate":1}"#)
            let cancelled = try await RawHTTP.send(
                .POST,
                "\(live.base)/_simulator/shipments/\(id)/cancel",
                json: #"{"reason":"Buyer changed their mind"}"#
            )
            #expect(cancelled.status == 200 && cancelled.json?["status"] as? String == "CANCELLED")
            _ = try await RawHTTP.send(.PUT, "\(live.base)/_simulator/faults", json: #"{"internalErrorRate":0}"#)
            #expect(try await live.shipment(id).status == "CANCELLED")
            let again = try await RawHTTP.send(.POST, "\(live.base)/_simulator/shipments/\(id)/cancel", json: "{}")
            #expect(again.status == 400, "a cancelled shipment cannot be cancelled again")
            let missing = try await RawHTTP.send(.POST, "\(live.base)/_simulator/shipments/NOPE/cancel", json: "{}")
            #expect(missing.status == 404)

            let state = try await RawHTTP.send(.GET, "\(live.base)/_simulator/state")
            let shipment = try #require(
                (state.json?["shipments"] as? [[String: Any]])?.first { $0["id"] as? String == id }
            )
            let cancellation = try #require(shipment["cancellation"] as? [String: Any])
            #expect(cancellation["type"] as? String == "MARKETPLACE_CANCELLED")
            #expect(cancellation["reason"] as? String == "MARKETPLACE_CANCELLED")
            let lines = try #require(shipment["lines"] as? [[String: Any]])
            #expect(
                !lines.isEmpty && lines.allSatisfy { ($0["units"] as? Int ?? 0) > 0 && $0["merchantSku"] is String }
            )
            let history = (shipment["history"] as? [[String: Any]])?.compactMap { $0["status"] as? String }
            #expect(history?.last == "CANCELLED")
            #expect(
                history?.contains("CONFIRMED") == true && history?.contains("PACKAGE_CREATED") == true,
                "\(history ?? [])"
            )
        }
    }

    @Test("the ground truth and the request log tell what Amazon holds and what it received")
    func groundTruth() async throws {
        try await LiveSimulator.run { live in
            let id = try await live.shipment(at: "SHIPLABEL_GENERATED")
            let state = try await RawHTTP.send(.GET, "\(live.base)/_simulator/state")
            #expect(state.status == 200)
            let shipments = try #require(state.json?["shipments"] as? [[String: Any]])
            #expect(shipments.first?["id"] as? String == id)
            #expect(shipments.first?["status"] as? String == "SHIPLABEL_GENERATED")
            let requests = try await RawHTTP.send(.GET, "\(live.base)/_simulator/requests")
            let operations = (requests.jsonArray as? [[String: Any]])?.compactMap { $0["operation"] as? String } ?? []
            #expect(operations.contains("generateShipLabels"))
            let later = try await RawHTTP.send(.GET, "\(live.base)/_simulator/requests?after=\(operations.count)")
            #expect(later.jsonArray?.isEmpty == true)
            let missing = try await RawHTTP.send(.GET, "\(live.base)/_simulator/documents/NOPE")
            #expect(missing.status == 404)
        }
    }
}

@Suite("Saved state")
struct SavedStateTests {
    @Test(
        "a simulator restored from a saved state is the same Amazon: shipments, returns, stock and the seller's grants"
    )
    func restore() async throws {
        try await LiveSimulator.run { live in
            let shipped = try await live.shipment(at: "SHIPPED")
            let made = try await live.simulator.createReturns(ReturnRequest(shipmentId: shipped))
            let refreshToken = try await live.simulator.authorize(merchantID: LiveSimulator.merchant)
            let saved = try await live.simulator.savedState()
            let before = await live.simulator.groundTruth()

            let restored = Simulator(configuration: live.configuration)
            try await restored.restore(saved)
            let after = await restored.groundTruth()
            #expect(after.shipments.map(\.id) == before.shipments.map(\.id))
            #expect(after.shipments.map(\.status) == before.shipments.map(\.status))
            #expect(after.returns.map(\.id) == made.map(\.id))
            #expect(after.stock.map(\.quantity) == before.stock.map(\.quantity))
            #expect(after.locations.map(\.id) == before.locations.map(\.id))
            // The seller's refresh token still works at the token endpoint of the restored simulator.
            let application = try await SimulatorServer.makeApplication(
                simulator: restored,
                host: "127.0.0.1",
                port: 0,
                logger: Logger(label: "simulator.test")
            )
            try await application.test(.live) { client in
                let answer = try await RawHTTP.send(
                    .POST,
                    "http://127.0.0.1:\(client.port!)/auth/o2/token",
                    form: [
                        "grant_type": "refresh_token", "refresh_token": refreshToken,
                        "client_id": live.configuration.clientID, "client_secret": live.configuration.clientSecret,
                    ]
                )
                #expect(answer.status == 200, "\(answer.text)")
            }
            await #expect(throws: (any Error).self) { try await restored.restore(Data("{}".utf8)) }
        }
    }
}
