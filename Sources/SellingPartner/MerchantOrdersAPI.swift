import AmazonOrders
import AmazonOrdersV0
import FlexCore
import Foundation

/// Amazon's merchant-fulfilled orders as the MFN order worker needs them: Orders 2026-01-01's searchOrders and
/// getOrder, and v0's confirmShipment, in FlexCore's words.
public protocol MerchantFulfilledOrders: Sendable {
    /// One page of the seller's merchant-fulfilled orders in the marketplaces, updated (or, with `byCreation`,
    /// created) from `since` on.
    func merchantOrders(
        since: Date,
        byCreation: Bool,
        marketplaceIDs: [MarketplaceID],
        pageSize: Int,
        nextToken: String?
    ) async throws -> MerchantOrderPage
    /// The order as Amazon holds it now, with its recipient, fulfilment, packages and cancellations.
    func merchantOrder(_ orderID: String) async throws -> AmazonMerchantOrder
    /// Tells Amazon one package of the order shipped. Amazon's call carries no idempotency key: a caller that does
    /// not know whether an earlier attempt applied reads the order first (its `packages`).
    func confirmShipment(orderID: String, _ confirmation: MerchantShipmentConfirmation) async throws
}

extension SellingPartnerClient: MerchantFulfilledOrders {
    /// What FlexBridge asks Amazon to include: everything the WMS needs, but not the buyer's own details.
    static let includedData: [AmazonOrders.Operations.SearchOrders.Input.Query.IncludedDataPayloadPayload] = [
        .recipient, .fulfillment, .packages, .cancellation,
    ]

    public func merchantOrders(
        since: Date,
        byCreation: Bool,
        marketplaceIDs: [MarketplaceID],
        pageSize: Int,
        nextToken: String?
    ) async throws -> MerchantOrderPage {
        let page = try await orders.searchOrders(
            query: .init(
                createdAfter: byCreation ? since : nil,
                lastUpdatedAfter: byCreation ? nil : since,
                marketplaceIds: marketplaceIDs.isEmpty ? nil : marketplaceIDs.map(\.rawValue),
                fulfilledBy: [.merchant],
                maxResultsPerPage: pageSize,
                paginationToken: nextToken,
                includedData: Self.includedData
            )
        ).ok.body.json
        return MerchantOrderPage(
            orders: try page.orders.map(AmazonMerchantOrder.init),
            nextToken: page.pagination?.nextToken,
            searchedUntil: byCreation ? page.createdBefore : page.lastUpdatedBefore
        )
    }

    public func merchantOrder(_ orderID: String) async throws -> AmazonMerchantOrder {
        let included = Self.includedData.compactMap {
            AmazonOrders.Operations.GetOrder.Input.Query.IncludedDataPayloadPayload(rawValue: $0.rawValue)
        }
        return try AmazonMerchantOrder(
            try await orders.getOrder(path: .init(orderId: orderID), query: .init(includedData: included))
                .ok.body.json.order
        )
    }

    public func confirmShipment(orderID: String, _ confirmation: MerchantShipmentConfirmation) async throws {
        _ = try await ordersV0.confirmShipment(
            path: .init(orderId: orderID),
            body: .json(
                .init(
                    packageDetail: .init(
                        packageReferenceId: confirmation.packageReferenceID,
                        carrierCode: confirmation.carrierCode,
                        carrierName: confirmation.carrierName,
                        shippingMethod: confirmation.shippingMethod,
                        trackingNumber: confirmation.trackingNumber,
                        shipDate: confirmation.shipDate,
                        orderItems: confirmation.items.map { .init(orderItemId: $0.orderItemID, quantity: $0.quantity) }
                    ),
                    marketplaceId: confirmation.marketplaceID.rawValue
                )
            )
        ).noContent
    }
}

extension AmazonMerchantOrder {
    /// FlexCore's view of Amazon's order: the document as the store keeps it (dates in ISO 8601), and the facts
    /// read from that document by the one reader the store uses too (``MerchantOrderFacts/init(document:)``).
    public init(_ order: AmazonOrders.Components.Schemas.Order) throws {
        let document = try JSONText.encodeWithDates(order)
        self.init(facts: try MerchantOrderFacts(document: document), document: document)
    }
}
