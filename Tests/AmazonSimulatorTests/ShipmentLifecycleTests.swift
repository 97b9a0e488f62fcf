import AmazonEFShipments
import AmazonSimulator
import Foundation
import Testing

@Suite("Shipment lifecycle")
struct ShipmentLifecycleTests {
    static let states = [
        "ACCEPTED", "CONFIRMED", "PACKAGE_CREATED", "PICKUP_SLOT_RETRIEVED", "INVOICE_GENERATED", "SHIPLABEL_GENERATED",
        "SHIPPED", "DELIVERED", "CANCELLED",
    ]

    /// Every operation a seller or the marketplace can apply to a shipment, and what it should answer in each
    /// state (India, where an invoice is required): 2 means success, otherwise the refusal's status code.
    static let matrix: [(operation: String, expected: [Int])] = [
        //                     ACC  CONF  PKG  SLOT  INV  LBL  SHIP DELIV CANC
        ("confirm", [2, 409, 409, 409, 409, 409, 409, 409, 409]),
        ("reject", [2, 2, 2, 2, 409, 409, 409, 409, 409]),
        ("createPackages", [409, 2, 409, 409, 409, 409, 409, 409, 409]),
        ("updatePackage", [404, 404, 2, 2, 2, 2, 409, 409, 404]),
        ("shippingOptions", [404, 404, 2, 2, 2, 409, 409, 409, 404]),
        ("generateInvoice", [409, 409, 409, 2, 2, 2, 409, 409, 409]),
        ("generateLabels", [409, 409, 409, 409, 2, 409, 409, 409, 409]),
        ("regenerateLabels", [409, 409, 409, 409, 409, 2, 409, 409, 409]),
        ("ship", [404, 404, 409, 409, 409, 2, 409, 409, 404]),
        ("marketplaceCancel", [2, 2, 2, 2, 2, 2, 409, 409, 409]),
        ("carrierPickup", [409, 409, 409, 409, 409, 2, 409, 409, 409]),
        ("deliver", [409, 409, 409, 409, 409, 409, 2, 409, 409]),
    ]

    func apply(_ operation: String, to id: String, on live: LiveSimulator) async throws -> RawHTTP.Response {
        let path = "/externalFulfillment/2024-09-11/shipments/\(id)"
        let sandbox = { (status: String) in
            #"{"updateType":"SHIPMENT_STATUS_CHANGE","updates":{"status":"\#(status)"}}"#
        }
        switch operation {
        case "confirm": return try await live.call(.POST, "\(path)?operation=CONFIRM")
        case "reject":
            return try await live.call(
                .POST,
                "\(path)?operation=REJECT",
                json:
                    #"{"referenceId":"r-\#(id)","lineItems":[{"lineItem":{"id":"1","quantity":1},"reason":"OUT_OF_STOCK"}]}"#
            )
        case "createPackages":
            return try await live.call(
                .POST,
                "\(path)/packages",
                json: live.packagesJSON(for: try await live.shipment(id))
            )
        case "updatePackage":
            return try await live.call(
                .PUT,
                "\(path)/packages/P1",
                json: live.packageJSON(for: try await live.shipment(id), weightGrams: "650")
            )
        case "shippingOptions": return try await live.call(.GET, "\(path)/shippingOptions?packageId=P1")
        case "generateInvoice": return try await live.call(.POST, "\(path)/invoice")
        case "generateLabels": return try await live.call(.PUT, "\(path)/shipLabels?operation=GENERATE")
        case "regenerateLabels": return try await live.call(.PUT, "\(path)/shipLabels?operation=REGENERATE")
        case "ship": return try await live.call(.PATCH, "\(path)/packages/P1", json: #"{"status":"SHIPPED"}"#)
        case "marketplaceCancel": return try await live.call(.PATCH, path, json: sandbox("CANCELLED"))
        case "carrierPickup": return try await live.call(.PATCH, path, json: sandbox("SHIPPED"))
        default: return try await live.call(.PATCH, path, json: sandbox("DELIVERED"))
        }
    }

    @Test(
        "every operation in every state: allowed transitions succeed, refused ones answer 404 or 409 and change nothing"
    )
    func transitionMatrix() async throws {
        try await LiveSimulator.run { live in
            for (column, state) in Self.states.enumerated() {
                for (operation, expected) in Self.matrix {
                    let id = try await live.shipment(at: state)
                    let before = try await live.shipment(id)
                    let response = try await apply(operation, to: id, on: live)
                    let after = try await live.shipment(id)
                    if expected[column] == 2 {
                        #expect((200..<300).contains(response.status), "\(operation) in \(state): \(response.text)")
                        // Repeating a read-like step (options, the existing invoice) changes nothing; every change is stamped.
                        if after != before {
                            #expect(
                                after.lastUpdatedDateTime > before.lastUpdatedDateTime,
                                "\(operation) in \(state) must move lastUpdatedDateTime"
                            )
                        } else {
                            #expect(
                                ["shippingOptions", "generateInvoice"].contains(operation),
                                "\(operation) in \(state) changed nothing"
                            )
                        }
                    } else {
                        #expect(
                            response.status == expected[column],
                            "\(operation) in \(state): \(response.status) \(response.text)"
                        )
                        #expect(
                            response.firstErrorCode != nil,
                            "\(operation) in \(state) must answer Amazon's error shape"
                        )
                        #expect(after == before, "\(operation) refused in \(state) must change nothing")
                    }
                }
            }
        }
    }

    @Test("the whole flow through the generated client, every status change stamped later than the one before")
    func happyPath() async throws {
        try await LiveSimulator.run { live in
            let location = try await live.createLocation()
            let id = try await live.createShipment(
                location: location,
                orderTypes: ["GIFT_WRAP", "GIFT_MESSAGE"],
                multipleLines: true
            )
            let client = live.shipments
            var shipment = try await live.shipment(id)
            #expect(shipment.status == "ACCEPTED")
            #expect(shipment.lineItems.count >= 2)
            #expect(shipment.lineItems[0].giftAttributes?.giftMessagePresence == "PRESENT")
            #expect(shipment.shipmentRequirements.invoice.requirement == "REQUIRED")
            var stamps = [shipment.lastUpdatedDateTime]

            _ = try await client.processShipment(path: .init(shipmentId: id), query: .init(operation: .confirm))
                .noContent
            let packages = try JSONDecoder().decode(
                AmazonEFShipments.Components.Schemas.Packages.self,
                from: Data(live.packagesJSON(for: shipment).utf8)
            )
            _ = try await client.createPackages(path: .init(shipmentId: id), body: .json(packages)).noContent
            let options = try await client.retrieveShippingOptions(
                path: .init(shipmentId: id),
                query: .init(packageId: "P1")
            ).ok.body.json
            let chosen = try #require(options.recommendedShippingOption)
            #expect(options.shippingOptions?.contains(chosen) == true)
            let invoice = try await client.generateInvoice(path: .init(shipmentId: id)).ok.body.json
            #expect(invoice.document.format == "PDF")
            let pdf = try #require(Data(base64Encoded: invoice.document.content ?? ""))
            #expect(pdf.starts(with: Data("%PDF-".utf8)))
            #expect(try await client.retrieveInvoice(path: .init(shipmentId: id)).ok.body.json == invoice)
            let labels = try await client.generateShipLabels(
                path: .init(shipmentId: id),
                query: .init(shippingOptionId: chosen.shippingOptionId, operation: .generate),
                body: .json(.init(packageIds: ["P1"]))
            ).ok.body.json
            let label = try #require(labels.packageShipLabelList.first)
            #expect(label.status == "SUCCESS")
            let tracking = try #require(label.shipLabelMetadata?.trackingId)
            let file = try await RawHTTP.send(.GET, try #require(label.fileData?.url))
            #expect(file.status == 200)
            #expect(file.headers["content-type"] == "application/pdf")
            #expect(file.text.contains(tracking), "the label carries its tracking id")
            shipment = try await live.shipment(id)
            #expect(shipment.status == "SHIPLABEL_GENERATED")
            _ = try await client.updatePackageStatus(
                path: .init(shipmentId: id, packageId: "P1"),
                body: .json(.init(status: "SHIPPED"))
            ).noContent
            shipment = try await live.shipment(id)
            #expect(shipment.status == "SHIPPED")
            #expect(shipment.packages?.first?.status == "SHIPPED")

            let log = await live.simulator.recordedRequests().filter { $0.path.contains(id) && $0.method != "GET" }
            #expect(
                log.map(\.operation) == [
                    "processShipment", "createPackages", "generateInvoice", "generateShipLabels", "updatePackageStatus",
                ]
            )
            stamps.append(shipment.lastUpdatedDateTime)
            #expect(stamps == stamps.sorted())
        }
    }

    @Test("in a marketplace without invoices labels follow the shipping options and generateInvoice is refused")
    func withoutInvoice() async throws {
        try await LiveSimulator.run { live in
            let id = try await live.shipment(at: "PICKUP_SLOT_RETRIEVED", marketplace: LiveSimulator.unitedStates)
            let path = "/externalFulfillment/2024-09-11/shipments/\(id)"
            try live.expectStatus(422, try await live.call(.POST, "\(path)/invoice"))
            try live.expectStatus(200, try await live.call(.PUT, "\(path)/shipLabels?operation=GENERATE"))
            #expect(try await live.shipment(id).status == "SHIPLABEL_GENERATED")
        }
    }

    @Test("a rejection records the reason and the seller's cancellation on every line")
    func rejection() async throws {
        try await LiveSimulator.run { live in
            let id = try await live.shipment(at: "CONFIRMED")
            let response = try await live.call(
                .POST,
                "/externalFulfillment/2024-09-11/shipments/\(id)?operation=REJECT",
                json:
                    #"{"referenceId":"ref-1","lineItems":[{"lineItem":{"id":"1","quantity":0},"reason":"CUSTOMER_REQUESTED"}]}"#
            )
            try live.expectStatus(204, response)
            let shipment = try await live.shipment(id)
            #expect(shipment.status == "CANCELLED")
            #expect(shipment.lineItems[0].cancellations?.first?.cancellationType == "SELLER_REJECTED")
            #expect(shipment.lineItems[0].cancellations?.first?.cancellationReason == "CUSTOMER_REQUESTED")
            let unknownLine = try await live.call(
                .POST,
                "/externalFulfillment/2024-09-11/shipments/\(try await live.shipment(at: "ACCEPTED"))?operation=REJECT",
                json: #"{"referenceId":"ref-2","lineItems":[{"lineItem":{"id":"99"},"reason":"OUT_OF_STOCK"}]}"#
            )
            try live.expectStatus(422, unknownLine)
        }
    }

    @Test("a marketplace cancellation marks every line MARKETPLACE_CANCELLED and releases the reservation")
    func marketplaceCancellation() async throws {
        try await LiveSimulator.run { live in
            let id = try await live.shipment(at: "PACKAGE_CREATED")
            try live.expectStatus(
                204,
                try await live.call(
                    .PATCH,
                    "/externalFulfillment/2024-09-11/shipments/\(id)",
                    json: #"{"updateType":"SHIPMENT_STATUS_CHANGE","updates":{"status":"CANCELLED"}}"#
                )
            )
            let shipment = try await live.shipment(id)
            #expect(shipment.status == "CANCELLED")
            #expect(
                shipment.lineItems.allSatisfy { $0.cancellations?.first?.cancellationType == "MARKETPLACE_CANCELLED" }
            )
            #expect(shipment.packages?.allSatisfy { $0.status == "CANCELLED" } == true)
        }
    }

    @Test("a changed package goes back to PACKAGE_CREATED: options and labels must be fetched again")
    func updatePackageResetsLabels() async throws {
        try await LiveSimulator.run { live in
            let id = try await live.shipment(at: "SHIPLABEL_GENERATED")
            let path = "/externalFulfillment/2024-09-11/shipments/\(id)"
            let firstLabel = try #require(
                await live.simulator.groundTruth().shipments.first { $0.id == id }?.labels.first
            )
            try live.expectStatus(
                204,
                try await live.call(
                    .PUT,
                    "\(path)/packages/P1",
                    json: live.packageJSON(for: try await live.shipment(id), weightGrams: "800")
                )
            )
            let shipment = try await live.shipment(id)
            #expect(shipment.status == "PACKAGE_CREATED")
            #expect(shipment.packages?.first?.weight.value == "800")
            #expect(await live.simulator.groundTruth().shipments.first { $0.id == id }?.labels.isEmpty == true)
            try live.expectStatus(409, try await live.call(.PUT, "\(path)/shipLabels?operation=GENERATE"))
            try live.expectStatus(200, try await live.call(.GET, "\(path)/shippingOptions?packageId=P1"))
            // The invoice is kept, so labels can follow at once.
            try live.expectStatus(200, try await live.call(.PUT, "\(path)/shipLabels?operation=GENERATE"))
            let secondLabel = try #require(
                await live.simulator.groundTruth().shipments.first { $0.id == id }?.labels.first
            )
            #expect(secondLabel.trackingId != firstLabel.trackingId)
        }
    }

    @Test("REGENERATE keeps the tracking id and issues a new file; GENERATE twice is refused")
    func regenerate() async throws {
        try await LiveSimulator.run { live in
            let id = try await live.shipment(at: "SHIPLABEL_GENERATED")
            let path = "/externalFulfillment/2024-09-11/shipments/\(id)"
            let before = try #require(await live.simulator.groundTruth().shipments.first { $0.id == id }?.labels.first)
            let again = try await live.call(
                .PUT,
                "\(path)/shipLabels?operation=REGENERATE",
                json: #"{"packageIds":["P1"]}"#
            )
            try live.expectStatus(200, again)
            let after = try #require(await live.simulator.groundTruth().shipments.first { $0.id == id }?.labels.first)
            #expect(after.trackingId == before.trackingId)
            #expect(after.generation == 2)
            try live.expectStatus(409, try await live.call(.PUT, "\(path)/shipLabels?operation=GENERATE"))
            try live.expectStatus(
                422,
                try await live.call(.PUT, "\(path)/shipLabels?operation=REGENERATE", json: #"{"packageIds":["NOPE"]}"#)
            )
            try live.expectStatus(
                422,
                try await live.call(.PUT, "\(path)/shipLabels?operation=REGENERATE&shippingOptionId=not-offered")
            )
        }
    }

    @Test(
        "packages are checked: units Amazon lists, dimensions above 0, at least 5 g, every unit packed, serial numbers when required",
        arguments: [
            (#""length":{"value":"0""#, 400),
            (#""weight":{"value":"4","weightUnit":"G"}"#, 400),
            (#""weight":{"value":"0.004","weightUnit":"KG"}"#, 400),
            (#""weight":{"value":"abc","weightUnit":"G"}"#, 400),
            (#""quantity":2"#, 422),
            (#""packageLineItemId":"9""#, 422),
            (#""dimensionUnit":"FEET""#, 400),
            (#""weight":{"value":"10","weightUnit":"STONE"}"#, 400),
        ]
    )
    func packageValidation(mutation: String, status: Int) async throws {
        try await LiveSimulator.run { live in
            let id = try await live.shipment(at: "CONFIRMED")
            var json = live.packagesJSON(for: try await live.shipment(id))
            let key = String(mutation.prefix { $0 != ":" })
            let pattern = try Regex("\(NSRegularExpression.escapedPattern(for: key)):(\\{[^}]*\\}|\"[^\"]*\"|[0-9]+)")
            if key == #""weight""# {
                json = json.replacing(pattern, maxReplacements: 1) { _ in mutation }
            } else if let range = json.firstRange(of: pattern) {
                json.replaceSubrange(range, with: mutation)
            }
            let response = try await live.call(
                .POST,
                "/externalFulfillment/2024-09-11/shipments/\(id)/packages",
                json: json
            )
            try live.expectStatus(status, response)
            #expect(try await live.shipment(id).status == "CONFIRMED")
        }
    }

    @Test("serial numbers are required for SERIAL orders and refused otherwise")
    func serialNumbers() async throws {
        try await LiveSimulator.run { live in
            let location = try await live.createLocation()
            let serial = try await live.createShipment(location: location, orderTypes: ["SERIAL"], multipleUnits: true)
            try live.expectStatus(
                204,
                try await live.call(.POST, "/externalFulfillment/2024-09-11/shipments/\(serial)?operation=CONFIRM")
            )
            let shipment = try await live.shipment(serial)
            #expect(shipment.lineItems[0].complianceAttributes.serialNumberRequirement == "REQUIRED")
            let withoutSerials = live.packagesJSON(for: shipment).replacing(/,"serialNumbers":\[[^\]]*\]/, with: "")
            try live.expectStatus(
                422,
                try await live.call(
                    .POST,
                    "/externalFulfillment/2024-09-11/shipments/\(serial)/packages",
                    json: withoutSerials
                )
            )
            try live.expectStatus(
                204,
                try await live.call(
                    .POST,
                    "/externalFulfillment/2024-09-11/shipments/\(serial)/packages",
                    json: live.packagesJSON(for: shipment)
                )
            )

            let plain = try await live.shipment(at: "CONFIRMED")
            let withSerials = live.packagesJSON(for: try await live.shipment(plain)).replacing(
                #""quantity":1"#,
                with: #""quantity":1,"serialNumbers":["X"]"#
            )
            try live.expectStatus(
                422,
                try await live.call(
                    .POST,
                    "/externalFulfillment/2024-09-11/shipments/\(plain)/packages",
                    json: withSerials
                )
            )
        }
    }

    @Test(
        "every sandbox order type makes a shipment the generated client reads",
        arguments: [
            "HAZMAT", "GIFT_WRAP", "GIFT_MESSAGE", "MPS", "SERIAL", "CROSS_BORDER", "REPLACEMENT", "EXCHANGE",
            "PHARMA_NON_PRESCRIPTION", "PHARMA_PRESCRIPTION",
        ]
    )
    func orderTypes(type: String) async throws {
        try await LiveSimulator.run { live in
            let location = try await live.createLocation()
            let id = try await live.createShipment(location: location, orderTypes: [type])
            let shipment = try await live.shipment(id)
            switch type {
            case "HAZMAT": #expect(shipment.lineItems[0].complianceAttributes.hazmatLabelsRequirement == "REQUIRED")
            case "GIFT_WRAP": #expect(shipment.lineItems[0].giftAttributes?.giftWrapRequirement == "REQUIRED")
            case "GIFT_MESSAGE": #expect(shipment.lineItems[0].giftAttributes?.giftMessage?.content != nil)
            case "MPS": #expect(shipment.lineItems[0].pieceType == "MULTIPLE")
            case "SERIAL": #expect(shipment.lineItems[0].complianceAttributes.serialNumberRequirement == "REQUIRED")
            case "CROSS_BORDER":
                #expect(shipment.lineItems[0].complianceAttributes.countryOfOriginRequirement == "REQUIRED")
            case "REPLACEMENT", "EXCHANGE":
                #expect(shipment.shipmentInfo.shipmentType == type)
                let original = try #require(shipment.shipmentInfo.originalShipmentInfo)
                #expect(original.id != shipment.id)
                #expect(original.originalLineItems?.isEmpty == false)
            default: #expect(shipment.lineItems[0].customAttributes?.first?.key == "PRESCRIPTION_REQUIRED")
            }
            // The whole flow works for it.
            let path = "/externalFulfillment/2024-09-11/shipments/\(id)"
            try live.expectStatus(204, try await live.call(.POST, "\(path)?operation=CONFIRM"))
            try live.expectStatus(
                204,
                try await live.call(.POST, "\(path)/packages", json: live.packagesJSON(for: shipment))
            )
        }
    }

    @Test("self ship with the seller's carrier: labels need the carrier and tracking id, which they then carry")
    func thirdPartyCarrier() async throws {
        try await LiveSimulator.run { live in
            let id = try await live.shipment(at: "INVOICE_GENERATED", shippingType: "THIRD_PARTY_CARRIER")
            let path = "/externalFulfillment/2024-09-11/shipments/\(id)"
            try live.expectStatus(422, try await live.call(.PUT, "\(path)/shipLabels?operation=GENERATE"))
            let response = try await live.call(
                .PUT,
                "\(path)/shipLabels?operation=GENERATE",
                json:
                    #"{"packageIds":["P1"],"courierSupportedAttributes":{"carrierName":"BlueDart","trackingId":"BD123456"}}"#
            )
            try live.expectStatus(200, response)
            let label = try #require(await live.simulator.groundTruth().shipments.first { $0.id == id }?.labels.first)
            #expect(label.carrierName == "BlueDart")
            #expect(label.trackingId == "BD123456")
        }
    }

    @Test(
        "self delivery: the seller marks OUT_FOR_DELIVERY and DELIVERED; a marketplace-carried shipment refuses DELIVERED"
    )
    func selfDelivery() async throws {
        try await LiveSimulator.run { live in
            let id = try await live.shipment(at: "SHIPPED", shippingType: "SELF")
            let path = "/externalFulfillment/2024-09-11/shipments/\(id)/packages/P1"
            try live.expectStatus(204, try await live.call(.PATCH, path, json: #"{"subStatus":"OUT_FOR_DELIVERY"}"#))
            #expect(try await live.shipment(id).subStatus == "OUT_FOR_DELIVERY")
            try live.expectStatus(204, try await live.call(.PATCH, path, json: #"{"status":"DELIVERED"}"#))
            #expect(try await live.shipment(id).status == "DELIVERED")

            let carried = try await live.shipment(at: "SHIPPED")
            try live.expectStatus(
                422,
                try await live.call(
                    .PATCH,
                    "/externalFulfillment/2024-09-11/shipments/\(carried)/packages/P1",
                    json: #"{"status":"DELIVERED"}"#
                )
            )
        }
    }

    @Test("sandbox updates: out for delivery, invoice availability and a new pickup date each move lastUpdatedDateTime")
    func sandboxUpdates() async throws {
        try await LiveSimulator.run { live in
            let shipped = try await live.shipment(at: "SHIPPED")
            let path = "/externalFulfillment/2024-09-11/shipments/\(shipped)"
            try live.expectStatus(
                204,
                try await live.call(
                    .PATCH,
                    path,
                    json: #"{"updateType":"SHIPMENT_STATUS_CHANGE","updates":{"subStatus":"OUT_FOR_DELIVERY"}}"#
                )
            )
            #expect(try await live.shipment(shipped).subStatus == "OUT_FOR_DELIVERY")
            try live.expectStatus(
                400,
                try await live.call(
                    .PATCH,
                    path,
                    json:
                        #"{"updateType":"SHIPMENT_STATUS_CHANGE","updates":{"status":"DELIVERED","subStatus":"OUT_FOR_DELIVERY"}}"#
                )
            )
            try live.expectStatus(
                400,
                try await live.call(.PATCH, path, json: #"{"updateType":"SHIPMENT_STATUS_CHANGE"}"#)
            )

            let open = try await live.shipment(at: "PICKUP_SLOT_RETRIEVED")
            let openPath = "/externalFulfillment/2024-09-11/shipments/\(open)"
            let before = try await live.shipment(open)
            try live.expectStatus(
                204,
                try await live.call(.PATCH, openPath, json: #"{"updateType":"INVOICE_AVAILABILITY_CHANGE"}"#)
            )
            let available = try await live.shipment(open)
            #expect(available.shipmentRequirements.invoice.status == "AVAILABLE")
            #expect(available.invoiceInfo != nil)
            #expect(available.lastUpdatedDateTime > before.lastUpdatedDateTime)
            try live.expectStatus(200, try await live.call(.GET, "\(openPath)/invoice"))
            try live.expectStatus(
                204,
                try await live.call(
                    .PATCH,
                    openPath,
                    json: #"{"updateType":"TRANSPORT_CAPACITY_CHANGE","updates":{"timestamp":"2030-01-02T10:00:00Z"}}"#
                )
            )
            #expect(
                try await live.shipment(open).shippingInfo.expectedShippingDateTimeInUTC == "2030-01-02T10:00:00.000Z"
            )
            try live.expectStatus(
                400,
                try await live.call(
                    .PATCH,
                    openPath,
                    json: #"{"updateType":"TRANSPORT_CAPACITY_CHANGE","updates":{"timestamp":"tomorrow"}}"#
                )
            )
        }
    }

    @Test("unknown ids answer 404 NotFound; another seller's shipment answers 403")
    func unknownAndForeign() async throws {
        try await LiveSimulator.run { live in
            let missing = try await live.call(.GET, "/externalFulfillment/2024-09-11/shipments/NOSUCHID")
            try live.expectStatus(404, missing)
            #expect(missing.firstErrorCode == "NotFound")
            let id = try await live.shipment(at: "ACCEPTED")
            let other = try await live.accessToken(for: "A2OTHERSELLER")
            let foreign = try await live.call(.GET, "/externalFulfillment/2024-09-11/shipments/\(id)", token: other)
            try live.expectStatus(403, foreign)
            try live.expectStatus(
                404,
                try await live.call(
                    .GET,
                    "/externalFulfillment/2024-09-11/shipments/\(id)/shippingOptions?packageId=P1"
                )
            )
        }
    }
}
