import AmazonOrders
import AmazonOrdersV0
import Foundation

/// The schema types of Amazon's Orders API 2026-01-01.
typealias MO = AmazonOrders.Components.Schemas

/// Merchant-fulfilled (MFN) orders as Amazon keeps them: read through Orders 2026-01-01 (`searchOrders`,
/// `getOrder`), shipped through v0's `confirmShipment`, announced by ORDER_CHANGE notifications.
struct MFNWorld: Sendable, Codable {
    struct Record: Sendable, Codable {
        var order: MO.Order
        var merchantID: String
        /// Creation order.
        var sequence: Int
        /// Until when the order stays PENDING (payment not yet authorised).
        var payableAt: Date?
        /// A cancellation the generator planned: applied when due, if the order has not shipped by then.
        var plannedCancellation: PlannedCancellation?
        var history: [World.StatusChange] = []
        /// Every confirmShipment Amazon applied, oldest first.
        var confirmations: [Confirmation] = []
    }

    struct PlannedCancellation: Sendable, Codable {
        var at: Date
        /// BUYER asks (the order stays open until someone acts), AMAZON cancels.
        var by: String
    }

    struct Confirmation: Sendable, Codable, Hashable {
        var packageReferenceId: String
        var carrierCode: String
        var carrierName: String?
        var shippingMethod: String?
        var trackingNumber: String
        var shipDate: String
        var items: [String: Int]
        var at: String
    }

    var orders: [String: Record] = [:]
    var count = 0

    static let serviceLevels = ["Standard", "Expedited", "SecondDay", "NextDay"]
}

/// What a new MFN order should look like; the generator and the control path both fill it.
public struct MFNOrderSpecification: Sendable, Codable {
    public var merchantID: String
    public var marketplaceID: String
    /// Standard, Expedited, SecondDay or NextDay (Amazon's names); random when nil.
    public var serviceLevel: String?
    /// SKU → units; random from the merchant's catalogue when empty.
    public var items: [String: Int]
    public var prime: Bool
    /// Seconds the order stays PENDING before it becomes UNSHIPPED; 0 makes it UNSHIPPED at once.
    public var pendingSeconds: Double

    public init(
        merchantID: String,
        marketplaceID: String,
        serviceLevel: String? = nil,
        items: [String: Int] = [:],
        prime: Bool = false,
        pendingSeconds: Double = 0
    ) {
        self.merchantID = merchantID
        self.marketplaceID = marketplaceID
        self.serviceLevel = serviceLevel
        self.items = items
        self.prime = prime
        self.pendingSeconds = pendingSeconds
    }
}

extension Simulator {
    // MARK: Making orders

    /// A new MFN order, PENDING until `pendingSeconds` have passed, then UNSHIPPED.
    @discardableResult
    public func createMFNOrder(_ specification: MFNOrderSpecification) throws(ControlError) -> String {
        guard !specification.merchantID.isEmpty, !specification.marketplaceID.isEmpty else {
            throw ControlError("merchantId and marketplaceId are required")
        }
        if let level = specification.serviceLevel, !MFNWorld.serviceLevels.contains(level) {
            throw ControlError(
                "serviceLevel must be one of \(MFNWorld.serviceLevels.joined(separator: ", ")), got \(level)"
            )
        }
        guard specification.pendingSeconds >= 0, specification.pendingSeconds <= 86_400 else {
            throw ControlError("pendingSeconds must be between 0 and 86400")
        }
        for (sku, units) in specification.items where sku.isEmpty || sku.count > 40 || !(1...100).contains(units) {
            throw ControlError("Each item needs a SKU of 1 to 40 characters and 1 to 100 units, got \(sku): \(units)")
        }
        var items = specification.items.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        if items.isEmpty {
            var known = catalogSKUs(merchantID: specification.merchantID, marketplaceID: specification.marketplaceID)
                .union(listingSKUs(merchantID: specification.merchantID, marketplaceID: specification.marketplaceID))
                .sorted()
            if known.isEmpty { known = (1...5).map { "MFN-SKU-\($0)" } }
            let lines =
                Int.random(in: 0..<5, using: &random) == 0 ? min(known.count, Int.random(in: 2...3, using: &random)) : 1
            for sku in known.shuffled(using: &random).prefix(lines) {
                items.append(
                    (sku, Int.random(in: 0..<4, using: &random) == 0 ? Int.random(in: 2...3, using: &random) : 1)
                )
            }
        }
        let marketplace = ShipmentFactory.marketplace(specification.marketplaceID)
        let level = specification.serviceLevel ?? Self.randomServiceLevel(using: &random)
        let created = world.stamp(now())
        var id = ""
        repeat {
            id =
                "\(Int.random(in: 100...999, using: &random))-\(Int.random(in: 1_000_000...9_999_999, using: &random))-\(Int.random(in: 1_000_000...9_999_999, using: &random))"
        } while mfn.orders[id] != nil
        let shipDays: Double = level == "NextDay" ? 0.5 : level == "SecondDay" ? 1 : 2
        let deliverDays: Double = level == "NextDay" ? 1 : level == "SecondDay" ? 2 : level == "Expedited" ? 3 : 5
        let orderItems = items.enumerated().map { index, item -> MO.OrderItem in
            let price = Decimal(Int.random(in: 500...20_000, using: &random)) / 100
            return MO.OrderItem(
                orderItemId: String(format: "%014d", (mfn.count + 1) * 10 + index),
                quantityOrdered: item.1,
                product: .init(
                    asin: Self.asin(for: item.0),
                    title: "Simulated product \(item.0)",
                    sellerSku: item.0,
                    condition: .init(conditionType: "New"),
                    price: .init(unitPrice: .init(amount: "\(price)", currencyCode: marketplace.currency))
                ),
                fulfillment: .init(quantityFulfilled: 0, quantityUnfulfilled: item.1)
            )
        }
        mfn.count += 1
        let pending = specification.pendingSeconds > 0
        let order = MO.Order(
            orderId: id,
            createdTime: created,
            lastUpdatedTime: created,
            programs: specification.prime ? ["PRIME"] : nil,
            salesChannel: .init(
                channelName: "Amazon",
                marketplaceId: specification.marketplaceID,
                marketplaceName: "Amazon.\(marketplace.country.lowercased())"
            ),
            buyer: .init(
                buyerName: "Simulated buyer \(mfn.count)",
                buyerEmail: "buyer-\(mfn.count)@marketplace.example"
            ),
            recipient: .init(
                deliveryAddress: .init(
                    name: "Simulated buyer \(mfn.count)",
                    addressLine1: "\(mfn.count) Market Street",
                    city: marketplace.city,
                    stateOrRegion: marketplace.state,
                    postalCode: marketplace.postalCode,
                    countryCode: marketplace.country,
                    addressType: "RESIDENTIAL"
                )
            ),
            fulfillment: .init(
                fulfillmentStatus: pending ? "PENDING" : "UNSHIPPED",
                fulfilledBy: "MERCHANT",
                fulfillmentServiceLevel: level,
                shipByWindow: .init(
                    earliestDateTime: created,
                    latestDateTime: created.addingTimeInterval(shipDays * 86_400)
                ),
                deliverByWindow: .init(
                    earliestDateTime: created.addingTimeInterval((deliverDays - 1) * 86_400),
                    latestDateTime: created.addingTimeInterval(deliverDays * 86_400)
                )
            ),
            orderItems: orderItems,
            packages: []
        )
        var record = MFNWorld.Record(
            order: order,
            merchantID: specification.merchantID,
            sequence: mfn.count,
            payableAt: pending ? created.addingTimeInterval(specification.pendingSeconds) : nil
        )
        record.history.append(.init(status: pending ? "PENDING" : "UNSHIPPED", at: Self.timestamp(created)))
        mfn.orders[id] = record
        notifyOrderChange(record, type: "OrderStatusChange", reason: "NewOrder")
        takeOrderedUnits(merchantID: specification.merchantID, items: items.map { ($0.0, $0.1) }, orderID: id)
        return id
    }

    static func randomServiceLevel(using random: inout some RandomNumberGenerator) -> String {
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<70: "Standard"
        case 70..<85: "Expedited"
        case 85..<95: "SecondDay"
        default: "NextDay"
        }
    }

    /// The ASIN a SKU stands for: the same every time.
    static func asin(for sku: String) -> String {
        "B0"
            + String(PageToken.digest("asin:" + sku).uppercased().suffix(8)).padding(
                toLength: 8,
                withPad: "0",
                startingAt: 0
            )
    }

    /// Generated orders for the MFN generator: a few stay PENDING a while; some are cancelled by Amazon, some get
    /// a buyer's cancellation request, before the seller ships them.
    func generateMFNOrder(merchantID: String, marketplaceIDs: [String]) {
        guard let marketplace = marketplaceIDs.randomElement(using: &random) else { return }
        let roll = Int.random(in: 0..<100, using: &random)
        let specification = MFNOrderSpecification(
            merchantID: merchantID,
            marketplaceID: marketplace,
            prime: Int.random(in: 0..<3, using: &random) == 0,
            pendingSeconds: roll < 10 ? Double(Int.random(in: 5...60, using: &random)) : 0
        )
        guard let id = try? createMFNOrder(specification) else { return }
        if roll >= 90 {
            mfn.orders[id]?.plannedCancellation = .init(
                at: now().addingTimeInterval(Double(Int.random(in: 5...120, using: &random))),
                by: roll >= 95 ? "AMAZON" : "BUYER"
            )
        }
    }

    /// Moves PENDING orders whose payment went through to UNSHIPPED, and applies due planned cancellations.
    func settleMFNOrders() {
        let now = now()
        for id in mfn.orders.keys.sorted() {
            guard var record = mfn.orders[id] else { continue }
            if let payable = record.payableAt, payable <= now {
                record.payableAt = nil
                if record.order.fulfillment?.fulfillmentStatus == "PENDING" {
                    setStatus(&record, "UNSHIPPED", reason: "PaymentAuthorized")
                }
                mfn.orders[id] = record
            }
            if let planned = record.plannedCancellation, planned.at <= now {
                record.plannedCancellation = nil
                mfn.orders[id] = record
                if planned.by == "AMAZON" {
                    try? cancelMFNOrder(id, by: "AMAZON", reason: "UnableToFulfill")
                } else {
                    try? requestMFNCancellation(id, reason: "BuyerCanceled")
                }
            }
        }
    }

    // MARK: Changing orders

    /// Amazon (or the buyer, through Amazon) cancels what is not shipped yet.
    public func cancelMFNOrder(_ id: String, by: String, reason: String) throws(ControlError) {
        guard var record = mfn.orders[id] else { throw ControlError("No MFN order \(id)") }
        let status = record.order.fulfillment?.fulfillmentStatus ?? "UNSHIPPED"
        guard ["PENDING", "PENDING_AVAILABILITY", "UNSHIPPED"].contains(status) else {
            throw ControlError("Order \(id) is \(status); only an order with nothing shipped can be cancelled")
        }
        for index in record.order.orderItems.indices {
            var cancellation = record.order.orderItems[index].cancellation ?? .init()
            cancellation.cancellationExecution = .init(cancelledBy: by, cancelReason: reason)
            record.order.orderItems[index].cancellation = cancellation
            record.order.orderItems[index].fulfillment?.quantityUnfulfilled = 0
        }
        setStatus(&record, "CANCELLED", reason: reason)
    }

    /// The buyer asks to cancel: every item carries the request, the order stays open for the seller to decide.
    public func requestMFNCancellation(_ id: String, reason: String) throws(ControlError) {
        guard var record = mfn.orders[id] else { throw ControlError("No MFN order \(id)") }
        let status = record.order.fulfillment?.fulfillmentStatus ?? "UNSHIPPED"
        guard ["PENDING", "UNSHIPPED"].contains(status) else {
            throw ControlError("Order \(id) is \(status); a buyer can only ask to cancel an order not yet shipped")
        }
        for index in record.order.orderItems.indices {
            var cancellation = record.order.orderItems[index].cancellation ?? .init()
            cancellation.cancellationRequest = .init(requester: "BUYER", cancelReason: reason)
            record.order.orderItems[index].cancellation = cancellation
        }
        record.order.lastUpdatedTime = world.stamp(now())
        mfn.orders[id] = record
        notifyOrderChange(record, type: "BuyerRequestedChange", reason: "BuyerRequestedCancel")
    }

    /// Puts an order in any fulfillment status, one Amazon's model does not have included (a value Amazon adds
    /// later), as Amazon would with an ORDER_CHANGE notification: how tests see that FlexBridge keeps such an order.
    public func forceMFNOrderStatus(_ id: String, to status: String) throws(ControlError) {
        guard var record = mfn.orders[id] else { throw ControlError("No MFN order with id \(id)", notFound: true) }
        guard !status.isEmpty, status.count <= 64 else { throw ControlError("status must be 1 to 64 characters") }
        setStatus(&record, status, reason: "OrderStatusChange")
    }

    func setStatus(_ record: inout MFNWorld.Record, _ status: String, reason: String) {
        let stamp = world.stamp(now())
        record.order.fulfillment?.fulfillmentStatus = status
        record.order.lastUpdatedTime = stamp
        record.history.append(.init(status: status, at: Self.timestamp(stamp)))
        mfn.orders[record.order.orderId] = record
        notifyOrderChange(record, type: "OrderStatusChange", reason: reason)
    }

    // MARK: Notifications

    /// ORDER_CHANGE to every destination, as an EventBridge event, in the shape of Amazon's schema.
    func notifyOrderChange(_ record: MFNWorld.Record, type: String, reason: String) {
        guard notifier != nil, !notificationDestinations.isEmpty else { return }
        let order = record.order
        let status = order.fulfillment?.fulfillmentStatus ?? "UNSHIPPED"
        let summaryStatus =
            [
                "PENDING": "Pending", "PENDING_AVAILABILITY": "PendingAvailability", "UNSHIPPED": "Unshipped",
                "PARTIALLY_SHIPPED": "PartiallyShipped", "SHIPPED": "Shipped", "CANCELLED": "Canceled",
                "UNFULFILLABLE": "Unfulfillable",
            ][status] ?? status
        let items: [[String: Any]] = order.orderItems.map { item in
            let shipped = item.fulfillment?.quantityFulfilled ?? 0
            return [
                "OrderItemId": item.orderItemId, "SellerSKU": item.product.sellerSku ?? "", "SupplySourceId": NSNull(),
                "OrderItemStatus": shipped >= item.quantityOrdered ? "Shipped" : "Unshipped",
                "Quantity": item.quantityOrdered, "QuantityShipped": shipped,
                "IsBuyerRequestedCancel": item.cancellation?.cancellationRequest != nil,
            ]
        }
        push("ORDER_CHANGE", subject: order.orderId, status: status) { time, subscriptionID, notificationID in
            [
                "NotificationVersion": "1.0",
                "NotificationType": "ORDER_CHANGE",
                "PayloadVersion": "1.0",
                "EventTime": time,
                "Payload": [
                    "OrderChangeNotification": [
                        "NotificationLevel": "OrderLevel",
                        "SellerId": record.merchantID,
                        "AmazonOrderId": order.orderId,
                        "OrderChangeType": type,
                        "OrderChangeTrigger": ["TimeOfOrderChange": time, "ChangeReason": reason],
                        "Summary": [
                            "MarketplaceId": order.salesChannel.marketplaceId ?? "",
                            "OrderStatus": summaryStatus,
                            "PurchaseDate": Self.timestamp(order.createdTime),
                            "DestinationPostalCode": order.recipient?.deliveryAddress?.postalCode ?? NSNull(),
                            "FulfillmentType": "MFN",
                            "OrderType": "StandardOrder",
                            "NumberOfItemsShipped": order.orderItems.reduce(0) {
                                $0 + ($1.fulfillment?.quantityFulfilled ?? 0)
                            },
                            "NumberOfItemsUnshipped": order.orderItems.reduce(0) {
                                $0 + ($1.fulfillment?.quantityUnfulfilled ?? 0)
                            },
                            "OrderItems": items,
                        ] as [String: Any],
                    ] as [String: Any]
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
}

// MARK: Orders 2026-01-01

extension Simulator: AmazonOrders.APIProtocol {
    public func searchOrders(
        _ input: AmazonOrders.Operations.SearchOrders.Input
    ) async throws -> AmazonOrders.Operations.SearchOrders.Output {
        let merchantID = try RequestScope.merchant()
        settleMFNOrders()
        let query = input.query
        let byCreation: Bool
        switch (query.createdAfter, query.lastUpdatedAfter) {
        case (.some, nil): byCreation = true
        case (nil, .some): byCreation = false
        default:
            throw AmazonError.invalidInput("Exactly one of createdAfter and lastUpdatedAfter is required")
        }
        if byCreation, query.lastUpdatedBefore != nil {
            throw AmazonError.invalidInput("lastUpdatedBefore goes only with lastUpdatedAfter")
        }
        if !byCreation, query.createdBefore != nil {
            throw AmazonError.invalidInput("createdBefore goes only with createdAfter")
        }
        let limit = query.maxResultsPerPage ?? 100
        guard (1...100).contains(limit) else {
            throw AmazonError.invalidInput("Invalid input \(limit) for parameter maxResultsPerPage: must be 1 to 100")
        }
        if let marketplaces = query.marketplaceIds, marketplaces.count > 50 {
            throw AmazonError.invalidInput("marketplaceIds takes at most 50 marketplaces")
        }
        let after = (byCreation ? query.createdAfter : query.lastUpdatedAfter)!
        // Now, or the latest stamp handed out if that is later (stamps are a millisecond apart at least).
        let latest = max(now(), world.lastStamp)
        var before = min((byCreation ? query.createdBefore : query.lastUpdatedBefore) ?? latest, latest)
        let statuses = query.fulfillmentStatuses.map { Set($0.map(\.rawValue)) }
        let marketplaces = query.marketplaceIds.map(Set.init)
        let fulfilledBy = query.fulfilledBy.map { Set($0.map(\.rawValue)) }
        let included = Set((query.includedData ?? []).map(\.rawValue))
        // The token carries the last order's time and id and the first page's bound; the digest ties it to the
        // filters.
        let filter = [
            byCreation ? "c" : "u", Self.timestamp(after),
            statuses.map { $0.sorted().joined(separator: ",") } ?? "",
            marketplaces.map { $0.sorted().joined(separator: ",") } ?? "",
            fulfilledBy.map { $0.sorted().joined(separator: ",") } ?? "",
        ].joined(separator: "|")
        var cursor: (Date, String)?
        if let token = query.paginationToken {
            guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8) else {
                throw AmazonError.invalidInput(
                    "Invalid input for parameter paginationToken: not a token this API issued"
                )
            }
            let parts = text.split(separator: "|", maxSplits: 3).map(String.init)
            guard parts.count == 4, let millis = Int64(parts[0]), let bound = Int64(parts[2]) else {
                throw AmazonError.invalidInput(
                    "Invalid input for parameter paginationToken: not a token this API issued"
                )
            }
            guard parts[3] == PageToken.digest(filter) else {
                throw AmazonError.invalidInput(
                    "Invalid input for parameter paginationToken: the token belongs to a query with other filters"
                )
            }
            cursor = (Date(timeIntervalSince1970: Double(millis) / 1000), parts[1])
            before = Date(timeIntervalSince1970: Double(bound) / 1000)
        }
        guard after <= before else {
            throw AmazonError.invalidInput("The After date must not be later than the Before date (or now)")
        }
        func time(_ order: MO.Order) -> Date { byCreation ? order.createdTime : order.lastUpdatedTime }
        func millis(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
        let matching = mfn.orders.values
            .filter { record in
                let order = record.order
                guard record.merchantID == merchantID, time(order) >= after,
                    millis(time(order)) <= millis(before)
                else { return false }
                if let statuses, !statuses.contains(order.fulfillment?.fulfillmentStatus ?? "") { return false }
                if let marketplaces, !marketplaces.contains(order.salesChannel.marketplaceId ?? "") { return false }
                if let fulfilledBy, !fulfilledBy.contains(order.fulfillment?.fulfilledBy ?? "MERCHANT") { return false }
                if let (cursorTime, cursorID) = cursor {
                    let key = (millis(time(order)), order.orderId)
                    return key > (millis(cursorTime), cursorID)
                }
                return true
            }
            .map(\.order)
            .sorted { (millis(time($0)), $0.orderId) < (millis(time($1)), $1.orderId) }
        let page = Array(matching.prefix(limit))
        var next: String?
        if matching.count > limit, let last = page.last {
            next = Data(
                "\(millis(time(last)))|\(last.orderId)|\(millis(before))|\(PageToken.digest(filter))".utf8
            ).base64EncodedString()
        }
        return .ok(
            .init(
                body: .json(
                    .init(
                        orders: page.map { Self.shown($0, included: included) },
                        pagination: next.map { .init(nextToken: $0) },
                        lastUpdatedBefore: byCreation ? nil : before,
                        createdBefore: byCreation ? before : nil
                    )
                )
            )
        )
    }

    public func getOrder(
        _ input: AmazonOrders.Operations.GetOrder.Input
    ) async throws -> AmazonOrders.Operations.GetOrder.Output {
        let merchantID = try RequestScope.merchant()
        settleMFNOrders()
        guard let record = mfn.orders[input.path.orderId], record.merchantID == merchantID else {
            throw AmazonError.notFound("orderId", input.path.orderId)
        }
        let included = Set((input.query.includedData ?? []).map(\.rawValue))
        return .ok(.init(body: .json(.init(order: Self.shown(record.order, included: included)))))
    }

    /// The order as an answer shows it: items always, the rest only when `includedData` asks for it.
    static func shown(_ order: MO.Order, included: Set<String>) -> MO.Order {
        var order = order
        if !included.contains("BUYER") { order.buyer = nil }
        if !included.contains("RECIPIENT") { order.recipient = nil }
        if !included.contains("FULFILLMENT") { order.fulfillment = nil }
        if !included.contains("PACKAGES") { order.packages = nil }
        for index in order.orderItems.indices {
            if !included.contains("FULFILLMENT") { order.orderItems[index].fulfillment = nil }
            if !included.contains("CANCELLATION") { order.orderItems[index].cancellation = nil }
        }
        return order
    }
}

// MARK: Orders v0: confirmShipment

extension Simulator: AmazonOrdersV0.APIProtocol {
    public func confirmShipment(
        _ input: AmazonOrdersV0.Operations.ConfirmShipment.Input
    ) async throws -> AmazonOrdersV0.Operations.ConfirmShipment.Output {
        let merchantID = try RequestScope.merchant()
        settleMFNOrders()
        let orderID = input.path.orderId
        guard var record = mfn.orders[orderID], record.merchantID == merchantID else {
            throw AmazonError.notFound("orderId", orderID)
        }
        guard case .json(let request) = input.body else { throw AmazonError.invalidInput("A JSON body is required") }
        guard request.marketplaceId == record.order.salesChannel.marketplaceId else {
            throw AmazonError.invalidInput(
                "marketplaceId \(request.marketplaceId) is not the order's marketplace \(record.order.salesChannel.marketplaceId ?? "")"
            )
        }
        let status = record.order.fulfillment?.fulfillmentStatus ?? "UNSHIPPED"
        guard status == "UNSHIPPED" || status == "PARTIALLY_SHIPPED" else {
            throw AmazonError.invalidInput("Order \(orderID) is \(status); only an unshipped order can be confirmed")
        }
        let detail = request.packageDetail
        guard !detail.packageReferenceId.isEmpty, detail.packageReferenceId.count <= 40 else {
            throw AmazonError.invalidInput("packageReferenceId must be 1 to 40 characters")
        }
        guard !(record.order.packages ?? []).contains(where: { $0.packageReferenceId == detail.packageReferenceId })
        else {
            throw AmazonError.invalidInput(
                "packageReferenceId \(detail.packageReferenceId) of order \(orderID) was confirmed already"
            )
        }
        guard !detail.carrierCode.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw AmazonError.invalidInput("carrierCode is required")
        }
        guard !detail.trackingNumber.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw AmazonError.invalidInput("trackingNumber is required")
        }
        guard !detail.orderItems.isEmpty else { throw AmazonError.invalidInput("orderItems must not be empty") }
        var shipped: [String: Int] = [:]
        for item in detail.orderItems {
            guard let index = record.order.orderItems.firstIndex(where: { $0.orderItemId == item.orderItemId }) else {
                throw AmazonError.invalidInput("orderItemId \(item.orderItemId) is not an item of order \(orderID)")
            }
            let remaining = record.order.orderItems[index].fulfillment?.quantityUnfulfilled ?? 0
            let quantity = item.quantity + shipped[item.orderItemId, default: 0]
            guard item.quantity >= 1, quantity <= remaining else {
                throw AmazonError.invalidInput(
                    "quantity \(item.quantity) of orderItemId \(item.orderItemId) is more than the \(remaining) unit(s) not yet shipped"
                )
            }
            shipped[item.orderItemId] = quantity
        }
        for (itemID, quantity) in shipped {
            guard let index = record.order.orderItems.firstIndex(where: { $0.orderItemId == itemID }) else { continue }
            var fulfillment = record.order.orderItems[index].fulfillment ?? .init()
            fulfillment.quantityFulfilled = (fulfillment.quantityFulfilled ?? 0) + quantity
            fulfillment.quantityUnfulfilled = max(0, (fulfillment.quantityUnfulfilled ?? 0) - quantity)
            record.order.orderItems[index].fulfillment = fulfillment
        }
        let at = now()
        var packages = record.order.packages ?? []
        packages.append(
            .init(
                packageReferenceId: detail.packageReferenceId,
                createdTime: at,
                packageStatus: .init(status: "SHIPPED"),
                carrier: detail.carrierName ?? detail.carrierCode,
                shipTime: detail.shipDate,
                shippingService: detail.shippingMethod,
                trackingNumber: detail.trackingNumber,
                packageItems: detail.orderItems.map { .init(orderItemId: $0.orderItemId, quantity: $0.quantity) }
            )
        )
        record.order.packages = packages
        record.confirmations.append(
            .init(
                packageReferenceId: detail.packageReferenceId,
                carrierCode: detail.carrierCode,
                carrierName: detail.carrierName,
                shippingMethod: detail.shippingMethod,
                trackingNumber: detail.trackingNumber,
                shipDate: Self.timestamp(detail.shipDate),
                items: shipped,
                at: Self.timestamp(at)
            )
        )
        let done = record.order.orderItems.allSatisfy { ($0.fulfillment?.quantityUnfulfilled ?? 0) == 0 }
        setStatus(&record, done ? "SHIPPED" : "PARTIALLY_SHIPPED", reason: "ShipmentConfirmed")
        return .noContent(.init())
    }
}
