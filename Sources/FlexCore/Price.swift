import Foundation

/// The WMS's price of one of its SKUs in one marketplace: what `PUT /prices` and `flexbridge import prices` take.
/// It reaches every listing of the SKU in that marketplace as Amazon's `purchasable_offer`.
public struct SKUPrice: Sendable, Hashable {
    public var warehouseSKU: WarehouseSKU
    public var price: ListingPrice

    public init(warehouseSKU: WarehouseSKU, price: ListingPrice) {
        self.warehouseSKU = warehouseSKU
        self.price = price
    }
}

/// Amazon's marketplaces as prices need them: each one's currency.
public enum Marketplaces {
    /// Each marketplace's currency (Amazon's published list of marketplace ids).
    public static let currencies: [MarketplaceID: String] = [
        "ATVPDKIKX0DER": "USD", "A2EUQ1WTGCTBG2": "CAD", "A1AM78C64UM0Y8": "MXN", "A2Q3Y263D00KWC": "BRL",
        "A1F83G8C2ARO7P": "GBP", "A1PA6795UKMFR9": "EUR", "A13V1IB3VIYZZH": "EUR", "APJ6JRA9NG5V4": "EUR",
        "A1RKKUPIHCS9HS": "EUR", "A1805IZSGTT6HS": "EUR", "AMEN7PMS3EDWL": "EUR", "A2NODRKZP88ZB9": "SEK",
        "A1C3SOZRARQ6R3": "PLN", "A33AVAJ2PDY3EV": "TRY", "A21TJRUUN4KGV": "INR", "A2VIGQ35RCS4UG": "AED",
        "A17E79C6D8DWNP": "SAR", "ARBP9OOSHTCHU": "EGP", "A1VC38T7YXB528": "JPY", "A39IBJ37TRP1C6": "AUD",
        "A19VAU5U5O7RUS": "SGD", "A28R8C7NBKEWEA": "EUR", "AE08WJ6YKNBMC": "ZAR",
    ]

    /// Each marketplace's country, as warehouses are named after them.
    public static let names: [MarketplaceID: String] = [
        "ATVPDKIKX0DER": "US", "A2EUQ1WTGCTBG2": "CA", "A1AM78C64UM0Y8": "MX", "A2Q3Y263D00KWC": "BR",
        "A1F83G8C2ARO7P": "UK", "A1PA6795UKMFR9": "DE", "A13V1IB3VIYZZH": "FR", "APJ6JRA9NG5V4": "IT",
        "A1RKKUPIHCS9HS": "ES", "A1805IZSGTT6HS": "NL", "AMEN7PMS3EDWL": "BE", "A2NODRKZP88ZB9": "SE",
        "A1C3SOZRARQ6R3": "PL", "A33AVAJ2PDY3EV": "TR", "A21TJRUUN4KGV": "IN", "A2VIGQ35RCS4UG": "AE",
        "A17E79C6D8DWNP": "SA", "ARBP9OOSHTCHU": "EG", "A1VC38T7YXB528": "JP", "A39IBJ37TRP1C6": "AU",
        "A19VAU5U5O7RUS": "SG", "A28R8C7NBKEWEA": "IE", "AE08WJ6YKNBMC": "ZA",
    ]

    /// Currencies Amazon prices in whole units.
    static let wholeUnitCurrencies: Set<String> = ["JPY"]
}

extension ListingPrice {
    /// The highest price FlexBridge takes (Amazon's own bound is per product type, and lower).
    public static let maximumAmount: Decimal = 1_000_000_000

    /// Checks the price against Amazon's rules for offers, naming the field that is wrong in the CSV's spelling:
    /// a known marketplace in its own currency, amounts above 0 with at most two decimals (whole units in JPY), a
    /// sale price below the price with both its dates (start before end), and the price, the sale price and the
    /// bounds in order (minimum ≤ price ≤ maximum).
    public func validate() throws(ValidationError) {
        guard let expected = Marketplaces.currencies[marketplaceID] else {
            throw ValidationError(
                field: "marketplace",
                reason: marketplaceID.rawValue.isEmpty
                    ? "must not be empty" : "\"\(marketplaceID)\" is not an Amazon marketplace id"
            )
        }
        if currency != expected {
            throw ValidationError(
                field: "currency",
                reason: "\(marketplaceID) sells in \(expected), not \"\(currency)\""
            )
        }
        func check(_ amount: Decimal, _ field: String) throws(ValidationError) {
            if amount <= 0 { throw ValidationError(field: field, reason: "must be above 0, got \(amount)") }
            if amount > Self.maximumAmount {
                throw ValidationError(field: field, reason: "must be at most \(Self.maximumAmount), got \(amount)")
            }
            let places = Marketplaces.wholeUnitCurrencies.contains(currency) ? 0 : 2
            var rounded = Decimal()
            var value = amount
            NSDecimalRound(&rounded, &value, places, .plain)
            if rounded != amount {
                throw ValidationError(
                    field: field,
                    reason: places == 0
                        ? "must be a whole amount in \(currency), got \(amount)"
                        : "must have at most 2 decimals, got \(amount)"
                )
            }
        }
        try check(amount, "price")
        if let minimum { try check(minimum, "minimumPrice") }
        if let maximum { try check(maximum, "maximumPrice") }
        if let minimum, let maximum, minimum > maximum {
            throw ValidationError(
                field: "minimumPrice",
                reason: "must not be above maximumPrice (\(maximum)), got \(minimum)"
            )
        }
        if let minimum, amount < minimum {
            throw ValidationError(field: "price", reason: "must not be below minimumPrice (\(minimum)), got \(amount)")
        }
        if let maximum, amount > maximum {
            throw ValidationError(field: "price", reason: "must not be above maximumPrice (\(maximum)), got \(amount)")
        }
        switch (salePrice, saleStart, saleEnd) {
        case (nil, nil, nil):
            break
        case (nil, _, _):
            throw ValidationError(field: "salePrice", reason: "must be given with saleStart and saleEnd")
        case (_, nil, _):
            throw ValidationError(field: "saleStart", reason: "must be given with a sale price")
        case (_, _, nil):
            throw ValidationError(field: "saleEnd", reason: "must be given with a sale price")
        case (let sale?, let start?, let end?):
            try check(sale, "salePrice")
            if sale >= amount {
                throw ValidationError(field: "salePrice", reason: "must be below the price (\(amount)), got \(sale)")
            }
            if let minimum, sale < minimum {
                throw ValidationError(
                    field: "salePrice",
                    reason: "must not be below minimumPrice (\(minimum)), got \(sale)"
                )
            }
            if end <= start {
                throw ValidationError(field: "saleEnd", reason: "must be after saleStart")
            }
        }
    }
}

extension CSVTable {
    /// Reads prices: sku (the WMS's SKU), marketplace (an Amazon marketplace id), price, and optionally currency
    /// (the marketplace's when empty), salePrice with saleStart and saleEnd (a day, `2026-12-24`, or a time in ISO
    /// 8601), minimumPrice and maximumPrice. Every bad row is reported, a SKU priced twice for a marketplace too;
    /// one bad row refuses the file.
    public func prices() throws(CSVErrors) -> [SKUPrice] {
        var seen: [String: Int] = [:]
        return try readRows(
            required: [
                "sku", "marketplace", "price", "currency", "salePrice", "saleStart", "saleEnd", "minimumPrice",
                "maximumPrice",
            ],
            optional: ["currency", "salePrice", "saleStart", "saleEnd", "minimumPrice", "maximumPrice"]
        ) { row throws(CSVError) in
            let sku = row.value("sku")
            if sku.isEmpty { throw row.error("sku", "must not be empty") }
            if sku.count > StockLevel.maximumSKULength {
                throw row.error(
                    "sku",
                    "must be at most \(StockLevel.maximumSKULength) characters, got \(sku.count)"
                )
            }
            func amount(_ column: String) throws(CSVError) -> Decimal? {
                let text = row.value(column)
                if text.isEmpty { return nil }
                guard text.wholeMatch(of: /-?[0-9]{1,15}(\.[0-9]{1,15})?/) != nil, let value = Decimal(string: text)
                else {
                    throw row.error(column, "must be a number such as 12.99, got \"\(text)\"")
                }
                return value
            }
            func date(_ column: String) throws(CSVError) -> Date? {
                let text = row.value(column)
                if text.isEmpty { return nil }
                guard let date = PriceDates.parse(text) else {
                    throw row.error(
                        column,
                        "must be a day such as 2026-12-24 or a time such as 2026-12-24T08:00:00Z, got \"\(text)\""
                    )
                }
                return date
            }
            guard let price = try amount("price") else { throw row.error("price", "must not be empty") }
            let marketplace = MarketplaceID(rawValue: row.value("marketplace"))
            let currency = row.value("currency").uppercased()
            let offer = ListingPrice(
                marketplaceID: marketplace,
                currency: currency.isEmpty ? Marketplaces.currencies[marketplace] ?? "" : currency,
                amount: price,
                salePrice: try amount("salePrice"),
                saleStart: try date("saleStart"),
                saleEnd: try date("saleEnd"),
                minimum: try amount("minimumPrice"),
                maximum: try amount("maximumPrice")
            )
            do throws(ValidationError) {
                try offer.validate()
            } catch {
                throw row.error(error.field, error.reason)
            }
            let key = "\(marketplace)\u{1F}\(sku)"
            if let first = seen[key] {
                throw row.error("sku", "\"\(sku)\" is priced already on line \(first) for \(marketplace)")
            }
            seen[key] = row.line
            return SKUPrice(warehouseSKU: WarehouseSKU(rawValue: sku), price: offer)
        }
    }
}

/// The days and times a sale is given in: a day (`2026-12-24`, midnight UTC) or an ISO 8601 time.
public enum PriceDates {
    public static func parse(_ text: String) -> Date? {
        if text.wholeMatch(of: /[0-9]{4}-[0-9]{2}-[0-9]{2}/) != nil {
            return try? Date("\(text)T00:00:00Z", strategy: .iso8601)
        }
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }

    /// A time as the API and the CSV write it back: ISO 8601 in UTC, to the second.
    public static func format(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
