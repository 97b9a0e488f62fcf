import AmazonEFShipments
import AmazonSimulator
import FlexCore
import Foundation
import OpenAPIRuntime
import SellingPartner
import Testing

@Suite("SellingPartner client")
struct ClientTests {
    @Test("errors keep Amazon's status, code, message and request id")
    func errors() async throws {
        try await SimulatedAmazon.run { amazon in
            let client = try await amazon.client()
            let error = await #expect(throws: (any Error).self) {
                _ = try await client.shipments.getShipment(path: .init(shipmentId: "NOSUCH"))
            }
            let amazonError = try #require(error?.sellingPartnerError as? AmazonAPIError)
            #expect(amazonError.status == 404)
            #expect(amazonError.code == "NotFound")
            #expect(amazonError.message?.contains("NOSUCH") == true)
            #expect(amazonError.requestID?.isEmpty == false)
            #expect(amazonError.attempts == 1, "a 404 is not retried")
        }
    }

    @Test("a read is retried through 503s and succeeds; bounded attempts end in a typed error")
    func readRetries() async throws {
        try await SimulatedAmazon.run { amazon in
            let client = try await amazon.client(configuration: .init(retry: RetryPolicy(maxAttempts: 10)))
            let id = try await amazon.shipment(using: client)
            // 30% of answers fail: ten attempts make a failed call a one-in-170,000 event.
            try await amazon.simulator.setFaults(FaultSettings(unavailableRate: 0.3), operation: "getShipment")
            for _ in 0..<20 {
                let shipment = try await client.shipments.getShipment(path: .init(shipmentId: id)).ok.body.json
                #expect(shipment.id == id)
            }
            try await amazon.simulator.setFaults(FaultSettings(unavailableRate: 1), operation: "getShipment")
            let error = await #expect(throws: (any Error).self) {
                _ = try await client.shipments.getShipment(path: .init(shipmentId: id))
            }
            let amazonError = try #require(error?.sellingPartnerError as? AmazonAPIError)
            #expect(amazonError.status == 503)
            #expect(amazonError.attempts == 10)
            #expect(amazonError.mayHaveApplied == false)
        }
    }

    @Test("a write is not retried when it may have been applied: a 500 or a dropped answer is a typed error saying so")
    func writesNotRetriedBlindly() async throws {
        try await SimulatedAmazon.run { amazon in
            let client = try await amazon.client()
            let id = try await amazon.shipment(using: client)
            try await amazon.simulator.setFaults(FaultSettings(internalErrorRate: 1), operation: "processShipment")
            let failed = await #expect(throws: (any Error).self) {
                _ = try await client.shipments.processShipment(
                    path: .init(shipmentId: id),
                    query: .init(operation: .confirm)
                )
            }
            let apiError = try #require(failed?.sellingPartnerError as? AmazonAPIError)
            #expect(apiError.status == 500)
            #expect(apiError.mayHaveApplied)
            #expect(apiError.attempts == 1)

            try await amazon.simulator.setFaults(FaultSettings(dropAfterApplyRate: 1), operation: "processShipment")
            let dropped = await #expect(throws: (any Error).self) {
                _ = try await client.shipments.processShipment(
                    path: .init(shipmentId: id),
                    query: .init(operation: .confirm)
                )
            }
            let transport = try #require(dropped?.sellingPartnerError as? AmazonTransportError)
            #expect(transport.mayHaveApplied)
            #expect(transport.attempts == 1)
            // It was applied: re-reading shows it, as the error told the caller to do.
            try await amazon.simulator.setFaults(FaultSettings(), operation: "processShipment")
            #expect(
                try await client.shipments.getShipment(path: .init(shipmentId: id)).ok.body.json.status == "CONFIRMED"
            )
            let confirms = await amazon.simulator.recordedRequests().filter { $0.operation == "processShipment" }
            #expect(confirms.count == 2, "each write was sent once")
        }
    }

    @Test("a write refused with 503 or 429 was not applied and is retried")
    func writesRetriedWhenRefused() async throws {
        try await SimulatedAmazon.run { amazon in
            // Thirty attempts at 60% refusals: a call refused every time is a one-in-four-million event.
            let client = try await amazon.client(configuration: .init(retry: RetryPolicy(maxAttempts: 30)))
            let id = try await amazon.shipment(using: client)
            try await amazon.simulator.setFaults(FaultSettings(unavailableRate: 0.6), operation: "processShipment")
            _ = try await client.shipments.processShipment(
                path: .init(shipmentId: id),
                query: .init(operation: .confirm)
            ).noContent
            let log = await amazon.simulator.recordedRequests().filter { $0.operation == "processShipment" }
            #expect(log.last?.status == 204)
            #expect(log.dropLast().allSatisfy { $0.fault == "unavailable" })
        }
    }

    @Test(
        "every request carries the User-Agent and a token; an unreachable Amazon is a transport error that was not applied"
    )
    func transport() async throws {
        try await SimulatedAmazon.run { amazon in
            let client = try await amazon.client(configuration: .init(userAgent: "FlexBridgeTest/1.0 (Language=Swift)"))
            _ = try await client.shipments.getShipments(query: .init(status: .accepted)).ok
            let received = try #require(await amazon.simulator.recordedRequests().last)
            #expect(received.userAgent == "FlexBridgeTest/1.0 (Language=Swift)")
            #expect(received.merchantID == SimulatedAmazon.merchant, "the access token was accepted")
            let unreachable = SellingPartnerClient(
                endpoint: .custom(URL(string: "http://127.0.0.1:1")!),
                login: amazon.login,
                refreshToken: try await amazon.simulator.authorize(merchantID: SimulatedAmazon.merchant),
                configuration: .init(retry: RetryPolicy(maxAttempts: 2, timeout: 1)),
                sleep: { _ in }
            )
            let error = await #expect(throws: (any Error).self) {
                _ = try await unreachable.shipments.getShipments(query: .init(status: .accepted))
            }
            let transport = try #require(error?.sellingPartnerError as? AmazonTransportError)
            #expect(transport.mayHaveApplied == false)
            #expect(transport.attempts == 2, "a write that never left may be retried; so is a read")
        }
    }

    @Test("with 10% injected 503s every call ends in success or a typed error after bounded retries")
    func unreliableAmazon() async throws {
        try await SimulatedAmazon.run { amazon in
            let client = try await amazon.client(
                configuration: .init(rateLimits: ["getShipment": .init(rate: 10_000, burst: 10_000)])
            )
            let id = try await amazon.shipment(using: client)
            try await amazon.simulator.setFaults(FaultSettings(unavailableRate: 0.1), operation: nil)
            var succeeded = 0
            var typed = 0
            for _ in 0..<300 {
                do {
                    _ = try await client.shipments.getShipment(path: .init(shipmentId: id)).ok
                    succeeded += 1
                } catch {
                    let amazonError = try #require(error.sellingPartnerError as? AmazonAPIError, "\(error)")
                    #expect(amazonError.attempts <= RetryPolicy().maxAttempts)
                    typed += 1
                }
            }
            #expect(succeeded + typed == 300)
            #expect(succeeded >= 295)
            let faulted = await amazon.simulator.recordedRequests().filter { $0.fault == "unavailable" }.count
            #expect(faulted > 0, "faults were injected")
        }
    }
}

@Suite("batchInventory's sub-request URIs")
struct InventoryURITests {
    @Test("every byte but RFC 3986's unreserved characters is percent-encoded, non-ASCII letters too, and reads back")
    func percentEncoding() throws {
        #expect(SellingPartnerClient.percentEncoded("AZ-az_09.~") == "AZ-az_09.~")
        #expect(SellingPartnerClient.percentEncoded("a b&c=d/e?f#g%h+i") == "a%20b%26c%3Dd%2Fe%3Ff%23g%25h%2Bi")
        #expect(SellingPartnerClient.percentEncoded("Größe é") == "Gr%C3%B6%C3%9Fe%20%C3%A9")
        #expect(SellingPartnerClient.percentEncoded("") == "")
        let key = InventoryKey(
            connectionID: ConnectionID(rawValue: "c"),
            locationID: LocationID(rawValue: "HUB 1/é"),
            merchantSKU: MerchantSKU(rawValue: "Größe M & L=1?#%"),
            channel: .mfn
        )
        let uri = SellingPartnerClient.inventoryURI("/inventory/update", key)
        #expect(uri.utf8.allSatisfy { $0 < 0x80 }, "the URI is ASCII")
        // As the simulator reads it.
        let items = try #require(URLComponents(string: uri)?.queryItems)
        #expect(items.first { $0.name == "locationId" }?.value == "HUB 1/é")
        #expect(items.first { $0.name == "skuId" }?.value == "Größe M & L=1?#%")
    }
}
