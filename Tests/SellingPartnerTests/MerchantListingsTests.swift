import AmazonSimulator
import FlexCore
import Foundation
import SellingPartner
import Testing

@Suite("Merchant-fulfilled listings through SellingPartner: patches and JSON listings feeds")
struct MerchantListingsTests {
    static let us: MarketplaceID = "ATVPDKIKX0DER"
    static let seller = SellingPartnerID(rawValue: SimulatedAmazon.merchant)

    @Test(
        "a quantity and a price by patch; a refusal names the attribute; an ASIN finds its SKUs; an unknown SKU is nil"
    )
    func patch() async throws {
        try await SimulatedAmazon.run { amazon in
            let client = try await amazon.client()
            _ = try await amazon.simulator.putListings(
                [
                    ListingSpecification(sku: "MUG", marketplaceIDs: [Self.us.rawValue], quantity: 5, price: 10),
                    ListingSpecification(sku: "CUP", marketplaceIDs: [Self.us.rawValue], quantity: 1),
                ],
                merchantID: SimulatedAmazon.merchant
            )
            let update = ListingUpdate(
                sku: "MUG",
                quantity: 12,
                handlingTime: 2,
                price: ListingPrice(
                    marketplaceID: Self.us,
                    currency: "USD",
                    amount: Decimal(string: "19.99")!,
                    salePrice: Decimal(string: "17.5")!,
                    saleStart: Date(timeIntervalSince1970: 1_796_000_000),
                    saleEnd: Date(timeIntervalSince1970: 1_797_000_000),
                    minimum: 15,
                    maximum: 30
                )
            )
            let taken = try await client.patchListing(update, sellerID: Self.seller, marketplaceIDs: [Self.us])
            #expect(taken.accepted && taken.issues.isEmpty && taken.submissionID != nil)
            let listing = try #require(
                try await client.listing(sku: "MUG", sellerID: Self.seller, marketplaceIDs: [Self.us])
            )
            #expect(listing.quantity == 12 && listing.isMerchantFulfilled && listing.prices[Self.us] == "19.99")
            let truth = try #require(await amazon.simulator.groundTruth().listings.first { $0.sku == "MUG" })
            #expect(truth.handlingTime == 2 && truth.offers.first?.salePrice == "17.5")
            #expect(truth.offers.first?.minimumPrice == "15" && truth.offers.first?.maximumPrice == "30")

            var wrong = update
            wrong.price?.currency = "EUR"
            let refused = try await client.patchListing(wrong, sellerID: Self.seller, marketplaceIDs: [Self.us])
            #expect(!refused.accepted && refused.issues.first?.attribute == "purchasable_offer.currency")
            let found = try await client.listings(
                asins: [try #require(listing.asin)],
                sellerID: Self.seller,
                marketplaceID: Self.us
            )
            #expect(found.map(\.sku) == ["MUG"])
            #expect(try await client.listing(sku: "NONE", sellerID: Self.seller, marketplaceIDs: [Self.us]) == nil)
        }
    }

    @Test("a JSON listings feed: submitted, followed to DONE, its report read message by message")
    func feed() async throws {
        try await SimulatedAmazon.run { amazon in
            let client = try await amazon.client()
            try await amazon.simulator.setFeedTiming(
                .init(queueSeconds: 0, baseSeconds: 0.05, secondsPerThousandMessages: 0)
            )
            _ = try await amazon.simulator.putListings(
                (1...3).map { ListingSpecification(sku: "SKU-\($0)", marketplaceIDs: [Self.us.rawValue], quantity: 0) },
                merchantID: SimulatedAmazon.merchant
            )
            let since = Date().addingTimeInterval(-1)
            let document = try ListingRules.feed(
                sellerID: Self.seller,
                updates: [
                    ListingUpdate(sku: "SKU-1", quantity: 7), ListingUpdate(sku: "SKU-404", quantity: 1),
                    ListingUpdate(sku: "SKU-3", quantity: 9, handlingTime: 3),
                ]
            )
            let id = try await client.submitListingsFeed(document, marketplaceIDs: [Self.us])
            var status = try await client.feed(id)
            for _ in 0..<200 where !status.isFinished {
                try await Task.sleep(for: .milliseconds(20))
                status = try await client.feed(id)
            }
            #expect(status.status == "DONE")
            let report = try await client.feedReport(documentID: try #require(status.resultDocumentID))
            #expect(report.summary.messagesAccepted == 2 && report.summary.messagesInvalid == 1)
            #expect(report.issues(ofMessage: 1).isEmpty && report.issues(ofMessage: 2).first?.isError == true)
            #expect(report.feedIssues.isEmpty)
            let quantities = await amazon.simulator.groundTruth().listings.map { "\($0.sku)=\($0.quantity ?? -1)" }
            #expect(quantities == ["SKU-1=7", "SKU-2=0", "SKU-3=9"])
            #expect(try await client.listingsFeeds(since: since).map(\.feedID) == [id])
        }
    }
}
