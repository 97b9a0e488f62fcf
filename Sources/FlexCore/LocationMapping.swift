import Foundation

/// Ties one of the WMS's hubs to an Amazon location of a connection for one inventory channel: stock the WMS reports
/// for the hub is what FlexBridge offers at the location.
public struct LocationMapping: Sendable, Hashable, Codable {
    public var connectionID: ConnectionID
    public var hub: HubCode
    public var locationID: LocationID
    public var channel: ChannelName
    public var createdAt: Date

    public init(connectionID: ConnectionID, hub: HubCode, locationID: LocationID, channel: ChannelName, createdAt: Date)
    {
        self.connectionID = connectionID
        self.hub = hub
        self.locationID = locationID
        self.channel = channel
        self.createdAt = createdAt
    }

    /// Checks the ids, naming the one that is wrong. Amazon caps location ids at 36 characters.
    public func validate() throws(ValidationError) {
        if hub.rawValue.isEmpty { throw ValidationError(field: "hub", reason: "must not be empty") }
        if hub.rawValue.count > StockLevel.maximumHubLength {
            throw ValidationError(
                field: "hub",
                reason: "must be at most \(StockLevel.maximumHubLength) characters, got \(hub.rawValue.count)"
            )
        }
        if locationID.rawValue.isEmpty { throw ValidationError(field: "locationId", reason: "must not be empty") }
        if locationID.rawValue.count > 36 {
            throw ValidationError(
                field: "locationId",
                reason: "must be at most 36 characters, got \(locationID.rawValue.count)"
            )
        }
    }
}

/// A product the seller sells on Amazon: the WMS's SKU, the merchant SKU Amazon knows and its ASIN, per marketplace.
public struct Listing: Sendable, Hashable, Codable {
    public var connectionID: ConnectionID
    public var marketplaceID: MarketplaceID
    public var warehouseSKU: WarehouseSKU
    public var merchantSKU: MerchantSKU
    /// Mandatory: without an ASIN Amazon cannot take stock for the SKU.
    public var asin: ASIN
    public var updatedAt: Date
    /// Who fulfils the listing's orders: Amazon (FBA, Seller Flex — stock through locations) or the merchant (MFN —
    /// stock through the Listings API, from the MFN hubs). Only a listing marked merchant-fulfilled is ever sent as
    /// MFN stock, so that an Amazon-fulfilled offer is never turned into a merchant-fulfilled one.
    public var fulfilledBy: FulfilledBy

    public enum FulfilledBy: String, Sendable, Hashable, Codable, CaseIterable {
        case amazon = "AMAZON"
        case merchant = "MERCHANT"
    }

    public init(
        connectionID: ConnectionID,
        marketplaceID: MarketplaceID,
        warehouseSKU: WarehouseSKU,
        merchantSKU: MerchantSKU,
        asin: ASIN,
        updatedAt: Date,
        fulfilledBy: FulfilledBy = .amazon
    ) {
        self.fulfilledBy = fulfilledBy
        self.connectionID = connectionID
        self.marketplaceID = marketplaceID
        self.warehouseSKU = warehouseSKU
        self.merchantSKU = merchantSKU
        self.asin = asin
        self.updatedAt = updatedAt
    }

    /// A listing given by its ASIN only: FlexBridge finds the seller's merchant SKU for it at Amazon.
    public var awaitsSKU: Bool { merchantSKU.rawValue.isEmpty }

    /// Checks the ids, naming the one that is wrong, in the seeds' CSV column names. With `allowingMissingSKU`, a
    /// listing may be given by its ASIN only (its merchant SKU empty).
    public func validate(allowingMissingSKU: Bool = false) throws(ValidationError) {
        if warehouseSKU.rawValue.isEmpty { throw ValidationError(field: "clientSkuId", reason: "must not be empty") }
        if warehouseSKU.rawValue.count > StockLevel.maximumSKULength {
            throw ValidationError(
                field: "clientSkuId",
                reason: "must be at most \(StockLevel.maximumSKULength) characters, got \(warehouseSKU.rawValue.count)"
            )
        }
        if merchantSKU.rawValue.isEmpty, !allowingMissingSKU {
            throw ValidationError(field: "channelSkuId", reason: "must not be empty")
        }
        if merchantSKU.rawValue.count > 40 {
            throw ValidationError(
                field: "channelSkuId",
                reason: "must be at most 40 characters (Amazon's longest SKU), got \(merchantSKU.rawValue.count)"
            )
        }
        if marketplaceID.rawValue.isEmpty { throw ValidationError(field: "marketplace", reason: "must not be empty") }
        if !ASIN.isWellFormed(asin.rawValue) {
            throw ValidationError(
                field: "channelSerialNo",
                reason: "must be an ASIN of 10 letters and digits, got \"\(asin.rawValue)\""
            )
        }
    }
}

extension ASIN {
    /// Whether `text` has the shape of an ASIN: ten upper-case letters or digits.
    public static func isWellFormed(_ text: String) -> Bool {
        text.count == 10 && text.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) }
    }
}
