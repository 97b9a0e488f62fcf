import Foundation

/// Amazon's rate limits as one seller's client keeps them: a token bucket per operation, seeded with Amazon's
/// defaults, following the rate Amazon reports in `x-amzn-RateLimit-Limit`, slowed after a 429. A caller that finds
/// the bucket empty waits its turn instead of sending; waiting callers are served in arrival order, and each
/// operation has its own bucket, so one busy operation never starves another.
public actor RateLimiter {
    public struct Limit: Sendable, Hashable {
        public var rate: Double
        public var burst: Double
        public init(rate: Double, burst: Double) {
            self.rate = rate
            self.burst = burst
        }
    }

    /// Amazon's documented defaults (research notes §2.5); shipment operations as third parties report them.
    public static let amazonDefaults: [String: Limit] = [
        "batchInventory": Limit(rate: 50, burst: 100),
        "getShipments": Limit(rate: 2, burst: 10),
        "getShipment": Limit(rate: 2, burst: 10),
        "processShipment": Limit(rate: 1, burst: 5),
        "createPackages": Limit(rate: 1, burst: 5),
        "updatePackage": Limit(rate: 1, burst: 5),
        "updatePackageStatus": Limit(rate: 1, burst: 5),
        "retrieveShippingOptions": Limit(rate: 1, burst: 5),
        "generateInvoice": Limit(rate: 1, burst: 5),
        "retrieveInvoice": Limit(rate: 1, burst: 5),
        "generateShipLabels": Limit(rate: 1, burst: 5),
        "listReturns": Limit(rate: 10, burst: 20),
        "getReturn": Limit(rate: 10, burst: 20),
        "createSandboxShipment": Limit(rate: 5, burst: 15),
        "updateSandboxShipment": Limit(rate: 5, burst: 15),
        "createSandboxLocation": Limit(rate: 5, burst: 15),
        "searchOrders": Limit(rate: 0.0056, burst: 20),
        "getOrder": Limit(rate: 0.5, burst: 30),
        "confirmShipment": Limit(rate: 2, burst: 10),
        "getListingsItem": Limit(rate: 5, burst: 10),
        "patchListingsItem": Limit(rate: 5, burst: 5),
        "searchListingsItems": Limit(rate: 5, burst: 5),
        "getInventorySummaries": Limit(rate: 2, burst: 2),
        "getInboundShipments": Limit(rate: 2, burst: 30),
        "getShipmentItemsByShipmentId": Limit(rate: 2, burst: 30),
        "getLabels": Limit(rate: 2, burst: 30),
        // Fulfillment Inbound 2024-03-20 (its getShipment as getInboundPlanShipment).
        "listInboundPlans": Limit(rate: 2, burst: 6),
        "createInboundPlan": Limit(rate: 2, burst: 2),
        "getInboundPlan": Limit(rate: 2, burst: 6),
        "listPackingGroupItems": Limit(rate: 2, burst: 30),
        "setPackingInformation": Limit(rate: 2, burst: 2),
        "listPackingOptions": Limit(rate: 2, burst: 6),
        "generatePackingOptions": Limit(rate: 2, burst: 2),
        "confirmPackingOption": Limit(rate: 2, burst: 2),
        "listPlacementOptions": Limit(rate: 2, burst: 6),
        "generatePlacementOptions": Limit(rate: 2, burst: 2),
        "confirmPlacementOption": Limit(rate: 2, burst: 2),
        "getInboundPlanShipment": Limit(rate: 2, burst: 6),
        "listDeliveryWindowOptions": Limit(rate: 2, burst: 30),
        "generateDeliveryWindowOptions": Limit(rate: 2, burst: 30),
        "confirmDeliveryWindowOptions": Limit(rate: 2, burst: 30),
        "listTransportationOptions": Limit(rate: 2, burst: 6),
        "generateTransportationOptions": Limit(rate: 2, burst: 2),
        "confirmTransportationOptions": Limit(rate: 2, burst: 2),
        "getInboundOperationStatus": Limit(rate: 2, burst: 6),
        "createFeedDocument": Limit(rate: 0.5, burst: 15),
        // FlexBridge creates JSON listings feeds only, whose own limit (five per five minutes, burst five) is what
        // binds; burst 8 at the client's half share is four at once, one below Amazon's five.
        "createFeed": Limit(rate: 5.0 / 300, burst: 8),
        "getFeeds": Limit(rate: 0.0222, burst: 10),
        "getFeed": Limit(rate: 2, burst: 15),
        "cancelFeed": Limit(rate: 2, burst: 15),
        "getFeedDocument": Limit(rate: 0.0222, burst: 10),
    ]

    /// The bucket of an operation. Tokens may go below zero: each waiting caller has reserved its token, and the
    /// deficit says how long the next one waits.
    struct Bucket {
        var nominal: Double
        var rate: Double
        var burst: Double
        var tokens: Double
        var updatedAt: Double

        mutating func refill(at now: Double) {
            if now > updatedAt {
                tokens = min(burst, tokens + (now - updatedAt) * rate)
                updatedAt = now
            }
        }
    }

    private var buckets: [String: Bucket] = [:]
    private let defaults: [String: Limit]
    /// The share of Amazon's burst the client uses. Amazon's bucket keeps the rest as slack, so that requests
    /// bunched up by the network do not find it empty.
    private let burstShare: Double
    private let clock: @Sendable () -> Double
    private let sleep: @Sendable (Double) async throws -> Void
    /// Seconds callers spent waiting, per operation.
    public private(set) var waited: [String: Double] = [:]

    public init(
        defaults: [String: Limit] = RateLimiter.amazonDefaults,
        burstShare: Double = 0.5,
        clock: @escaping @Sendable () -> Double = RateLimiter.monotonicSeconds,
        sleep: @escaping @Sendable (Double) async throws -> Void = { try await Task.sleep(for: .seconds($0)) }
    ) {
        self.defaults = defaults
        self.burstShare = burstShare
        self.clock = clock
        self.sleep = sleep
    }

    /// Waits until the operation may be called, then returns the seconds waited.
    @discardableResult
    public func acquire(_ operation: String) async throws -> Double {
        let now = clock()
        var bucket = buckets[operation] ?? makeBucket(operation, now: now)
        bucket.refill(at: now)
        bucket.tokens -= 1
        let wait = bucket.tokens >= 0 ? 0 : -bucket.tokens / bucket.rate
        buckets[operation] = bucket
        if wait > 0 {
            waited[operation, default: 0] += wait
            try await sleep(wait)
        }
        return wait
    }

    /// Amazon reported the rate it applies to this seller and operation.
    public func observe(rateLimit: Double, for operation: String) {
        guard rateLimit > 0, rateLimit.isFinite else { return }
        let now = clock()
        var bucket = buckets[operation] ?? makeBucket(operation, now: now)
        bucket.refill(at: now)
        if abs(bucket.nominal - rateLimit) > 1e-9 {
            bucket.nominal = rateLimit
            bucket.rate = rateLimit
        }
        buckets[operation] = bucket
    }

    /// Amazon throttled the operation: empty the bucket and halve the rate, which then recovers on each success.
    public func throttled(_ operation: String) {
        let now = clock()
        var bucket = buckets[operation] ?? makeBucket(operation, now: now)
        bucket.refill(at: now)
        bucket.tokens = min(bucket.tokens, 0)
        bucket.rate = max(bucket.nominal / 4, bucket.rate / 2)
        buckets[operation] = bucket
    }

    /// A call went through: the rate climbs back toward Amazon's.
    public func succeeded(_ operation: String) {
        guard var bucket = buckets[operation], bucket.rate < bucket.nominal else { return }
        bucket.refill(at: clock())
        bucket.rate = min(bucket.nominal, bucket.rate * 1.05)
        buckets[operation] = bucket
    }

    /// The rate the client currently allows itself for an operation.
    public func currentRate(_ operation: String) -> Double? { buckets[operation]?.rate ?? defaults[operation]?.rate }

    private func makeBucket(_ operation: String, now: Double) -> Bucket {
        let limit = defaults[operation] ?? Limit(rate: 1, burst: 1)
        let burst = max(1, (limit.burst * burstShare).rounded(.down))
        return Bucket(nominal: limit.rate, rate: limit.rate, burst: burst, tokens: burst, updatedAt: now)
    }

    @Sendable public static func monotonicSeconds() -> Double {
        let now = ContinuousClock.now - start
        return Double(now.components.seconds) + Double(now.components.attoseconds) / 1e18
    }

    private static let start = ContinuousClock.now
}
