import Foundation

/// A string-backed identifier with its own type, so that ids that are all strings on the wire (ours and Amazon's)
/// cannot be passed for one another.
public protocol StringIdentifier: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral, Comparable
where RawValue == String {
    init(rawValue: String)
}

extension StringIdentifier {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        self.init(rawValue: try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// FlexBridge's id of an account: the tenant (an integrator's client, or the seller itself) that owns connections,
/// hubs and their stock, events and webhooks.
public struct AccountID: StringIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// The account every installation has, which holds what was there before accounts existed; until access control
    /// names a request's account, the API works in it.
    public static let `default`: AccountID = "default"

    /// A new random id.
    public static func generate() -> AccountID { AccountID(rawValue: "acct_" + UUID().uuidString.lowercased()) }
}

/// FlexBridge's id of a connection: one seller account in one Amazon region.
public struct ConnectionID: StringIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A new random id.
    public static func generate() -> ConnectionID { ConnectionID(rawValue: UUID().uuidString.lowercased()) }
}

/// Amazon's id of a selling partner (the merchant token Login with Amazon returns as `selling_partner_id`).
public struct SellingPartnerID: StringIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// Amazon's id of a marketplace, such as `A21TJRUUN4KGV` for India.
public struct MarketplaceID: StringIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// Amazon's id of a seller's fulfilment location (a Seller Flex node or an Easy Ship warehouse).
public struct LocationID: StringIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// The WMS's code for one of its warehouses.
public struct HubCode: StringIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// The seller's SKU as Amazon knows it (Amazon's `skuId`, the seeds' `channelSkuId`).
public struct MerchantSKU: StringIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// The WMS's own SKU (the seeds' `clientSkuId`).
public struct WarehouseSKU: StringIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// Amazon's catalogue id of a product (the seeds' `channelSerialNo`).
public struct ASIN: StringIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// Amazon's id of an External Fulfillment shipment: the order, as FlexBridge files it.
public struct ShipmentID: StringIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// The id of a package of a shipment (chosen by the WMS when it packs, or Amazon's recommended package's).
public struct PackageID: StringIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}

/// FlexBridge's id of a fulfilment command.
public struct CommandID: StringIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A new random id.
    public static func generate() -> CommandID { CommandID(rawValue: UUID().uuidString.lowercased()) }
}

/// FlexBridge's id of a manifest.
public struct ManifestID: StringIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A new random id: 122 random bits, since knowing a manifest's id is enough to print it and hand it over.
    public static func generate() -> ManifestID {
        ManifestID(rawValue: "MAN-" + UUID().uuidString.lowercased())
    }
}

/// FlexBridge's id of a stored document (a label, an invoice, a manifest's PDF).
public struct DocumentID: StringIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// A new random id.
    public static func generate() -> DocumentID { DocumentID(rawValue: "DOC-" + UUID().uuidString.lowercased()) }
}

/// Amazon's id of a return: one SKU of a shipment coming back.
public struct ReturnID: StringIdentifier {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
}
