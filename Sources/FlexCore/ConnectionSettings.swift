import Foundation

/// What an operator can switch per connection. Every change to these is written to the configuration change log.
public struct ConnectionSettings: Sendable, Hashable, Codable {
    /// Stock is sent to Amazon only while this is on.
    public var inventorySyncEnabled: Bool
    /// Amazon shipments are pulled only while this is on.
    public var orderSyncEnabled: Bool
    /// New shipments are confirmed without waiting for the WMS.
    public var autoConfirm: Bool
    /// Units held back from every SKU's quantity before it is sent to Amazon.
    public var safetyStock: Int
    /// The most units ever offered on Amazon per SKU and location; nil for no cap.
    public var quantityCap: Int?
    /// Units held back per hub, overriding `safetyStock` for every SKU of the hub.
    public var hubSafetyStock: [String: Int]
    /// Units held back per WMS SKU, overriding the hub's and the connection's buffer.
    public var skuSafetyStock: [String: Int]
    /// Offer zero of everything at every location (before moving the seller to another connector, or to stop sales
    /// at once) while the WMS's numbers keep being recorded.
    public var sendZeroForAll: Bool
    /// How often Amazon's quantities are fetched and compared with what FlexBridge sent, to repair drift; 0 for never.
    public var reconciliationIntervalMinutes: Int
    /// Merchant-fulfilled orders of the connection's marketplaces are pulled (Orders API) only while this is on.
    public var mfnOrderSyncEnabled: Bool
    /// The marketplaces whose MFN orders are pulled; every marketplace of the connection when nil.
    public var mfnMarketplaceIds: [MarketplaceID]?
    /// The first download of MFN orders reaches back to this day (YYYY-MM-DD, UTC), not before; a day back when nil.
    public var mfnEarliestOrderDate: String?
    /// What the WMS sees as an order line's product code.
    public var productCode: ProductCode
    /// Amazon's ship-service levels to the WMS's carriers and methods, and back to what Amazon is told.
    public var shipMethods: [ShipMethodMapping]
    /// The hubs whose stock, summed, is offered on the connection's merchant-fulfilled listings (Listings API);
    /// none switches MFN stock off.
    public var mfnStockHubs: [HubCode]
    /// The handling time sent with every MFN quantity (`lead_time_to_ship_max_days`); Amazon's default when nil.
    public var mfnHandlingTime: Int?
    /// Amazon's FBA stock of the connection's marketplaces is read (FBA Inventory API) only while this is on.
    public var fbaStockSyncEnabled: Bool
    /// Inbound shipments to Amazon's fulfilment centres are read as stock orders only while this is on.
    public var fbaInboundSyncEnabled: Bool
    /// Purchase or transfer orders (auto: purchase), and per marketplace where it differs.
    public var stockOrderType: StockOrderTypeSetting
    public var stockOrderTypeByMarketplace: [MarketplaceID: StockOrderTypeSetting]
    /// The WMS warehouse transfer orders come from.
    public var transferSourceWarehouse: String?
    /// A stock order not received this many days after its expected day is no longer waited for; never when nil.
    public var ignoreUnreceivedAfterDays: Int?
    /// Send to Amazon: which placement option a plan takes without asking the WMS (manual: the WMS chooses).
    public var inboundPlacement: InboundPlacementChoice
    /// Send to Amazon: which transportation a plan takes without asking the WMS (manual: the WMS chooses).
    public var inboundTransportation: InboundTransportationChoice
    /// The fees of Amazon-partnered carriers are carried onto the stock orders of plans FlexBridge sent.
    public var partneredCarrierFees: Bool
    /// Days from an LTL/FTL shipment's pick-up until its stock is available for sale: its stock order's expected day.
    public var pickUpDelayDays: Int?

    /// Which code an order line carries for the WMS.
    public enum ProductCode: String, Sendable, Hashable, Codable, CaseIterable {
        /// The seller's SKU at Amazon.
        case merchantSku = "merchant_sku"
        case asin
        /// The WMS's own SKU, through the connection's listings (the merchant SKU when no listing maps it).
        case wmsSku = "wms_sku"
    }

    public init(
        inventorySyncEnabled: Bool = true,
        orderSyncEnabled: Bool = true,
        autoConfirm: Bool = false,
        safetyStock: Int = 0,
        quantityCap: Int? = nil,
        hubSafetyStock: [String: Int] = [:],
        skuSafetyStock: [String: Int] = [:],
        sendZeroForAll: Bool = false,
        reconciliationIntervalMinutes: Int = 60,
        mfnOrderSyncEnabled: Bool = false,
        mfnMarketplaceIds: [MarketplaceID]? = nil,
        mfnEarliestOrderDate: String? = nil,
        productCode: ProductCode = .merchantSku,
        shipMethods: [ShipMethodMapping] = [],
        mfnStockHubs: [HubCode] = [],
        mfnHandlingTime: Int? = nil,
        fbaStockSyncEnabled: Bool = false,
        fbaInboundSyncEnabled: Bool = false,
        stockOrderType: StockOrderTypeSetting = .auto,
        stockOrderTypeByMarketplace: [MarketplaceID: StockOrderTypeSetting] = [:],
        transferSourceWarehouse: String? = nil,
        ignoreUnreceivedAfterDays: Int? = nil,
        inboundPlacement: InboundPlacementChoice = .manual,
        inboundTransportation: InboundTransportationChoice = .manual,
        partneredCarrierFees: Bool = false,
        pickUpDelayDays: Int? = nil
    ) {
        self.inboundPlacement = inboundPlacement
        self.inboundTransportation = inboundTransportation
        self.partneredCarrierFees = partneredCarrierFees
        self.pickUpDelayDays = pickUpDelayDays
        self.fbaStockSyncEnabled = fbaStockSyncEnabled
        self.fbaInboundSyncEnabled = fbaInboundSyncEnabled
        self.stockOrderType = stockOrderType
        self.stockOrderTypeByMarketplace = stockOrderTypeByMarketplace
        self.transferSourceWarehouse = transferSourceWarehouse
        self.ignoreUnreceivedAfterDays = ignoreUnreceivedAfterDays
        self.mfnStockHubs = mfnStockHubs
        self.mfnHandlingTime = mfnHandlingTime
        self.mfnOrderSyncEnabled = mfnOrderSyncEnabled
        self.mfnMarketplaceIds = mfnMarketplaceIds
        self.mfnEarliestOrderDate = mfnEarliestOrderDate
        self.productCode = productCode
        self.shipMethods = shipMethods
        self.inventorySyncEnabled = inventorySyncEnabled
        self.orderSyncEnabled = orderSyncEnabled
        self.autoConfirm = autoConfirm
        self.safetyStock = safetyStock
        self.quantityCap = quantityCap
        self.hubSafetyStock = hubSafetyStock
        self.skuSafetyStock = skuSafetyStock
        self.sendZeroForAll = sendZeroForAll
        self.reconciliationIntervalMinutes = reconciliationIntervalMinutes
    }

    /// Decodes settings, taking the default for every key that is absent, so that settings stored before a key
    /// existed still read.
    public init(from decoder: any Decoder) throws {
        let defaults = ConnectionSettings()
        let container = try decoder.container(keyedBy: CodingKeys.self)
        inventorySyncEnabled =
            try container.decodeIfPresent(Bool.self, forKey: .inventorySyncEnabled) ?? defaults.inventorySyncEnabled
        orderSyncEnabled =
            try container.decodeIfPresent(Bool.self, forKey: .orderSyncEnabled) ?? defaults.orderSyncEnabled
        autoConfirm = try container.decodeIfPresent(Bool.self, forKey: .autoConfirm) ?? defaults.autoConfirm
        safetyStock = try container.decodeIfPresent(Int.self, forKey: .safetyStock) ?? defaults.safetyStock
        quantityCap = try container.decodeIfPresent(Int.self, forKey: .quantityCap)
        hubSafetyStock =
            try container.decodeIfPresent([String: Int].self, forKey: .hubSafetyStock) ?? defaults.hubSafetyStock
        skuSafetyStock =
            try container.decodeIfPresent([String: Int].self, forKey: .skuSafetyStock) ?? defaults.skuSafetyStock
        sendZeroForAll = try container.decodeIfPresent(Bool.self, forKey: .sendZeroForAll) ?? defaults.sendZeroForAll
        reconciliationIntervalMinutes =
            try container.decodeIfPresent(Int.self, forKey: .reconciliationIntervalMinutes)
            ?? defaults.reconciliationIntervalMinutes
        mfnOrderSyncEnabled =
            try container.decodeIfPresent(Bool.self, forKey: .mfnOrderSyncEnabled) ?? defaults.mfnOrderSyncEnabled
        mfnMarketplaceIds = try container.decodeIfPresent([MarketplaceID].self, forKey: .mfnMarketplaceIds)
        mfnEarliestOrderDate = try container.decodeIfPresent(String.self, forKey: .mfnEarliestOrderDate)
        // A code a later version adds reads as the default rather than making the connection unreadable.
        productCode =
            (try? container.decodeIfPresent(ProductCode.self, forKey: .productCode)) ?? defaults.productCode
        shipMethods = try container.decodeIfPresent([ShipMethodMapping].self, forKey: .shipMethods) ?? []
        mfnStockHubs = try container.decodeIfPresent([HubCode].self, forKey: .mfnStockHubs) ?? []
        mfnHandlingTime = try container.decodeIfPresent(Int.self, forKey: .mfnHandlingTime)
        fbaStockSyncEnabled =
            try container.decodeIfPresent(Bool.self, forKey: .fbaStockSyncEnabled) ?? defaults.fbaStockSyncEnabled
        fbaInboundSyncEnabled =
            try container.decodeIfPresent(Bool.self, forKey: .fbaInboundSyncEnabled) ?? defaults.fbaInboundSyncEnabled
        stockOrderType =
            (try? container.decodeIfPresent(StockOrderTypeSetting.self, forKey: .stockOrderType)) ?? .auto
        stockOrderTypeByMarketplace =
            (try? container.decodeIfPresent(
                [MarketplaceID: StockOrderTypeSetting].self,
                forKey: .stockOrderTypeByMarketplace
            )) ?? [:]
        transferSourceWarehouse = try container.decodeIfPresent(String.self, forKey: .transferSourceWarehouse)
        ignoreUnreceivedAfterDays = try container.decodeIfPresent(Int.self, forKey: .ignoreUnreceivedAfterDays)
        inboundPlacement =
            (try? container.decodeIfPresent(InboundPlacementChoice.self, forKey: .inboundPlacement)) ?? .manual
        inboundTransportation =
            (try? container.decodeIfPresent(InboundTransportationChoice.self, forKey: .inboundTransportation))
            ?? .manual
        partneredCarrierFees = try container.decodeIfPresent(Bool.self, forKey: .partneredCarrierFees) ?? false
        pickUpDelayDays = try container.decodeIfPresent(Int.self, forKey: .pickUpDelayDays)
    }

    /// The start of ``mfnEarliestOrderDate``'s day, in UTC; nil when unset.
    public var mfnEarliestOrderTime: Date? {
        mfnEarliestOrderDate.flatMap(Self.day)
    }

    /// A day written YYYY-MM-DD, as the start of that day in UTC.
    public static func day(_ text: String) -> Date? {
        guard text.count == 10 else { return nil }
        return try? Date("\(text)T00:00:00Z", strategy: .iso8601)
    }

    /// Whether a change from `old` to these settings changes what every item should hold at Amazon.
    public func changesQuantities(from old: ConnectionSettings) -> Bool {
        safetyStock != old.safetyStock || quantityCap != old.quantityCap || hubSafetyStock != old.hubSafetyStock
            || skuSafetyStock != old.skuSafetyStock || sendZeroForAll != old.sendZeroForAll
    }

    /// The longest reconciliation interval: a week.
    public static let maximumReconciliationIntervalMinutes = 10_080

    /// Checks the values, naming the setting that is wrong.
    public func validate() throws(ValidationError) {
        let most = StockLevel.maximumQuantity
        func checkUnits(_ units: Int, _ field: String) throws(ValidationError) {
            guard (0...most).contains(units) else {
                throw ValidationError(field: field, reason: "must be a whole number from 0 to \(most), got \(units)")
            }
        }
        try checkUnits(safetyStock, "settings.safetyStock")
        if let quantityCap { try checkUnits(quantityCap, "settings.quantityCap") }
        for (name, buffers) in [("hubSafetyStock", hubSafetyStock), ("skuSafetyStock", skuSafetyStock)] {
            for (key, units) in buffers.sorted(by: { $0.key < $1.key }) {
                if key.isEmpty { throw ValidationError(field: "settings.\(name)", reason: "has an empty key") }
                try checkUnits(units, "settings.\(name).\(key)")
            }
        }
        guard (0...Self.maximumReconciliationIntervalMinutes).contains(reconciliationIntervalMinutes) else {
            throw ValidationError(
                field: "settings.reconciliationIntervalMinutes",
                reason:
                    "must be 0 (never) to \(Self.maximumReconciliationIntervalMinutes) (a week), got \(reconciliationIntervalMinutes)"
            )
        }
        for (index, marketplace) in (mfnMarketplaceIds ?? []).enumerated()
        where marketplace.rawValue.isEmpty || marketplace.rawValue.count > 32
            || !marketplace.rawValue.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) })
        {
            throw ValidationError(
                field: "settings.mfnMarketplaceIds[\(index)]",
                reason: "must be an Amazon marketplace id (letters and digits), got \(marketplace.rawValue)"
            )
        }
        if let day = mfnEarliestOrderDate, Self.day(day) == nil {
            throw ValidationError(
                field: "settings.mfnEarliestOrderDate",
                reason: "must be a day written YYYY-MM-DD, got \(day)"
            )
        }
        guard mfnStockHubs.count <= 100 else {
            throw ValidationError(
                field: "settings.mfnStockHubs",
                reason: "names \(mfnStockHubs.count) hubs; at most 100"
            )
        }
        for (index, hub) in mfnStockHubs.enumerated()
        where hub.rawValue.isEmpty || hub.rawValue.count > StockLevel.maximumHubLength {
            throw ValidationError(
                field: "settings.mfnStockHubs[\(index)]",
                reason: "must be a hub code of 1 to \(StockLevel.maximumHubLength) characters"
            )
        }
        if Set(mfnStockHubs).count != mfnStockHubs.count {
            throw ValidationError(field: "settings.mfnStockHubs", reason: "names a hub twice")
        }
        if let days = mfnHandlingTime, !(0...ListingRules.maximumHandlingTime).contains(days) {
            throw ValidationError(
                field: "settings.mfnHandlingTime",
                reason: "must be a whole number of days from 0 to \(ListingRules.maximumHandlingTime), got \(days)"
            )
        }
        do {
            try ShipMethodRules.validate(shipMethods)
        } catch {
            throw ValidationError(field: "settings.\(error.field)", reason: error.reason)
        }
        if let days = ignoreUnreceivedAfterDays, !(1...365).contains(days) {
            throw ValidationError(
                field: "settings.ignoreUnreceivedAfterDays",
                reason: "must be a whole number of days from 1 to 365, got \(days)"
            )
        }
        if let days = pickUpDelayDays, !(0...90).contains(days) {
            throw ValidationError(
                field: "settings.pickUpDelayDays",
                reason: "must be a whole number of days from 0 to 90, got \(days)"
            )
        }
        if let source = transferSourceWarehouse, source.isEmpty || source.count > StockLevel.maximumHubLength {
            throw ValidationError(
                field: "settings.transferSourceWarehouse",
                reason: "must be a warehouse code of 1 to \(StockLevel.maximumHubLength) characters"
            )
        }
        if stockOrderTypeByMarketplace.count > 30
            || stockOrderTypeByMarketplace.keys.contains(where: \.rawValue.isEmpty)
        {
            throw ValidationError(
                field: "settings.stockOrderTypeByMarketplace",
                reason: "must name at most 30 marketplaces by their ids"
            )
        }
    }

    /// The reconciliation interval in seconds, within its range even when a value stored before the range was
    /// enforced lies outside it.
    public var reconciliationInterval: TimeInterval {
        TimeInterval(min(max(0, reconciliationIntervalMinutes), Self.maximumReconciliationIntervalMinutes)) * 60
    }

    /// The settings that differ between `old` and `new`, one entry per setting, with both values as JSON text
    /// (nil for a setting that is unset), in a stable order.
    public static func changes(from old: ConnectionSettings, to new: ConnectionSettings) -> [SettingChange] {
        let before = old.jsonFields()
        let after = new.jsonFields()
        return Set(before.keys).union(after.keys).sorted().compactMap { key in
            let oldValue = before[key]
            let newValue = after[key]
            return oldValue == newValue ? nil : SettingChange(setting: key, oldValue: oldValue, newValue: newValue)
        }
    }

    private func jsonFields() -> [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard
            let data = try? encoder.encode(self),
            let object = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]),
            let fields = object as? [String: Any]
        else { return [:] }
        var result: [String: String] = [:]
        for (key, value) in fields {
            guard
                let valueData = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]),
                let text = String(data: valueData, encoding: .utf8)
            else { continue }
            result[key] = text
        }
        return result
    }
}

/// One setting that changed, with its old and new values as JSON text.
public struct SettingChange: Sendable, Hashable, Codable {
    public var setting: String
    public var oldValue: String?
    public var newValue: String?

    public init(setting: String, oldValue: String?, newValue: String?) {
        self.setting = setting
        self.oldValue = oldValue
        self.newValue = newValue
    }
}

/// An entry of the configuration change log: who changed which setting, when, from what to what.
public struct ConfigChange: Sendable, Hashable, Codable {
    /// The log's own increasing number.
    public var id: Int64
    /// The connection whose setting changed; nil for a setting of the whole installation.
    public var connectionID: ConnectionID?
    public var setting: String
    public var oldValue: String?
    public var newValue: String?
    /// Who made the change: a user name, an API key's name, or `system`.
    public var actor: String
    public var changedAt: Date

    public init(
        id: Int64,
        connectionID: ConnectionID?,
        setting: String,
        oldValue: String?,
        newValue: String?,
        actor: String,
        changedAt: Date
    ) {
        self.id = id
        self.connectionID = connectionID
        self.setting = setting
        self.oldValue = oldValue
        self.newValue = newValue
        self.actor = actor
        self.changedAt = changedAt
    }
}
