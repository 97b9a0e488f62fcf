import Foundation

/// An External Fulfillment shipment as SellingPartner hands it over: the facts FlexBridge files an order by, and
/// Amazon's document as Amazon gave it (JSON), kept for audit and for the API.
public struct AmazonShipment: Sendable, Hashable {
    public var id: String
    public var locationID: LocationID
    public var marketplaceID: MarketplaceID
    public var channel: String
    public var program: Order.Program
    /// NEW, EXCHANGE or REPLACEMENT.
    public var shipmentType: String?
    /// For a replacement or exchange: the shipment it replaces.
    public var originalShipmentID: String?
    /// Amazon's status (``ShipmentStatus``'s raw value, or one this version does not know).
    public var status: String
    public var createdAt: Date
    /// Amazon's `lastUpdatedDateTime`: copies are weighed by it.
    public var updatedAt: Date
    public var expectedShipAt: Date?
    /// Amazon's shipment document, as JSON.
    public var document: String

    public init(
        id: String,
        locationID: LocationID,
        marketplaceID: MarketplaceID,
        channel: String,
        program: Order.Program,
        shipmentType: String?,
        originalShipmentID: String?,
        status: String,
        createdAt: Date,
        updatedAt: Date,
        expectedShipAt: Date?,
        document: String
    ) {
        self.id = id
        self.locationID = locationID
        self.marketplaceID = marketplaceID
        self.channel = channel
        self.program = program
        self.shipmentType = shipmentType
        self.originalShipmentID = originalShipmentID
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.expectedShipAt = expectedShipAt
        self.document = document
    }
}

/// One page of Amazon's shipment list.
public struct ShipmentPage: Sendable, Hashable {
    public var shipments: [AmazonShipment]
    /// The token of the next page; nil on the last.
    public var nextToken: String?

    public init(shipments: [AmazonShipment], nextToken: String?) {
        self.shipments = shipments
        self.nextToken = nextToken
    }
}

extension Order {
    /// The connection's order for a copy of Amazon's shipment, first seen (or last changed) `now`.
    public init(_ shipment: AmazonShipment, connectionID: ConnectionID, now: Date) {
        self.init(
            connectionID: connectionID,
            shipmentID: shipment.id,
            locationID: shipment.locationID,
            marketplaceID: shipment.marketplaceID,
            channel: shipment.channel,
            program: shipment.program,
            shipmentType: shipment.shipmentType,
            originalShipmentID: shipment.originalShipmentID,
            status: shipment.status,
            amazonCreatedAt: shipment.createdAt,
            amazonUpdatedAt: shipment.updatedAt,
            expectedShipAt: shipment.expectedShipAt,
            shipment: shipment.document,
            firstSeenAt: now,
            updatedAt: now
        )
    }
}
