import FlexCore
import Foundation
import Testing

@Suite("MFN listings: patches, the JSON listings feed, its report, and the route a change takes")
struct ListingRulesTests {
    @Test("a quantity becomes fulfillment_availability, a price purchasable_offer with its sale and bounds")
    func patches() throws {
        let update = ListingUpdate(
            sku: "MUG",
            quantity: 120_000_000,
            handlingTime: 2,
            price: ListingPrice(
                marketplaceID: "A1F83G8C2ARO7P",
                currency: "GBP",
                amount: Decimal(string: "19.99")!,
                salePrice: 15,
                saleStart: Date(timeIntervalSince1970: 1_796_000_000),
                saleEnd: Date(timeIntervalSince1970: 1_797_000_000),
                minimum: 10
            )
        )
        let patches = ListingRules.patches(for: update)
        #expect(patches.map(\.path) == ["/attributes/fulfillment_availability", "/attributes/purchasable_offer"])
        #expect(patches.allSatisfy { $0.op == "replace" })
        let availability = try #require(patches.first?.value?.first)
        #expect(
            availability
                == .object([
                    "fulfillment_channel_code": .string("DEFAULT"), "quantity": .number(99_999_999),
                    "lead_time_to_ship_max_days": .number(2),
                ]),
            "capped at Amazon's most"
        )
        let text = String(decoding: try JSONEncoder().encode(patches[1].value), as: UTF8.self)
        #expect(text.contains("\"value_with_tax\":19.99") && text.contains("\"currency\":\"GBP\""))
        #expect(text.contains("minimum_seller_allowed_price") && !text.contains("maximum_seller_allowed_price"))
        #expect(text.contains("\"start_at\":\"2026-11-30T") && text.contains("discounted_price"))
        #expect(ListingRules.patches(for: ListingUpdate(sku: "MUG")).isEmpty)
    }

    @Test("a feed numbers its PATCH messages from 1 under the seller's header, version 2.0")
    func feed() throws {
        let data = try ListingRules.feed(
            sellerID: "A1SELLER",
            updates: [ListingUpdate(sku: "A", quantity: 1), ListingUpdate(sku: "B", quantity: 0)]
        )
        let document = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let header = document["header"] as? [String: String]
        #expect(header == ["sellerId": "A1SELLER", "version": "2.0"])
        let messages = try #require(document["messages"] as? [[String: Any]])
        #expect(messages.compactMap { $0["messageId"] as? Int } == [1, 2])
        #expect(messages.compactMap { $0["sku"] as? String } == ["A", "B"])
        #expect(
            messages.allSatisfy {
                $0["operationType"] as? String == "PATCH" && $0["productType"] as? String == "PRODUCT"
            }
        )
    }

    @Test("a processing report says per message what went wrong, and apart what concerns the whole feed")
    func report() throws {
        let report = try ListingsFeedReport(
            json: Data(
                """
                {"header":{"sellerId":"A1","version":"2.0","feedId":"1"},"issues":[
                {"messageId":2,"sku":"B","code":"90000900","severity":"ERROR","message":"bad","attributeName":"fulfillment_availability.quantity"},
                {"messageId":2,"severity":"WARNING","message":"note"},
                {"code":"4000003","severity":"ERROR","message":"whole"}],
                "summary":{"errors":2,"warnings":1,"messagesProcessed":2,"messagesAccepted":1,"messagesInvalid":1}}
                """.utf8
            )
        )
        #expect(report.issues(ofMessage: 1).isEmpty)
        #expect(report.issues(ofMessage: 2).map(\.isError) == [true, false])
        #expect(report.issues(ofMessage: 2).first?.attribute == "fulfillment_availability.quantity")
        #expect(report.feedIssues.map(\.code) == ["4000003"] && report.summary.messagesInvalid == 1)
        #expect(throws: DecodingError.self) { try ListingsFeedReport(json: Data("{}".utf8)) }
    }

    @Test("a few changes go by patch; a backlog goes by feed when one may be submitted, the rest by patch")
    func route() {
        #expect(ListingRoutePlanner.route(pending: 0, feedAllowed: true) == .idle)
        #expect(ListingRoutePlanner.route(pending: 3, feedAllowed: true) == .patch(3))
        #expect(ListingRoutePlanner.route(pending: 50, feedAllowed: true) == .patch(50))
        #expect(ListingRoutePlanner.route(pending: 51, feedAllowed: true) == .feed(51))
        #expect(ListingRoutePlanner.route(pending: 100_000, feedAllowed: true) == .feed(25_000))
        #expect(ListingRoutePlanner.route(pending: 100_000, feedAllowed: false) == .patch(50))
    }

    @Test("the feed budget: two at once, then one a minute, as the client paces createFeed")
    func budget() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(ListingRoutePlanner.feedAllowed(submitted: [], now: now))
        #expect(ListingRoutePlanner.feedAllowed(submitted: [now], now: now))
        #expect(!ListingRoutePlanner.feedAllowed(submitted: [now, now], now: now))
        #expect(!ListingRoutePlanner.feedAllowed(submitted: [now, now], now: now.addingTimeInterval(59)))
        #expect(ListingRoutePlanner.feedAllowed(submitted: [now, now], now: now.addingTimeInterval(60)))
        let busy = [now, now, now.addingTimeInterval(60)]
        #expect(!ListingRoutePlanner.feedAllowed(submitted: busy, now: now.addingTimeInterval(100)))
        #expect(ListingRoutePlanner.feedAllowed(submitted: busy, now: now.addingTimeInterval(120)))
    }

    @Test(
        "reconciliation: Amazon's number is what was sent less the units ordered since; more is repaired at once, fewer only once Amazon's listing has been still long enough for every order to be read"
    )
    func reconciliation() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let long = now.addingTimeInterval(-3600)
        let lately = now.addingTimeInterval(-60)
        func verdict(_ sent: Int, _ ordered: Int, _ amazon: Int, _ updated: Date?) -> ListingReconciliation.Verdict {
            ListingReconciliation.verdict(
                sent: sent,
                orderedSince: ordered,
                amazon: amazon,
                amazonUpdatedAt: updated,
                now: now,
                settle: 900
            )
        }
        #expect(verdict(10, 2, 8, lately) == .inLine, "an order read since explains it: nothing re-offered")
        #expect(verdict(3, 5, 0, lately) == .inLine, "Amazon stops at 0")
        guard case .repair(let raised) = verdict(5, 0, 50, lately) else {
            Issue.record("a number raised at Amazon is repaired at once")
            return
        }
        #expect(raised == "Amazon showed 50, expected 5 (5 sent, 0 ordered since)")
        guard case .wait = verdict(8, 0, 5, lately) else {
            Issue.record("fewer, changed lately: an order not yet read may explain it")
            return
        }
        guard case .wait = verdict(8, 0, 5, nil) else {
            Issue.record("fewer, when Amazon does not say when it changed: never raised")
            return
        }
        guard case .repair = verdict(8, 0, 5, long) else {
            Issue.record("fewer, Amazon's listing still for an hour: lowered by hand, repaired")
            return
        }
    }
}
