import FlexCore
import Foundation
import SellingPartner
import Testing

@Suite("The shipments API in FlexCore's words")
struct ShipmentBoundaryTests {
    static let package = PackageSpec(
        id: "P1",
        length: 30,
        width: 20,
        height: 10.5,
        dimensionUnit: "CM",
        weight: 1200,
        weightUnit: "G",
        items: [.init(lineItemId: "L1", quantity: 2)]
    )

    @Test("each step the worker records on its copy is the step Amazon made: status, packages, invoice, time")
    func recordedSteps() async throws {
        try await SimulatedAmazon.run { amazon in
            let client = try await amazon.client()
            let id = try await amazon.shipment(using: client)
            let accepted = try await client.shipment(ShipmentID(rawValue: id))
            #expect(accepted.knownStatus == .accepted)

            let confirmed = try accepted.recording(ImpliedStep(.confirmed))
            #expect(confirmed.knownStatus == .confirmed)
            #expect(confirmed.updatedAt == accepted.updatedAt, "Amazon's time is kept: Amazon's own copy outranks it")
            #expect(try confirmed.facts().packages == nil)

            let packed = try confirmed.recording(ImpliedStep(.packageCreated, createdPackages: [Self.package]))
            let held = try #require(try packed.facts().packages?.first)
            #expect(held.status == "CREATED")
            #expect(held.isSame(as: Self.package))
            var heavier = Self.package
            heavier.weight = 1201
            #expect(!held.isSame(as: heavier))
            var moreUnits = Self.package
            moreUnits.items[0].quantity = 3
            #expect(!held.isSame(as: moreUnits))
            var inches = Self.package
            inches.dimensionUnit = "IN"
            #expect(!held.isSame(as: inches))

            let invoiced = try packed.recording(ImpliedStep(.invoiceGenerated, invoiceAvailable: true))
            #expect(try invoiced.facts().invoiceAvailable)
            #expect(try !packed.facts().invoiceAvailable)

            let shipped = try invoiced.recording(ImpliedStep(.shipped, packageStatus: .shipped))
            #expect(shipped.knownStatus == .shipped)
            #expect(try shipped.facts().packages?.map(\.status) == ["SHIPPED"])
            #expect(try shipped.facts().packages?.first?.isSame(as: Self.package) == true)

            // Stamped as a newer copy: the newer copy's time, this copy's contents.
            let newer = try Self.newer(than: accepted)
            #expect(newer.updatedAt > accepted.updatedAt)
            let restamped = try packed.recording(ImpliedStep(.pickupSlotRetrieved), stampedAs: newer)
            #expect(restamped.updatedAt == newer.updatedAt)
            #expect(try restamped.facts().packages?.count == 1)
            #expect(restamped.knownStatus == .pickupSlotRetrieved)
        }
    }

    /// A copy of the shipment stamped a minute after it, as Amazon would send it.
    static func newer(than shipment: AmazonShipment) throws -> AmazonShipment {
        var object = try #require(
            try JSONSerialization.jsonObject(with: Data(shipment.document.utf8)) as? [String: Any]
        )
        let stamp = shipment.updatedAt.addingTimeInterval(60).formatted(.iso8601)
        object["lastUpdatedDateTime"] = stamp
        var newer = shipment
        newer.document = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        newer.updatedAt = try #require(Order.parseTimestamp(stamp))
        return newer
    }
}
