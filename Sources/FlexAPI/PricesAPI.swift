import FlexBridgeAPI
import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import OpenAPIRuntime

extension APIHandler {
    public func putPrices(_ input: Operations.PutPrices.Input) async throws -> Operations.PutPrices.Output {
        let prices: [SKUPrice]
        do {
            switch input.body {
            case .json(let body):
                // JSON rows are read as the CSV's, so that both refuse the same values with the same words.
                prices = try CSVTable(columns: Self.priceColumns, rows: body.items.map(Self.priceRow)).prices()
            case .csv(let body):
                prices = try CSVTable(utf8: try await [UInt8](collecting: body, upTo: Self.maximumCSVBytes)).prices()
            }
        } catch let error as CSVError {
            return .badRequest(Self.problem(.invalidInput, CSVErrors([error]).description))
        } catch let error as CSVErrors {
            let message =
                if case .json = input.body { Self.describe(error, itemsName: "items") } else { error.description }
            return .badRequest(Self.problem(.invalidInput, message))
        }
        do {
            let write = try await inventory.recordPrices(prices, account: try caller().account)
            return .accepted(
                .init(body: .json(.init(received: prices.count, changed: write.changed, unlisted: write.unlisted)))
            )
        } catch let error as ValidationError {
            return .badRequest(Self.problem(.invalidInput, error.reason, field: error.field))
        }
    }

    public func listPrices(_ input: Operations.ListPrices.Input) async throws -> Operations.ListPrices.Output {
        let account = try caller().account
        var after: (sku: WarehouseSKU, marketplaceID: MarketplaceID)?
        if let cursor = input.query.after {
            guard let parts = Self.cursorParts(cursor, count: 2) else {
                return .badRequest(Self.problem(.invalidInput, "is not a `next` this list gave", field: "after"))
            }
            after = (WarehouseSKU(rawValue: parts[0]), MarketplaceID(rawValue: parts[1]))
        }
        let limit = input.query.limit ?? 100
        let prices = try await store.read { session in
            try await session.prices(
                account: account,
                sku: input.query.sku.map(WarehouseSKU.init(rawValue:)),
                after: after,
                limit: limit + 1
            )
        }
        let page = prices.prefix(limit)
        return .ok(
            .init(
                body: .json(
                    .init(
                        items: page.map { Self.price($0.warehouseSKU, $0.price, updatedAt: $0.updatedAt) },
                        next: prices.count > limit
                            ? page.last.map {
                                Self.cursor([$0.warehouseSKU.rawValue, $0.price.marketplaceID.rawValue])
                            }
                            : nil
                    )
                )
            )
        )
    }

    public func listAsinListings(
        _ input: Operations.ListAsinListings.Input
    ) async throws -> Operations.ListAsinListings.Output {
        guard let connection = try await visible(ConnectionID(rawValue: input.path.connectionId)) else {
            return .notFound(Self.notFound(input.path.connectionId))
        }
        var after: (marketplaceID: MarketplaceID, asin: ASIN)?
        if let cursor = input.query.after {
            guard let parts = Self.cursorParts(cursor, count: 2) else {
                return .badRequest(Self.problem(.invalidInput, "is not a `next` this list gave", field: "after"))
            }
            after = (MarketplaceID(rawValue: parts[0]), ASIN(rawValue: parts[1]))
        }
        let limit = input.query.limit ?? 100
        let listings = try await store.read { session in
            try await session.asinListings(
                connectionID: connection.id,
                status: input.query.status.flatMap { ASINListing.Status(rawValue: $0.rawValue) },
                after: after,
                limit: limit + 1
            )
        }
        let page = listings.prefix(limit)
        return .ok(
            .init(
                body: .json(
                    .init(
                        items: page.map { listing in
                            .init(
                                marketplaceId: listing.marketplaceID.rawValue,
                                asin: listing.asin.rawValue,
                                warehouseSku: listing.warehouseSKU.rawValue,
                                fulfilledBy: .init(rawValue: listing.fulfilledBy.rawValue) ?? .amazon,
                                status: .init(rawValue: listing.status.rawValue) ?? .pending,
                                merchantSkus: listing.merchantSKUs.map(\.rawValue),
                                message: listing.message,
                                checkedAt: listing.checkedAt
                            )
                        },
                        next: listings.count > limit
                            ? page.last.map { Self.cursor([$0.marketplaceID.rawValue, $0.asin.rawValue]) } : nil
                    )
                )
            )
        )
    }

    static let priceColumns = [
        "sku", "marketplace", "price", "currency", "salePrice", "saleStart", "saleEnd", "minimumPrice", "maximumPrice",
    ]

    static func priceRow(_ item: Components.Schemas.Price) -> [String] {
        func amount(_ value: Double?) -> String { value.map { "\(Decimal(string: "\($0)") ?? Decimal($0))" } ?? "" }
        return [
            item.sku, item.marketplaceId, amount(item.price), item.currency ?? "", amount(item.salePrice),
            item.saleStart ?? "", item.saleEnd ?? "", amount(item.minimumPrice), amount(item.maximumPrice),
        ]
    }

    static func price(_ sku: WarehouseSKU, _ price: ListingPrice, updatedAt: Date? = nil) -> Components.Schemas.Price {
        func number(_ amount: Decimal?) -> Double? {
            amount.map { Double("\($0)") ?? NSDecimalNumber(decimal: $0).doubleValue }
        }
        return .init(
            sku: sku.rawValue,
            marketplaceId: price.marketplaceID.rawValue,
            price: number(price.amount) ?? 0,
            currency: price.currency,
            salePrice: number(price.salePrice),
            saleStart: price.saleStart.map(PriceDates.format),
            saleEnd: price.saleEnd.map(PriceDates.format),
            minimumPrice: number(price.minimum),
            maximumPrice: number(price.maximum),
            updatedAt: updatedAt
        )
    }

    /// An opaque `next`: the parts of a key, as base64url of a JSON array.
    static func cursor(_ parts: [String]) -> String {
        ((try? JSONEncoder().encode(parts)) ?? Data()).base64URLEncodedString()
    }

    static func cursorParts(_ text: String, count: Int) -> [String]? {
        guard let data = Data(base64URLEncoded: text), let parts = try? JSONDecoder().decode([String].self, from: data),
            parts.count == count
        else { return nil }
        return parts
    }
}
