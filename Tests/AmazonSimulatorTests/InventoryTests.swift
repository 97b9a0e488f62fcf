import AmazonEFInventory
import AmazonEFShipments
import AmazonSimulator
import Foundation
import Testing

@Suite("batchInventory")
struct InventoryTests {
    static let path = "/externalFulfillment/inventory/2024-09-11/inventories"

    func update(_ location: String, _ sku: String, quantity: Int, sequence: Int) -> String {
        #"{"method":"POST","uri":"/inventory/update?locationId=\#(location)&skuId=\#(sku)","body":{"quantity":\#(quantity),"clientSequenceNumber":\#(sequence),"marketplaceAttributes":{"marketplaceId":"A21TJRUUN4KGV","channelName":"MFN"}}}"#
    }

    func fetch(_ location: String, _ sku: String) -> String {
        #"{"method":"POST","uri":"/inventory/fetch?locationId=\#(location)&skuId=\#(sku)","body":{"marketplaceAttributes":{"marketplaceId":"A21TJRUUN4KGV","channelName":"MFN"}}}"#
    }

    func batch(_ live: LiveSimulator, _ requests: [String]) async throws -> [[String: Any]] {
        let response = try await live.call(
            .POST,
            Self.path,
            json: #"{"requests":[\#(requests.joined(separator: ","))]}"#
        )
        try live.expectStatus(207, response)
        return try #require(response.json?["responses"] as? [[String: Any]])
    }

    func item(_ response: [String: Any]) -> (status: Int?, body: [String: Any]) {
        ((response["status"] as? [String: Any])?["statusCode"] as? Int, response["body"] as? [String: Any] ?? [:])
    }

    @Test("updates are absolute; open shipments reserve units; sellable is quantity − reserved, never below 0")
    func reservations() async throws {
        try await LiveSimulator.run { live in
            let location = try await live.createLocation()
            try await live.simulator.addListings(
                merchantID: LiveSimulator.merchant,
                marketplaceID: LiveSimulator.india,
                skus: ["SKU-A", "SKU-B"]
            )
            var answers = try await batch(
                live,
                [
                    update(location, "SKU-A", quantity: 25, sequence: 1),
                    update(location, "SKU-B", quantity: 0, sequence: 1),
                ]
            )
            #expect(answers.map { item($0).status } == [200, 200])
            #expect(item(answers[0]).body["sellableQuantity"] as? Int == 25)

            // An order for SKU-A reserves its units.
            let order = try await live.createShipment(location: location)
            let sku = try await live.shipment(order).lineItems[0].merchantSku
            let units = try await live.shipment(order).lineItems[0].numberOfUnits
            answers = try await batch(live, [fetch(location, sku)])
            let reserved = item(answers[0]).body["reservedQuantity"] as? Int ?? -1
            #expect(reserved == units)
            let expectedSellable = sku == "SKU-A" ? 25 - units : 0
            #expect(item(answers[0]).body["sellableQuantity"] as? Int == max(0, expectedSellable))

            // Setting 0 while units are reserved leaves sellable at 0, not negative.
            answers = try await batch(live, [update(location, sku, quantity: 0, sequence: 5), fetch(location, sku)])
            #expect(item(answers[1]).body["sellableQuantity"] as? Int == 0)
            #expect(item(answers[1]).body["reservedQuantity"] as? Int == units)

            // Shipping the order releases its reservation.
            try live.expectStatus(
                204,
                try await live.call(
                    .PATCH,
                    "/externalFulfillment/2024-09-11/shipments/\(order)",
                    json: #"{"updateType":"SHIPMENT_STATUS_CHANGE","updates":{"status":"CANCELLED"}}"#
                )
            )
            answers = try await batch(live, [fetch(location, sku)])
            #expect(item(answers[0]).body["reservedQuantity"] as? Int == 0)
        }
    }

    @Test("a stale or repeated clientSequenceNumber changes nothing and answers 409 with the number applied")
    func sequenceNumbers() async throws {
        try await LiveSimulator.run { live in
            let location = try await live.createLocation()
            try await live.simulator.addListings(
                merchantID: LiveSimulator.merchant,
                marketplaceID: LiveSimulator.india,
                skus: ["SKU-A"]
            )
            let now = Int(Date().timeIntervalSince1970 * 1000)
            var answers = try await batch(live, [update(location, "SKU-A", quantity: 10, sequence: now)])
            #expect(item(answers[0]).status == 200)
            #expect(item(answers[0]).body["clientSequenceNumber"] as? Int == now)
            for stale in [now, now - 1, 0] {
                answers = try await batch(
                    live,
                    [update(location, "SKU-A", quantity: 99, sequence: stale), fetch(location, "SKU-A")]
                )
                #expect(item(answers[0]).status == 409)
                #expect(item(answers[0]).body["clientSequenceNumber"] as? Int == now)
                let errors = item(answers[0]).body["actionableErrors"] as? [[String: Any]]
                #expect(errors?.first?["errorType"] as? String == "STALE_SEQUENCE_NUMBER")
                #expect(item(answers[1]).body["sellableQuantity"] as? Int == 10)
            }
            // The same batch may carry increasing numbers for one SKU: they apply in order.
            answers = try await batch(
                live,
                [
                    update(location, "SKU-A", quantity: 3, sequence: now + 1),
                    update(location, "SKU-A", quantity: 4, sequence: now + 2), fetch(location, "SKU-A"),
                ]
            )
            #expect(answers.map { item($0).status } == [200, 200, 200])
            #expect(item(answers[2]).body["sellableQuantity"] as? Int == 4)
            #expect(
                await live.simulator.groundTruth().stock.first { $0.skuId == "SKU-A" }?.clientSequenceNumber == now + 2
            )
        }
    }

    @Test("unknown SKUs answer INVALID_SKU, unknown locations 404, malformed items 400, each on its own")
    func itemErrors() async throws {
        try await LiveSimulator.run { live in
            let location = try await live.createLocation()
            try await live.simulator.addListings(
                merchantID: LiveSimulator.merchant,
                marketplaceID: LiveSimulator.india,
                skus: ["SKU-A"]
            )
            let answers = try await batch(
                live,
                [
                    update(location, "NO-SUCH-SKU", quantity: 1, sequence: 1),
                    update("ZZZZ", "SKU-A", quantity: 1, sequence: 1),
                    #"{"method":"POST","uri":"/inventory/update?locationId=\#(location)","body":{"quantity":1,"clientSequenceNumber":1}}"#,
                    #"{"method":"POST","uri":"/inventory/update?locationId=\#(location)&skuId=SKU-A","body":{"quantity":-1,"clientSequenceNumber":1}}"#,
                    #"{"method":"POST","uri":"/inventory/update?locationId=\#(location)&skuId=SKU-A","body":{"quantity":1}}"#,
                    #"{"method":"POST","uri":"/inventory/delete?locationId=\#(location)&skuId=SKU-A"}"#,
                    update(location, "SKU-A", quantity: 7, sequence: 1),
                ]
            )
            #expect(answers.map { item($0).status } == [400, 404, 400, 400, 400, 400, 200])
            let invalid = (item(answers[0]).body["actionableErrors"] as? [[String: Any]])?.first
            #expect(invalid?["errorType"] as? String == "INVALID_SKU")
            #expect(await live.simulator.groundTruth().stock.map(\.quantity) == [7])
        }
    }

    @Test("a batch holds 1 to 10 requests")
    func batchSize() async throws {
        try await LiveSimulator.run { live in
            let location = try await live.createLocation()
            let eleven = Array(repeating: fetch(location, "X"), count: 11)
            let tooMany = try await live.call(
                .POST,
                Self.path,
                json: #"{"requests":[\#(eleven.joined(separator: ","))]}"#
            )
            try live.expectStatus(400, tooMany)
            #expect(tooMany.firstErrorCode == "InvalidInput")
            try live.expectStatus(400, try await live.call(.POST, Self.path, json: #"{"requests":[]}"#))
            try live.expectStatus(400, try await live.call(.POST, Self.path, json: #"{}"#))
        }
    }

    @Test("the generated client reads the 207 answer")
    func generatedClient() async throws {
        try await LiveSimulator.run { live in
            let location = try await live.createLocation()
            try await live.simulator.addListings(
                merchantID: LiveSimulator.merchant,
                marketplaceID: LiveSimulator.india,
                skus: ["SKU-A"]
            )
            let output = try await live.inventory.batchInventory(
                body: .json(
                    .init(requests: [
                        .init(
                            uri: "/inventory/update?locationId=\(location)&skuId=SKU-A",
                            method: .post,
                            body: .init(
                                clientSequenceNumber: 42,
                                quantity: 12,
                                marketplaceAttributes: .init(channelName: .mfn, marketplaceId: LiveSimulator.india)
                            )
                        )
                    ])
                )
            )
            let answer = try #require(try output.code207.body.json.responses?.first)
            #expect(answer.status.statusCode == 200)
            #expect(answer.body.sellableQuantity == 12)
            #expect(answer.body.clientSequenceNumber == 42)
        }
    }
}
