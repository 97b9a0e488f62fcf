import Foundation

/// An inbound shipment to Amazon's fulfilment centres as Amazon reports it (Fulfillment Inbound v0).
public struct InboundShipmentFacts: Sendable, Hashable {
    public struct Item: Sendable, Hashable {
        public var sku: MerchantSKU
        public var fnSku: String?
        public var shipped: Int
        public var received: Int

        public init(sku: MerchantSKU, fnSku: String? = nil, shipped: Int, received: Int) {
            self.sku = sku
            self.fnSku = fnSku
            self.shipped = shipped
            self.received = received
        }
    }

    public var shipmentID: String
    public var name: String?
    public var marketplaceID: MarketplaceID
    /// Amazon's status: WORKING, READY_TO_SHIP, SHIPPED, IN_TRANSIT, DELIVERED, CHECKED_IN, RECEIVING, CLOSED,
    /// CANCELLED, DELETED, ERROR (and any Amazon adds).
    public var status: String
    public var destination: String?
    /// The day Amazon expects it (Amazon's ConfirmedNeedByDate), YYYY-MM-DD.
    public var needBy: String?
    public var items: [Item]

    public init(
        shipmentID: String,
        name: String?,
        marketplaceID: MarketplaceID,
        status: String,
        destination: String?,
        needBy: String?,
        items: [Item]
    ) {
        self.shipmentID = shipmentID
        self.name = name
        self.marketplaceID = marketplaceID
        self.status = status
        self.destination = destination
        self.needBy = needBy
        self.items = items
    }
}

/// How the WMS sees an inbound shipment: a purchase order (stock bought in, arriving at Amazon) or a transfer order
/// (stock moved from one of its warehouses to Amazon's).
public enum StockOrderType: String, Sendable, Hashable, Codable, CaseIterable {
    case purchase
    case transfer
}

/// The connection's choice of stock order type: `auto` means purchase orders (seed 004).
public enum StockOrderTypeSetting: String, Sendable, Hashable, Codable, CaseIterable {
    case auto
    case purchase
    case transfer

    public var type: StockOrderType { self == .transfer ? .transfer : .purchase }
}

/// Where a stock order stands for the WMS.
public enum StockOrderState: String, Sendable, Hashable, Codable, CaseIterable {
    /// Not all received yet.
    case open
    /// Every unit shipped was received.
    case received
    /// Amazon closed it with fewer units received than shipped.
    case closed
    /// Cancelled or deleted at Amazon.
    case cancelled
    /// Still not received the set number of days after its expected date: no longer waited for.
    case ignored
}

/// One SKU of a stock order.
public struct StockOrderLine: Sendable, Hashable, Codable {
    public var merchantSKU: MerchantSKU
    /// The WMS SKUs the connection's listings map it to in the marketplace.
    public var warehouseSKUs: [WarehouseSKU]
    public var shipped: Int
    public var received: Int

    public init(merchantSKU: MerchantSKU, warehouseSKUs: [WarehouseSKU], shipped: Int, received: Int) {
        self.merchantSKU = merchantSKU
        self.warehouseSKUs = warehouseSKUs
        self.shipped = shipped
        self.received = received
    }
}

/// An inbound shipment as a stock order of the WMS.
public struct StockOrder: Sendable, Hashable {
    public var connectionID: ConnectionID
    /// Amazon's shipment id (FBA…): the stock order's id.
    public var shipmentID: String
    public var name: String?
    public var marketplaceID: MarketplaceID
    public var type: StockOrderType
    /// The WMS warehouse a transfer comes from (the connection's setting); nil for a purchase.
    public var sourceWarehouse: String?
    /// The FBA warehouse it goes to (`fba-<marketplace>`), and Amazon's fulfilment centre.
    public var destinationWarehouse: String
    public var fulfillmentCenter: String?
    public var amazonStatus: String
    public var state: StockOrderState
    /// The day Amazon expects it, as the start of that day in UTC.
    public var expectedAt: Date?
    public var lines: [StockOrderLine]
    public var createdAt: Date
    public var updatedAt: Date
    /// The Send to Amazon plan that made the shipment, when FlexBridge sent it.
    public var inboundPlanID: String?
    /// The partnered carrier's quote, when the connection carries those fees onto stock orders.
    public var carrierFees: InboundMoney?

    public init(
        connectionID: ConnectionID,
        shipmentID: String,
        name: String?,
        marketplaceID: MarketplaceID,
        type: StockOrderType,
        sourceWarehouse: String?,
        destinationWarehouse: String,
        fulfillmentCenter: String?,
        amazonStatus: String,
        state: StockOrderState,
        expectedAt: Date?,
        lines: [StockOrderLine],
        createdAt: Date,
        updatedAt: Date,
        inboundPlanID: String? = nil,
        carrierFees: InboundMoney? = nil
    ) {
        self.inboundPlanID = inboundPlanID
        self.carrierFees = carrierFees
        self.connectionID = connectionID
        self.shipmentID = shipmentID
        self.name = name
        self.marketplaceID = marketplaceID
        self.type = type
        self.sourceWarehouse = sourceWarehouse
        self.destinationWarehouse = destinationWarehouse
        self.fulfillmentCenter = fulfillmentCenter
        self.amazonStatus = amazonStatus
        self.state = state
        self.expectedAt = expectedAt
        self.lines = lines
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    public var unitsShipped: Int { lines.reduce(0) { $0 + $1.shipped } }
    public var unitsReceived: Int { lines.reduce(0) { $0 + $1.received } }
}

/// How an inbound shipment becomes a stock order, and when it changes state.
public enum StockOrderRules {
    /// The type for a marketplace: its override, else the connection's choice (`auto` is purchase).
    public static func type(for marketplace: MarketplaceID, settings: ConnectionSettings) -> StockOrderType {
        (settings.stockOrderTypeByMarketplace[marketplace] ?? settings.stockOrderType).type
    }

    /// The state of a stock order with these facts: cancelled or deleted at Amazon; received when every unit
    /// shipped arrived; closed when Amazon closed it short; ignored — and staying so — when not received
    /// `ignoreAfterDays` days after its expected day; else open.
    public static func state(
        of facts: InboundShipmentFacts,
        expectedAt: Date?,
        held: StockOrderState?,
        now: Date,
        ignoreAfterDays: Int?
    ) -> StockOrderState {
        if ["CANCELLED", "DELETED"].contains(facts.status) { return .cancelled }
        let shipped = facts.items.reduce(0) { $0 + $1.shipped }
        let received = facts.items.reduce(0) { $0 + $1.received }
        if shipped > 0, facts.items.allSatisfy({ $0.received >= $0.shipped }) { return .received }
        if facts.status == "CLOSED" { return received >= shipped ? .received : .closed }
        if held == .ignored { return .ignored }
        if let days = ignoreAfterDays, let expectedAt, now >= expectedAt.addingTimeInterval(Double(days) * 86_400) {
            return .ignored
        }
        return .open
    }

    /// The event a change makes: created for a new order, received / ignored on reaching that state, updated when
    /// its status, lines or state changed otherwise; nil when nothing the WMS sees changed.
    public static func event(from held: StockOrder?, to new: StockOrder) -> String? {
        guard let held else { return "stock_order.created" }
        if new.state != held.state {
            switch new.state {
            case .received: return "stock_order.received"
            case .ignored: return "stock_order.ignored"
            default: return "stock_order.updated"
            }
        }
        if new.amazonStatus != held.amazonStatus || new.lines != held.lines || new.expectedAt != held.expectedAt
            || new.name != held.name || new.inboundPlanID != held.inboundPlanID || new.carrierFees != held.carrierFees
        {
            return "stock_order.updated"
        }
        return nil
    }
}
