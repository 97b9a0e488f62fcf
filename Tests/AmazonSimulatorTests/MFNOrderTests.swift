import AmazonOrders
import AmazonOrdersV0
import AmazonSimulator
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OpenAPIAsyncHTTPClient
import OpenAPIRuntime
import Synchronization
import Testing

@Suite("Merchant-fulfilled orders: Orders 2026-01-01 and v0's confirmShipment")
struct MFNOrderTests {
    static let us = LiveSimulator.unitedStates

    @Test("searchOrders pages by creation time and id: every order once, includedData decides what is shown")
    func search() async throws {
        try await LiveSimulator.run { live in
            let since = Date().addingTimeInterval(-1)
            var made: [String] = []
            for index in 0..<5 {
                made.append(
                    try await live.simulator.createMFNOrder(
                        .init(
                            merchantID: LiveSimulator.merchant,
                            marketplaceID: Self.us,
                            serviceLevel: index == 0 ? "NextDay" : nil,
                            items: ["SKU-\(index)": index + 1]
                        )
                    )
                )
            }
            // Another seller's order is not seen.
            try await live.simulator.createMFNOrder(.init(merchantID: "A2OTHERSELLER", marketplaceID: Self.us))
            var seen: [AmazonOrders.Components.Schemas.Order] = []
            var token: String?
            var pages = 0
            repeat {
                let page = try await live.orders.searchOrders(
                    query: .init(
                        createdAfter: since,
                        marketplaceIds: [Self.us],
                        maxResultsPerPage: 2,
                        paginationToken: token,
                        includedData: [.fulfillment]
                    )
                ).ok.body.json
                seen += page.orders
                token = page.pagination?.nextToken
                pages += 1
                #expect(page.createdBefore != nil && page.lastUpdatedBefore == nil)
            } while token != nil
            #expect(pages == 3 && seen.map(\.orderId) == made)
            let first = try #require(seen.first)
            #expect(first.fulfillment?.fulfillmentStatus == "UNSHIPPED" && first.fulfillment?.fulfilledBy == "MERCHANT")
            #expect(first.fulfillment?.fulfillmentServiceLevel == "NextDay" && first.recipient == nil)
            #expect(first.orderItems.first?.fulfillment?.quantityUnfulfilled == 1)
            let bare = try await live.orders.getOrder(path: .init(orderId: made[2])).ok.body.json.order
            #expect(bare.fulfillment == nil && bare.buyer == nil && bare.orderItems.first?.product.sellerSku == "SKU-2")
            #expect(bare.orderItems.first?.product.asin?.hasPrefix("B0") == true)

            let neither = try await live.call(.GET, "/orders/2026-01-01/orders?marketplaceIds=\(Self.us)")
            #expect(neither.status == 400 && neither.text.contains("Exactly one of createdAfter and lastUpdatedAfter"))
            let both = try await live.call(
                .GET,
                "/orders/2026-01-01/orders?createdAfter=2026-01-01T00:00:00Z&lastUpdatedAfter=2026-01-01T00:00:00Z"
            )
            #expect(both.status == 400)
            let page = try await live.orders.searchOrders(
                query: .init(createdAfter: since, maxResultsPerPage: 1)
            ).ok.body.json
            let token2 = try #require(page.pagination?.nextToken)
            let otherFilters = try await live.call(
                .GET,
                "/orders/2026-01-01/orders?createdAfter=\(since.formatted(.iso8601))&marketplaceIds=X&paginationToken=\(token2.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
            )
            #expect(otherFilters.status == 400 && otherFilters.text.contains("other filters"))
            #expect(try await live.call(.GET, "/orders/2026-01-01/orders/111-0000000-0000000").status == 404)
        }
    }

    @Test(
        "confirmShipment: a partial package, then the rest; a package confirmed twice or too many units is refused and changes nothing"
    )
    func confirm() async throws {
        try await LiveSimulator.run { live in
            let id = try await live.simulator.createMFNOrder(
                .init(merchantID: LiveSimulator.merchant, marketplaceID: Self.us, items: ["MUG": 3, "CUP": 1])
            )
            let order = try await live.orders.getOrder(path: .init(orderId: id)).ok.body.json.order
            let mug = try #require(order.orderItems.first { $0.product.sellerSku == "MUG" }?.orderItemId)
            let cup = try #require(order.orderItems.first { $0.product.sellerSku == "CUP" }?.orderItemId)
            func confirm(
                _ reference: String,
                _ items: [(String, Int)],
                marketplace: String = MFNOrderTests.us
            ) async throws
                -> AmazonOrdersV0.Operations.ConfirmShipment.Output
            {
                try await live.ordersV0.confirmShipment(
                    path: .init(orderId: id),
                    body: .json(
                        .init(
                            packageDetail: .init(
                                packageReferenceId: reference,
                                carrierCode: "UPS",
                                shippingMethod: "Ground",
                                trackingNumber: "1Z-\(reference)",
                                shipDate: Date(),
                                orderItems: items.map { .init(orderItemId: $0.0, quantity: $0.1) }
                            ),
                            marketplaceId: marketplace
                        )
                    )
                )
            }
            _ = try await confirm("1", [(mug, 2)]).noContent
            var state = await live.simulator.groundTruth().mfnOrders.first { $0.id == id }
            #expect(state?.status == "PARTIALLY_SHIPPED" && state?.confirmations.count == 1)
            for (reference, items, marketplace) in [
                ("1", [(mug, 1)], Self.us), ("2", [(mug, 2)], Self.us), ("2", [("0000", 1)], Self.us),
                ("2", [(mug, 1)], LiveSimulator.india),
            ] {
                let refused = try await confirm(reference, items, marketplace: marketplace)
                guard case .badRequest(let answer) = refused else {
                    Issue.record("\(reference) \(items) was not refused: \(refused)")
                    continue
                }
                let body = try answer.body.json
                #expect(body.errors?.first?.code == "InvalidInput")
            }
            state = await live.simulator.groundTruth().mfnOrders.first { $0.id == id }
            #expect(state?.confirmations.count == 1 && state?.items.map(\.quantityShipped).reduce(0, +) == 2)
            _ = try await confirm("2", [(mug, 1), (cup, 1)]).noContent
            let shipped = try await live.orders.getOrder(
                path: .init(orderId: id),
                query: .init(includedData: [.fulfillment, .packages])
            ).ok.body.json.order
            #expect(shipped.fulfillment?.fulfillmentStatus == "SHIPPED")
            #expect(shipped.packages?.map(\.packageReferenceId) == ["1", "2"])
            #expect(
                shipped.packages?.last?.packageItems?.count == 2 && shipped.packages?.last?.trackingNumber == "1Z-2"
            )
            #expect(
                await live.simulator.groundTruth().mfnOrders.first { $0.id == id }?.history.map(\.status) == [
                    "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED",
                ]
            )
            guard case .badRequest = try await confirm("3", [(cup, 1)]) else {
                Issue.record("a shipped order took another package")
                return
            }
        }
    }

    @Test("PENDING until payable; cancelled by Amazon or asked by the buyer; every change seen by lastUpdatedAfter")
    func lifecycle() async throws {
        let (clock, time) = SimulatorClock.manual(start: Date())
        try await LiveSimulator.run(clock: clock) { live in
            let pending = try await live.simulator.createMFNOrder(
                .init(merchantID: LiveSimulator.merchant, marketplaceID: Self.us, pendingSeconds: 30)
            )
            let cancelled = try await live.simulator.createMFNOrder(
                .init(merchantID: LiveSimulator.merchant, marketplaceID: Self.us)
            )
            let asked = try await live.simulator.createMFNOrder(
                .init(merchantID: LiveSimulator.merchant, marketplaceID: Self.us)
            )
            func status(_ id: String) async throws -> String? {
                try await live.orders.getOrder(path: .init(orderId: id), query: .init(includedData: [.fulfillment]))
                    .ok.body.json.order.fulfillment?.fulfillmentStatus
            }
            #expect(try await status(pending) == "PENDING")
            let mark = clock.now()
            time.advance(seconds: 31)
            #expect(try await status(pending) == "UNSHIPPED")
            try await live.simulator.cancelMFNOrder(cancelled, by: "AMAZON", reason: "UnableToFulfill")
            try await live.simulator.requestMFNCancellation(asked, reason: "BuyerCanceled")
            await #expect(throws: ControlError.self) {
                try await live.simulator.cancelMFNOrder(cancelled, by: "BUYER", reason: "again")
            }
            let changed = try await live.orders.searchOrders(
                query: .init(lastUpdatedAfter: mark.addingTimeInterval(1), includedData: [.cancellation, .fulfillment])
            ).ok.body.json
            #expect(
                Set(changed.orders.map(\.orderId)) == [pending, cancelled, asked] && changed.lastUpdatedBefore != nil
            )
            let byID = Dictionary(uniqueKeysWithValues: changed.orders.map { ($0.orderId, $0) })
            #expect(byID[cancelled]?.fulfillment?.fulfillmentStatus == "CANCELLED")
            #expect(byID[cancelled]?.orderItems.first?.cancellation?.cancellationExecution?.cancelledBy == "AMAZON")
            #expect(byID[asked]?.fulfillment?.fulfillmentStatus == "UNSHIPPED")
            #expect(byID[asked]?.orderItems.first?.cancellation?.cancellationRequest?.requester == "BUYER")
            let unshipped = try await live.orders.searchOrders(
                query: .init(createdAfter: mark.addingTimeInterval(-60), fulfillmentStatuses: [.unshipped])
            ).ok.body.json
            #expect(Set(unshipped.orders.map(\.orderId)) == [pending, asked])
        }
    }

    @Test("every change is pushed as ORDER_CHANGE in Amazon's schema, to the shipments' destinations")
    func notifications() async throws {
        let received = Mutex<[Data]>([])
        let router = Router()
        router.post("hook") { request, _ -> HTTPResponse.Status in
            let buffer = try await request.body.collect(upTo: 1 << 20)
            let data = Data(buffer.readableBytesView)
            received.withLock { $0.append(data) }
            return .ok
        }
        let receiver = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await receiver.test(.live) { hook in
            try await LiveSimulator.run { live in
                _ = try await live.simulator.addNotificationDestination(
                    url: "http://127.0.0.1:\(hook.port!)/hook",
                    headerName: nil,
                    secret: "s3cret"
                )
                let id = try await live.simulator.createMFNOrder(
                    .init(merchantID: LiveSimulator.merchant, marketplaceID: Self.us, items: ["MUG": 1])
                )
                try await live.simulator.requestMFNCancellation(id, reason: "BuyerCanceled")
                try await live.simulator.cancelMFNOrder(id, by: "BUYER", reason: "BuyerCanceled")
                var events: [[String: Any]] = []
                for _ in 0..<200 {
                    events = received.withLock { $0 }.compactMap {
                        try? JSONSerialization.jsonObject(with: $0) as? [String: Any]
                    }
                    if events.count >= 3 { break }
                    try await Task.sleep(for: .milliseconds(20))
                }
                let changes = events.compactMap { event -> [String: Any]? in
                    guard event["detail-type"] as? String == "ORDER_CHANGE" else { return nil }
                    let detail = event["detail"] as? [String: Any]
                    return (detail?["Payload"] as? [String: Any])?["OrderChangeNotification"] as? [String: Any]
                }
                #expect(changes.count == 3)
                // Delivered concurrently, as EventBridge does: in any order.
                #expect(
                    changes.compactMap { $0["OrderChangeType"] as? String }.sorted() == [
                        "BuyerRequestedChange", "OrderStatusChange", "OrderStatusChange",
                    ]
                )
                #expect(
                    changes.allSatisfy {
                        $0["AmazonOrderId"] as? String == id && $0["SellerId"] as? String == LiveSimulator.merchant
                    }
                )
                let statuses = changes.compactMap { ($0["Summary"] as? [String: Any])?["OrderStatus"] as? String }
                #expect(statuses.sorted() == ["Canceled", "Unshipped", "Unshipped"])
                let request = try #require(changes.first { $0["OrderChangeType"] as? String == "BuyerRequestedChange" })
                let items = (request["Summary"] as? [String: Any])?["OrderItems"] as? [[String: Any]]
                #expect(items?.first?["IsBuyerRequestedCancel"] as? Bool == true)
                #expect(items?.first?["SellerSKU"] as? String == "MUG")
            }
        }
    }

    @Test("searchOrders at Amazon's rate: a burst of 20, then 429")
    func throttled() async throws {
        try await LiveSimulator.run(configuration: .init(throttling: true)) { live in
            var answered = 0
            var throttled = 0
            for _ in 0..<25 {
                let response = try await live.call(.GET, "/orders/2026-01-01/orders?createdAfter=2026-01-01T00:00:00Z")
                if response.status == 200 { answered += 1 } else if response.status == 429 { throttled += 1 }
            }
            #expect(answered == 20 && throttled == 5)
        }
    }

    @Test("the saved state keeps MFN orders; a state saved before them restores with none")
    func saved() async throws {
        let simulator = Simulator()
        let id = try await simulator.createMFNOrder(.init(merchantID: "A1SAVED", marketplaceID: Self.us))
        let data = try await simulator.savedState()
        let restored = Simulator()
        try await restored.restore(data)
        #expect(await restored.groundTruth().mfnOrders.map(\.id) == [id])
        var old = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        old["mfn"] = nil
        let earlier = Simulator()
        try await earlier.restore(try JSONSerialization.data(withJSONObject: old))
        #expect(await earlier.groundTruth().mfnOrders.isEmpty)
    }
}
