import Foundation

/// An External Fulfillment shipment as SellingPartner hands it over: the facts FlexBridge files an order by, and
/// Amazon's document as Amazon gave it (JSON), kept for audit and for the API.
public struct AmazonShipment: Sendable, Hashable {
    public var id: ShipmentID
    public var locationID: LocationID
    public var marketplaceID: MarketplaceID
    public var channel: String
    public var program: Order.Program
    /// NEW, EXCHANGE or REPLACEMENT.
    public var shipmentType: String?
    /// For a replacement or exchange: the shipment it replaces.
    public var originalShipmentID: ShipmentID?
    /// Amazon's status (``ShipmentStatus``'s raw value, or one this version does not know).
    public var status: String
    public var createdAt: Date
    /// Amazon's `lastUpdatedDateTime`: copies are weighed by it.
    public var updatedAt: Date
    public var expectedShipAt: Date?
    /// Amazon's shipment document, as JSON.
    public var document: String

    public init(
        id: ShipmentID,
        locationID: LocationID,
        marketplaceID: MarketplaceID,
        channel: String,
        program: Order.Program,
        shipmentType: String?,
        originalShipmentID: ShipmentID?,
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

extension AmazonShipment {
    /// The copy of Amazon's shipment an order holds.
    public init(_ order: Order) {
        self.init(
            id: order.shipmentID,
            locationID: order.locationID,
            marketplaceID: order.marketplaceID,
            channel: order.channel,
            program: order.program,
            shipmentType: order.shipmentType,
            originalShipmentID: order.originalShipmentID,
            status: order.status,
            createdAt: order.amazonCreatedAt,
            updatedAt: order.amazonUpdatedAt,
            expectedShipAt: order.expectedShipAt,
            document: order.shipment
        )
    }

    /// The status, when this version knows it.
    public var knownStatus: ShipmentStatus? { ShipmentStatus(rawValue: status) }

    /// What fulfilment works from, read from Amazon's document: lines, packages, requirements.
    public func facts() throws -> ShipmentFacts { try ShipmentFacts(json: document) }
}

/// What a call Amazon accepted implies for its shipment, recorded on FlexBridge's copy without reading the shipment
/// back (which would cost a getShipment per step).
public struct ImpliedStep: Sendable, Hashable {
    /// The shipment's status after the call.
    public var status: ShipmentStatus
    /// The packages the call created (each then CREATED at Amazon).
    public var createdPackages: [PackageSpec]?
    /// The status every package of the shipment has after the call.
    public var packageStatus: ShipmentStatus?
    /// Whether the call made the invoice available.
    public var invoiceAvailable: Bool

    public init(
        _ status: ShipmentStatus,
        createdPackages: [PackageSpec]? = nil,
        packageStatus: ShipmentStatus? = nil,
        invoiceAvailable: Bool = false
    ) {
        self.status = status
        self.createdPackages = createdPackages
        self.packageStatus = packageStatus
        self.invoiceAvailable = invoiceAvailable
    }
}

/// One of Amazon's shipping options for a package.
public struct ShippingOption: Sendable, Hashable {
    public var id: String
    public var carrierName: String?
    /// Who ships: MARKETPLACE, SELLER, THIRD_PARTY_CARRIER or OTHER.
    public var shipBy: String

    public init(id: String, carrierName: String?, shipBy: String) {
        self.id = id
        self.carrierName = carrierName
        self.shipBy = shipBy
    }
}

/// Amazon's shipping options for a package, and the one it recommends.
public struct ShippingOptions: Sendable, Hashable {
    public var options: [ShippingOption]
    public var recommendedID: String?

    public init(options: [ShippingOption], recommendedID: String?) {
        self.options = options
        self.recommendedID = recommendedID
    }
}

/// Amazon's answer for one package's label: where to download it, or why it failed.
public struct PackageLabel: Sendable, Hashable {
    public var packageID: PackageID?
    /// Where the label's file is (a presigned URL); nil when Amazon did not issue it.
    public var url: String?
    public var trackingID: String?
    public var carrierName: String?
    public var failed: Bool
    /// Amazon's reason when it failed.
    public var failure: String?

    public init(
        packageID: PackageID?,
        url: String?,
        trackingID: String?,
        carrierName: String?,
        failed: Bool,
        failure: String?
    ) {
        self.packageID = packageID
        self.url = url
        self.trackingID = trackingID
        self.carrierName = carrierName
        self.failed = failed
        self.failure = failure
    }
}

/// A seller's own carrier for a label: the carrier and its tracking id.
public struct Courier: Sendable, Hashable {
    public var carrierName: String
    public var trackingID: String

    public init(carrierName: String, trackingID: String) {
        self.carrierName = carrierName
        self.trackingID = trackingID
    }
}

/// A file Amazon issued: a label behind a URL, or an invoice in its answer.
public struct AmazonFile: Sendable, Hashable {
    public var contentType: String
    public var data: Data

    public init(contentType: String, data: Data) {
        self.contentType = contentType
        self.data = data
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
