import AmazonEFShipments
import FlexCore
import Foundation

/// Amazon's External Fulfillment shipments API as the order worker needs it, in FlexCore's words.
public protocol ExternalFulfillmentShipments: Sendable {
    /// One page of the shipments in `status` changed after `updatedAfter` (any time when nil), at a location or at
    /// all of them.
    func shipments(
        status: ShipmentStatus,
        locationID: String?,
        updatedAfter: Date?,
        pageSize: Int,
        pageToken: String?
    ) async throws -> ShipmentPage
    /// The shipment as Amazon holds it now.
    func shipment(_ id: ShipmentID) async throws -> AmazonShipment

    /// Confirms the order (processShipment CONFIRM).
    func confirm(_ shipmentID: ShipmentID) async throws
    /// Rejects the given lines (their units as Amazon holds them) for `reason` (processShipment REJECT).
    func reject(_ shipmentID: ShipmentID, lines: [(id: String, quantity: Int?)], reason: String) async throws
    func createPackages(_ shipmentID: ShipmentID, _ packages: [PackageSpec]) async throws
    func updatePackage(_ shipmentID: ShipmentID, _ package: PackageSpec) async throws
    func shippingOptions(_ shipmentID: ShipmentID, packageID: PackageID) async throws -> ShippingOptions
    /// Generates the invoice; nil when Amazon's answer holds no readable file.
    func generateInvoice(_ shipmentID: ShipmentID) async throws -> AmazonFile?
    /// The invoice Amazon holds; nil when Amazon's answer holds no readable file.
    func retrieveInvoice(_ shipmentID: ShipmentID) async throws -> AmazonFile?
    /// Generates the packages' labels, or issues them again (`regenerate`).
    func generateLabels(
        _ shipmentID: ShipmentID,
        packageIDs: [PackageID],
        shippingOptionID: String?,
        regenerate: Bool,
        courier: Courier?
    ) async throws -> [PackageLabel]
    /// Marks the package handed over to the carrier (updatePackageStatus SHIPPED).
    func handOver(_ shipmentID: ShipmentID, packageID: PackageID) async throws
    /// Downloads a file Amazon points to (a label).
    func download(_ url: String) async throws -> AmazonFile
}

extension SellingPartnerClient: ExternalFulfillmentShipments {
    public func shipments(
        status: ShipmentStatus,
        locationID: String?,
        updatedAfter: Date?,
        pageSize: Int,
        pageToken: String?
    ) async throws -> ShipmentPage {
        guard let status = Operations.GetShipments.Input.Query.StatusPayload(rawValue: status.rawValue) else {
            throw UnreadableShipment(shipmentID: "-", field: "status \(status.rawValue) is not one Amazon lists by")
        }
        let page = try await shipments.getShipments(
            query: .init(
                locationId: locationID,
                status: status,
                lastUpdatedAfter: updatedAfter,
                maxResults: pageSize,
                paginationToken: pageToken
            )
        ).ok.body.json
        return ShipmentPage(
            shipments: try (page.shipments ?? []).map(AmazonShipment.init),
            nextToken: page.pagination?.nextToken
        )
    }

    public func shipment(_ id: ShipmentID) async throws -> AmazonShipment {
        try AmazonShipment(try await shipments.getShipment(path: .init(shipmentId: id.rawValue)).ok.body.json)
    }

    public func confirm(_ shipmentID: ShipmentID) async throws {
        _ = try await shipments.processShipment(
            path: .init(shipmentId: shipmentID.rawValue),
            query: .init(operation: .confirm)
        )
        .noContent
    }

    /// Rejects the lines for `reason`, as the command gave it (`CommandRequest`'s validation held it to Amazon's list).
    public func reject(_ shipmentID: ShipmentID, lines: [(id: String, quantity: Int?)], reason: String) async throws {
        let body = EF.ShipmentAcknowledgementRequest(
            lineItems: lines.map {
                EF.LineItemWithReason(lineItem: .init(id: $0.id, quantity: $0.quantity), reason: reason)
            }
        )
        _ = try await shipments.processShipment(
            path: .init(shipmentId: shipmentID.rawValue),
            query: .init(operation: .reject),
            body: .json(body)
        ).noContent
    }

    public func createPackages(_ shipmentID: ShipmentID, _ packages: [PackageSpec]) async throws {
        _ = try await shipments.createPackages(
            path: .init(shipmentId: shipmentID.rawValue),
            body: .json(.init(packages: packages.map(EF.Package.init)))
        ).noContent
    }

    public func updatePackage(_ shipmentID: ShipmentID, _ package: PackageSpec) async throws {
        _ = try await shipments.updatePackage(
            path: .init(shipmentId: shipmentID.rawValue, packageId: package.id.rawValue),
            body: .json(EF.Package(package))
        ).noContent
    }

    public func shippingOptions(_ shipmentID: ShipmentID, packageID: PackageID) async throws -> ShippingOptions {
        let answer = try await shipments.retrieveShippingOptions(
            path: .init(shipmentId: shipmentID.rawValue),
            query: .init(packageId: packageID.rawValue)
        ).ok.body.json
        return ShippingOptions(
            options: (answer.shippingOptions ?? []).map {
                ShippingOption(id: $0.shippingOptionId, carrierName: $0.carrierName, shipBy: $0.shipBy)
            },
            recommendedID: answer.recommendedShippingOption?.shippingOptionId
        )
    }

    public func generateInvoice(_ shipmentID: ShipmentID) async throws -> AmazonFile? {
        AmazonFile(
            try await shipments.generateInvoice(path: .init(shipmentId: shipmentID.rawValue)).ok.body.json.document
        )
    }

    public func retrieveInvoice(_ shipmentID: ShipmentID) async throws -> AmazonFile? {
        AmazonFile(
            try await shipments.retrieveInvoice(path: .init(shipmentId: shipmentID.rawValue)).ok.body.json.document
        )
    }

    public func generateLabels(
        _ shipmentID: ShipmentID,
        packageIDs: [PackageID],
        shippingOptionID: String?,
        regenerate: Bool,
        courier: Courier?
    ) async throws -> [PackageLabel] {
        let answer = try await shipments.generateShipLabels(
            path: .init(shipmentId: shipmentID.rawValue),
            query: .init(shippingOptionId: shippingOptionID, operation: regenerate ? .regenerate : .generate),
            body: .json(
                .init(
                    packageIds: packageIDs.map(\.rawValue),
                    courierSupportedAttributes: courier.map {
                        EF.CourierSupportedAttributes(carrierName: $0.carrierName, trackingId: $0.trackingID)
                    }
                )
            )
        ).ok.body.json
        return answer.packageShipLabelList.map { label in
            PackageLabel(
                packageID: label.packageId.map(PackageID.init(rawValue:)),
                url: label.fileData?.url,
                trackingID: label.shipLabelMetadata?.trackingId,
                carrierName: label.shipLabelMetadata?.carrierName,
                failed: label.status == "FAILURE",
                failure: label.errorDetails?.message
            )
        }
    }

    public func handOver(_ shipmentID: ShipmentID, packageID: PackageID) async throws {
        _ = try await shipments.updatePackageStatus(
            path: .init(shipmentId: shipmentID.rawValue, packageId: packageID.rawValue),
            query: .init(status: .shipped)
        ).noContent
    }
}

private typealias EF = Components.Schemas

extension AmazonFile {
    /// The file in Amazon's answer; nil when it holds no readable content.
    fileprivate init?(_ document: EF.Document) {
        guard let content = document.content, let data = Data(base64Encoded: content) else { return nil }
        let contentType =
            switch document.format {
            case "PDF": "application/pdf"
            case "PNG": "image/png"
            case "ZPL": "x.application/zpl"
            case "PLAIN_TEXT": "text/plain"
            default: "application/octet-stream"
            }
        self.init(contentType: contentType, data: data)
    }
}

extension EF.Package {
    /// Amazon's package for the one the WMS packed. Its units are as the WMS gave them, which `PackageSpec`'s
    /// validation held to Amazon's lists when the command was accepted; a unit changed here would be a wrong number.
    fileprivate init(_ spec: PackageSpec) {
        func dimension(_ value: Decimal) -> EF.Dimension {
            EF.Dimension(value: "\(value)", dimensionUnit: spec.dimensionUnit)
        }
        self.init(
            id: spec.id.rawValue,
            dimensions: .init(
                length: dimension(spec.length),
                width: dimension(spec.width),
                height: dimension(spec.height)
            ),
            weight: .init(value: "\(spec.weight)", weightUnit: spec.weightUnit),
            packageLineItems: spec.items.map { item in
                EF.PackageLineItem(
                    packageLineItemId: item.lineItemId,
                    quantity: item.quantity,
                    serialNumbers: item.serialNumbers,
                    countryOfOrigin: item.countryOfOrigin,
                    itemValue: item.itemValue.map { EF.Amount(value: $0.value, currencyCode: $0.currencyCode) }
                )
            },
            packageHandlingRequirements: spec.fragile == true ? "FRAGILE" : nil
        )
    }
}

/// A shipment of Amazon's whose dates cannot be read: it cannot be weighed against another copy, so it is not taken.
public struct UnreadableShipment: Error, CustomStringConvertible {
    public var shipmentID: String
    public var field: String
    public var description: String { "Amazon's shipment \(shipmentID) has an unreadable \(field)" }
}

extension AmazonShipment {
    /// The copy with a step Amazon accepted recorded on it (status, created packages, package statuses, the
    /// invoice), keeping Amazon's last `lastUpdatedDateTime` — or `stampedAs`'s, when given (a newer copy's time).
    public func recording(_ step: ImpliedStep, stampedAs newer: AmazonShipment? = nil) throws -> AmazonShipment {
        var shipment = try Self.typed.value(for: document)
        if let newer {
            shipment.lastUpdatedDateTime =
                try JSONDecoder().decode(EF.Shipment.self, from: Data(newer.document.utf8)).lastUpdatedDateTime
        }
        shipment.status = step.status.rawValue
        if let created = step.createdPackages {
            shipment.packages = created.map { spec in
                var package = EF.Package(spec)
                package.status = "CREATED"
                return package
            }
        }
        if let packageStatus = step.packageStatus {
            for index in (shipment.packages ?? []).indices { shipment.packages?[index].status = packageStatus.rawValue }
        }
        if step.invoiceAvailable { shipment.shipmentRequirements.invoice.status = "AVAILABLE" }
        return try AmazonShipment(shipment)
    }

    /// Amazon's documents as this process last made them from Amazon's typed shipment: each step a worker records
    /// starts from the copy the last one made, which is then not decoded again.
    private static let typed = DecodedCache<EF.Shipment>(capacity: 1024)

    /// FlexCore's view of Amazon's shipment document.
    public init(_ shipment: Components.Schemas.Shipment) throws {
        guard let created = Order.parseTimestamp(shipment.creationDateTime) else {
            throw UnreadableShipment(shipmentID: shipment.id, field: "creationDateTime")
        }
        guard let updated = Order.parseTimestamp(shipment.lastUpdatedDateTime) else {
            throw UnreadableShipment(shipmentID: shipment.id, field: "lastUpdatedDateTime")
        }
        self.init(
            id: ShipmentID(rawValue: shipment.id),
            locationID: LocationID(rawValue: shipment.locationId),
            marketplaceID: MarketplaceID(rawValue: shipment.marketplaceAttributes.marketplaceId),
            channel: shipment.marketplaceAttributes.channelName,
            program: Order.Program(
                channel: shipment.marketplaceAttributes.channelName,
                shippingType: shipment.shippingInfo.shippingType
            ),
            shipmentType: shipment.shipmentInfo.shipmentType,
            originalShipmentID: shipment.shipmentInfo.originalShipmentInfo.map { ShipmentID(rawValue: $0.id) },
            status: shipment.status,
            createdAt: created,
            updatedAt: updated,
            expectedShipAt: Order.parseTimestamp(shipment.shippingInfo.expectedShippingDateTimeInUTC),
            document: try JSONText.encode(shipment)
        )
        Self.typed.remember(shipment, for: document)
    }
}
