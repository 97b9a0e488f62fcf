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
                throw CSVError(line: line, column: fields.count + 1, reason: "a quote inside an unquoted field; quote the whole field and double the quote")
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
            throw CSVError(line: quotedFieldStartLine, column: fields.count + 1, reason: "a quoted field is never closed")
        }
        if !field.isEmpty || !fields.isEmpty || fieldWasQuoted { endRecord() }
        guard let header = records.first else { throw CSVError(line: 1, column: 1, reason: "the file is empty; it needs a header line") }
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
                line: 1, column: 1,
                reason: "the header lacks the column\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")); it has \(columns.joined(separator: ", "))")
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

extension CSVTable {
    /// Reads listings in the seeds' format: clientSkuId (the WMS's SKU), channelSerialNo (the ASIN, mandatory),
    /// channelSkuId (the merchant SKU) and marketplace (an Amazon marketplace id; may be left empty when the
    /// connection has one marketplace). Every bad row is reported; one bad row refuses the file.
    public func listings(for connection: Connection) throws(CSVErrors) -> [Listing] {
        let index: [String: Int]
        do {
            index = try indices(of: ["clientSkuId", "channelSerialNo", "channelSkuId", "marketplace"], optional: ["marketplace"])
        } catch {
            throw CSVErrors([error])
        }
        var listings: [Listing] = []
        var errors: [CSVError] = []
        var seen: [String: Int] = [:]
        let now = Date()
        for record in records {
            func value(_ name: String) -> String {
                guard let column = index[name], column < record.fields.count else { return "" }
                return record.fields[column].trimmingCharacters(in: .whitespaces)
            }
            if record.fields.count != columns.count {
                errors.append(CSVError(line: record.line, column: min(record.fields.count, columns.count) + 1, reason: "has \(record.fields.count) fields; the header has \(columns.count)"))
                continue
            }
            var marketplace = value("marketplace")
            if marketplace.isEmpty {
                guard connection.marketplaceIDs.count == 1 else {
                    errors.append(
                        CSVError(
                            line: record.line, column: (index["marketplace"] ?? columns.count) + 1, columnName: "marketplace",
                            reason: "must name the marketplace: the connection sells in \(connection.marketplaceIDs.map(\.rawValue).joined(separator: ", "))"))
                    continue
                }
                marketplace = connection.marketplaceIDs[0].rawValue
            } else if !connection.marketplaceIDs.map(\.rawValue).contains(marketplace) {
                errors.append(
                    CSVError(
                        line: record.line, column: index["marketplace"]! + 1, columnName: "marketplace",
                        reason: "\"\(marketplace)\" is not a marketplace of the connection (\(connection.marketplaceIDs.map(\.rawValue).joined(separator: ", ")))"))
                continue
            }
            let listing = Listing(
                connectionID: connection.id, marketplaceID: MarketplaceID(rawValue: marketplace),
                warehouseSKU: WarehouseSKU(rawValue: value("clientSkuId")), merchantSKU: MerchantSKU(rawValue: value("channelSkuId")),
                asin: ASIN(rawValue: value("channelSerialNo").uppercased()), updatedAt: now)
            do {
                try listing.validate()
            } catch {
                errors.append(CSVError(line: record.line, column: (index[error.field] ?? 0) + 1, columnName: error.field, reason: error.reason))
                continue
            }
            let key = "\(marketplace)\u{1F}\(listing.merchantSKU.rawValue)"
            if let first = seen[key] {
                errors.append(
                    CSVError(
                        line: record.line, column: index["channelSkuId"]! + 1, columnName: "channelSkuId",
                        reason: "merchant SKU \"\(listing.merchantSKU)\" is listed already on line \(first) for this marketplace"))
                continue
            }
            seen[key] = record.line
            listings.append(listing)
        }
        if !errors.isEmpty { throw CSVErrors(errors) }
        return listings
    }

    /// Reads stock levels: hub, sku (the WMS's SKU) and quantity (absolute, 0 or more). Every bad row is reported;
    /// one bad row refuses the file.
    public func stockLevels() throws(CSVErrors) -> [StockLevel] {
        let index: [String: Int]
        do {
            index = try indices(of: ["hub", "sku", "quantity"])
        } catch {
            throw CSVErrors([error])
        }
        var levels: [StockLevel] = []
        var errors: [CSVError] = []
        for record in records {
            func value(_ name: String) -> String {
                guard let column = index[name], column < record.fields.count else { return "" }
                return record.fields[column].trimmingCharacters(in: .whitespaces)
            }
            if record.fields.count != columns.count {
                errors.append(CSVError(line: record.line, column: min(record.fields.count, columns.count) + 1, reason: "has \(record.fields.count) fields; the header has \(columns.count)"))
                continue
            }
            guard let quantity = Int(value("quantity")) else {
                errors.append(
                    CSVError(line: record.line, column: index["quantity"]! + 1, columnName: "quantity", reason: "must be a whole number, got \"\(value("quantity"))\""))
                continue
            }
            let level = StockLevel(hub: HubCode(rawValue: value("hub")), warehouseSKU: WarehouseSKU(rawValue: value("sku")), quantity: quantity)
            do {
                try level.validate()
            } catch {
                errors.append(CSVError(line: record.line, column: (index[error.field] ?? 0) + 1, columnName: error.field, reason: error.reason))
                continue
            }
            levels.append(level)
        }
        if !errors.isEmpty { throw CSVErrors(errors) }
        return levels
    }

    /// Reads another connector's last sequence numbers: locationId, sku (the merchant SKU), channel (MFN, FBA or
    /// DF) and sequenceNumber (a whole number, 0 or more). Every bad row is reported; one bad row refuses the file.
    public func sequenceNumbers(for connectionID: ConnectionID) throws(CSVErrors) -> [(InventoryKey, Int64)] {
        let index: [String: Int]
        do {
            index = try indices(of: ["locationId", "sku", "channel", "sequenceNumber"])
        } catch {
            throw CSVErrors([error])
        }
        var result: [(InventoryKey, Int64)] = []
        var errors: [CSVError] = []
        for record in records {
            func value(_ name: String) -> String {
                guard let column = index[name], column < record.fields.count else { return "" }
                return record.fields[column].trimmingCharacters(in: .whitespaces)
            }
            func fail(_ name: String, _ reason: String) {
                errors.append(CSVError(line: record.line, column: index[name]! + 1, columnName: name, reason: reason))
            }
            if value("locationId").isEmpty { fail("locationId", "must not be empty"); continue }
            if value("sku").isEmpty { fail("sku", "must not be empty"); continue }
            guard let channel = ChannelName(rawValue: value("channel").uppercased()) else {
                fail("channel", "must be MFN, FBA or DF, got \"\(value("channel"))\""); continue
            }
            guard let number = Int64(value("sequenceNumber")), number >= 0 else {
                fail("sequenceNumber", "must be a whole number, 0 or more, got \"\(value("sequenceNumber"))\""); continue
            }
            let key = InventoryKey(
                connectionID: connectionID, locationID: LocationID(rawValue: value("locationId")),
                merchantSKU: MerchantSKU(rawValue: value("sku")), channel: channel)
            result.append((key, number))
        }
        if !errors.isEmpty { throw CSVErrors(errors) }
        return result
    }
}
