/// Amazon's throttling model: a bucket of `burst` tokens refilled at `rate` tokens a second; a request takes one
/// token or is refused. Pure arithmetic over the times it is given, so that tests can drive it without waiting.
public struct TokenBucket: Sendable, Hashable {
    /// Tokens added per second.
    public var rate: Double
    /// The bucket's size: how many requests may arrive at once after a quiet period.
    public var burst: Double
    private var tokens: Double
    private var updatedAt: Double

    /// A full bucket at time `now` (seconds on any monotonic scale).
    public init(rate: Double, burst: Double, now: Double) {
        self.rate = rate
        self.burst = max(burst, 1)
        self.tokens = max(burst, 1)
        self.updatedAt = now
    }

    /// Takes a token if one is there at `now`; false when the request must be throttled.
    public mutating func take(now: Double) -> Bool {
        refill(now: now)
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }

    /// The tokens available at `now`.
    public mutating func available(now: Double) -> Double {
        refill(now: now)
        return tokens
    }

    private mutating func refill(now: Double) {
        guard now > updatedAt else { return }
        tokens = min(burst, tokens + (now - updatedAt) * rate)
        updatedAt = now
    }
}

/// A rate limit: Amazon's default for an operation, or the simulator's configured one.
public struct RateLimit: Sendable, Hashable, Codable {
    public var rate: Double
    public var burst: Double

    public init(rate: Double, burst: Double) {
        self.rate = rate
        self.burst = burst
    }

    /// The defaults per operation. Confirmed by Amazon's rate-limit page: batchInventory 50/100, returns 10/20,
    /// sandbox operations 5/15. The shipment operations' limits are not settled (docs/simulator.md): reads 2/s,
    /// writes 1/s as third parties report, bursts chosen by us.
    public static let amazonDefaults: [String: RateLimit] = [
        "batchInventory": RateLimit(rate: 50, burst: 100),
        "getShipments": RateLimit(rate: 2, burst: 10),
        "getShipment": RateLimit(rate: 2, burst: 10),
        "processShipment": RateLimit(rate: 1, burst: 5),
        "createPackages": RateLimit(rate: 1, burst: 5),
        "updatePackage": RateLimit(rate: 1, burst: 5),
        "updatePackageStatus": RateLimit(rate: 1, burst: 5),
        "retrieveShippingOptions": RateLimit(rate: 1, burst: 5),
        "generateInvoice": RateLimit(rate: 1, burst: 5),
        "retrieveInvoice": RateLimit(rate: 1, burst: 5),
        "generateShipLabels": RateLimit(rate: 1, burst: 5),
        "listReturns": RateLimit(rate: 10, burst: 20),
        "getReturn": RateLimit(rate: 10, burst: 20),
        "createSandboxShipment": RateLimit(rate: 5, burst: 15),
        "updateSandboxShipment": RateLimit(rate: 5, burst: 15),
        "createSandboxLocation": RateLimit(rate: 5, burst: 15),
        // Orders 2026-01-01 and v0's confirmShipment.
        "searchOrders": RateLimit(rate: 0.0056, burst: 20),
        "getOrder": RateLimit(rate: 0.5, burst: 30),
        "confirmShipment": RateLimit(rate: 2, burst: 10),
        // Listings Items 2021-08-01 and Feeds 2021-06-30; a JSON listings feed takes from its own bucket, five
        // feeds per five minutes (Amazon's changelog of May 2025), not from createFeed's.
        "getListingsItem": RateLimit(rate: 5, burst: 10),
        "patchListingsItem": RateLimit(rate: 5, burst: 5),
        "searchListingsItems": RateLimit(rate: 5, burst: 5),
        "createFeedDocument": RateLimit(rate: 0.5, burst: 15),
        "createFeed": RateLimit(rate: 0.0083, burst: 15),
        "createFeed.JSON_LISTINGS_FEED": RateLimit(rate: 5.0 / 300, burst: 5),
        "getFeeds": RateLimit(rate: 0.0222, burst: 10),
        "getFeed": RateLimit(rate: 2, burst: 15),
        "cancelFeed": RateLimit(rate: 2, burst: 15),
        "getFeedDocument": RateLimit(rate: 0.0222, burst: 10),
        // FBA Inventory v1.
        "getInventorySummaries": RateLimit(rate: 2, burst: 2),
        // Fulfillment Inbound v0 (its getShipments as getInboundShipments: External Fulfillment has a getShipments).
        "getInboundShipments": RateLimit(rate: 2, burst: 30),
        "getShipmentItemsByShipmentId": RateLimit(rate: 2, burst: 30),
        "getLabels": RateLimit(rate: 2, burst: 30),
        // Fulfillment Inbound 2024-03-20, Send to Amazon (its getShipment as getInboundPlanShipment).
        "listInboundPlans": RateLimit(rate: 2, burst: 6),
        "createInboundPlan": RateLimit(rate: 2, burst: 2),
        "getInboundPlan": RateLimit(rate: 2, burst: 6),
        "listPackingGroupItems": RateLimit(rate: 2, burst: 30),
        "setPackingInformation": RateLimit(rate: 2, burst: 2),
        "listPackingOptions": RateLimit(rate: 2, burst: 6),
        "generatePackingOptions": RateLimit(rate: 2, burst: 2),
        "confirmPackingOption": RateLimit(rate: 2, burst: 2),
        "listPlacementOptions": RateLimit(rate: 2, burst: 6),
        "generatePlacementOptions": RateLimit(rate: 2, burst: 2),
        "confirmPlacementOption": RateLimit(rate: 2, burst: 2),
        "getInboundPlanShipment": RateLimit(rate: 2, burst: 6),
        "listDeliveryWindowOptions": RateLimit(rate: 2, burst: 30),
        "generateDeliveryWindowOptions": RateLimit(rate: 2, burst: 30),
        "confirmDeliveryWindowOptions": RateLimit(rate: 2, burst: 30),
        "listTransportationOptions": RateLimit(rate: 2, burst: 6),
        "generateTransportationOptions": RateLimit(rate: 2, burst: 2),
        "confirmTransportationOptions": RateLimit(rate: 2, burst: 2),
        "getInboundOperationStatus": RateLimit(rate: 2, burst: 6),
    ]
}
