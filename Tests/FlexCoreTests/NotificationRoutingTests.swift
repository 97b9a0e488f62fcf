import FlexCore
import Testing

@Suite("Notification routing: a seller in several regions")
struct NotificationRoutingTests {
    static let europe = NotificationRouting.Candidate(
        connectionID: "EU",
        region: .eu,
        locationIDs: ["L-EU"],
        holdsShipment: false
    )
    static let america = NotificationRouting.Candidate(
        connectionID: "NA",
        region: .na,
        locationIDs: ["L-NA"],
        holdsShipment: false
    )

    struct Case: Sendable, CustomTestStringConvertible {
        var candidates: [NotificationRouting.Candidate]
        var locationID: String?
        var region: Region?
        var expected: [ConnectionID]
        var testDescription: String {
            "\(candidates.map(\.connectionID.rawValue)) \(locationID ?? "-") \(region?.rawValue ?? "-")"
        }
    }

    static var holdingAmerica: NotificationRouting.Candidate {
        var candidate = america
        candidate.holdsShipment = true
        return candidate
    }

    @Test(
        "the location decides, then the shipment held, then the region; nothing decisive files it under each",
        arguments: [
            Case(candidates: [], locationID: "L-EU", region: .eu, expected: []),
            Case(candidates: [america], locationID: "L-EU", region: .eu, expected: ["NA"]),
            Case(candidates: [europe, america], locationID: "L-EU", region: .na, expected: ["EU"]),
            Case(candidates: [europe, america], locationID: "L-NA", region: nil, expected: ["NA"]),
            Case(candidates: [europe, holdingAmerica], locationID: "L-EU", region: nil, expected: ["EU"]),
            Case(candidates: [europe, holdingAmerica], locationID: "L-X", region: .eu, expected: ["NA"]),
            Case(candidates: [europe, america], locationID: "L-X", region: .eu, expected: ["EU"]),
            Case(candidates: [europe, america], locationID: nil, region: .na, expected: ["NA"]),
            Case(candidates: [europe, america], locationID: "L-X", region: .fe, expected: ["EU", "NA"]),
            Case(candidates: [europe, america], locationID: nil, region: nil, expected: ["EU", "NA"]),
        ]
    )
    func route(_ example: Case) {
        #expect(
            NotificationRouting.route(example.candidates, locationID: example.locationID, region: example.region)
                == example.expected
        )
    }

    @Test("EventBridge's AWS regions name the Selling Partner API regions")
    func eventBridgeRegions() {
        #expect(Region(eventBridgeRegion: "us-east-1") == .na)
        #expect(Region(eventBridgeRegion: "eu-west-1") == .eu)
        #expect(Region(eventBridgeRegion: "us-west-2") == .fe)
        #expect(Region(eventBridgeRegion: "ap-south-1") == nil)
    }
}
