import AmazonSimulator
import Foundation
import Testing

@Suite("Fulfillment Inbound 2024-03-20: Send to Amazon")
struct InboundPlanTests {
    static let us = LiveSimulator.unitedStates
    static let seller = LiveSimulator.merchant
    static let plans = "/inbound/fba/2024-03-20/inboundPlans"

    static func planJSON(name: String, items: [(msku: String, units: Int)]) -> String {
        let lines = items.map {
            #"{"msku":"\#($0.msku)","quantity":\#($0.units),"labelOwner":"SELLER","prepOwner":"NONE"}"#
        }
        return """
            {"destinationMarketplaces":["\(us)"],"name":"\(name)","items":[\(lines.joined(separator: ","))],\
            "sourceAddress":{"name":"Warehouse","addressLine1":"1 Dock Street","city":"Seattle",\
            "stateOrProvinceCode":"WA","postalCode":"98109","countryCode":"US","phoneNumber":"+12065550100"}}
            """
    }

    /// The operation an accepted call started, after checking it runs until the clock passes its time.
    static func operation(
        _ live: LiveSimulator,
        _ time: ManualTime,
        _ response: RawHTTP.Response,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> [String: Any] {
        #expect(response.status == 202, "\(response.text)", sourceLocation: sourceLocation)
        let id = try #require(response.json?["operationId"] as? String, sourceLocation: sourceLocation)
        let path = "/inbound/fba/2024-03-20/operations/\(id)"
        let running = try await live.call(.GET, path)
        #expect(running.json?["operationStatus"] as? String == "IN_PROGRESS", sourceLocation: sourceLocation)
        time.advance(seconds: 1)
        return try #require(try await live.call(.GET, path).json, sourceLocation: sourceLocation)
    }

    static func succeeded(
        _ live: LiveSimulator,
        _ time: ManualTime,
        _ response: RawHTTP.Response,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let state = try await Self.operation(live, time, response, sourceLocation: sourceLocation)
        #expect(state["operationStatus"] as? String == "SUCCESS", "\(state)", sourceLocation: sourceLocation)
    }

    @Test("packing and placement take effect when their operations complete; every confirm call is counted")
    func packingAndPlacement() async throws {
        let (clock, time) = SimulatorClock.manual()
        try await LiveSimulator.run(clock: clock) { live in
            _ = try await live.simulator.putListings(
                [ListingSpecification(sku: "STA-A", marketplaceIDs: [Self.us])],
                merchantID: Self.seller
            )
            _ = try await live.simulator.putFBAStock(
                [FBAStockSpecification(sku: "STA-B", fulfillable: 1)],
                merchantID: Self.seller,
                marketplaceID: Self.us
            )
            let created = try await live.call(
                .POST,
                Self.plans,
                json: Self.planJSON(name: "Swift plan", items: [("STA-A", 4), ("STA-B", 2)])
            )
            let plan = try #require(created.json?["inboundPlanId"] as? String)
            #expect(plan.count == 38 && plan.hasPrefix("wf"))
            try await Self.succeeded(live, time, created)

            try await Self.succeeded(live, time, try await live.call(.POST, "\(Self.plans)/\(plan)/packingOptions"))
            let options = try #require(
                try await live.call(.GET, "\(Self.plans)/\(plan)/packingOptions").json?["packingOptions"]
                    as? [[String: Any]]
            )
            #expect(options.count == 2, "one group of both SKUs, or one group each")
            let together = try #require(options.first { ($0["packingGroups"] as? [String])?.count == 1 })
            let optionID = try #require(together["packingOptionId"] as? String)
            let group = try #require((together["packingGroups"] as? [String])?.first)
            let confirm = "\(Self.plans)/\(plan)/packingOptions/\(optionID)/confirmation"
            try await Self.succeeded(live, time, try await live.call(.POST, confirm))
            try live.expectStatus(400, try await live.call(.POST, confirm))

            // Eight units of STA-A where the plan has four: the operation fails and names the SKU.
            func packing(_ a: Int, _ b: Int) -> String {
                """
                {"packageGroupings":[{"packingGroupId":"\(group)","boxes":[{"contentInformationSource":\
                "BOX_CONTENT_PROVIDED","quantity":2,"dimensions":{"length":40,"width":30,"height":30,\
                "unitOfMeasurement":"CM"},"weight":{"unit":"KG","value":8},"items":[\
                {"msku":"STA-A","quantity":\(a),"labelOwner":"SELLER","prepOwner":"NONE"},\
                {"msku":"STA-B","quantity":\(b),"labelOwner":"SELLER","prepOwner":"NONE"}]}]}]}
                """
            }
            let wrong = try await Self.operation(
                live,
                time,
                try await live.call(.POST, "\(Self.plans)/\(plan)/packingInformation", json: packing(4, 1))
            )
            #expect(wrong["operationStatus"] as? String == "FAILED")
            let problem = try #require((wrong["operationProblems"] as? [[String: Any]])?.first?["message"] as? String)
            #expect(problem.contains("STA-A") && problem.contains("8") && problem.contains("4"))
            try await Self.succeeded(
                live,
                time,
                try await live.call(.POST, "\(Self.plans)/\(plan)/packingInformation", json: packing(2, 1))
            )

            try await Self.succeeded(
                live,
                time,
                try await live.call(.POST, "\(Self.plans)/\(plan)/placementOptions", json: "{}")
            )
            let placements = try #require(
                try await live.call(.GET, "\(Self.plans)/\(plan)/placementOptions").json?["placementOptions"]
                    as? [[String: Any]]
            )
            #expect(placements.map { ($0["shipmentIds"] as? [String])?.count } == [1, 2])
            let placement = try #require(placements.first?["placementOptionId"] as? String)
            try await Self.succeeded(
                live,
                time,
                try await live.call(.POST, "\(Self.plans)/\(plan)/placementOptions/\(placement)/confirmation")
            )

            let truth = try #require(await live.simulator.groundTruth().inboundPlans.first { $0.inboundPlanId == plan })
            #expect(truth.packingOptionId == optionID && truth.placementOptionId == placement)
            #expect(truth.confirmCalls.packing == 2 && truth.confirmCalls.placement == 1)
            #expect(truth.createCalls == 1)
            let shipment = try #require(truth.shipments.first)
            #expect(shipment.status == "WORKING" && shipment.boxes == 2 && shipment.units == 6)
            let confirmation = try #require(shipment.shipmentConfirmationId)
            #expect(await live.simulator.groundTruth().inboundShipments.contains { $0.shipmentId == confirmation })
        }
    }

    @Test("a plan's refusals: a repeated MSKU at once, an unknown MSKU when its creation completes")
    func refusals() async throws {
        let (clock, time) = SimulatorClock.manual()
        try await LiveSimulator.run(clock: clock) { live in
            let repeated = try await live.call(
                .POST,
                Self.plans,
                json: Self.planJSON(name: "Twice", items: [("STA-A", 1), ("STA-A", 2)])
            )
            try live.expectStatus(400, repeated)
            #expect(repeated.firstErrorCode == "InvalidInput" && repeated.text.contains("STA-A"))

            let unknown = try await live.call(
                .POST,
                Self.plans,
                json: Self.planJSON(name: "Unknown", items: [("STA-NONE", 1)])
            )
            let plan = try #require(unknown.json?["inboundPlanId"] as? String)
            let operation = try await Self.operation(live, time, unknown)
            #expect(operation["operationStatus"] as? String == "FAILED")
            let problem = try #require((operation["operationProblems"] as? [[String: Any]])?.first)
            #expect(problem["code"] as? String == "FBA_INB_0004")
            #expect((problem["message"] as? String)?.contains("STA-NONE") == true)
            #expect(try await live.call(.GET, "\(Self.plans)/\(plan)").json?["status"] as? String == "ERRORED")
            try live.expectStatus(400, try await live.call(.POST, "\(Self.plans)/\(plan)/packingOptions"))

            let counts = await live.simulator.groundTruth().inboundPlans.first { $0.inboundPlanId == plan }
            #expect(counts?.createCalls == 1)
            let expired = try await RawHTTP.send(.POST, "\(live.base)/_simulator/inbound-plans/wfnone/expire")
            #expect(expired.status == 404)
        }
    }
}
