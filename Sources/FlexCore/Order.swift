import Foundation

/// Where an order comes from: a Seller Flex / Easy Ship / Self Ship shipment of Amazon's External Fulfillment APIs,
/// or a merchant-fulfilled order of the Orders API. Both are orders of the one order model.
public enum OrderSource: String, Sendable, Hashable, Codable, CaseIterable {
    case externalFulfillment = "external_fulfillment"
    case mfn
}

/// An Amazon shipment as FlexBridge mirrors it: Amazon's own document, kept as Amazon gave it, and the facts
/// FlexBridge files it by. The order's id is Amazon's shipment id.
public struct Order: Sendable, Hashable, Codable {
    /// How the order reaches the customer, from Amazon's channel and shipping type.
    public enum Program: String, Sendable, Hashable, Codable {
        /// Amazon's stock in the seller's warehouse (channel FBA).
        case sellerFlex = "seller_flex"
        /// The seller's stock, Amazon's carrier (channel MFN, shipping type MARKETPLACE).
        case easyShip = "easy_ship"
        /// The seller's stock and carrier (channel MFN, shipping type SELF).
        case selfShip = "self_ship"
        /// A merchant-fulfilled order of the Orders API: the seller's stock, shipped as the seller chooses.
        case merchantFulfilled = "mfn"

        public init(channel: String, shippingType: String?) {
            if channel.uppercased() == "FBA" {
                self = .sellerFlex
            } else {
                self = shippingType?.uppercased() == "SELF" ? .selfShip : .easyShip
            }
        }
    }

    public var connectionID: ConnectionID
    public var shipmentID: ShipmentID
    public var locationID: LocationID
    public var marketplaceID: MarketplaceID
    public var channel: String
    public var program: Program
    /// NEW, EXCHANGE or REPLACEMENT.
    public var shipmentType: String?
    /// For a replacement or exchange: the shipment it replaces.
    public var originalShipmentID: ShipmentID?
    /// Amazon's status: CREATED, ACCEPTED, CONFIRMED, … SHIPPED, DELIVERED, CANCELLED.
    public var status: String
    /// Amazon's `creationDateTime`.
    public var amazonCreatedAt: Date
    /// Amazon's `lastUpdatedDateTime`: a copy only ever moves forward.
    public var amazonUpdatedAt: Date
    /// When Amazon expects the order to leave the warehouse.
    public var expectedShipAt: Date?
    /// Amazon's shipment document, as JSON.
    public var shipment: String
    /// When FlexBridge first saw the order, and last changed its copy.
    public var firstSeenAt: Date
    public var updatedAt: Date
    /// FlexBridge's state, from Amazon's status.
    public var state: FulfilmentState
    /// The last command Amazon refused, until a later command succeeds.
    public var error: OrderError?
    /// The manifest the order is in, once it is put in one.
    public var manifestID: ManifestID?
    /// Where the order comes from: an External Fulfillment shipment, or a merchant-fulfilled order (whose id is
    /// Amazon's order id, whose marketplace stands in the location's place, and whose document is the Orders API's).
    public var source: OrderSource

    public init(
        connectionID: ConnectionID,
        shipmentID: ShipmentID,
        locationID: LocationID,
        marketplaceID: MarketplaceID,
        channel: String,
        program: Program,
        shipmentType: String?,
        originalShipmentID: ShipmentID?,
        status: String,
        amazonCreatedAt: Date,
        amazonUpdatedAt: Date,
        expectedShipAt: Date?,
        shipment: String,
        firstSeenAt: Date,
        updatedAt: Date,
        state: FulfilmentState? = nil,
        error: OrderError? = nil,
        manifestID: ManifestID? = nil,
        source: OrderSource = .externalFulfillment
    ) {
        self.source = source
        self.state = state ?? FulfilmentState(amazonStatus: status)
        self.error = error
        self.manifestID = manifestID
        self.connectionID = connectionID
        self.shipmentID = shipmentID
        self.locationID = locationID
        self.marketplaceID = marketplaceID
        self.channel = channel
        self.program = program
        self.shipmentType = shipmentType
        self.originalShipmentID = originalShipmentID
        self.status = status
        self.amazonCreatedAt = amazonCreatedAt
        self.amazonUpdatedAt = amazonUpdatedAt
        self.expectedShipAt = expectedShipAt
        self.shipment = shipment
        self.firstSeenAt = firstSeenAt
        self.updatedAt = updatedAt
    }

    /// Amazon's timestamps (`2026-11-23T10:15:30Z`, with or without fractions of a second).
    public static func parseTimestamp(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}

/// A command that failed on an order: what Amazon (or FlexBridge) said, and when.
public struct OrderError: Sendable, Hashable, Codable {
    public var code: String
    public var message: String
    public var at: Date
    public var commandID: CommandID?

    public init(code: String, message: String, at: Date, commandID: CommandID?) {
        self.code = code
        self.message = message
        self.at = at
        self.commandID = commandID
    }
}

/// What storing a copy of a shipment did.
public enum OrderChange: Sendable, Hashable {
    /// First seen: `order.created`.
    case created
    /// Amazon's copy moved forward: `order.updated`, or `order.cancelled` when it became CANCELLED.
    case updated(previousStatus: String)
    /// The same or an older copy than the one held: nothing changed, nothing was said.
    case unchanged
}

extension Date {
    /// Milliseconds since 1970: the store's unit of time, and the resolution copies of Amazon's documents are weighed at.
    public var millisecondsSince1970: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }

    public init(millisecondsSince1970 value: Int64) {
        self.init(timeIntervalSince1970: TimeInterval(value) / 1000)
    }
}
