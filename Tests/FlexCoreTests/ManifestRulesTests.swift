import FlexCore
import Foundation
import Testing

@Suite("Which orders a manifest takes, and when a repeated request is the same one")
struct ManifestRulesTests {
    static let location: LocationID = "LOC-1"
    /// Oldest first: two ATS orders, a Delhivery one, a third ATS one.
    static let candidates = [
        ManifestRules.Candidate(shipmentID: "S1", carrier: "ATS"),
        ManifestRules.Candidate(shipmentID: "S2", carrier: "Delhivery"),
        ManifestRules.Candidate(shipmentID: "S3", carrier: "ATS"),
        ManifestRules.Candidate(shipmentID: "S4", carrier: "Delhivery"),
    ]

    func choose(
        _ named: [ShipmentID]? = nil,
        carrier: String? = nil,
        from candidates: [ManifestRules.Candidate] = candidates
    )
        throws -> (carrier: String, orders: [ShipmentID])
    {
        try ManifestRules.choose(from: candidates, named: named, carrierName: carrier, locationID: Self.location)
    }

    @Test("unnamed: every order of the carrier named, else of the oldest order's carrier")
    func byCarrier() throws {
        #expect(try choose() == ("ATS", ["S1", "S3"]))
        #expect(try choose(carrier: "Delhivery") == ("Delhivery", ["S2", "S4"]))
        let many = (0..<150).map { ManifestRules.Candidate(shipmentID: ShipmentID(rawValue: "S\($0)"), carrier: "ATS") }
        let chosen = try choose(from: many)
        #expect(chosen.orders.count == Manifest.maximumOrders && chosen.orders.first == "S0")
    }

    @Test("named: each must be a candidate, all of one carrier, at most a hundred")
    func named() throws {
        #expect(try choose(["S3", "S1"]) == ("ATS", ["S1", "S3"]))
        #expect(try choose(["S2"]) == ("Delhivery", ["S2"]))
        let unknown = #expect(throws: ValidationError.self) { try choose(["S1", "S9"]) }
        #expect(unknown?.field == "shipmentIds[1]")
        let mixed = #expect(throws: ValidationError.self) { try choose(["S1", "S2"]) }
        #expect(mixed?.field == "shipmentIds" && mixed?.reason.contains("mix carriers") == true)
        let wrongCarrier = #expect(throws: ValidationError.self) { try choose(["S1"], carrier: "Delhivery") }
        #expect(wrongCarrier?.reason.contains("S1 goes with ATS") == true)
        let tooMany = (0...100).map { ShipmentID(rawValue: "S\($0)") }
        let refused = #expect(throws: ValidationError.self) { try choose(tooMany) }
        #expect(refused?.reason.contains("at most 100") == true)
    }

    @Test("nothing to put in a manifest is a conflict with the state, said per carrier")
    func nothing() {
        #expect(throws: ManifestRules.NothingToManifest.self) { try choose(from: []) }
        let none = #expect(throws: ManifestRules.NothingToManifest.self) { try choose(carrier: "BlueDart") }
        #expect(none?.message.contains("no labelled BlueDart order") == true)
    }

    @Test("a repeat names the same location, and the same carrier and orders where it names them")
    func repeats() {
        let earlier = Manifest(
            id: "MAN-1",
            connectionID: "c1",
            locationID: Self.location,
            carrierName: "ATS",
            status: .open,
            createdAt: Date(),
            handedOverAt: nil,
            entries: [
                .init(shipmentID: "S1", state: .readyToShip, packages: []),
                .init(shipmentID: "S3", state: .readyToShip, packages: []),
            ],
            idempotencyKey: "wave-1"
        )
        func isRepeat(
            _ location: LocationID = Self.location,
            carrier: String? = nil,
            orders: [ShipmentID]? = nil
        ) -> Bool {
            ManifestRules.isRepeat(of: earlier, locationID: location, carrierName: carrier, shipmentIDs: orders)
        }
        #expect(isRepeat())
        #expect(isRepeat(carrier: "ATS", orders: ["S3", "S1"]))
        #expect(!isRepeat("LOC-2"))
        #expect(!isRepeat(carrier: "Delhivery"))
        #expect(!isRepeat(orders: ["S1"]))
    }
}
