import AmazonEFShipments
import AmazonSimulator
import FlexCore
import FlexEngine
import Foundation
import SellingPartner
import Testing

@Suite("Checking a connection")
struct SellerAuthorizerTests {
    func connection(endpoint: URL) -> Connection {
        Connection(
            name: "Acme",
            sellingPartnerID: SellingPartnerID(rawValue: SimulatedAmazon.merchant),
            region: .eu,
            marketplaceIDs: [MarketplaceID(rawValue: "A21TJRUUN4KGV")],
            applicationClientID: Simulator.Configuration().clientID,
            endpointOverride: endpoint,
            createdAt: Date()
        )
    }

    @Test("a location Amazon does not know is named in the report; known ones pass")
    func locations() async throws {
        try await SimulatedAmazon.run { amazon in
            let client = try await amazon.client()
            let known = try await client.shipments.getShipment(
                path: .init(shipmentId: try await amazon.shipment(using: client))
            ).ok.body.json.locationId
            let credentials = ConnectionCredentials(
                clientSecret: amazon.application.clientSecret,
                refreshToken: try await amazon.simulator.authorize(merchantID: SimulatedAmazon.merchant)
            )
            let report = await AmazonSellerAuthorizer(outbound: .localDevelopment).check(
                connection(endpoint: amazon.base),
                credentials: credentials,
                locationIDs: [known, "ZZZZ"]
            )
            #expect(report.checks.map(\.name) == ["authorization", "api access", "location \(known)", "location ZZZZ"])
            #expect(report.checks.map(\.ok) == [true, true, true, false])
            #expect(report.checks.last?.message.contains("ZZZZ") == true)
            #expect(report.needsReauthorization == false)
        }
    }

    @Test("a wrong client secret is reported as such, not as a seller to re-authorise")
    func wrongSecret() async throws {
        try await SimulatedAmazon.run { amazon in
            let credentials = ConnectionCredentials(
                clientSecret: "wrong",
                refreshToken: try await amazon.simulator.authorize(merchantID: SimulatedAmazon.merchant)
            )
            let report = await AmazonSellerAuthorizer(outbound: .localDevelopment).check(
                connection(endpoint: amazon.base),
                credentials: credentials,
                locationIDs: []
            )
            #expect(report.ok == false)
            #expect(report.needsReauthorization == false)
            #expect(report.checks.first?.message.contains("client id or secret") == true)
        }
    }

    @Test("the consent link goes to Seller Central of the connection's marketplace, or to the simulator")
    func consentLinks() {
        let authorizer = AmazonSellerAuthorizer(outbound: .localDevelopment)
        var amazonConnection = connection(endpoint: URL(string: "https://sellingpartnerapi-eu.amazon.com")!)
        amazonConnection.applicationID = "amzn1.sp.solution.example"
        let link = authorizer.consentURL(
            for: amazonConnection,
            state: "s",
            redirectURI: "https://flexbridge.example/cb"
        )
        #expect(
            link.absoluteString.hasPrefix(
                "https://sellercentral.amazon.in/apps/authorize/consent?application_id=amzn1.sp.solution.example&state=s"
            )
        )
        let simulated = authorizer.consentURL(
            for: connection(endpoint: URL(string: "http://127.0.0.1:8090")!),
            state: "s",
            redirectURI: "x"
        )
        #expect(
            simulated.absoluteString.hasPrefix(
                "http://127.0.0.1:8090/apps/authorize/consent?application_id=\(Simulator.Configuration().clientID)"
            )
        )
    }
}
