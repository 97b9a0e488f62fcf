import FlexCore
import Foundation

/// The ship form of a merchant-fulfilled (MFN) order: the units of each line in this package (every unit left,
/// prefilled), the carrier — the ship-method table's row for the order's service level, another of the table's WMS
/// carriers, or Amazon's carrier code typed in — the tracking id and the day the package left. What it sends is the
/// API's `ship` command, checked by the same rules.
extension Panel {
    /// The form's values for the template; nil when the order does not ship (no longer open at Amazon).
    static func merchantShipForm(
        _ facts: MerchantOrderFacts,
        table: [ShipMethodMapping],
        _ form: OrderForm
    ) -> [String: Any]? {
        guard facts.status == "UNSHIPPED" || facts.status == "PARTIALLY_SHIPPED" else { return nil }
        let byLevel = ShipMethodRules.mapping(for: facts.serviceLevel, marketplace: facts.marketplaceID, in: table)
        let chosen = form.values["carrier"] ?? ""
        var carriers: [[String: Any]] = [
            [
                "value": "", "selected": chosen.isEmpty,
                "text": byLevel.map { "By the service level: \(describe($0))" }
                    ?? "By the service level (\(facts.serviceLevel ?? "none") is not in the ship-method table)",
            ]
        ]
        var seen: Set<String> = []
        for row in table where row.marketplaceId == nil || row.marketplaceId == facts.marketplaceID {
            let value = carrierValue(row)
            guard seen.insert(value).inserted else { continue }
            carriers.append(["value": value, "selected": chosen == value, "text": describe(row)])
        }
        carriers.append(["value": "amazon", "selected": chosen == "amazon", "text": "Another carrier, named below"])
        func field(_ name: String) -> [String: Any] {
            ["name": name, "value": form.values[name] ?? "", "error": form.errors[name] ?? false]
        }
        return [
            "lines": facts.items.enumerated().compactMap { index, item -> [String: Any]? in
                let left = MerchantShipRules.remaining(item, in: facts)
                guard left > 0 else { return nil }
                let name = "i\(index).quantity"
                return [
                    "name": name, "value": form.values[name] ?? "\(left)", "left": left,
                    "text": "\(item.sellerSKU?.rawValue ?? item.asin ?? item.orderItemID) (line \(item.orderItemID))",
                    "error": form.errors[name] ?? false,
                ]
            },
            "carriers": carriers, "carrierError": form.errors["carrier"] ?? false,
            "carrierCode": field("carrierCode"), "carrierName": field("carrierName"),
            "shippingMethod": field("shippingMethod"), "trackingId": field("trackingId"),
            "shipDate": field("shipDate"), "error": form.errors["items"] ?? false,
        ]
    }

    /// A table row as the operator reads it: the WMS's carrier and method, and what Amazon is told.
    static func describe(_ row: ShipMethodMapping) -> String {
        let amazon = [row.carrierName ?? row.carrierCode, row.shippingMethod].compactMap { $0 }.joined(separator: " ")
        return "\(row.wmsCarrier) \(row.wmsMethod) (Amazon: \(amazon))"
    }

    /// The carrier select's value for a WMS carrier and method: both percent-encoded, so neither can be mistaken
    /// for the other whatever they contain.
    static func carrierValue(_ row: ShipMethodMapping) -> String {
        func encoded(_ text: String) -> String {
            text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        }
        return "wms:\(encoded(row.wmsCarrier)):\(encoded(row.wmsMethod))"
    }

    /// The `ship` command the form stands for, and the form field of each item it names (the API's
    /// `items[k]` is the k-th line given units, not the k-th line of the order). Every unit left of every line is
    /// sent as no items at all, so that the worker counts them on Amazon's own copy.
    static func merchantShipRequest(
        from form: [String: String],
        facts: MerchantOrderFacts,
        now: Date
    ) throws(ValidationError) -> (request: CommandRequest, itemFields: [String]) {
        var request = CommandRequest(type: .ship)
        var items: [MerchantShipRequest.Item] = []
        var fields: [String] = []
        var everything = true
        for (index, item) in facts.items.enumerated() {
            let left = MerchantShipRules.remaining(item, in: facts)
            guard left > 0 else { continue }
            let name = "i\(index).quantity"
            let text = (form[name] ?? "").trimmingCharacters(in: .whitespaces)
            guard text.count <= 9, let units = Int(text), units >= 0 else {
                throw ValidationError(field: name, reason: "must be a whole number from 0 to \(left), got \(text)")
            }
            if units != left { everything = false }
            if units > 0 {
                items.append(MerchantShipRequest.Item(lineItemId: item.orderItemID, quantity: units))
                fields.append(name)
            }
        }
        guard !items.isEmpty else {
            throw ValidationError(field: "items", reason: "must put at least one unit in the package")
        }
        request.items = everything ? nil : items
        func text(_ name: String) -> String? {
            let value = form[name]?.trimmingCharacters(in: .whitespaces) ?? ""
            return value.isEmpty ? nil : value
        }
        request.trackingId = text("trackingId")
        switch form["carrier"] ?? "" {
        case "":
            break
        case "amazon":
            request.carrierCode = text("carrierCode")
            request.carrierName = text("carrierName")
            request.shippingMethod = text("shippingMethod")
            if request.carrierCode == nil {
                throw ValidationError(
                    field: "carrierCode",
                    reason: "is required for another carrier: Amazon's code, or Other with the carrier's name"
                )
            }
        case let value:
            let parts = value.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == "wms", let carrier = parts[1].removingPercentEncoding,
                let method = parts[2].removingPercentEncoding
            else { throw ValidationError(field: "carrier", reason: "is not one of the carriers offered") }
            request.wmsCarrier = carrier
            request.wmsMethod = method
        }
        if let day = text("shipDate") {
            guard let start = ConnectionSettings.day(day) else {
                throw ValidationError(field: "shipDate", reason: "must be a day written YYYY-MM-DD, got \(day)")
            }
            // The day the package left: now when that is today, else noon of that day (a later day is refused as
            // the API refuses it).
            var utc = Calendar(identifier: .gregorian)
            utc.timeZone = TimeZone(identifier: "UTC") ?? .current
            if start != utc.startOfDay(for: now) { request.shipDate = start.addingTimeInterval(12 * 3600) }
        }
        return (request, fields)
    }

    /// The form field for an error of the `ship` command: its items by line, its carrier fields where the
    /// operator chose them.
    static func merchantShipField(_ field: String, itemFields: [String]) -> String {
        if let match = field.wholeMatch(of: /^items\[(\d+)\].*$/), let index = Int(match.1),
            itemFields.indices.contains(index)
        {
            return itemFields[index]
        }
        switch field {
        case "wmsCarrier", "wmsMethod": return "carrier"
        case "type": return "items"
        default: return field
        }
    }
}

/// The MFN part of a connection's settings form: the marketplaces whose merchant-fulfilled orders are pulled, the
/// earliest order day of the first download, the product code the WMS is given, and the ship-method table as text,
/// one row a line.
extension Panel {
    static let productCodes: [(ConnectionSettings.ProductCode, String)] = [
        (.merchantSku, "Merchant SKU"), (.asin, "ASIN"), (.wmsSku, "The WMS's SKU (through the listings)"),
    ]

    /// The form's values, from the settings or from what the operator typed.
    static func merchantSettingsForm(
        _ connection: Connection,
        entered: [String: String]?,
        errors: [String: String]
    ) -> [String: Any] {
        let settings = connection.settings
        let chosen = Set(settings.mfnMarketplaceIds ?? connection.marketplaceIDs)
        let code = entered.map { $0["productCode"] ?? "" } ?? settings.productCode.rawValue
        return [
            "marketplaces": connection.marketplaceIDs.map { marketplace -> [String: Any] in
                let name = "mfn.\(marketplace.rawValue)"
                return [
                    "name": name, "id": marketplace.rawValue,
                    "on": entered.map { $0[name] == "on" } ?? chosen.contains(marketplace),
                ]
            },
            "marketplacesError": errors["mfnMarketplaceIds"] ?? false,
            "earliest": entered?["mfnEarliestOrderDate"] ?? settings.mfnEarliestOrderDate ?? "",
            "earliestError": errors["mfnEarliestOrderDate"] ?? false,
            "productCodes": productCodes.map { value, text in
                ["value": value.rawValue, "text": text, "selected": value.rawValue == code] as [String: Any]
            },
            "shipMethods": entered?["shipMethods"] ?? shipMethodsText(settings.shipMethods),
            "shipMethodsError": errors["shipMethods"] ?? false,
        ]
    }

    /// The table as the form shows it: marketplace (* for any), service level, WMS carrier, WMS method, Amazon's
    /// carrier code, carrier name, shipping method — comma-separated, the last two optional.
    static func shipMethodsText(_ table: [ShipMethodMapping]) -> String {
        table.map { row in
            var fields = [
                row.marketplaceId?.rawValue ?? "*", row.serviceLevel, row.wmsCarrier, row.wmsMethod, row.carrierCode,
                row.carrierName ?? "", row.shippingMethod ?? "",
            ]
            while fields.count > 5, fields.last?.isEmpty == true { fields.removeLast() }
            return fields.joined(separator: ", ")
        }.joined(separator: "\n")
    }

    /// Reads the MFN fields of the settings form into `settings`; a wrong line of the table is named by its number.
    static func readMerchantSettings(
        _ form: [String: String],
        connection: Connection,
        into settings: inout ConnectionSettings
    ) throws(ValidationError) {
        // A form without the MFN fieldset (the select always sends a value) leaves the MFN settings as they are.
        guard let productCode = form["productCode"] else { return }
        let chosen = connection.marketplaceIDs.filter { form["mfn.\($0.rawValue)"] == "on" }
        settings.mfnMarketplaceIds = chosen.count == connection.marketplaceIDs.count ? nil : chosen
        let earliest = form["mfnEarliestOrderDate"]?.trimmingCharacters(in: .whitespaces) ?? ""
        settings.mfnEarliestOrderDate = earliest.isEmpty ? nil : earliest
        guard let code = ConnectionSettings.ProductCode(rawValue: productCode) else {
            throw ValidationError(field: "productCode", reason: "must be one of the codes offered")
        }
        settings.productCode = code
        var table: [ShipMethodMapping] = []
        var lines: [Int] = []
        let rows = (form["shipMethods"] ?? "").split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
        for (number, line) in rows.enumerated() {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if fields.allSatisfy(\.isEmpty) { continue }
            guard (5...7).contains(fields.count) else {
                throw ValidationError(
                    field: "shipMethods",
                    reason:
                        "line \(number + 1) has \(fields.count) fields; write marketplace (* for any), service level, WMS carrier, WMS method, Amazon's carrier code[, carrier name[, shipping method]]"
                )
            }
            func optional(_ index: Int) -> String? {
                fields.count > index && !fields[index].isEmpty ? fields[index] : nil
            }
            table.append(
                ShipMethodMapping(
                    marketplaceId: fields[0] == "*" || fields[0].isEmpty ? nil : MarketplaceID(rawValue: fields[0]),
                    serviceLevel: fields[1],
                    wmsCarrier: fields[2],
                    wmsMethod: fields[3],
                    carrierCode: fields[4],
                    carrierName: optional(5),
                    shippingMethod: optional(6)
                )
            )
            lines.append(number + 1)
        }
        do {
            try ShipMethodRules.validate(table)
        } catch {
            if let match = error.field.wholeMatch(of: /^shipMethods\[(\d+)\]\.?(.*)$/), let index = Int(match.1),
                lines.indices.contains(index)
            {
                let column = match.2.isEmpty ? "" : "\(match.2) "
                throw ValidationError(field: "shipMethods", reason: "line \(lines[index]): \(column)\(error.reason)")
            }
            throw ValidationError(field: "shipMethods", reason: error.reason)
        }
        settings.shipMethods = table
    }

    /// The settings form's field for an error of the settings.
    static func settingsField(_ field: String) -> String {
        let name = field.hasPrefix("settings.") ? String(field.dropFirst("settings.".count)) : field
        if name.hasPrefix("mfnMarketplaceIds") { return "mfnMarketplaceIds" }
        if name.hasPrefix("shipMethods") { return "shipMethods" }
        return name
    }
}
