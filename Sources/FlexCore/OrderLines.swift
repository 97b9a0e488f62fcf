import Foundation

/// What the WMS reads of any order, whatever its source: the lines with the product code the connection chose, the
/// dates and service level, the ship method the connection's table gives it, and the recipient where the caller's
/// role allows. Seller Flex shipments and MFN orders read the same; the stock orders of FBA inbound shipments are
/// meant to sit beside them with lines of the same shape.
public struct OrderSummary: Sendable, Hashable {
    public struct Line: Sendable, Hashable {
        /// The id commands name the line by: the shipment line item id, or Amazon's order item id.
        public var lineItemID: String
        public var merchantSKU: String?
        public var asin: String?
        public var title: String?
        /// The code the connection's `productCode` setting chose (the merchant SKU when the chosen one is unknown).
        public var productCode: String?
        public var quantity: Int
        /// Units shipped and left to ship, where Amazon says (MFN orders).
        public var quantityShipped: Int?
        public var quantityLeft: Int?
    }

    public var lines: [Line]
    public var serviceLevel: String?
    public var shipBy: Date?
    public var deliverBy: Date?
    /// The row of the connection's ship-method table for the order's level and marketplace (MFN orders).
    public var shipMethod: ShipMethodMapping?
    /// An MFN order whose service level the table does not map: flagged for the WMS, never dropped.
    public var serviceLevelUnmapped: Bool
    /// The delivery address as Amazon gives it (field → text), for the roles that see it.
    public var recipient: [String: String]?

    /// The summary of a stored order. `warehouseSKUs` maps merchant SKUs to the WMS's for `wmsSku` product codes.
    public init(
        _ order: Order,
        settings: ConnectionSettings,
        warehouseSKUs: [MerchantSKU: WarehouseSKU] = [:],
        includeRecipient: Bool
    ) {
        func code(sku: String?, asin: String?) -> String? {
            switch settings.productCode {
            case .merchantSku: sku
            case .asin: asin ?? sku
            case .wmsSku: sku.flatMap { warehouseSKUs[MerchantSKU(rawValue: $0)]?.rawValue } ?? sku
            }
        }
        switch order.source {
        case .mfn:
            let facts = try? MerchantOrderFacts(document: order.shipment)
            lines = (facts?.items ?? []).map { item in
                Line(
                    lineItemID: item.orderItemID,
                    merchantSKU: item.sellerSKU?.rawValue,
                    asin: item.asin,
                    title: item.title,
                    productCode: code(sku: item.sellerSKU?.rawValue, asin: item.asin),
                    quantity: item.quantityOrdered,
                    quantityShipped: facts.map { MerchantShipRules.shipped(item, in: $0) },
                    quantityLeft: facts.map { MerchantShipRules.remaining(item, in: $0) }
                )
            }
            serviceLevel = facts?.serviceLevel
            shipBy = facts?.shipBy
            deliverBy = facts?.deliverBy
            shipMethod = ShipMethodRules.mapping(
                for: facts?.serviceLevel,
                marketplace: order.marketplaceID,
                in: settings.shipMethods
            )
            serviceLevelUnmapped = shipMethod == nil
            recipient = includeRecipient ? Self.recipient(in: order.shipment) : nil
        case .externalFulfillment:
            let facts = try? ShipmentFacts(json: order.shipment)
            lines = (facts?.lineItems ?? []).map { line in
                Line(
                    lineItemID: line.shipmentLineItemId,
                    merchantSKU: line.merchantSku,
                    asin: nil,
                    title: nil,
                    productCode: code(sku: line.merchantSku, asin: nil),
                    quantity: line.numberOfUnits,
                    quantityShipped: nil,
                    quantityLeft: nil
                )
            }
            serviceLevel = nil
            shipBy = order.expectedShipAt
            deliverBy = nil
            shipMethod = nil
            serviceLevelUnmapped = false
            recipient = nil
        }
    }

    /// The MFN document's delivery address, its text fields only.
    static func recipient(in document: String) -> [String: String]? {
        guard case .object(let root)? = try? JSONText.decode(JSONValue.self, from: document),
            case .object(let recipient)? = root["recipient"],
            case .object(let address)? = recipient["deliveryAddress"]
        else { return nil }
        var fields: [String: String] = [:]
        for (key, value) in address {
            if case .string(let text) = value { fields[key] = text }
        }
        return fields
    }

    /// Amazon's document as a caller who may not see personal data reads it: without the recipient and buyer.
    public static func withoutPersonalData(_ document: String) -> String {
        guard case .object(var root)? = try? JSONText.decode(JSONValue.self, from: document) else { return document }
        root["recipient"] = nil
        root["buyer"] = nil
        return (try? JSONText.encode(JSONValue.object(root))) ?? document
    }
}
