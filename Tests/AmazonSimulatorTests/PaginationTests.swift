import AmazonEFShipments
import AmazonSimulator
import Foundation
import Testing

@Suite("getShipments")
struct PaginationTests {
    @Test("pages follow creation order: shipments added between pages are seen once, none twice, none missed")
    func stableWhileAdding() async throws {
        try await LiveSimulator.run { live in
            let location = try await live.createLocation()
            var created: [String] = []
            for _ in 0..<7 { created.append(try await live.createShipment(location: location)) }
            var seen: [String] = []
            var token: String?
            var pages = 0
            repeat {
                let output = try await live.shipments.getShipments(
                    query: .init(locationId: location, status: .accepted, maxResults: 3, paginationToken: token)
                )
                let page = try output.ok.body.json
                seen += (page.shipments ?? []).map(\.id)
                token = page.pagination?.nextToken
                pages += 1
                // New orders arrive while the client is paging.
                if pages <= 2 { created.append(try await live.createShipment(location: location)) }
            } while token != nil
            #expect(seen == created)
            #expect(Set(seen).count == seen.count)
        }
    }

    @Test("filters: status, location, channel, marketplace and lastUpdatedAfter/Before")
    func filters() async throws {
        try await LiveSimulator.run { live in
            let first = try await live.createLocation()
            let second = try await live.createLocation()
            let a = try await live.createShipment(location: first)
            let b = try await live.createShipment(location: second)
            let confirmedAt = Date()
            try live.expectStatus(
                204,
                try await live.call(.POST, "/externalFulfillment/2024-09-11/shipments/\(b)?operation=CONFIRM")
            )
            func ids(_ query: Operations.GetShipments.Input.Query) async throws -> [String] {
                try await live.shipments.getShipments(query: query).ok.body.json.shipments?.map(\.id) ?? []
            }
            #expect(try await ids(.init(status: .accepted)) == [a])
            #expect(try await ids(.init(status: .confirmed)) == [b])
            #expect(try await ids(.init(locationId: first, status: .confirmed)) == [])
            #expect(try await ids(.init(marketplaceId: LiveSimulator.unitedStates, status: .accepted)) == [])
            #expect(try await ids(.init(channelName: "MFN", status: .accepted)) == [a])
            #expect(
                try await ids(.init(status: .confirmed, lastUpdatedAfter: confirmedAt.addingTimeInterval(-1))) == [b]
            )
            #expect(try await ids(.init(status: .confirmed, lastUpdatedAfter: Date().addingTimeInterval(60))) == [])
            #expect(try await ids(.init(status: .accepted, lastUpdatedBefore: Date(timeIntervalSince1970: 0))) == [])
        }
    }

    @Test(
        "bad parameters answer 400 InvalidInput: maxResults out of range, a foreign token, a missing status, a bad date"
    )
    func badParameters() async throws {
        try await LiveSimulator.run { live in
            let location = try await live.createLocation()
            for _ in 0..<3 { _ = try await live.createShipment(location: location) }
            let page = try await live.call(
                .GET,
                "/externalFulfillment/2024-09-11/shipments?status=ACCEPTED&maxResults=1"
            )
            let token = try #require((page.json?["pagination"] as? [String: Any])?["nextToken"] as? String)
            let escaped = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            for query in [
                "status=ACCEPTED&maxResults=0", "status=ACCEPTED&maxResults=101", "maxResults=10", "status=NOPE",
                "status=ACCEPTED&lastUpdatedAfter=yesterday", "status=CONFIRMED&paginationToken=\(escaped)",
                "status=ACCEPTED&paginationToken=garbage",
                "status=ACCEPTED&locationId=\(String(repeating: "L", count: 37))",
            ] {
                let response = try await live.call(.GET, "/externalFulfillment/2024-09-11/shipments?\(query)")
                #expect(response.status == 400, "\(query): \(response.text)")
                #expect(response.firstErrorCode == "InvalidInput", "\(query)")
            }
            let unknownLocation = try await live.call(
                .GET,
                "/externalFulfillment/2024-09-11/shipments?status=ACCEPTED&locationId=ZZZZ"
            )
            try live.expectStatus(404, unknownLocation)
            #expect(unknownLocation.firstErrorCode == "NotFound")
            let next = try await live.call(
                .GET,
                "/externalFulfillment/2024-09-11/shipments?status=ACCEPTED&maxResults=1&paginationToken=\(escaped)"
            )
            try live.expectStatus(200, next)
        }
    }
}
