import AmazonFBAInventory
import Foundation

/// The schema types of Amazon's FBA Inventory API v1.
typealias FI = AmazonFBAInventory.Components.Schemas

/// FBA stock as Amazon keeps it: per seller, marketplace (all of its fulfilment centres combined) and SKU, with the
/// breakdown getInventorySummaries reports, and the page tokens it handed out (each good for 30 seconds).
struct FBAWorld: Sendable, Codable {
    struct Stock: Sendable, Codable, Hashable {
        var merchantID: String
        var marketplaceID: String
        var sku: String
        var asin: String
        var fnSku: String
        var productName: String
        var fulfillable = 0
        var inboundWorking = 0
        var inboundShipped = 0
        var inboundReceiving = 0
        var reserved = 0
        var researching = 0
        var unfulfillable = 0
        var updatedAt: Date
        /// When a change startDateTime sees last happened: Amazon does not detect changes of the inbound quantities.
        var detectedAt: Date?

        var total: Int {
            fulfillable + inboundWorking + inboundShipped + inboundReceiving + reserved + researching + unfulfillable
        }
    }

    struct Token: Sendable, Codable {
        var filter: String
        var position: Int
        var expiresAt: Date
    }

    var stock: [String: Stock] = [:]
    var tokens: [String: Token] = [:]
    var inbound: [String: InboundShipment] = [:]

    static func key(_ merchantID: String, _ marketplaceID: String, _ sku: String) -> String {
        "\(merchantID)|\(marketplaceID)|\(sku)"
    }
}

/// One SKU's FBA stock as the control path sets it (`PUT /_simulator/fba-inventory`): each quantity named replaces
/// Amazon's; those left out stay.
public struct FBAStockSpecification: Sendable, Codable {
    public var sku: String
    public var asin: String?
    public var productName: String?
    public var fulfillable: Int?
    public var inboundWorking: Int?
    public var inboundShipped: Int?
    public var inboundReceiving: Int?
    public var reserved: Int?
    public var researching: Int?
    public var unfulfillable: Int?

    public init(
        sku: String,
        asin: String? = nil,
        productName: String? = nil,
        fulfillable: Int? = nil,
        inboundWorking: Int? = nil,
        inboundShipped: Int? = nil,
        inboundReceiving: Int? = nil,
        reserved: Int? = nil,
        researching: Int? = nil,
        unfulfillable: Int? = nil
    ) {
        self.sku = sku
        self.asin = asin
        self.productName = productName
        self.fulfillable = fulfillable
        self.inboundWorking = inboundWorking
        self.inboundShipped = inboundShipped
        self.inboundReceiving = inboundReceiving
        self.reserved = reserved
        self.researching = researching
        self.unfulfillable = unfulfillable
    }
}

extension Simulator: AmazonFBAInventory.APIProtocol {
    /// The most summaries a page carries, and how long its nextToken is good for.
    static let fbaPageSize = 50
    static let fbaTokenLifetime: TimeInterval = 30

    public func getInventorySummaries(
        _ input: AmazonFBAInventory.Operations.GetInventorySummaries.Input
    ) async throws -> AmazonFBAInventory.Operations.GetInventorySummaries.Output {
        let merchantID = try RequestScope.merchant()
        // A confirmed Send to Amazon placement makes units inbound working.
        settleInboundPlans()
        let query = input.query
        guard query.granularityType.rawValue == "Marketplace" else {
            throw AmazonError.invalidInput("granularityType must be Marketplace")
        }
        guard query.marketplaceIds.count == 1, let marketplace = query.marketplaceIds.first else {
            throw AmazonError.invalidInput("marketplaceIds takes exactly one marketplace")
        }
        guard query.granularityId == marketplace else {
            throw AmazonError.invalidInput("granularityId must be the marketplace of marketplaceIds, \(marketplace)")
        }
        let skus = Set(query.sellerSkus ?? [])
        guard skus.count <= 50 else { throw AmazonError.invalidInput("sellerSkus takes at most 50 SKUs") }
        if let start = query.startDateTime {
            guard start >= now().addingTimeInterval(-18 * 31 * 86_400) else {
                throw AmazonError.invalidInput("startDateTime may be at most 18 months back")
            }
        }
        let filter = [
            merchantID, marketplace, query.startDateTime.map(Self.timestamp) ?? "",
            skus.sorted().joined(separator: ","),
            query.sellerSku ?? "", "\(query.details ?? false)",
        ].joined(separator: "|")
        let now = now()
        fba.tokens = fba.tokens.filter { $0.value.expiresAt > now }
        var start = 0
        if let token = query.nextToken {
            guard let held = fba.tokens[token], held.filter == filter else {
                throw AmazonError.invalidInput(
                    "Invalid input for parameter nextToken: the token expired (it is good for 30 seconds) or belongs to another query"
                )
            }
            start = held.position
        }
        // As Amazon documents it: a start returns what changed since (inbound quantities aside) and ignores the SKUs;
        // else sellerSkus, else sellerSku, else every summary.
        let found = fba.stock.values.filter { stock in
            guard stock.merchantID == merchantID, stock.marketplaceID == marketplace else { return false }
            if let start = query.startDateTime { return (stock.detectedAt ?? stock.updatedAt) >= start }
            if !skus.isEmpty { return skus.contains(stock.sku) }
            if let sku = query.sellerSku { return stock.sku == sku }
            return true
        }
        .sorted { $0.sku < $1.sku }
        let page = found.dropFirst(start).prefix(Self.fbaPageSize)
        var next: String?
        if start + Self.fbaPageSize < found.count {
            let token = UUID().uuidString
            fba.tokens[token] = .init(
                filter: filter,
                position: start + Self.fbaPageSize,
                expiresAt: now.addingTimeInterval(Self.fbaTokenLifetime)
            )
            next = token
        }
        let details = query.details ?? false
        return .ok(
            .init(
                body: .json(
                    .init(
                        payload: .init(
                            granularity: .init(granularityType: "Marketplace", granularityId: marketplace),
                            inventorySummaries: page.map { Self.summary($0, details: details) }
                        ),
                        pagination: next.map { .init(nextToken: $0) }
                    )
                )
            )
        )
    }

    static func summary(_ stock: FBAWorld.Stock, details: Bool) -> FI.InventorySummary {
        FI.InventorySummary(
            asin: stock.asin,
            fnSku: stock.fnSku,
            sellerSku: stock.sku,
            condition: "NewItem",
            inventoryDetails: details
                ? FI.InventoryDetails(
                    fulfillableQuantity: stock.fulfillable,
                    inboundWorkingQuantity: stock.inboundWorking,
                    inboundShippedQuantity: stock.inboundShipped,
                    inboundReceivingQuantity: stock.inboundReceiving,
                    reservedQuantity: .init(
                        totalReservedQuantity: stock.reserved,
                        pendingCustomerOrderQuantity: stock.reserved,
                        pendingTransshipmentQuantity: 0,
                        fcProcessingQuantity: 0
                    ),
                    researchingQuantity: .init(totalResearchingQuantity: stock.researching),
                    unfulfillableQuantity: .init(
                        totalUnfulfillableQuantity: stock.unfulfillable,
                        customerDamagedQuantity: stock.unfulfillable,
                        warehouseDamagedQuantity: 0,
                        distributorDamagedQuantity: 0,
                        carrierDamagedQuantity: 0,
                        defectiveQuantity: 0,
                        expiredQuantity: 0
                    )
                ) : nil,
            lastUpdatedTime: stock.updatedAt,
            productName: stock.productName,
            totalQuantity: stock.total
        )
    }

    // MARK: Control path and ground truth

    /// Sets FBA stock of a merchant in a marketplace (`PUT /_simulator/fba-inventory`), as Amazon's fulfilment
    /// centres would move it: each quantity named replaces Amazon's. Returns how many SKUs changed.
    public func putFBAStock(
        _ items: [FBAStockSpecification],
        merchantID: String,
        marketplaceID: String
    ) throws(ControlError) -> Int {
        guard !merchantID.isEmpty, !marketplaceID.isEmpty else {
            throw ControlError("merchantId and marketplaceId must not be empty")
        }
        guard !items.isEmpty, items.count <= 200_000 else { throw ControlError("items must hold 1 to 200000 SKUs") }
        for item in items {
            guard !item.sku.isEmpty, item.sku.count <= 40 else {
                throw ControlError("Each SKU must be 1 to 40 characters, got \"\(item.sku)\"")
            }
            let quantities = [
                item.fulfillable, item.inboundWorking, item.inboundShipped, item.inboundReceiving, item.reserved,
                item.researching, item.unfulfillable,
            ]
            guard quantities.allSatisfy({ ($0 ?? 0) >= 0 && ($0 ?? 0) <= 100_000_000 }) else {
                throw ControlError("\(item.sku): quantities must be 0 to 100000000")
            }
        }
        let stamp = world.stamp(now())
        var changed = 0
        for item in items {
            let key = FBAWorld.key(merchantID, marketplaceID, item.sku)
            let held = fba.stock[key]
            var stock =
                held
                ?? FBAWorld.Stock(
                    merchantID: merchantID,
                    marketplaceID: marketplaceID,
                    sku: item.sku,
                    asin: item.asin ?? Self.asin(for: item.sku),
                    fnSku: "X00" + String(PageToken.digest("fnsku:" + item.sku).uppercased().prefix(7)),
                    productName: item.productName ?? "Product \(item.sku)",
                    updatedAt: stamp
                )
            if let asin = item.asin { stock.asin = asin }
            if let name = item.productName { stock.productName = name }
            if let value = item.fulfillable { stock.fulfillable = value }
            if let value = item.inboundWorking { stock.inboundWorking = value }
            if let value = item.inboundShipped { stock.inboundShipped = value }
            if let value = item.inboundReceiving { stock.inboundReceiving = value }
            if let value = item.reserved { stock.reserved = value }
            if let value = item.researching { stock.researching = value }
            if let value = item.unfulfillable { stock.unfulfillable = value }
            var unchanged = stock
            unchanged.updatedAt = held?.updatedAt ?? stamp
            guard held != unchanged else { continue }
            stock.updatedAt = stamp
            var outbound = stock
            (outbound.inboundWorking, outbound.inboundShipped, outbound.inboundReceiving) = (
                held?.inboundWorking ?? 0, held?.inboundShipped ?? 0, held?.inboundReceiving ?? 0
            )
            outbound.updatedAt = held?.updatedAt ?? stamp
            outbound.detectedAt = held?.detectedAt
            if held == nil || held != outbound { stock.detectedAt = stamp }
            fba.stock[key] = stock
            changed += 1
            notifyFBAAvailability(merchantID: merchantID, sku: item.sku)
        }
        return changed
    }

    /// FBA_INVENTORY_AVAILABILITY_CHANGES to every destination, in Amazon's schema (PascalCase): the SKU's stock in
    /// every marketplace where the seller has some.
    func notifyFBAAvailability(merchantID: String, sku: String) {
        let stock = fba.stock.values.filter { $0.merchantID == merchantID && $0.sku == sku }
            .sorted { $0.marketplaceID < $1.marketplaceID }
        guard let first = stock.first else { return }
        push("FBA_INVENTORY_AVAILABILITY_CHANGES", subject: sku, status: "\(first.fulfillable)") {
            time,
            subscriptionID,
            notificationID in
            [
                "NotificationVersion": "1.0",
                "NotificationType": "FBA_INVENTORY_AVAILABILITY_CHANGES",
                "PayloadVersion": "1.0",
                "EventTime": time,
                "Payload": [
                    "SellerId": merchantID, "FNSKU": first.fnSku, "ASIN": first.asin, "SKU": sku,
                    "FulfillmentInventoryByMarketplace": stock.map { entry -> [String: Any] in
                        [
                            "MarketplaceId": entry.marketplaceID, "ItemName": entry.productName,
                            "FulfillmentInventory": [
                                "InboundQuantityBreakdown": [
                                    "Working": entry.inboundWorking, "Shipped": entry.inboundShipped,
                                    "Receiving": entry.inboundReceiving,
                                ],
                                "Fulfillable": entry.fulfillable, "Unfulfillable": entry.unfulfillable,
                                "Researching": entry.researching,
                                "ReservedQuantityBreakdown": [
                                    "WarehouseProcessing": 0, "WarehouseTransfer": 0,
                                    "PendingCustomerOrder": entry.reserved,
                                ],
                                "FutureSupplyBuyable": 0, "PendingCustomerOrderInTransit": 0,
                            ],
                            "Stores": [String](),
                        ]
                    },
                ],
                "NotificationMetadata": [
                    "ApplicationId": configuration.clientID,
                    "SubscriptionId": subscriptionID,
                    "PublishTime": time,
                    "NotificationId": notificationID,
                ],
            ]
        }
    }

    /// FBA stock as the ground truth reports it.
    func fbaTruth() -> [GroundTruth.FBAStock] {
        fba.stock.values.sorted {
            ($0.merchantID, $0.marketplaceID, $0.sku) < ($1.merchantID, $1.marketplaceID, $1.sku)
        }
        .map {
            .init(
                merchantId: $0.merchantID,
                marketplaceId: $0.marketplaceID,
                sku: $0.sku,
                asin: $0.asin,
                fulfillable: $0.fulfillable,
                inboundWorking: $0.inboundWorking,
                inboundShipped: $0.inboundShipped,
                inboundReceiving: $0.inboundReceiving,
                reserved: $0.reserved,
                researching: $0.researching,
                unfulfillable: $0.unfulfillable,
                total: $0.total,
                updatedAt: Self.timestamp($0.updatedAt)
            )
        }
    }
}
