import AmazonEFShipments
import FlexCore
import Foundation

/// Amazon's External Fulfillment shipments API as the order worker needs it, in FlexCore's words.
public protocol ExternalFulfillmentShipments: Sendable {
    /// One page of the shipments in `status` changed after `updatedAfter` (any time when nil), at a location or at
    /// all of them.
    func shipments(
        status: ShipmentStatus,
        locationID: String?,
        updatedAfter: Date?,
        pageSize: Int,
        pageToken: String?
    ) async throws -> ShipmentPage
    /// The shipment as Amazon holds it now.
    func shipment(_ id: String) async throws -> AmazonShipment
}

extension SellingPartnerClient: ExternalFulfillmentShipments {
    public func shipments(
        status: ShipmentStatus,
        locationID: String?,
        updatedAfter: Date?,
        pageSize: Int,
        pageToken: String?
    ) async throws -> ShipmentPage {
        guard let status = Operations.GetShipments.Input.Query.StatusPayload(rawValue: status.rawValue) else {
            throw UnreadableShipment(shipmentID: "-", field: "status \(status.rawValue) is not one Amazon lists by")
        }
        let page = try await shipments.getShipments(
            query: .init(
                locationId: locationID,
                status: status,
                lastUpdatedAfter: updatedAfter,
                maxResults: pageSize,
                paginationToken: pageToken
            )
        ).ok.body.json
        return ShipmentPage(
            shipments: try (page.shipments ?? []).map(AmazonShipment.init),
            nextToken: page.pagination?.nextToken
        )
    }

    public func shipment(_ id: String) async throws -> AmazonShipment {
        try AmazonShipment(try await shipments.getShipment(path: .init(shipmentId: id)).ok.body.json)
    }
}

/// A shipment of Amazon's whose dates cannot be read: it cannot be weighed against another copy, so it is not taken.
public struct UnreadableShipment: Error, CustomStringConvertible {
    public var shipmentID: String
    public var field: String
    public var description: String { "Amazon's shipment \(shipmentID) has an unreadable \(field)" }
}

extension AmazonShipment {
    /// FlexCore's view of Amazon's shipment document.
    public init(_ shipment: Components.Schemas.Shipment) throws {
        guard let created = Order.parseTimestamp(shipment.creationDateTime) else {
            throw UnreadableShipment(shipmentID: shipment.id, field: "creationDateTime")
        }
        guard let updated = Order.parseTimestamp(shipment.lastUpdatedDateTime) else {
            throw UnreadableShipment(shipmentID: shipment.id, field: "lastUpdatedDateTime")
        }
        self.init(
            id: shipment.id,
            locationID: LocationID(rawValue: shipment.locationId),
            marketplaceID: MarketplaceID(rawValue: shipment.marketplaceAttributes.marketplaceId),
            channel: shipment.marketplaceAttributes.channelName,
            program: Order.Program(
                channel: shipment.marketplaceAttributes.channelName,
                shippingType: shipment.shippingInfo.shippingType?.rawValue
            ),
            shipmentType: shipment.shipmentInfo.shipmentType.rawValue,
            originalShipmentID: shipment.shipmentInfo.originalShipmentInfo?.id,
            status: shipment.status.rawValue,
            createdAt: created,
            updatedAt: updated,
            expectedShipAt: Order.parseTimestamp(shipment.shippingInfo.expectedShippingDateTimeInUTC),
            document: try JSONText.encode(shipment)
        )
    }
}
