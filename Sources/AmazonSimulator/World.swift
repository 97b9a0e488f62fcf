import AmazonEFReturns
import AmazonEFShipments
import Foundation

/// The schema types of Amazon's Shipments API, which most of the simulator speaks.
typealias EF = AmazonEFShipments.Components.Schemas
typealias ShipmentStatus = String
typealias ReturnItem = AmazonEFReturns.Components.Schemas.Return

/// Everything Amazon knows, in one place: sellers' locations and catalogues, stock, shipments and their documents,
/// returns. It is a value mutated only inside the ``Simulator`` actor, so every operation sees and leaves it whole.
struct World: Sendable, Codable {
    struct Location: Sendable, Codable, Hashable {
        var id: String
        var name: String
        var merchantIDs: [String]
        var marketplaceID: String
        var channel: String
    }

    /// One stock record: Amazon's view of a SKU at a location for a channel.
    struct StockKey: Sendable, Hashable, Codable, Comparable {
        var locationID: String
        var sku: String
        var channel: String

        static func < (lhs: StockKey, rhs: StockKey) -> Bool {
            (lhs.locationID, lhs.sku, lhs.channel) < (rhs.locationID, rhs.sku, rhs.channel)
        }
    }

    struct Stock: Sendable, Codable, Hashable {
        var quantity: Int
        var clientSequenceNumber: Int
        var updatedAt: Date
    }

    /// Who carries a shipment: Amazon's carrier (Seller Flex, Easy Ship), the seller itself (Self Ship, self
    /// delivery), or a carrier the seller chose and names when labelling.
    enum Carriage: String, Sendable, Codable {
        case marketplace = "MARKETPLACE"
        case seller = "SELF"
        case thirdPartyCarrier = "THIRD_PARTY_CARRIER"
    }

    /// A shipment with what Amazon keeps beside it.
    struct ShipmentRecord: Sendable, Codable {
        var shipment: EF.Shipment
        var merchantID: String
        /// Creation order, which pagination follows.
        var sequence: Int
        var carriage: Carriage
        /// Shipping options offered per package; a label must use one of them.
        var offeredOptions: [String: [EF.ShippingOptions]] = [:]
        var labels: [String: Label] = [:]
        var invoiceDocumentID: String?
        /// Every status the shipment took, with when.
        var history: [StatusChange] = []
    }

    struct StatusChange: Sendable, Codable, Hashable {
        var status: String
        var at: String
    }

    struct Label: Sendable, Codable, Hashable {
        var packageID: String
        var trackingID: String
        var carrierName: String
        var shippingOptionID: String?
        var documentID: String
        var generation: Int
    }

    struct ReturnRecord: Sendable, Codable {
        var item: ReturnItem
        var merchantID: String
        var sequence: Int
        /// Every status the return took, with when.
        var history: [StatusChange] = []
    }

    struct Document: Sendable, Codable {
        var contentType: String
        var data: Data
    }

    var locations: [String: Location] = [:]
    /// Location ids by (sorted merchants, name): createSandboxLocation is idempotent by name.
    var locationsByName: [String: [String: String]] = [:]
    /// Merchant SKUs Amazon knows per merchant and marketplace.
    var catalog: [String: Set<String>] = [:]
    var stock: [StockKey: Stock] = [:]
    var shipments: [String: ShipmentRecord] = [:]
    var shipmentCount = 0
    var returns: [String: ReturnRecord] = [:]
    var returnCount = 0
    /// Label and invoice files served at `/_simulator/documents/{id}`, as Amazon serves presigned S3 URLs.
    var documents: [String: Document] = [:]
    /// The last `lastUpdatedDateTime` handed out: every change gets a later one, so polling never misses a change.
    var lastStamp = Date(timeIntervalSince1970: 0)

    static func catalogKey(merchantID: String, marketplaceID: String) -> String { "\(merchantID)|\(marketplaceID)" }

    func knows(sku: String, merchantID: String, marketplaceID: String) -> Bool {
        catalog[Self.catalogKey(merchantID: merchantID, marketplaceID: marketplaceID)]?.contains(sku) == true
    }

    mutating func addToCatalog(_ skus: some Sequence<String>, merchantID: String, marketplaceID: String) {
        catalog[Self.catalogKey(merchantID: merchantID, marketplaceID: marketplaceID), default: []].formUnion(skus)
    }

    /// A time for a change, strictly after every earlier one (milliseconds apart at least).
    mutating func stamp(_ now: Date) -> Date {
        let floor = lastStamp.addingTimeInterval(0.001)
        lastStamp = max(now, floor)
        return lastStamp
    }

    /// Units of `sku` held by open shipments at the location for the channel: Amazon's reservation.
    func reserved(_ key: StockKey) -> Int {
        shipments.values.reduce(0) { total, record in
            let shipment = record.shipment
            guard shipment.locationId == key.locationID, shipment.marketplaceAttributes.channelName == key.channel,
                Self.reservesStock(shipment.status)
            else { return total }
            return total + shipment.lineItems.filter { $0.merchantSku == key.sku }.reduce(0) { $0 + $1.numberOfUnits }
        }
    }

    /// Open shipments hold their units until they ship or are cancelled.
    static func reservesStock(_ status: ShipmentStatus) -> Bool {
        switch status {
        case .cancelled, .shipped, .delivered: false
        default: true
        }
    }

    /// A fresh identifier of `length` characters from `alphabet` that `taken` does not already hold.
    static func uniqueID(
        prefix: String = "",
        length: Int,
        alphabet: String = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789",
        using generator: inout some RandomNumberGenerator,
        taken: (String) -> Bool
    ) -> String {
        let characters = Array(alphabet)
        while true {
            let id = prefix + String((0..<length).map { _ in characters.randomElement(using: &generator)! })
            if !taken(id) { return id }
        }
    }
}
