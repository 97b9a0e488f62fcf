// Written by scripts/derive-request-limits from Sources/FlexBridgeAPI/openapi.yaml; run it again after changing
// a range there. CI checks that this file is what the spec derives.

extension RequestLimits {
    /// Every number a request may carry, by operation id, with the range the spec gives it.
    static let specification: [String: RequestLimits] = [
        "createInboundPlan": RequestLimits(
            parameters: [],
            body: [
                .init(path: [.key("lines"), .anyIndex, .key("quantity")], rule: .integer(1...10000)),
                .init(path: [.key("boxes"), .anyIndex, .key("quantity")], rule: .integer(1...5000)),
                .init(path: [.key("boxes"), .anyIndex, .key("weight")], rule: .number(0.0...1000.0)),
                .init(path: [.key("boxes"), .anyIndex, .key("length")], rule: .number(0.0...1000.0)),
                .init(path: [.key("boxes"), .anyIndex, .key("width")], rule: .number(0.0...1000.0)),
                .init(path: [.key("boxes"), .anyIndex, .key("height")], rule: .number(0.0...1000.0)),
                .init(
                    path: [.key("boxes"), .anyIndex, .key("items"), .anyIndex, .key("quantity")],
                    rule: .integer(1...10000)
                ),
                .init(path: [.key("pallets")], rule: .integer(1...30)),
            ]
        ),
        "deleteHubMapping": RequestLimits(
            parameters: [
                .init(location: .query, name: "channel", rule: .oneOf(["FBA", "MFN", "DF"]))
            ],
            body: []
        ),
        "importSequenceNumbers": RequestLimits(
            parameters: [],
            body: [
                .init(path: [.key("items"), .anyIndex, .key("sequenceNumber")], rule: .integer(0...9007199254740991))
            ]
        ),
        "listAccountChanges": RequestLimits(
            parameters: [
                .init(location: .query, name: "limit", rule: .integer(1...1000))
            ],
            body: []
        ),
        "listAsinListings": RequestLimits(
            parameters: [
                .init(
                    location: .query,
                    name: "status",
                    rule: .oneOf(["pending", "resolved", "none", "several", "failed"])
                ),
                .init(location: .query, name: "limit", rule: .integer(1...1000)),
            ],
            body: []
        ),
        "listConfigChanges": RequestLimits(
            parameters: [
                .init(location: .query, name: "limit", rule: .integer(1...1000))
            ],
            body: []
        ),
        "listEvents": RequestLimits(
            parameters: [
                .init(location: .query, name: "after", rule: .integer(0...9223372036854775807)),
                .init(location: .query, name: "limit", rule: .integer(1...1000)),
            ],
            body: []
        ),
        "listFbaStock": RequestLimits(
            parameters: [
                .init(location: .query, name: "limit", rule: .integer(1...1000))
            ],
            body: []
        ),
        "listInboundPlans": RequestLimits(
            parameters: [
                .init(location: .query, name: "status", rule: .oneOf(["working", "waiting", "failed", "completed"])),
                .init(location: .query, name: "limit", rule: .integer(1...1000)),
            ],
            body: []
        ),
        "listInventoryItems": RequestLimits(
            parameters: [
                .init(location: .query, name: "status", rule: .oneOf(["pending", "failed", "synced"])),
                .init(location: .query, name: "limit", rule: .integer(1...1000)),
            ],
            body: []
        ),
        "listListingItems": RequestLimits(
            parameters: [
                .init(location: .query, name: "limit", rule: .integer(1...1000))
            ],
            body: []
        ),
        "listManifests": RequestLimits(
            parameters: [
                .init(location: .query, name: "status", rule: .oneOf(["open", "handed_over"])),
                .init(location: .query, name: "limit", rule: .integer(1...500)),
            ],
            body: []
        ),
        "listOrders": RequestLimits(
            parameters: [
                .init(location: .query, name: "source", rule: .oneOf(["external_fulfillment", "mfn"])),
                .init(
                    location: .query,
                    name: "state",
                    rule: .oneOf([
                        "awaiting_confirmation", "confirmed", "packed", "ready_to_ship", "shipped", "delivered",
                        "cancelled", "rejected",
                    ])
                ),
                .init(location: .query, name: "inManifest", rule: .boolean),
                .init(location: .query, name: "atRisk", rule: .boolean),
                .init(location: .query, name: "atRiskHours", rule: .number(0.0...720.0)),
                .init(location: .query, name: "limit", rule: .integer(1...500)),
            ],
            body: []
        ),
        "listPrices": RequestLimits(
            parameters: [
                .init(location: .query, name: "limit", rule: .integer(1...1000))
            ],
            body: []
        ),
        "listReturns": RequestLimits(
            parameters: [
                .init(location: .query, name: "limit", rule: .integer(1...500))
            ],
            body: []
        ),
        "listStockOrders": RequestLimits(
            parameters: [
                .init(
                    location: .query,
                    name: "state",
                    rule: .oneOf(["open", "received", "closed", "cancelled", "ignored"])
                ),
                .init(location: .query, name: "limit", rule: .integer(1...1000)),
            ],
            body: []
        ),
        "ordersAtRisk": RequestLimits(
            parameters: [
                .init(location: .query, name: "withinHours", rule: .number(0.0...720.0)),
                .init(location: .query, name: "limit", rule: .integer(1...1000)),
            ],
            body: []
        ),
        "putPrices": RequestLimits(
            parameters: [],
            body: [
                .init(path: [.key("items"), .anyIndex, .key("price")], rule: .number(0.0...1000000000.0)),
                .init(path: [.key("items"), .anyIndex, .key("salePrice")], rule: .number(0.0...1000000000.0)),
                .init(path: [.key("items"), .anyIndex, .key("minimumPrice")], rule: .number(0.0...1000000000.0)),
                .init(path: [.key("items"), .anyIndex, .key("maximumPrice")], rule: .number(0.0...1000000000.0)),
            ]
        ),
        "putSettings": RequestLimits(
            parameters: [],
            body: [
                .init(path: [.key("safetyStock")], rule: .integer(0...1000000000)),
                .init(path: [.key("quantityCap")], rule: .integer(0...1000000000)),
                .init(path: [.key("hubSafetyStock"), .anyKey], rule: .integer(0...1000000000)),
                .init(path: [.key("skuSafetyStock"), .anyKey], rule: .integer(0...1000000000)),
                .init(path: [.key("reconciliationIntervalMinutes")], rule: .integer(0...10080)),
                .init(path: [.key("mfnHandlingTime")], rule: .integer(0...30)),
                .init(path: [.key("ignoreUnreceivedAfterDays")], rule: .integer(1...365)),
                .init(path: [.key("pickUpDelayDays")], rule: .integer(0...90)),
            ]
        ),
        "putStock": RequestLimits(
            parameters: [],
            body: [
                .init(path: [.key("items"), .anyIndex, .key("quantity")], rule: .integer(0...1000000000))
            ]
        ),
        "receiveReturn": RequestLimits(
            parameters: [],
            body: [
                .init(path: [.key("items"), .anyIndex, .key("quantity")], rule: .integer(1...1000000000))
            ]
        ),
        "setLocationMode": RequestLimits(
            parameters: [],
            body: [
                .init(path: [.key("pilotSkus"), .anyIndex, .key("maximumQuantity")], rule: .integer(1...1000000000))
            ]
        ),
        "submitCommand": RequestLimits(
            parameters: [],
            body: [
                .init(path: [.key("packages"), .anyIndex, .key("length")], rule: .number(0.0...100000.0)),
                .init(path: [.key("packages"), .anyIndex, .key("width")], rule: .number(0.0...100000.0)),
                .init(path: [.key("packages"), .anyIndex, .key("height")], rule: .number(0.0...100000.0)),
                .init(path: [.key("packages"), .anyIndex, .key("weight")], rule: .number(0.0...1000000.0)),
                .init(
                    path: [.key("packages"), .anyIndex, .key("items"), .anyIndex, .key("quantity")],
                    rule: .integer(1...100000)
                ),
                .init(path: [.key("items"), .anyIndex, .key("quantity")], rule: .integer(1...100000)),
            ]
        ),
    ]
}
