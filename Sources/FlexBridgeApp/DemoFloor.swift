import AsyncHTTPClient
import Foundation
import NIOHTTP1

/// The demo warehouse's floor: each second it looks at FlexBridge's orders and returns through the API and does the
/// next step of whatever is due — confirm (now and then reject), pack, label, gather a manifest, hand it over, receive
/// a return — each a few seconds after the last, as people would. Meanwhile the simulator plays the customers: one
/// cancels now and then, another sends an order back; and the stock of a SKU changes from time to time.
struct DemoFloor {
    let session: DemoWarehouse.Session
    let warehouse: DemoWarehouse
    /// When each order's next step is due, by "shipment:step"; steps asked for are not asked again.
    private var due: [String: ContinuousClock.Instant] = [:]
    private var asked: Set<String> = []
    /// Manifests made, and when each is handed over.
    private var handovers: [(id: String, at: ContinuousClock.Instant)] = []
    /// Returns on their way back: the status the floor last gave each at the simulator, and when it moves on.
    private var returning: [String: (status: String, at: ContinuousClock.Instant)] = [:]
    private var nextCancellation: ContinuousClock.Instant
    private var nextReturn: ContinuousClock.Instant
    private var nextStockChange: ContinuousClock.Instant
    private var nextManifest: ContinuousClock.Instant

    init(session: DemoWarehouse.Session, warehouse: DemoWarehouse) {
        self.session = session
        self.warehouse = warehouse
        let now = ContinuousClock.now
        nextCancellation = now + .seconds(45)
        nextReturn = now + .seconds(30)
        nextStockChange = now + .seconds(20)
        nextManifest = now + .seconds(40)
    }

    static let returnPath = [
        "CARRIER_NOTIFIED_TO_PICK_UP_FROM_CUSTOMER", "CARRIER_OUT_FOR_PICK_UP_FROM_CUSTOMER", "PICKED_FROM_CUSTOMER",
        "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED",
    ]

    mutating func tick() async throws {
        let now = ContinuousClock.now
        for (state, step) in [("awaiting_confirmation", "confirm"), ("confirmed", "pack"), ("packed", "label")] {
            for order in try await orders("source=external_fulfillment&state=\(state)") {
                guard let id = order["shipmentId"] as? String else { continue }
                let key = "\(id):\(step)"
                guard !asked.contains(key) else { continue }
                guard let at = due[key] else {
                    due[key] = now + .seconds(Int.random(in: 3...12))
                    continue
                }
                guard at <= now else { continue }
                try await work(id, step: step)
                asked.insert(key)
                due[key] = nil
            }
        }
        try await manifests(now)
        try await merchantOrders(now)
        if now >= nextCancellation {
            nextCancellation = now + .seconds(Int.random(in: 40...90))
            if let id = try await orders("source=external_fulfillment&state=awaiting_confirmation").compactMap({
                $0["shipmentId"] as? String
            })
            .randomElement() {
                if try await control("/shipments/\(id)/cancel", [:]).status == 200 {
                    say("customer  cancelled \(id) at Amazon")
                }
            }
        }
        try await returns(now)
        if now >= nextStockChange {
            nextStockChange = now + .seconds(Int.random(in: 20...45))
            let item = DemoRunner.catalogue.randomElement()!
            let units = max(0, item.units + Int.random(in: -8...8))
            _ = try await call(
                .PUT,
                "/stock",
                json: ["items": [["hub": DemoRunner.hub, "sku": item.ean, "quantity": units]]]
            )
            say("stock     \(item.ean) (\(item.sku)) counted \(units) at \(DemoRunner.hub)")
        }
    }

    /// Sends the order's next step as a command, under an idempotency key of the order and step.
    private func work(_ id: String, step: String) async throws {
        var body: [String: Any] = ["type": step]
        if step == "confirm", Int.random(in: 0..<25) == 0 {
            body = ["type": "reject", "reason": "OUT_OF_STOCK"]
        }
        if step == "pack", let packages = try await packagesWithSerials(id) { body["packages"] = packages }
        let answer = try await call(
            .POST,
            "/orders/\(id)/commands",
            json: body,
            headers: [("Idempotency-Key", "demo:\(id):\(step)")]
        )
        let verb =
            switch body["type"] as? String {
            case "confirm": "confirm  "
            case "reject": "reject   "
            case "pack": "pack     "
            default: "label    "
            }
        say("\(verb) \(id)\((200..<300).contains(answer.status) ? "" : " refused: \(answer.status)")")
    }

    /// Amazon's recommended box with serial numbers for the lines that need them; nil when no line does.
    private func packagesWithSerials(_ id: String) async throws -> [[String: Any]]? {
        guard let text = try await call(.GET, "/orders/\(id)").object?["shipment"] as? String,
            let shipment = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
            let lines = shipment["lineItems"] as? [[String: Any]],
            lines.contains(where: {
                (($0["complianceAttributes"] as? [String: Any])?["serialNumberRequirement"] as? String) == "REQUIRED"
            }),
            let box = ((shipment["shippingInfo"] as? [String: Any])?["recommendedPackages"] as? [[String: Any]])?.first,
            let dimensions = box["dimensions"] as? [String: [String: Any]],
            let weight = box["weight"] as? [String: Any]
        else { return nil }
        func number(_ value: Any?) -> Double { Double("\(value ?? 0)") ?? 0 }
        return [
            [
                "id": "BOX1", "length": number(dimensions["length"]?["value"]),
                "width": number(dimensions["width"]?["value"]), "height": number(dimensions["height"]?["value"]),
                "dimensionUnit": dimensions["length"]?["dimensionUnit"] ?? "CM", "weight": number(weight["value"]),
                "weightUnit": weight["weightUnit"] ?? "G",
                "items": lines.map { line -> [String: Any] in
                    let lineID = line["shipmentLineItemId"] as? String ?? "1"
                    let units = line["numberOfUnits"] as? Int ?? 1
                    return [
                        "lineItemId": lineID, "quantity": units,
                        "serialNumbers": (0..<units).map { "SN-\(id)-\(lineID)-\($0)" },
                    ]
                },
            ]
        ]
    }

    /// Ships the merchant-fulfilled orders a few seconds after they arrive: most in one package with every unit,
    /// a multi-unit order now and then in two (the first with one unit, leaving it partly shipped), each with a
    /// tracking id and the carrier the connection's ship-method table gives the order's service level.
    private mutating func merchantOrders(_ now: ContinuousClock.Instant) async throws {
        for order in try await orders("source=mfn&state=confirmed") {
            guard let id = order["shipmentId"] as? String, !asked.contains("\(id):ship") else { continue }
            guard let at = due["\(id):ship"] else {
                due["\(id):ship"] = now + .seconds(Int.random(in: 3...12))
                continue
            }
            guard at <= now else { continue }
            due["\(id):ship"] = nil
            let lines = try await call(.GET, "/orders/\(id)").object?["lines"] as? [[String: Any]] ?? []
            let left = lines.reduce(0) { $0 + ($1["quantityLeft"] as? Int ?? 0) }
            guard left > 0 else { continue }
            var body: [String: Any] = [
                "type": "ship", "trackingId": "DEMO\(Int.random(in: 100_000_000...999_999_999))",
            ]
            let split = left > 1 && !asked.contains("\(id):part") && Int.random(in: 0..<3) == 0
            if split, let line = lines.first(where: { ($0["quantityLeft"] as? Int ?? 0) > 0 }),
                let lineID = line["lineItemId"] as? String
            {
                body["items"] = [["lineItemId": lineID, "quantity": 1]]
            }
            let step = split ? "part" : "ship"
            let answer = try await call(
                .POST,
                "/orders/\(id)/commands",
                json: body,
                headers: [("Idempotency-Key", "demo:\(id):\(step)")]
            )
            asked.insert("\(id):\(step)")
            let what = split ? "1 of \(left) units (the rest follows)" : "\(left) unit\(left == 1 ? "" : "s")"
            say(
                "ship      MFN \(id): \(what)\((200..<300).contains(answer.status) ? "" : " refused: \(answer.status)")"
            )
        }
    }

    /// Gathers labelled orders into a manifest now and then, and hands each over a little later.
    private mutating func manifests(_ now: ContinuousClock.Instant) async throws {
        if now >= nextManifest {
            nextManifest = now + .seconds(Int.random(in: 45...90))
            if try await !orders("state=ready_to_ship&inManifest=false").isEmpty {
                let made = try await call(
                    .POST,
                    "/manifests",
                    json: ["connectionId": session.connectionID, "locationId": session.locationID],
                    headers: [("Idempotency-Key", "demo:manifest:\(UUID().uuidString)")]
                )
                if let id = made.object?["id"] as? String {
                    let count = (made.object?["orders"] as? [Any])?.count ?? 0
                    say("manifest  \(id) with \(count) order\(count == 1 ? "" : "s"), printed for the carrier")
                    handovers.append((id, now + .seconds(Int.random(in: 8...20))))
                }
            }
        }
        for (index, handover) in handovers.enumerated().reversed() where handover.at <= now {
            _ = try await call(.POST, "/manifests/\(handover.id)/handover")
            say("handover  \(handover.id) to the carrier")
            handovers.remove(at: index)
        }
    }

    /// Now and then a customer sends a shipped order back; returns on their way move along Amazon's lifecycle; the
    /// delivered ones are received, mostly sellable, and put back on sale.
    private mutating func returns(_ now: ContinuousClock.Instant) async throws {
        if now >= nextReturn {
            nextReturn = now + .seconds(Int.random(in: 40...80))
            for order in try await orders("source=external_fulfillment&state=shipped").shuffled() {
                guard let id = order["shipmentId"] as? String,
                    let listed = try await call(.GET, "/returns?shipmentId=\(id)").object?["returns"] as? [Any],
                    listed.isEmpty
                else { continue }
                let made = try await control("/returns", ["shipmentId": id]).object?["returns"] as? [[String: Any]]
                for item in made ?? [] {
                    if let returnID = item["id"] as? String {
                        returning[returnID] = ("CREATED", now + .seconds(Int.random(in: 10...25)))
                    }
                }
                if let made { say("customer  returns \(id) (\(made.count) item\(made.count == 1 ? "" : "s"))") }
                break
            }
        }
        for (id, step) in returning where step.at <= now {
            let status = step.status
            let next: String
            if status == "CREATED", Int.random(in: 0..<8) == 0 {
                next = "CANCELLED"
            } else if status == "CREATED" {
                next = Self.returnPath[0]
            } else if let index = Self.returnPath.firstIndex(of: status), index + 1 < Self.returnPath.count {
                next = Self.returnPath[index + 1]
            } else {
                returning[id] = nil
                continue
            }
            _ = try await control("/returns/\(id)/status", ["status": next])
            returning[id] =
                next == "CANCELLED" || next == "DELIVERED" ? nil : (next, now + .seconds(Int.random(in: 10...25)))
            if next == "CANCELLED" { say("customer  called return \(id) off") }
        }
        let delivered =
            try await call(.GET, "/returns?status=DELIVERED&limit=20").object?["returns"] as? [[String: Any]]
        for item in delivered ?? [] where item["receipt"] == nil {
            guard let id = item["returnId"] as? String, let units = item["units"] as? Int else { continue }
            let damaged = units > 1 && Int.random(in: 0..<4) == 0
            let grades: [[String: Any]] =
                damaged
                ? [["grade": "sellable", "quantity": units - 1], ["grade": "customer_damaged", "quantity": 1]]
                : [["grade": "sellable", "quantity": units]]
            let answer = try await call(
                .POST,
                "/returns/\(id)/receive",
                json: ["items": grades, "restock": true],
                headers: [("Idempotency-Key", "demo:receive:\(id)")]
            )
            let restocked = (answer.object?["receipt"] as? [String: Any])?["restockedUnits"] as? Int ?? 0
            say("receive   return \(id): \(restocked) unit\(restocked == 1 ? "" : "s") back on sale")
        }
    }

    private func orders(_ query: String) async throws -> [[String: Any]] {
        try await call(.GET, "/orders?\(query)&limit=100").object?["orders"] as? [[String: Any]] ?? []
    }

    private func call(
        _ method: HTTPMethod,
        _ path: String,
        json: [String: Any]? = nil,
        headers: [(String, String)] = []
    ) async throws -> DemoWarehouse.Answer {
        try await warehouse.request(method, warehouse.api + path, key: session.key, json: json, headers: headers)
    }

    /// A call to the simulator's control path: the customers' and carriers' side of the demo.
    private func control(_ path: String, _ json: [String: Any]) async throws -> DemoWarehouse.Answer {
        try await warehouse.request(.POST, warehouse.amazon + "/_simulator" + path, key: nil, json: json)
    }

    private func say(_ line: String) {
        let now = Calendar.current.dateComponents([.hour, .minute, .second], from: Date())
        let time = [now.hour, now.minute, now.second].map { String(format: "%02d", $0 ?? 0) }.joined(separator: ":")
        warehouse.say("\(time)  \(line)")
    }
}
