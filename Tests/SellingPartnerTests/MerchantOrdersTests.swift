import AmazonSimulator
import FlexCore
import Foundation
import SellingPartner
import Testing

@Suite("Merchant-fulfilled orders through SellingPartner")
struct MerchantOrdersTests {
    static let us: MarketplaceID = "ATVPDKIKX0DER"

    @Test("search by update and by creation, get, and confirm a partial then a whole shipment, in FlexCore's words")
    func roundTrip() async throws {
        try await SimulatedAmazon.run { amazon in
            let client = try await amazon.client()
            let since = Date().addingTimeInterval(-2)
            let id = try await amazon.simulator.createMFNOrder(
                .init(
                    merchantID: SimulatedAmazon.merchant,
                    marketplaceID: Self.us.rawValue,
                    serviceLevel: "Expedited",
                    items: ["MUG": 2, "CUP": 1]
                )
            )
            _ = try await amazon.simulator.createMFNOrder(
                .init(merchantID: SimulatedAmazon.merchant, marketplaceID: "A1F83G8C2ARO7P")
            )
            let page = try await client.merchantOrders(
                since: since,
                byCreation: false,
                marketplaceIDs: [Self.us],
                pageSize: 100,
                nextToken: nil
            )
            #expect(page.orders.map(\.facts.orderID) == [id] && page.nextToken == nil)
            #expect(page.searchedUntil != nil)
            let facts = try #require(page.orders.first?.facts)
            #expect(facts.status == "UNSHIPPED" && facts.serviceLevel == "Expedited" && facts.isMerchantFulfilled)
            #expect(facts.shipBy != nil && facts.deliverBy != nil && facts.packages.isEmpty)
            #expect(facts.items.map(\.quantityUnshipped) == [2, 1] || facts.items.map(\.quantityUnshipped) == [1, 2])
            #expect(page.orders.first?.document.contains("\"deliveryAddress\"") == true, "the recipient is asked for")
            let byCreation = try await client.merchantOrders(
                since: since,
                byCreation: true,
                marketplaceIDs: [],
                pageSize: 1,
                nextToken: nil
            )
            #expect(byCreation.orders.count == 1 && byCreation.nextToken != nil)

            let mug = try #require(facts.items.first { $0.sellerSKU == "MUG" }?.orderItemID)
            let cup = try #require(facts.items.first { $0.sellerSKU == "CUP" }?.orderItemID)
            func confirmation(_ reference: String, _ items: [(String, Int)]) -> MerchantShipmentConfirmation {
                MerchantShipmentConfirmation(
                    marketplaceID: Self.us,
                    packageReferenceID: reference,
                    carrierCode: "UPS",
                    carrierName: nil,
                    shippingMethod: "Ground",
                    trackingNumber: "1Z\(reference)",
                    shipDate: Date(),
                    items: items.map { .init(orderItemID: $0.0, quantity: $0.1) }
                )
            }
            try await client.confirmShipment(orderID: id, confirmation("1", [(mug, 1)]))
            let partial = try await client.merchantOrder(id)
            #expect(partial.facts.status == "PARTIALLY_SHIPPED")
            #expect(
                partial.facts.packages.map(\.referenceID) == ["1"] && partial.facts.packages.first?.items == [mug: 1]
            )
            await #expect(throws: (any Error).self, "a package confirmed twice is refused") {
                try await client.confirmShipment(orderID: id, confirmation("1", [(mug, 1)]))
            }
            try await client.confirmShipment(orderID: id, confirmation("2", [(mug, 1), (cup, 1)]))
            let shipped = try await client.merchantOrder(id)
            #expect(shipped.facts.status == "SHIPPED" && shipped.facts.packages.count == 2)
            #expect(shipped.facts.items.allSatisfy { $0.quantityUnshipped == 0 })
            #expect(await amazon.simulator.groundTruth().mfnOrders.first { $0.id == id }?.confirmations.count == 2)
        }
    }
}
