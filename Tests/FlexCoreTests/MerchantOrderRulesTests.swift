import FlexCore
import Foundation
import Testing

@Suite("MFN orders: which copy counts, what the WMS is told, what a shipment may hold")
struct MerchantOrderRulesTests {
    static let start = Date(timeIntervalSince1970: 1_790_000_000)

    static func facts(
        _ status: String,
        at seconds: Double = 0,
        shipped: [String: Int] = [:],
        fulfilledBy: String? = "MERCHANT",
        cancelled: Bool = false,
        requested: Bool = false
    ) -> MerchantOrderFacts {
        let lines = [("1", "MUG", 3), ("2", "CUP", 1)]
        return MerchantOrderFacts(
            orderID: "111-2223333-4445555",
            marketplaceID: "ATVPDKIKX0DER",
            status: status,
            fulfilledBy: fulfilledBy,
            serviceLevel: "SecondDay",
            shipBy: start.addingTimeInterval(86_400),
            deliverBy: nil,
            createdAt: start,
            updatedAt: start.addingTimeInterval(seconds),
            items: lines.map { id, sku, units in
                .init(
                    orderItemID: id,
                    sellerSKU: MerchantSKU(rawValue: sku),
                    asin: nil,
                    title: nil,
                    quantityOrdered: units,
                    quantityShipped: shipped[id] ?? 0,
                    quantityUnshipped: cancelled ? 0 : units - (shipped[id] ?? 0),
                    buyerRequestedCancel: requested,
                    cancelledBy: cancelled ? "BUYER" : nil
                )
            },
            packages: shipped.isEmpty
                ? []
                : [
                    .init(
                        referenceID: "1",
                        carrier: "UPS",
                        shippingService: nil,
                        trackingNumber: "1Z",
                        shippedAt: nil,
                        items: shipped
                    )
                ]
        )
    }

    @Test(
        "PENDING is held back; a first copy already shipped or cancelled was never the warehouse's; a newer copy moves on"
    )
    func copies() throws {
        #expect(MerchantOrderMachine.receive(Self.facts("PENDING"), held: nil) == nil)
        #expect(MerchantOrderMachine.receive(Self.facts("SHIPPED"), held: nil) == nil)
        #expect(MerchantOrderMachine.receive(Self.facts("CANCELLED", cancelled: true), held: nil) == nil)
        #expect(MerchantOrderMachine.receive(Self.facts("UNSHIPPED", fulfilledBy: "AMAZON"), held: nil) == nil)
        let created = try #require(MerchantOrderMachine.receive(Self.facts("UNSHIPPED"), held: nil))
        #expect(created.event == .orderCreated && created.state == .confirmed && created.change == .created)
        #expect(created.payload["source"] == .string("mfn") && created.payload["serviceLevel"] == .string("SecondDay"))
        let held = MerchantOrderMachine.Held(status: "UNSHIPPED", amazonUpdatedAt: Self.start)
        #expect(MerchantOrderMachine.receive(Self.facts("UNSHIPPED"), held: held) == nil, "the same copy twice")
        #expect(MerchantOrderMachine.receive(Self.facts("SHIPPED", at: -1), held: held) == nil, "an older copy")
        let partial = try #require(
            MerchantOrderMachine.receive(Self.facts("PARTIALLY_SHIPPED", at: 1, shipped: ["1": 2]), held: held)
        )
        #expect(partial.event == .orderUpdated && partial.state == .confirmed && !partial.cancelsOpenCommands)
        let asked = try #require(
            MerchantOrderMachine.receive(Self.facts("UNSHIPPED", at: 1, requested: true), held: held)
        )
        #expect(asked.payload["buyerRequestedCancel"] == .bool(true))
        let newer = MerchantOrderMachine.receive(Self.facts("SOMETHING_NEW", at: 2), held: held)
        #expect(newer?.state == .confirmed && newer?.payload["status"] == .string("SOMETHING_NEW"), "kept, not dropped")
    }

    @Test("a cancellation after download says what to put back: every unit not shipped")
    func cancelled() throws {
        let held = MerchantOrderMachine.Held(status: "PARTIALLY_SHIPPED", amazonUpdatedAt: Self.start)
        var copy = Self.facts("CANCELLED", at: 5, shipped: ["1": 2], cancelled: true)
        copy.items[0].quantityShipped = 2
        let decision = try #require(MerchantOrderMachine.receive(copy, held: held))
        #expect(decision.event == .orderCancelled && decision.state == .cancelled && decision.cancelsOpenCommands)
        #expect(
            decision.payload["putBack"]
                == .object([
                    "stage": .string("unshipped"),
                    "items": .array([
                        .object(["orderItemId": .string("1"), "merchantSku": .string("MUG"), "quantity": .number(1)]),
                        .object(["orderItemId": .string("2"), "merchantSku": .string("CUP"), "quantity": .number(1)]),
                    ]),
                ])
        )
    }

    @Test(
        "a shipment names its field when wrong: unknown item, more units than left, no tracking, Other without a name"
    )
    func shipRules() throws {
        let open = Self.facts("PARTIALLY_SHIPPED", shipped: ["1": 2])
        func refusal(_ request: MerchantShipRequest, _ facts: MerchantOrderFacts? = nil) -> ValidationError? {
            do {
                _ = try MerchantShipRules.confirmation(for: request, facts: facts ?? open, now: Self.start)
                return nil
            } catch { return error }
        }
        let ups = MerchantShipRequest(carrierCode: "UPS", trackingId: "1Z2")
        #expect(
            refusal(.init(carrierCode: "UPS", trackingId: "1Z", items: [.init(lineItemId: "9", quantity: 1)]))?
                .field == "items[0].lineItemId"
        )
        let tooMany = refusal(
            .init(carrierCode: "UPS", trackingId: "1Z", items: [.init(lineItemId: "1", quantity: 2)])
        )
        #expect(
            tooMany?.field == "items[0].quantity"
                && tooMany?.reason.contains("1 unit(s) of item 1 (MUG) are left") == true
        )
        let twice = refusal(
            .init(
                carrierCode: "UPS",
                trackingId: "1Z",
                items: [.init(lineItemId: "2", quantity: 1), .init(lineItemId: "2", quantity: 1)]
            )
        )
        #expect(twice?.field == "items[1].quantity")
        #expect(
            refusal(.init(carrierCode: "UPS", trackingId: "1Z", items: [.init(lineItemId: "1", quantity: 0)]))?
                .field == "items[0].quantity"
        )
        #expect(refusal(.init(carrierCode: "UPS", trackingId: " "))?.field == "trackingId")
        #expect(refusal(.init(carrierCode: "", trackingId: "1Z"))?.field == "carrierCode")
        #expect(refusal(.init(carrierCode: "Other", trackingId: "1Z"))?.field == "carrierName")
        #expect(
            refusal(.init(packageReferenceId: "1", carrierCode: "UPS", trackingId: "1Z"))?.field
                == "packageReferenceId"
        )
        #expect(refusal(ups, Self.facts("SHIPPED", shipped: ["1": 3, "2": 1]))?.field == "type")
        #expect(refusal(ups, Self.facts("PENDING"))?.field == "type")

        // Without items: every unit left, in a package numbered after those Amazon holds.
        let whole = try MerchantShipRules.confirmation(for: ups, facts: open, now: Self.start)
        #expect(whole.packageReferenceID == "2" && whole.items.map(\.orderItemID) == ["1", "2"])
        #expect(
            whole.items.map(\.quantity) == [1, 1] && whole.shipDate == Self.start
                && whole.marketplaceID == "ATVPDKIKX0DER"
        )
        var shipped = open
        shipped.packages.append(
            .init(
                referenceID: "2",
                carrier: "UPS",
                shippingService: nil,
                trackingNumber: "1Z2",
                shippedAt: nil,
                items: ["1": 1, "2": 1]
            )
        )
        #expect(MerchantShipRules.isApplied(whole, in: shipped) && !MerchantShipRules.isApplied(whole, in: open))
    }

    @Test(
        "ship methods: a marketplace's own row wins over any marketplace's; a table with a repeat or a bad row is refused"
    )
    func shipMethods() throws {
        let table = [
            ShipMethodMapping(serviceLevel: "Standard", wmsCarrier: "DHL", wmsMethod: "Parcel", carrierCode: "DHL"),
            ShipMethodMapping(
                marketplaceId: "A1F83G8C2ARO7P",
                serviceLevel: "standard",
                wmsCarrier: "RM",
                wmsMethod: "Tracked48",
                carrierCode: "Other",
                carrierName: "Royal Mail",
                shippingMethod: "Tracked 48"
            ),
        ]
        try ShipMethodRules.validate(table)
        #expect(ShipMethodRules.mapping(for: "Standard", marketplace: "A1F83G8C2ARO7P", in: table)?.wmsCarrier == "RM")
        #expect(ShipMethodRules.mapping(for: "Standard", marketplace: "ATVPDKIKX0DER", in: table)?.wmsCarrier == "DHL")
        #expect(ShipMethodRules.mapping(for: "NextDay", marketplace: "ATVPDKIKX0DER", in: table) == nil)
        #expect(ShipMethodRules.mapping(for: nil, marketplace: "ATVPDKIKX0DER", in: table) == nil)
        #expect(
            ShipMethodRules.mapping(forCarrier: "rm", method: "tracked48", marketplace: "A1F83G8C2ARO7P", in: table)?
                .carrierName == "Royal Mail"
        )
        #expect(
            throws: ValidationError(
                field: "shipMethods[2].serviceLevel",
                reason: "maps STANDARD in every marketplace a second time"
            )
        ) {
            try ShipMethodRules.validate(
                table + [.init(serviceLevel: "STANDARD", wmsCarrier: "X", wmsMethod: "Y", carrierCode: "UPS")]
            )
        }
        #expect(throws: ValidationError.self) {
            try ShipMethodRules.validate([
                .init(serviceLevel: "Expedited", wmsCarrier: "X", wmsMethod: "Y", carrierCode: "Other")
            ])
        }
        #expect(throws: ValidationError.self) {
            try ShipMethodRules.validate([
                .init(serviceLevel: "Expedited", wmsCarrier: " ", wmsMethod: "Y", carrierCode: "UPS")
            ])
        }
    }
}
