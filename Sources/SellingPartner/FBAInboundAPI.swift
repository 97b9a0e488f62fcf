import AmazonInboundV0
import FlexCore
import Foundation
import OpenAPIRuntime

/// Amazon's inbound shipments as the FBA inbound worker needs them: Fulfillment Inbound v0's reads, in FlexCore's
/// words.
public protocol FBAInbound: Sendable {
    /// The seller's inbound shipments to a marketplace changed between the two times, every page read, with their
    /// items (one getShipmentItemsByShipmentId each).
    func inboundShipments(
        marketplaceID: MarketplaceID,
        updatedAfter: Date,
        updatedBefore: Date
    ) async throws -> [InboundShipmentFacts]
}

extension SellingPartnerClient: FBAInbound {
    /// Every status Amazon has: getShipments needs a status list or ids, and FlexBridge wants them all.
    static let inboundStatuses:
        [AmazonInboundV0.Operations.GetInboundShipments.Input.Query
            .ShipmentStatusListPayloadPayload] = [
                .working, .readyToShip, .shipped, .receiving, .cancelled, .deleted, .closed, .error, .inTransit,
                .delivered, .checkedIn,
            ]

    public func inboundShipments(
        marketplaceID: MarketplaceID,
        updatedAfter: Date,
        updatedBefore: Date
    ) async throws -> [InboundShipmentFacts] {
        var shipments: [AmazonInboundV0.Components.Schemas.InboundShipmentInfo] = []
        var token: String?
        repeat {
            let query: AmazonInboundV0.Operations.GetInboundShipments.Input.Query =
                token.map { .init(queryType: .nextToken, nextToken: $0, marketplaceId: marketplaceID.rawValue) }
                ?? .init(
                    shipmentStatusList: Self.inboundStatuses,
                    lastUpdatedAfter: updatedAfter,
                    lastUpdatedBefore: updatedBefore,
                    queryType: .dateRange,
                    marketplaceId: marketplaceID.rawValue
                )
            let page = try await inboundV0.getInboundShipments(query: query).ok.body.json.payload
            shipments += page?.shipmentData ?? []
            token = page?.nextToken
        } while token != nil
        var facts: [InboundShipmentFacts] = []
        for shipment in shipments {
            guard let id = shipment.shipmentId else { continue }
            let items =
                try await inboundV0.getShipmentItemsByShipmentId(
                    path: .init(shipmentId: id),
                    query: .init(marketplaceId: marketplaceID.rawValue)
                ).ok.body.json.payload?.itemData ?? []
            facts.append(
                InboundShipmentFacts(
                    shipmentID: id,
                    name: shipment.shipmentName,
                    marketplaceID: marketplaceID,
                    status: shipment.shipmentStatus ?? "WORKING",
                    destination: shipment.destinationFulfillmentCenterId,
                    needBy: shipment.confirmedNeedByDate,
                    items: items.map {
                        InboundShipmentFacts.Item(
                            sku: MerchantSKU(rawValue: $0.sellerSKU),
                            fnSku: $0.fulfillmentNetworkSKU,
                            shipped: Int($0.quantityShipped),
                            received: Int($0.quantityReceived ?? 0)
                        )
                    }
                )
            )
        }
        return facts
    }
}
