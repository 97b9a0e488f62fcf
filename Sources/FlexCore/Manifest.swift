import Foundation

/// Labelled orders of one location and carrier, handed over together: the carrier signs the printed manifest.
public struct Manifest: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, Codable {
        case open
        case handedOver = "handed_over"
    }

    public struct Entry: Sendable, Hashable {
        public struct Package: Sendable, Hashable {
            public var packageID: PackageID
            public var trackingID: String?
            public init(packageID: PackageID, trackingID: String?) {
                self.packageID = packageID
                self.trackingID = trackingID
            }
        }
        public var shipmentID: ShipmentID
        public var state: FulfilmentState
        public var packages: [Package]
        public init(shipmentID: ShipmentID, state: FulfilmentState, packages: [Package]) {
            self.shipmentID = shipmentID
            self.state = state
            self.packages = packages
        }
    }

    /// Amazon's limit of orders in one manifest, which the seeds keep.
    public static let maximumOrders = 100

    public var id: ManifestID
    public var connectionID: ConnectionID
    public var locationID: LocationID
    public var carrierName: String
    public var status: Status
    public var createdAt: Date
    public var handedOverAt: Date?
    public var entries: [Entry]
    /// The Idempotency-Key it was created with, if any.
    public var idempotencyKey: String?
    /// Who made it and who handed it over (nil for manifests made before it was recorded).
    public var createdBy: String?
    public var handedOverBy: String?

    public init(
        id: ManifestID,
        connectionID: ConnectionID,
        locationID: LocationID,
        carrierName: String,
        status: Status,
        createdAt: Date,
        handedOverAt: Date?,
        entries: [Entry],
        idempotencyKey: String? = nil,
        createdBy: String? = nil,
        handedOverBy: String? = nil
    ) {
        self.idempotencyKey = idempotencyKey
        self.createdBy = createdBy
        self.handedOverBy = handedOverBy
        self.id = id
        self.connectionID = connectionID
        self.locationID = locationID
        self.carrierName = carrierName
        self.status = status
        self.createdAt = createdAt
        self.handedOverAt = handedOverAt
        self.entries = entries
    }

    /// The manifest as the carrier signs it: every order with its packages and tracking ids, counts, and
    /// signature lines for the warehouse and the carrier.
    public func pdf() -> Data {
        let time = Date.ISO8601FormatStyle(timeZone: .gmt).format(createdAt)
        var lines: [PDFText.Line] = [
            .init("Manifest \(id)", size: 14),
            .init("Carrier: \(carrierName)    Location: \(locationID.rawValue)"),
            .init(
                "Created: \(time)    Orders: \(entries.count)    Packages: \(entries.reduce(0) { $0 + $1.packages.count })"
            ),
            .init(""),
            .init(Self.columns("#", "Shipment", "Package", "Tracking id"), monospaced: true),
        ]
        for (index, entry) in entries.enumerated() {
            for (packageIndex, package) in entry.packages.enumerated() {
                let number = packageIndex == 0 ? "\(index + 1)" : ""
                let shipment = packageIndex == 0 ? entry.shipmentID : ""
                lines.append(
                    .init(
                        Self.columns(number, shipment.rawValue, package.packageID.rawValue, package.trackingID ?? "-"),
                        monospaced: true
                    )
                )
            }
        }
        lines += [
            .init(""), .init(""),
            .init("Handed over by (warehouse): ______________________  Date/time: ______________"),
            .init(""),
            .init("Received by (\(carrierName)): ______________________  Packages received: ______"),
        ]
        return PDFText(lines: lines).render()
    }

    static func columns(_ number: String, _ shipment: String, _ package: String, _ tracking: String) -> String {
        func pad(_ text: String, _ width: Int) -> String {
            text + String(repeating: " ", count: max(1, width - text.count))
        }
        return pad(number, 5) + pad(shipment, 23) + pad(package, 15) + tracking
    }
}

/// A plain, valid PDF of text lines on as many A4 pages as they need, in Helvetica and Courier: enough for a
/// manifest that any PDF reader prints and whose text tools can extract.
public struct PDFText: Sendable {
    public struct Line: Sendable {
        public var text: String
        public var size: Int
        public var monospaced: Bool
        public init(_ text: String, size: Int = 10, monospaced: Bool = false) {
            self.text = text
            self.size = size
            self.monospaced = monospaced
        }
    }

    public var lines: [Line]
    static let width = 595
    static let height = 842
    static let linesPerPage = 52

    public init(lines: [Line]) {
        self.lines = lines
    }

    public func render() -> Data {
        let pages = stride(from: 0, to: max(lines.count, 1), by: Self.linesPerPage).map {
            Array(lines[$0..<min($0 + Self.linesPerPage, lines.count)])
        }
        // Objects: 1 catalog, 2 pages, 3 Helvetica, 4 Courier, then a page and its content per page.
        var objects = [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [\((0..<pages.count).map { "\(5 + 2 * $0) 0 R" }.joined(separator: " "))] /Count \(pages.count) >>",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Courier >>",
        ]
        for (number, page) in pages.enumerated() {
            var content = "BT 14 TL 40 \(Self.height - 50) Td\n"
            for line in page {
                content += "/\(line.monospaced ? "F2" : "F1") \(line.size) Tf (\(Self.escape(line.text))) Tj T*\n"
            }
            content += "/F1 8 Tf T* (Page \(number + 1) of \(pages.count)) Tj\nET"
            objects.append(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 \(Self.width) \(Self.height)] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents \(6 + 2 * number) 0 R >>"
            )
            objects.append("<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream")
        }
        var output = "%PDF-1.4\n"
        var offsets: [Int] = []
        for (index, object) in objects.enumerated() {
            offsets.append(output.utf8.count)
            output += "\(index + 1) 0 obj\n\(object)\nendobj\n"
        }
        let xref = output.utf8.count
        output += "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for offset in offsets {
            output += String(repeating: "0", count: 10 - String(offset).count) + "\(offset) 00000 n \n"
        }
        output += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return Data(output.utf8)
    }

    /// Escapes PDF string delimiters and keeps to ASCII, which the standard fonts' encoding can show.
    static func escape(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": result += "\\\\"
            case "(": result += "\\("
            case ")": result += "\\)"
            case _ where scalar.isASCII && scalar.value >= 32: result.unicodeScalars.append(scalar)
            default: result += "?"
            }
        }
        return result
    }
}

/// What goes into a new manifest, and whether a repeated request is the one made before: decided here, carried out
/// by the store.
public enum ManifestRules {
    /// A labelled order of the location outside every manifest, oldest first, with its label's carrier.
    public struct Candidate: Sendable, Hashable {
        public var shipmentID: ShipmentID
        public var carrier: String

        public init(shipmentID: ShipmentID, carrier: String) {
            self.shipmentID = shipmentID
            self.carrier = carrier
        }
    }

    /// A manifest that cannot be made now: nothing fits (a conflict with the state, not a bad request).
    public struct NothingToManifest: Error, Sendable, Hashable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The carrier and orders of a new manifest: the orders named (each must be a candidate, all of one carrier), or
    /// every candidate of the carrier — the one named, else the oldest candidate's — up to ``Manifest/maximumOrders``.
    public static func choose(
        from candidates: [Candidate],
        named: [ShipmentID]?,
        carrierName: String?,
        locationID: LocationID
    ) throws -> (carrier: String, orders: [ShipmentID]) {
        var eligible = candidates
        if let named {
            guard named.count <= Manifest.maximumOrders else {
                throw ValidationError(
                    field: "shipmentIds",
                    reason: "must name at most \(Manifest.maximumOrders) orders, got \(named.count)"
                )
            }
            for (index, id) in named.enumerated() where !eligible.contains(where: { $0.shipmentID == id }) {
                throw ValidationError(
                    field: "shipmentIds[\(index)]",
                    reason:
                        "names \(id), which is not a labelled order of location \(locationID) outside every manifest"
                )
            }
            eligible = eligible.filter { named.contains($0.shipmentID) }
        }
        guard let carrier = carrierName ?? eligible.first?.carrier else {
            throw NothingToManifest(message: "Location \(locationID) has no labelled order outside a manifest.")
        }
        if named != nil, let other = eligible.first(where: { $0.carrier != carrier }) {
            throw ValidationError(
                field: "shipmentIds",
                reason: "mix carriers: \(other.shipmentID) goes with \(other.carrier), not \(carrier)"
            )
        }
        let chosen = eligible.filter { $0.carrier == carrier }.prefix(Manifest.maximumOrders).map(\.shipmentID)
        guard !chosen.isEmpty else {
            throw NothingToManifest(
                message: "Location \(locationID) has no labelled \(carrier) order outside a manifest."
            )
        }
        return (carrier, Array(chosen))
    }

    /// Whether a request under an idempotency key used before asks for what the earlier manifest was made of: the same
    /// location, and the same carrier and orders where it names them.
    public static func isRepeat(
        of earlier: Manifest,
        locationID: LocationID,
        carrierName: String?,
        shipmentIDs: [ShipmentID]?
    ) -> Bool {
        let sameOrders = shipmentIDs.map { Set($0) == Set(earlier.entries.map(\.shipmentID)) } ?? true
        return earlier.locationID == locationID && (carrierName.map { $0 == earlier.carrierName } ?? true) && sameOrders
    }
}
