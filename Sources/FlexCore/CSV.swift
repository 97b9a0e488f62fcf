import Foundation

/// A CSV file read by its header (RFC 4180: comma-separated, fields quoted with `"` where they hold commas, quotes
/// or line breaks, `""` for a quote inside quotes), keeping each record's line number for error messages.
///
/// FlexBridge reads its own small parser rather than a library because every refusal must name the line and column
/// of the file, and quoted fields may span lines.
public struct CSVTable: Sendable {
    public struct Record: Sendable {
        /// The line of the file the record starts on, counting from 1 (the header is line 1).
        public var line: Int
        public var fields: [String]
    }

    /// The header's column names, trimmed.
    public var columns: [String]
    public var records: [Record]

    /// Reads `text`; a byte-order mark and blank lines are skipped; line ends may be `\n` or `\r\n`.
    /// Parses a file's bytes, which must be UTF-8: a file saved as Latin-1 or Windows-1252 would otherwise turn
    /// its SKUs into other SKUs. Refused with the line and column of the first byte that is not UTF-8.
    public init(utf8 bytes: some Collection<UInt8>) throws(CSVError) {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            var line = 1
            var column = 1
            var offset = 0
            var iterator = bytes.makeIterator()
            var decoder = UTF8()
            decoding: while true {
                switch decoder.decode(&iterator) {
                case .scalarValue(let scalar):
                    offset += UTF8.width(scalar)
                    if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
                case .emptyInput, .error:
                    break decoding
                }
            }
            throw CSVError(
                line: line,
                column: column,
                reason:
                    "the file is not UTF-8 text (byte \(offset + 1) is not); save it as UTF-8 (CSV UTF-8 in spreadsheet programs)"
            )
        }
        try self.init(parsing: text)
    }

    public init(parsing text: String) throws(CSVError) {
        var records: [Record] = []
        var fields: [String] = []
        var field = ""
        var line = 1
        var recordLine = 1
        var inQuotes = false
        var quotedFieldStartLine = 0
        var fieldWasQuoted = false
        var scalars = text.unicodeScalars[...]
        if scalars.first == "\u{FEFF}" { scalars = scalars.dropFirst() }
        func endRecord() {
            fields.append(field)
            if !(fields.count == 1 && fields[0].isEmpty && !fieldWasQuoted) {
                records.append(Record(line: recordLine, fields: fields))
            }
            fields = []
            field = ""
            fieldWasQuoted = false
        }
        var iterator = scalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        while let scalar = pending ?? iterator.next() {
            pending = nil
            if inQuotes {
                if scalar == "\"" {
                    let next = iterator.next()
                    if next == "\"" {
                        field.unicodeScalars.append("\"")
                    } else {
                        inQuotes = false
                        pending = next
                    }
                } else {
                    if scalar == "\n" { line += 1 }
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"" where field.isEmpty && !fieldWasQuoted:
                inQuotes = true
                fieldWasQuoted = true
                quotedFieldStartLine = line
            case "\"":
                throw CSVError(
                    line: line,
                    column: fields.count + 1,
                    reason: "a quote inside an unquoted field; quote the whole field and double the quote"
                )
            case ",":
                fields.append(field)
                field = ""
                fieldWasQuoted = false
            case "\r":
                let next = iterator.next()
                if next != "\n" { pending = next }
                endRecord()
                line += 1
                recordLine = line
            case "\n":
                endRecord()
                line += 1
                recordLine = line
            default:
                if fieldWasQuoted {
                    throw CSVError(line: line, column: fields.count + 1, reason: "text after a closing quote")
                }
                field.unicodeScalars.append(scalar)
            }
        }
        if inQuotes {
            throw CSVError(
                line: quotedFieldStartLine,
                column: fields.count + 1,
                reason: "a quoted field is never closed"
            )
        }
        if !field.isEmpty || !fields.isEmpty || fieldWasQuoted { endRecord() }
        guard let header = records.first else {
            throw CSVError(line: 1, column: 1, reason: "the file is empty; it needs a header line")
        }
        columns = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        self.records = Array(records.dropFirst())
    }

    /// A table made in memory (a JSON list read as CSV rows): row `i` counts as line `i + 2`, below a header line.
    public init(columns: [String], rows: [[String]]) {
        self.columns = columns
        records = rows.enumerated().map { Record(line: $0.offset + 2, fields: $0.element) }
    }

    /// The index of each of `names` among the columns (case-insensitive), or an error naming the missing ones.
    public func indices(of names: [String], optional: Set<String> = []) throws(CSVError) -> [String: Int] {
        var result: [String: Int] = [:]
        let lowered = columns.map { $0.lowercased() }
        var missing: [String] = []
        for name in names {
            if let index = lowered.firstIndex(of: name.lowercased()) {
                result[name] = index
            } else if !optional.contains(name) {
                missing.append(name)
            }
        }
        if !missing.isEmpty {
            throw CSVError(
                line: 1,
                column: 1,
                reason:
                    "the header lacks the column\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")); it has \(columns.joined(separator: ", "))"
            )
        }
        return result
    }
}

/// Why a CSV file, or one of its rows, was refused: the line and column (both from 1) and the reason.
public struct CSVError: Error, Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    /// The column's name, when the header gave one.
    public var columnName: String?
    public var reason: String

    public init(line: Int, column: Int, columnName: String? = nil, reason: String) {
        self.line = line
        self.column = column
        self.columnName = columnName
        self.reason = reason
    }

    public var description: String {
        "line \(line), column \(column)\(columnName.map { " (\($0))" } ?? ""): \(reason)"
    }
}

/// Every bad row of a file, so that the person fixing it sees all of them at once. Nothing of the file was kept.
public struct CSVErrors: Error, Sendable, Hashable, CustomStringConvertible {
    public var errors: [CSVError]

    public init(_ errors: [CSVError]) {
        self.errors = errors
    }

    public var description: String {
        let shown = errors.prefix(20).map(\.description).joined(separator: "\n")
        let more = errors.count > 20 ? "\n… and \(errors.count - 20) more" : ""
        return "\(errors.count) bad row\(errors.count == 1 ? "" : "s"); nothing was imported:\n\(shown)\(more)"
    }
}

/// One record of a CSV file as a reader sees it: its fields by column name, and refusals that name the column.
public struct CSVRow: Sendable {
    public let line: Int
    let fields: [String]
    let index: [String: Int]

    /// The field of a column, trimmed; empty when the column is absent.
    public func value(_ name: String) -> String {
        guard let column = index[name], column < fields.count else { return "" }
        return fields[column].trimmingCharacters(in: .whitespaces)
    }

    /// A refusal of this row at a column.
    public func error(_ name: String, _ reason: String) -> CSVError {
        CSVError(line: line, column: (index[name] ?? index.count) + 1, columnName: name, reason: reason)
    }
}

extension CSVTable {
    /// Reads every record with `read`, after checking that the header has the `required` columns and that each
    /// record has as many fields as the header. Every refused record is reported; one refusal refuses the file.
    public func readRows<T>(
        required: [String],
        optional: Set<String> = [],
        _ read: (CSVRow) throws(CSVError) -> T
    ) throws(CSVErrors) -> [T] {
        let index: [String: Int]
        do {
            index = try indices(of: required, optional: optional)
        } catch {
            throw CSVErrors([error])
        }
        var values: [T] = []
        var errors: [CSVError] = []
        for record in records {
            guard record.fields.count == columns.count else {
                errors.append(
                    CSVError(
                        line: record.line,
                        column: min(record.fields.count, columns.count) + 1,
                        reason: "has \(record.fields.count) fields; the header has \(columns.count)"
                    )
                )
                continue
            }
            do {
                values.append(try read(CSVRow(line: record.line, fields: record.fields, index: index)))
            } catch {
                errors.append(error)
            }
        }
        if !errors.isEmpty { throw CSVErrors(errors) }
        return values
    }

    /// Reads listings in the seeds' format: clientSkuId (the WMS's SKU), channelSerialNo (the ASIN, mandatory),
    /// channelSkuId (the merchant SKU; empty when FlexBridge is to find it by the ASIN) and marketplace (an Amazon marketplace id; may be left empty when the
    /// connection has one marketplace). Every bad row is reported; one bad row refuses the file.
    public func listings(for connection: Connection) throws(CSVErrors) -> [Listing] {
        let marketplaces = connection.marketplaceIDs.map(\.rawValue)
        var seen: [String: Int] = [:]
        let now = Date()
        return try readRows(
            required: ["clientSkuId", "channelSerialNo", "channelSkuId", "marketplace", "fulfilledBy"],
            optional: ["marketplace", "fulfilledBy"]
        ) {
            row throws(CSVError) in
            var marketplace = row.value("marketplace")
            if marketplace.isEmpty {
                guard marketplaces.count == 1 else {
                    throw row.error(
                        "marketplace",
                        "must name the marketplace: the connection sells in \(marketplaces.joined(separator: ", "))"
                    )
                }
                marketplace = marketplaces[0]
            } else if !marketplaces.contains(marketplace) {
                throw row.error(
                    "marketplace",
                    "\"\(marketplace)\" is not a marketplace of the connection (\(marketplaces.joined(separator: ", ")))"
                )
            }
            let fulfilment = row.value("fulfilledBy").uppercased()
            guard let fulfilledBy = fulfilment.isEmpty ? .amazon : Listing.FulfilledBy(rawValue: fulfilment) else {
                throw row.error("fulfilledBy", "must be AMAZON or MERCHANT, got \"\(row.value("fulfilledBy"))\"")
            }
            let listing = Listing(
                connectionID: connection.id,
                marketplaceID: MarketplaceID(rawValue: marketplace),
                warehouseSKU: WarehouseSKU(rawValue: row.value("clientSkuId")),
                merchantSKU: MerchantSKU(rawValue: row.value("channelSkuId")),
                asin: ASIN(rawValue: row.value("channelSerialNo").uppercased()),
                updatedAt: now,
                fulfilledBy: fulfilledBy
            )
            do throws(ValidationError) {
                try listing.validate(allowingMissingSKU: true)
            } catch {
                throw row.error(error.field, error.reason)
            }
            let key =
                listing.awaitsSKU
                ? "\(marketplace)\u{1F}asin\u{1F}\(listing.asin.rawValue)"
                : "\(marketplace)\u{1F}\(listing.merchantSKU.rawValue)"
            if let first = seen[key] {
                throw listing.awaitsSKU
                    ? row.error(
                        "channelSerialNo",
                        "ASIN \(listing.asin) without a merchant SKU is listed already on line \(first) for this marketplace"
                    )
                    : row.error(
                        "channelSkuId",
                        "merchant SKU \"\(listing.merchantSKU)\" is listed already on line \(first) for this marketplace"
                    )
            }
            seen[key] = row.line
            return listing
        }
    }

    /// Reads stock levels: hub, sku (the WMS's SKU) and quantity (absolute, 0 or more). Every bad row is reported;
    /// one bad row refuses the file.
    public func stockLevels() throws(CSVErrors) -> [StockLevel] {
        try readRows(required: ["hub", "sku", "quantity"]) { row throws(CSVError) in
            guard let quantity = Int(row.value("quantity")) else {
                throw row.error("quantity", "must be a whole number, got \"\(row.value("quantity"))\"")
            }
            let level = StockLevel(
                hub: HubCode(rawValue: row.value("hub")),
                warehouseSKU: WarehouseSKU(rawValue: row.value("sku")),
                quantity: quantity
            )
            do throws(ValidationError) {
                try level.validate()
            } catch {
                throw row.error(error.field, error.reason)
            }
            return level
        }
    }

    /// Reads another connector's last sequence numbers: locationId, sku (the merchant SKU), channel (MFN, FBA or
    /// DF) and sequenceNumber (a whole number, 0 or more). Every bad row is reported; one bad row refuses the file.
    public func sequenceNumbers(for connectionID: ConnectionID) throws(CSVErrors) -> [(InventoryKey, Int64)] {
        try readRows(required: ["locationId", "sku", "channel", "sequenceNumber"]) { row throws(CSVError) in
            if row.value("locationId").isEmpty { throw row.error("locationId", "must not be empty") }
            if row.value("sku").isEmpty { throw row.error("sku", "must not be empty") }
            guard let channel = ChannelName(rawValue: row.value("channel").uppercased()) else {
                throw row.error("channel", "must be MFN, FBA or DF, got \"\(row.value("channel"))\"")
            }
            guard let number = Int64(row.value("sequenceNumber")),
                (0...InventoryRules.maximumImportedSequenceNumber).contains(number)
            else {
                throw row.error(
                    "sequenceNumber",
                    "must be a whole number from 0 to \(InventoryRules.maximumImportedSequenceNumber), got \"\(row.value("sequenceNumber"))\""
                )
            }
            let key = InventoryKey(
                connectionID: connectionID,
                locationID: LocationID(rawValue: row.value("locationId")),
                merchantSKU: MerchantSKU(rawValue: row.value("sku")),
                channel: channel
            )
            return (key, number)
        }
    }
}
