import AmazonFBAInventory
import FlexCore
import Foundation
import OpenAPIRuntime

/// Amazon's FBA stock as the FBA worker needs it: getInventorySummaries per marketplace, in FlexCore's words.
public protocol FBAInventory: Sendable {
    /// The seller's FBA stock in a marketplace with Amazon's breakdown, every page read (50 SKUs a page; a page's
    /// token is good for 30 seconds, so the pages are read one after the other): the SKUs Amazon holds units of,
    /// or, from `changedSince` on, those it changed.
    func fbaStock(marketplaceID: MarketplaceID, changedSince: Date?) async throws -> [FBAStock]
}

extension SellingPartnerClient: FBAInventory {
    public func fbaStock(marketplaceID: MarketplaceID, changedSince: Date?) async throws -> [FBAStock] {
        var stock: [FBAStock] = []
        var token: String?
        repeat {
            let page = try await fbaInventory.getInventorySummaries(
                query: .init(
                    details: true,
                    granularityType: .marketplace,
                    granularityId: marketplaceID.rawValue,
                    startDateTime: changedSince,
                    nextToken: token,
                    marketplaceIds: [marketplaceID.rawValue]
                )
            ).ok.body.json
            stock += (page.payload?.inventorySummaries ?? []).compactMap { FBAStock($0, marketplaceID: marketplaceID) }
            token = page.pagination?.nextToken
        } while token != nil
        return stock
    }
}

extension FBAStock {
    init?(_ summary: AmazonFBAInventory.Components.Schemas.InventorySummary, marketplaceID: MarketplaceID) {
        guard let sku = summary.sellerSku else { return nil }
        let details = summary.inventoryDetails
        self.init(
            marketplaceID: marketplaceID,
            sku: MerchantSKU(rawValue: sku),
            asin: summary.asin,
            fnSku: summary.fnSku,
            productName: summary.productName,
            fulfillable: details?.fulfillableQuantity ?? 0,
            inboundWorking: details?.inboundWorkingQuantity ?? 0,
            inboundShipped: details?.inboundShippedQuantity ?? 0,
            inboundReceiving: details?.inboundReceivingQuantity ?? 0,
            reserved: details?.reservedQuantity?.totalReservedQuantity ?? 0,
            researching: details?.researchingQuantity?.totalResearchingQuantity ?? 0,
            unfulfillable: details?.unfulfillableQuantity?.totalUnfulfillableQuantity ?? 0,
            total: summary.totalQuantity,
            updatedAt: summary.lastUpdatedTime
        )
    }
}
