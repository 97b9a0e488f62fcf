import FlexCore
import Foundation
import Testing

@Suite("The order machine: what a copy of Amazon's shipment changes")
struct OrderMachineTests {
    static let start = Date(timeIntervalSince1970: 1_795_000_000)

    /// A copy of shipment S-1 in `status` at `seconds` after the start, two lines and (once packed) a package.
    /// A cancelled copy keeps the packages made before, when `packed`.
    static func copy(
        _ status: ShipmentStatus,
        at seconds: TimeInterval,
        reason: String? = nil,
        packed: Bool? = nil
    ) -> (Order, ShipmentFacts) {
        let packages = packed ?? status.holdsPackages ? #","packages":[{"id":"P-1"}]"# : ""
        let reasonField = reason.map { #","reason":"\#($0)""# } ?? ""
        let json = #"""
            {"id":"S-1","status":"\#(status.rawValue)","lineItems":[{"shipmentLineItemId":"1","merchantSku":"SKU-A","numberOfUnits":2},{"shipmentLineItemId":"2","merchantSku":"SKU-B","numberOfUnits":1}]\#(packages)\#(reasonField)}
            """#
        let order = Order(
            connectionID: "C",
            shipmentID: "S-1",
            locationID: "L",
            marketplaceID: "M",
            channel: "MFN",
            program: .easyShip,
            shipmentType: "NEW",
            originalShipmentID: nil,
            status: status.rawValue,
            amazonCreatedAt: start,
            amazonUpdatedAt: start.addingTimeInterval(seconds),
            expectedShipAt: nil,
            shipment: json,
            firstSeenAt: start,
            updatedAt: start
        )
        // The fixture's own JSON: it always decodes.
        return (order, (try? ShipmentFacts(json: json))!)
    }

    static func held(_ status: ShipmentStatus, at seconds: TimeInterval) -> OrderMachine.Held {
        OrderMachine.Held(status: status.rawValue, amazonUpdatedAt: start.addingTimeInterval(seconds))
    }

    static func receive(
        _ status: ShipmentStatus,
        at seconds: TimeInterval,
        held: OrderMachine.Held?,
        reason: String? = nil,
        packed: Bool? = nil,
        labelsHeld: Bool = true,
        autoConfirm: Bool = false
    ) -> OrderMachine.Decision? {
        let (order, facts) = copy(status, at: seconds, reason: reason, packed: packed)
        return OrderMachine.receive(order, facts: facts, held: held, labelsHeld: labelsHeld, autoConfirm: autoConfirm)
    }

    @Test("Amazon's status order is defined once, a cancellation last")
    func statusOrder() {
        #expect(ShipmentStatus.allCases.first == .created && ShipmentStatus.allCases.last == .cancelled)
        #expect(ShipmentStatus.rank(of: "PACKAGE_CREATED") < ShipmentStatus.rank(of: "SHIPLABEL_GENERATED"))
        #expect(ShipmentStatus.rank(of: "SOMETHING_NEW") == -1)
        #expect(ShipmentStatus.shipped.hasReached(.confirmed) && !ShipmentStatus.cancelled.hasReached(.confirmed))
        #expect(
            ShipmentStatus.allCases.filter(\.holdsPackages) == [
                .packageCreated, .pickupSlotRetrieved, .invoiceGenerated, .shiplabelGenerated, .shipped, .delivered,
            ]
        )
        #expect(ShipmentStatus.allCases.filter(\.releasesReservation) == [.shipped, .delivered, .cancelled])
    }

    @Test(
        "a first copy creates the order; a confirmation is queued only for a new order of a connection that confirms automatically"
    )
    func created() throws {
        let decision = try #require(Self.receive(.accepted, at: 0, held: nil, autoConfirm: true))
        #expect(
            decision.change == .created && decision.event == .orderCreated && decision.state == .awaitingConfirmation
        )
        #expect(decision.confirmsAutomatically && !decision.cancelsOpenCommands && !decision.releasesReservation)
        #expect(decision.payload["previousStatus"] == nil)
        #expect(Self.receive(.accepted, at: 0, held: nil, autoConfirm: false)?.confirmsAutomatically == false)
        #expect(Self.receive(.confirmed, at: 0, held: nil, autoConfirm: true)?.confirmsAutomatically == false)
        #expect(
            Self.receive(.confirmed, at: 5, held: Self.held(.accepted, at: 0), autoConfirm: true)?.confirmsAutomatically
                == false
        )
    }

    struct Weighing: Sendable, CustomTestStringConvertible {
        var held: (ShipmentStatus, TimeInterval)
        var copy: (ShipmentStatus, TimeInterval)
        var replaces: Bool
        var testDescription: String { "\(held) ← \(copy)" }
    }

    @Test(
        "a copy replaces the held one when newer by Amazon's clock, or at the same time further on",
        arguments: [
            Weighing(held: (.accepted, 0), copy: (.accepted, 0), replaces: false),
            Weighing(held: (.accepted, 10), copy: (.confirmed, 5), replaces: false),
            Weighing(held: (.confirmed, 0), copy: (.accepted, 1), replaces: true),
            Weighing(held: (.accepted, 0), copy: (.confirmed, 0), replaces: true),
            Weighing(held: (.confirmed, 0), copy: (.accepted, 0), replaces: false),
            Weighing(held: (.shipped, 0), copy: (.cancelled, 0), replaces: true),
            Weighing(held: (.cancelled, 0), copy: (.shipped, 0), replaces: false),
        ]
    )
    func weighing(_ example: Weighing) {
        let decision = Self.receive(
            example.copy.0,
            at: example.copy.1,
            held: Self.held(example.held.0, at: example.held.1)
        )
        #expect((decision != nil) == example.replaces)
        if let decision { #expect(decision.change == .updated(previousStatus: example.held.0.rawValue)) }
    }

    @Test("labelled at Amazon is ready to ship only with the labels held")
    func labels() {
        let (copy, facts) = Self.copy(.shiplabelGenerated, at: 5)
        #expect(OrderMachine.needsLabels(copy, facts: facts))
        #expect(
            Self.receive(.shiplabelGenerated, at: 5, held: Self.held(.packageCreated, at: 0), labelsHeld: false)?.state
                == .packed
        )
        #expect(
            Self.receive(.shiplabelGenerated, at: 5, held: Self.held(.packageCreated, at: 0), labelsHeld: true)?.state
                == .readyToShip
        )
        #expect(!OrderMachine.needsLabels(Self.copy(.shipped, at: 5).0, facts: facts))
    }

    @Test(
        "a marketplace cancellation after packing: commands cancelled, the packed units and packages to put back, the reservation released"
    )
    func cancelledAfterPacking() throws {
        let decision = try #require(
            Self.receive(
                .cancelled,
                at: 9,
                held: Self.held(.packageCreated, at: 5),
                reason: "CUSTOMER_CANCELLED",
                packed: true
            )
        )
        #expect(decision.event == .orderCancelled && decision.state == .cancelled)
        #expect(decision.cancelsOpenCommands && decision.releasesReservation)
        #expect(decision.payload["reason"] == .string("CUSTOMER_CANCELLED"))
        #expect(decision.payload["previousStatus"] == .string("PACKAGE_CREATED"))
        guard case .object(let putBack)? = decision.payload["putBack"] else {
            Issue.record("no putBack")
            return
        }
        #expect(putBack["stage"] == .string("packed"))
        #expect(putBack["packageIds"] == .array([.string("P-1")]))
        #expect(
            putBack["items"]
                == .array([
                    .object(["lineItemId": .string("1"), "merchantSku": .string("SKU-A"), "quantity": .number(2)]),
                    .object(["lineItemId": .string("2"), "merchantSku": .string("SKU-B"), "quantity": .number(1)]),
                ])
        )
    }

    @Test(
        "what goes back depends on how far the warehouse got",
        arguments: [
            (ShipmentStatus.accepted, JSONValue.null), (.confirmed, .string("picked")),
            (.invoiceGenerated, .string("packed")),
            (.shiplabelGenerated, .string("packed")),
        ]
    )
    func putBackStage(previous: ShipmentStatus, stage: JSONValue) {
        let putBack = OrderMachine.putBack(previousStatus: previous.rawValue, facts: Self.copy(previous, at: 0).1)
        if case .object(let fields) = putBack { #expect(fields["stage"] == stage) } else { #expect(stage == .null) }
    }

    @Test("the seller's rejection is order.rejected, not a cancellation; a second cancelled copy is only an update")
    func rejected() throws {
        let decision = try #require(
            Self.receive(.cancelled, at: 9, held: Self.held(.accepted, at: 5), reason: "OUT_OF_STOCK")
        )
        #expect(decision.event == .orderRejected && decision.state == .rejected && decision.cancelsOpenCommands)
        #expect(decision.payload["putBack"] == .null)
        let again = try #require(
            Self.receive(.cancelled, at: 12, held: Self.held(.cancelled, at: 9), reason: "OUT_OF_STOCK")
        )
        #expect(again.event == .orderUpdated && !again.cancelsOpenCommands && !again.releasesReservation)
    }

    @Test("shipping releases the reservation once; delivery after shipping releases nothing more")
    func reservation() {
        #expect(Self.receive(.shipped, at: 9, held: Self.held(.shiplabelGenerated, at: 5))?.releasesReservation == true)
        #expect(Self.receive(.delivered, at: 12, held: Self.held(.shipped, at: 9))?.releasesReservation == false)
        #expect(Self.receive(.confirmed, at: 12, held: Self.held(.accepted, at: 9))?.releasesReservation == false)
    }

    @Test(
        "property: copies arriving in any order, each any number of times, are stored once each at most and end in the newest"
    )
    func anyOrder() {
        var random = SplitMix64(seed: 20_261_202)
        let life: [ShipmentStatus] = [
            .created, .accepted, .confirmed, .packageCreated, .shiplabelGenerated, .shipped, .delivered,
        ]
        for _ in 0..<500 {
            // Amazon's copies of one life, each at its own time; some read twice, all shuffled.
            let copies = life.enumerated().map { (status: $0.element, at: TimeInterval($0.offset * 10)) }
            var arrivals = copies + copies.filter { _ in random.next() % 2 == 0 }
            arrivals.shuffle(using: &random)
            var held: OrderMachine.Held?
            var created = 0
            var stored: [ShipmentStatus] = []
            for arrival in arrivals {
                guard let decision = Self.receive(arrival.status, at: arrival.at, held: held) else { continue }
                if decision.event == .orderCreated { created += 1 }
                stored.append(arrival.status)
                held = Self.held(arrival.status, at: arrival.at)
            }
            #expect(created == 1)
            #expect(held?.status == ShipmentStatus.delivered.rawValue)
            #expect(stored == stored.sorted(), "each stored copy is further on than the one before")
            #expect(Set(stored).count == stored.count, "no copy is stored twice")
        }
    }
}

/// A small seeded generator, so that a failing shuffle can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
