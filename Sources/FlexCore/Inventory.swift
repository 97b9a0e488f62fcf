import Foundation

/// What the WMS says a hub holds of one of its SKUs: the units it can sell now (on hand minus units allocated to
/// orders, Amazon's included). Absolute, never a delta: sending it twice changes nothing.
public struct StockLevel: Sendable, Hashable, Codable {
    public var hub: HubCode
    public var warehouseSKU: WarehouseSKU
    public var quantity: Int

    public init(hub: HubCode, warehouseSKU: WarehouseSKU, quantity: Int) {
        self.hub = hub
        self.warehouseSKU = warehouseSKU
        self.quantity = quantity
    }

    /// The most units FlexBridge takes for one SKU at one hub; Amazon's quantity is a 32-bit integer.
    public static let maximumQuantity = 1_000_000_000

    /// The longest hub code and WMS SKU taken, in characters.
    public static let maximumHubLength = 64
    public static let maximumSKULength = 200

    /// Checks the values, naming the field that is wrong in the API's spelling.
    public func validate() throws(ValidationError) {
        if hub.rawValue.isEmpty { throw ValidationError(field: "hub", reason: "must not be empty") }
        if warehouseSKU.rawValue.isEmpty { throw ValidationError(field: "sku", reason: "must not be empty") }
        if hub.rawValue.count > Self.maximumHubLength {
            throw ValidationError(
                field: "hub",
                reason: "must be at most \(Self.maximumHubLength) characters, got \(hub.rawValue.count)"
            )
        }
        if warehouseSKU.rawValue.count > Self.maximumSKULength {
            throw ValidationError(
                field: "sku",
                reason: "must be at most \(Self.maximumSKULength) characters, got \(warehouseSKU.rawValue.count)"
            )
        }
        if quantity < 0 { throw ValidationError(field: "quantity", reason: "must be 0 or more, got \(quantity)") }
        if quantity > Self.maximumQuantity {
            throw ValidationError(field: "quantity", reason: "must be at most \(Self.maximumQuantity), got \(quantity)")
        }
    }
}

/// How the quantity offered at an Amazon location follows from the WMS's stock and the connection's settings.
public enum InventoryRules {
    /// The most items Amazon takes in one batchInventory call.
    public static let itemsPerCall = 10

    /// The units held back for this hub and SKU: the SKU's own buffer, else the hub's, else the connection's.
    public static func safetyStock(hub: HubCode, sku: WarehouseSKU, settings: ConnectionSettings) -> Int {
        settings.skuSafetyStock[sku.rawValue] ?? settings.hubSafetyStock[hub.rawValue] ?? settings.safetyStock
    }

    /// The units customers may buy: the WMS's free units less the buffer, never below zero, at most the cap; zero
    /// for everything while "send zero for all" is on. Every number is taken within 0 and
    /// ``StockLevel/maximumQuantity``, so a value stored before its range was enforced cannot overflow here.
    public static func sellable(free: Int, hub: HubCode, sku: WarehouseSKU, settings: ConnectionSettings) -> Int {
        if settings.sendZeroForAll { return 0 }
        let sellable = max(
            0,
            clampedQuantity(free) - clampedQuantity(safetyStock(hub: hub, sku: sku, settings: settings))
        )
        return settings.quantityCap.map { min(clampedQuantity($0), sellable) } ?? sellable
    }

    /// The absolute quantity to send to Amazon. Amazon subtracts the units its open shipments reserve from what it is
    /// sent, so those units are added back; with "send zero for all" on, zero is sent, whatever is reserved. Amazon's
    /// quantity is a 32-bit integer, the most ever sent.
    public static func quantityToSend(
        free: Int,
        reserved: Int,
        hub: HubCode,
        sku: WarehouseSKU,
        settings: ConnectionSettings,
        offer: LocationState.Offer = .everything
    ) -> Int {
        if settings.sendZeroForAll { return 0 }
        var sellable = sellable(free: free, hub: hub, sku: sku, settings: settings)
        switch offer {
        case .everything: break
        case .atMost(let cap): sellable = min(sellable, clampedQuantity(cap))
        case .nothing: return 0
        }
        return min(Int(Int32.max), sellable + clampedQuantity(reserved))
    }

    static func clampedQuantity(_ units: Int) -> Int {
        min(max(0, units), StockLevel.maximumQuantity)
    }

    /// The largest `clientSequenceNumber` FlexBridge takes from another connector: 2^53 − 1, exact in every JSON
    /// reader, and thousands of years of milliseconds above today's numbers.
    public static let maximumImportedSequenceNumber: Int64 = 9_007_199_254_740_991

    /// The next `clientSequenceNumber` for an item: milliseconds since the epoch, as Amazon recommends, bumped past
    /// every number already used or seen at Amazon, so that numbers only ever grow, even when the clock steps back
    /// or another connector used larger ones. Nil when the numbers are exhausted (one of them is already the largest
    /// 64-bit number): the item cannot be sent again, which the caller reports instead of trapping.
    public static func nextSequenceNumber(now: Date, lastUsed: Int64?, lastSeenAtAmazon: Int64?) -> Int64? {
        let floor = max(lastUsed ?? 0, lastSeenAtAmazon ?? 0)
        guard floor < Int64.max else { return nil }
        let milliseconds = now.timeIntervalSince1970 * 1000
        let clock = milliseconds.isFinite && milliseconds < 9.0e18 ? Int64(max(0, milliseconds).rounded(.down)) : 0
        return max(clock, floor + 1)
    }
}

/// Where one merchant SKU stands at one Amazon location and channel: what the WMS wants there, what FlexBridge last
/// sent, and what Amazon last said.
public struct InventoryItemStatus: Sendable, Hashable, Codable {
    public var connectionID: ConnectionID
    public var locationID: LocationID
    public var channel: ChannelName
    public var marketplaceID: MarketplaceID
    public var merchantSKU: MerchantSKU
    public var hub: HubCode
    public var warehouseSKU: WarehouseSKU
    /// The WMS's free units for the hub and SKU.
    public var desiredQuantity: Int
    /// When the WMS's number last changed for this item.
    public var changedAt: Date
    /// What FlexBridge would send now, after buffers, cap and Amazon's reservation.
    public var quantityToSend: Int
    /// Whether a change still has to reach Amazon.
    public var pending: Bool
    /// The hub mapping or listing behind the item was removed: 0 goes to Amazon, then the item is gone.
    public var retiring: Bool
    public var lastSentQuantity: Int?
    public var lastSequenceNumber: Int64?
    public var lastSentAt: Date?
    public var amazonSellableQuantity: Int?
    public var amazonReservedQuantity: Int?
    public var amazonSequenceNumber: Int64?
    /// When Amazon last reported the numbers above.
    public var amazonReportedAt: Date?
    public var lastError: InventoryError?

    public init(
        connectionID: ConnectionID,
        locationID: LocationID,
        channel: ChannelName,
        marketplaceID: MarketplaceID,
        merchantSKU: MerchantSKU,
        hub: HubCode,
        warehouseSKU: WarehouseSKU,
        desiredQuantity: Int,
        changedAt: Date,
        quantityToSend: Int,
        pending: Bool,
        retiring: Bool = false,
        lastSentQuantity: Int?,
        lastSequenceNumber: Int64?,
        lastSentAt: Date?,
        amazonSellableQuantity: Int?,
        amazonReservedQuantity: Int?,
        amazonSequenceNumber: Int64?,
        amazonReportedAt: Date?,
        lastError: InventoryError?
    ) {
        self.connectionID = connectionID
        self.locationID = locationID
        self.channel = channel
        self.marketplaceID = marketplaceID
        self.merchantSKU = merchantSKU
        self.hub = hub
        self.warehouseSKU = warehouseSKU
        self.desiredQuantity = desiredQuantity
        self.changedAt = changedAt
        self.quantityToSend = quantityToSend
        self.pending = pending
        self.retiring = retiring
        self.lastSentQuantity = lastSentQuantity
        self.lastSequenceNumber = lastSequenceNumber
        self.lastSentAt = lastSentAt
        self.amazonSellableQuantity = amazonSellableQuantity
        self.amazonReservedQuantity = amazonReservedQuantity
        self.amazonSequenceNumber = amazonSequenceNumber
        self.amazonReportedAt = amazonReportedAt
        self.lastError = lastError
    }
}

/// Why Amazon did not take an item's quantity.
public struct InventoryError: Sendable, Hashable, Codable {
    /// Amazon's code (`INVALID_SKU`, `INVALID_LOCATION`, …) or FlexBridge's (`AMAZON_UNAVAILABLE`).
    public var code: String
    public var message: String
    /// True when the seller must fix something (the listing, the location): FlexBridge does not send the item
    /// again until its quantity, listing or mapping changes. False when FlexBridge retries on its own.
    public var actionable: Bool
    public var at: Date

    public init(code: String, message: String, actionable: Bool, at: Date) {
        self.code = code
        self.message = message
        self.actionable = actionable
        self.at = at
    }
}

/// Where Amazon keeps one stock number: a merchant SKU at a location, for a channel.
public struct InventoryKey: Sendable, Hashable, Codable, Comparable {
    public var connectionID: ConnectionID
    public var locationID: LocationID
    public var merchantSKU: MerchantSKU
    public var channel: ChannelName

    public init(connectionID: ConnectionID, locationID: LocationID, merchantSKU: MerchantSKU, channel: ChannelName) {
        self.connectionID = connectionID
        self.locationID = locationID
        self.merchantSKU = merchantSKU
        self.channel = channel
    }

    /// The key of an item's status.
    public init(item: InventoryItemStatus) {
        self.init(
            connectionID: item.connectionID,
            locationID: item.locationID,
            merchantSKU: item.merchantSKU,
            channel: item.channel
        )
    }

    public static func < (lhs: InventoryKey, rhs: InventoryKey) -> Bool {
        (lhs.connectionID.rawValue, lhs.locationID.rawValue, lhs.merchantSKU.rawValue, lhs.channel.rawValue)
            < (rhs.connectionID.rawValue, rhs.locationID.rawValue, rhs.merchantSKU.rawValue, rhs.channel.rawValue)
    }
}

/// One item claimed for sending: its sequence number is already stored, so a crash after this point can never make
/// FlexBridge use the number again.
public struct InventoryUpdate: Sendable, Hashable {
    public var key: InventoryKey
    public var marketplaceID: MarketplaceID
    /// The item's version this quantity was computed from.
    public var version: Int64
    public var quantity: Int
    /// Amazon's reserved units that `quantity` includes; nil when the quantity does not depend on them (zero for all).
    public var reservedIncluded: Int?
    public var sequenceNumber: Int64
    /// When the WMS's change that this update carries was recorded.
    public var changedAt: Date
    /// The update withdraws the item (its mapping or listing was removed): once Amazon took it, the item goes.
    public var retiring: Bool
    /// The trace of the stock write this update carries, when it was traced.
    public var trace: TraceContext?

    public init(
        key: InventoryKey,
        marketplaceID: MarketplaceID,
        version: Int64,
        quantity: Int,
        reservedIncluded: Int?,
        sequenceNumber: Int64,
        changedAt: Date,
        retiring: Bool = false,
        trace: TraceContext? = nil
    ) {
        self.retiring = retiring
        self.trace = trace
        self.key = key
        self.marketplaceID = marketplaceID
        self.version = version
        self.quantity = quantity
        self.reservedIncluded = reservedIncluded
        self.sequenceNumber = sequenceNumber
        self.changedAt = changedAt
    }
}

/// What Amazon made of one item of a batchInventory call (an update or a fetch).
public enum InventoryOutcome: Sendable, Hashable {
    /// Amazon applied the update and reports its numbers.
    case applied(InventoryUpdate, AmazonStock)
    /// Amazon holds a higher sequence number than the one sent (set by another connector, or by an update whose answer
    /// was lost): nothing changed; the item is sent again with a number above Amazon's.
    case staleSequence(InventoryKey, AmazonStock)
    /// Amazon refused the item for a reason the seller must fix; not sent again until the item changes.
    case refused(InventoryUpdate, code: String, message: String)
    /// The call or the item failed for a passing reason; sent again at `retryAt`.
    case failed(InventoryKey, code: String, message: String, retryAt: Date)
    /// A reconciliation fetch: Amazon's numbers for an item FlexBridge did not change meanwhile.
    case fetched(InventoryKey, AmazonStock)
}

extension InventoryOutcome {
    /// The item the outcome is about.
    public var key: InventoryKey {
        switch self {
        case .applied(let update, _), .refused(let update, _, _): update.key
        case .staleSequence(let key, _), .failed(let key, _, _, _), .fetched(let key, _): key
        }
    }
}

/// Amazon's numbers for one item, as a batchInventory answer states them.
public struct AmazonStock: Sendable, Hashable, Codable {
    public var sellable: Int
    public var reserved: Int
    public var sequenceNumber: Int64?

    public init(sellable: Int, reserved: Int, sequenceNumber: Int64?) {
        self.sellable = sellable
        self.reserved = reserved
        self.sequenceNumber = sequenceNumber
    }
}
