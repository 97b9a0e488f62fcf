import Foundation

/// One SKU's stock in Amazon's fulfilment centres of one marketplace (all of them combined), with Amazon's
/// breakdown: what can be sold now, what is on its way in, and what is held back.
public struct FBAStock: Sendable, Hashable, Codable {
    public var marketplaceID: MarketplaceID
    public var sku: MerchantSKU
    public var asin: String?
    public var fnSku: String?
    public var productName: String?
    /// Units that can be picked for an order now.
    public var fulfillable: Int
    /// Units of inbound shipments still being prepared (WORKING), shipped, and being received.
    public var inboundWorking: Int
    public var inboundShipped: Int
    public var inboundReceiving: Int
    /// Units reserved for customer orders, transfers between centres or processing.
    public var reserved: Int
    /// Units missing or misplaced that Amazon is looking for.
    public var researching: Int
    /// Units that cannot be sold (damaged, defective, expired).
    public var unfulfillable: Int
    /// Every unit Amazon counts for the SKU, inbound included.
    public var total: Int
    /// When Amazon last changed it.
    public var updatedAt: Date?

    public init(
        marketplaceID: MarketplaceID,
        sku: MerchantSKU,
        asin: String? = nil,
        fnSku: String? = nil,
        productName: String? = nil,
        fulfillable: Int = 0,
        inboundWorking: Int = 0,
        inboundShipped: Int = 0,
        inboundReceiving: Int = 0,
        reserved: Int = 0,
        researching: Int = 0,
        unfulfillable: Int = 0,
        total: Int? = nil,
        updatedAt: Date? = nil
    ) {
        self.marketplaceID = marketplaceID
        self.sku = sku
        self.asin = asin
        self.fnSku = fnSku
        self.productName = productName
        self.fulfillable = fulfillable
        self.inboundWorking = inboundWorking
        self.inboundShipped = inboundShipped
        self.inboundReceiving = inboundReceiving
        self.reserved = reserved
        self.researching = researching
        self.unfulfillable = unfulfillable
        self.total =
            total ?? fulfillable + inboundWorking + inboundShipped + inboundReceiving + reserved + researching
            + unfulfillable
        self.updatedAt = updatedAt
    }

    /// Whether two reports of the SKU say the same of its units (the time Amazon stamps aside).
    public func sameUnits(as other: FBAStock) -> Bool {
        var mine = self
        mine.updatedAt = other.updatedAt
        mine.productName = other.productName
        return mine == other
    }
}

/// The warehouses a connection's Amazon side is seen as, as seed 004 draws them: one FBA warehouse per marketplace
/// of the region (all of Amazon's fulfilment centres of that marketplace combined), and one FBM warehouse for the
/// region (the seller's own MFN hubs, whose stock FlexBridge sends).
public struct AmazonWarehouse: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case fba = "FBA"
        case fbm = "FBM"
    }

    public var id: String
    public var kind: Kind
    public var name: String
    /// The marketplace of an FBA warehouse; nil for the FBM one.
    public var marketplaceID: MarketplaceID?

    public init(id: String, kind: Kind, name: String, marketplaceID: MarketplaceID?) {
        self.id = id
        self.kind = kind
        self.name = name
        self.marketplaceID = marketplaceID
    }

    /// The connection's warehouses: FBA per marketplace (by id `fba-<marketplace>`), then FBM (`fbm-<region>`).
    public static func of(_ connection: Connection) -> [AmazonWarehouse] {
        connection.marketplaceIDs.sorted().map {
            AmazonWarehouse(
                id: "fba-\($0.rawValue)",
                kind: .fba,
                name: "Amazon FBA \(Marketplaces.names[$0] ?? $0.rawValue)",
                marketplaceID: $0
            )
        }
            + [
                AmazonWarehouse(
                    id: "fbm-\(connection.region.rawValue.lowercased())",
                    kind: .fbm,
                    name: "FBM \(connection.region.rawValue) (the seller's MFN hubs)",
                    marketplaceID: nil
                )
            ]
    }
}
