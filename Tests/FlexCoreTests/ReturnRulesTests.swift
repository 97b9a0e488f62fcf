import FlexCore
import Foundation
import Testing

@Suite("Returns and locations' modes: the rules")
struct ReturnRulesTests {
    static let t0 = Date(timeIntervalSince1970: 1_795_000_000)

    static func copy(_ status: String, at offset: TimeInterval, units: Int = 2) -> ReturnFacts {
        ReturnFacts(
            id: "R1",
            returnLocationID: "L1",
            fulfillmentLocationID: "L1",
            merchantSKU: "M-1",
            units: units,
            status: status,
            returnType: "CUSTOMER",
            returnSubType: "NORMAL",
            reason: "CR-DEFECTIVE",
            rmaID: "RMA1",
            shipmentID: "SHIP-1",
            orderID: "402-1",
            createdAt: t0,
            updatedAt: t0.addingTimeInterval(offset)
        )
    }

    @Test("a copy counts only when Amazon's clock says it is newer; a call-off is return.cancelled once")
    func weighing() {
        let first = ReturnMachine.receive(Self.copy("CREATED", at: 0), held: nil)
        #expect(first?.event == .returnCreated && first?.statusChanged == true)
        #expect(first?.payload["previousStatus"] == nil && first?.payload["shipmentId"] == .string("SHIP-1"))
        let held = ReturnMachine.Held(status: "CREATED", amazonUpdatedAt: Self.t0)
        #expect(ReturnMachine.receive(Self.copy("CREATED", at: 0), held: held) == nil, "the same copy again")
        #expect(ReturnMachine.receive(Self.copy("IN_TRANSIT", at: 0), held: held) == nil, "same time: not newer")
        #expect(ReturnMachine.receive(Self.copy("IN_TRANSIT", at: -1), held: held) == nil, "an older copy")
        let moved = ReturnMachine.receive(Self.copy("CARRIER_NOTIFIED_TO_PICK_UP_FROM_CUSTOMER", at: 1), held: held)
        #expect(moved?.event == .returnUpdated && moved?.payload["previousStatus"] == .string("CREATED"))
        let detailsOnly = ReturnMachine.receive(Self.copy("CREATED", at: 1), held: held)
        #expect(detailsOnly?.event == .returnUpdated && detailsOnly?.statusChanged == false, "no history line")
        for status in ["CANCELLED", "CUSTOMER_CANCELLED_PICK_UP"] {
            #expect(ReturnMachine.receive(Self.copy(status, at: 1), held: held)?.event == .returnCancelled)
            let again = ReturnMachine.Held(status: status, amazonUpdatedAt: Self.t0)
            #expect(ReturnMachine.receive(Self.copy("CANCELLED", at: 1), held: again)?.event == .returnUpdated)
        }
        #expect(ReturnMachine.receive(Self.copy("REJECTED", at: 1), held: held)?.event == .returnUpdated)
    }

    @Test("a receipt grades every unit once, in whole positive numbers; a called-off or received return takes none")
    func receipts() throws {
        typealias Item = ReturnReceipt.Item
        try ReturnMachine.checkReceipt(
            [Item(grade: .sellable, quantity: 1), Item(grade: .missing, quantity: 1)],
            units: 2
        )
        let wrong: [([Item], String)] = [
            ([], "items"),
            ([Item(grade: .sellable, quantity: 3)], "items"),
            ([Item(grade: .sellable, quantity: 1)], "items"),
            ([Item(grade: .sellable, quantity: 1), Item(grade: .sellable, quantity: 1)], "items[1].grade"),
            ([Item(grade: .defective, quantity: -1), Item(grade: .sellable, quantity: 3)], "items[0].quantity"),
            ([Item(grade: .defective, quantity: 0), Item(grade: .sellable, quantity: 2)], "items[0].quantity"),
            (
                ReturnGrade.allCases.map { Item(grade: $0, quantity: 1) } + [Item(grade: .sellable, quantity: 1)]
                    + Array(repeating: Item(grade: .missing, quantity: 1), count: 20), "items"
            ),
        ]
        for (items, field) in wrong {
            #expect(throws: ValidationError.self) { try ReturnMachine.checkReceipt(items, units: 2) }
            do {
                try ReturnMachine.checkReceipt(items, units: 2)
            } catch {
                #expect(error.field == field, "\(items): \(error)")
            }
        }
        #expect(ReturnMachine.refusal(toReceive: "DELIVERED", receipt: nil) == nil)
        #expect(ReturnMachine.refusal(toReceive: "IN_TRANSIT", receipt: nil) == nil, "a parcel may beat Amazon's news")
        for status in ["CANCELLED", "CUSTOMER_CANCELLED_PICK_UP", "REJECTED"] {
            #expect(ReturnMachine.refusal(toReceive: status, receipt: nil)?.contains(status) == true)
        }
        let receipt = ReturnReceipt(
            receivedAt: Self.t0,
            receivedBy: "key wms",
            items: [Item(grade: .sellable, quantity: 2)],
            restockedHub: "HUB1",
            restockedUnits: 2,
            note: nil,
            idempotencyKey: "k",
            fingerprint: "f"
        )
        #expect(ReturnMachine.refusal(toReceive: "DELIVERED", receipt: receipt)?.contains("received already") == true)
    }

    @Test("what a location offers: everything live, its pilot SKUs capped, nothing while handing over")
    func offers() {
        var state = LocationState(connectionID: "C", locationID: "L1")
        #expect(state.offer("A") == .everything)
        state.mode = .pilot
        state.pilotSKUs = [PilotSKU(merchantSKU: "A", maximumQuantity: 3)]
        #expect(state.offer("A") == .atMost(3) && state.offer("B") == .nothing)
        let settings = ConnectionSettings(safetyStock: 1)
        func send(_ offer: LocationState.Offer, free: Int, reserved: Int) -> Int {
            InventoryRules.quantityToSend(
                free: free,
                reserved: reserved,
                hub: "H",
                sku: "W",
                settings: settings,
                offer: offer
            )
        }
        #expect(send(.atMost(3), free: 10, reserved: 2) == 5, "capped sellable, plus Amazon's reservation")
        #expect(send(.atMost(3), free: 2, reserved: 0) == 1, "the buffer still applies under the cap")
        #expect(send(.nothing, free: 10, reserved: 2) == 0)
        #expect(send(.everything, free: 10, reserved: 2) == 11)
        for mode in [LocationMode.outgoing, .handedOver] {
            state.mode = mode
            #expect(state.offer("A") == .nothing)
        }
        #expect(!state.isWorked)
    }

    @Test("Amazon's process: live after the pilot's checklist or forced with a reason; handed over only when clean")
    func modeChanges() throws {
        let location = LocationState(connectionID: "C", locationID: "L1", mode: .pilot)
        let none = GoLiveChecklist()
        let all = GoLiveChecklist(shippedOrder: "S1", sellerCancellation: "S2", customerCancellation: "S3")
        let clean = HandoverReport(openOrders: [], itemsNotAtZero: 0, items: 4)
        let open = HandoverReport(openOrders: ["S9"], itemsNotAtZero: 2, items: 4)
        #expect(none.missing.count == 3 && all.isComplete)
        #expect(throws: LocationRules.Refusal.self) {
            try LocationRules.check(.init(mode: .live), from: location, checklist: none, handover: clean)
        }
        try LocationRules.check(.init(mode: .live), from: location, checklist: all, handover: clean)
        try LocationRules.check(
            .init(mode: .live, force: true, reason: "why"),
            from: location,
            checklist: none,
            handover: clean
        )
        var outgoing = location
        outgoing.mode = .outgoing
        try LocationRules.check(.init(mode: .live), from: outgoing, checklist: none, handover: open)
        do {
            try LocationRules.check(.init(mode: .handedOver), from: outgoing, checklist: all, handover: open)
            Issue.record("handed over while open")
        } catch {
            #expect(error.message.contains("1 open order (S9)") && error.message.contains("2 items"))
        }
        try LocationRules.check(.init(mode: .handedOver), from: outgoing, checklist: none, handover: clean)
        #expect(throws: LocationRules.Refusal.self, "not without going outgoing first") {
            try LocationRules.check(.init(mode: .handedOver), from: location, checklist: all, handover: clean)
        }
        #expect(throws: ValidationError.self) { try LocationRules.validate(.init(mode: .pilot)) }
        #expect(throws: ValidationError.self) {
            try LocationRules.validate(.init(mode: .live, force: true, reason: "  "))
        }
    }
}
