import Foundation

/// An Amazon Selling Partner API region. Each seller account is authorised per region, so a connection is one
/// seller account in one region.
public enum Region: String, Sendable, Codable, CaseIterable {
    /// North America (also Brazil and Mexico).
    case na = "NA"
    /// Europe, the Middle East, Africa and India.
    case eu = "EU"
    /// The Far East: Japan, Australia, Singapore.
    case fe = "FE"

    /// The production Selling Partner API endpoint of the region.
    public var endpoint: URL {
        switch self {
        case .na: URL(string: "https://sellingpartnerapi-na.amazon.com")!
        case .eu: URL(string: "https://sellingpartnerapi-eu.amazon.com")!
        case .fe: URL(string: "https://sellingpartnerapi-fe.amazon.com")!
        }
    }

    /// The sandbox endpoint of the region.
    public var sandboxEndpoint: URL {
        switch self {
        case .na: URL(string: "https://sandbox.sellingpartnerapi-na.amazon.com")!
        case .eu: URL(string: "https://sandbox.sellingpartnerapi-eu.amazon.com")!
        case .fe: URL(string: "https://sandbox.sellingpartnerapi-fe.amazon.com")!
        }
    }

    /// The region whose notifications Amazon delivers through EventBridge in `awsRegion` (`us-east-1` for North
    /// America, `eu-west-1` for Europe, `us-west-2` for the Far East); nil for any other AWS region.
    public init?(eventBridgeRegion awsRegion: String) {
        switch awsRegion {
        case "us-east-1": self = .na
        case "eu-west-1": self = .eu
        case "us-west-2": self = .fe
        default: return nil
        }
    }

    /// Parses a region name case-insensitively (`na`, `EU`, …).
    public init?(name: String) {
        self.init(rawValue: name.uppercased())
    }
}

/// Amazon's inventory channel of a location's stock (`marketplaceAttributes.channelName`).
public enum ChannelName: String, Sendable, Codable, CaseIterable {
    /// Fulfilled by Amazon: Seller Flex stock.
    case fba = "FBA"
    /// Merchant fulfilled: Easy Ship and Self Ship stock.
    case mfn = "MFN"
    /// Direct fulfilment.
    case df = "DF"
}
