import FlexCore
import Foundation
import Testing

@Suite("CSV files")
struct CSVTests {
    let connection = Connection(
        name: "Acme",
        sellingPartnerID: "A1",
        region: .eu,
        marketplaceIDs: ["A21TJRUUN4KGV"],
        applicationClientID: "c",
        createdAt: Date(timeIntervalSince1970: 0)
    )

    @Test("quoted fields hold commas, quotes and line breaks; CRLF, a BOM and blank lines are fine; lines are counted")
    func parsing() throws {
        let table = try CSVTable(
            parsing: "\u{FEFF}a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\r\n\r\n\"two\nlines\",z\nlast,row"
        )
        #expect(table.columns == ["a", "b"])
        #expect(table.records.map(\.fields) == [["x, y", "say \"hi\""], ["two\nlines", "z"], ["last", "row"]])
        #expect(table.records.map(\.line) == [2, 4, 6])
    }

    @Test(
        "a broken file names its line and column",
        arguments: [
            ("a,b\n1,\"open", 2, 2, "never closed"),
            ("a,b\n1,x\"y", 2, 2, "quote inside"),
            ("a,b\n\"x\"y,1", 2, 1, "after a closing quote"),
            ("", 1, 1, "empty"),
        ]
    )
    func broken(text: String, line: Int, column: Int, reason: String) {
        #expect {
            _ = try CSVTable(parsing: text)
        } throws: { error in
            guard let error = error as? CSVError else { return false }
            return error.line == line && error.column == column && error.reason.contains(reason)
        }
    }

    @Test("listings in the seeds' format; the marketplace may be left out when the connection has one")
    func listings() throws {
        let listings = try CSVTable(
            parsing:
                "clientSkuId,channelSerialNo,channelSkuId,marketplace\nEAN1,b0asin0001,MSKU-1,\nEAN2,B0ASIN0002,MSKU-2,A21TJRUUN4KGV\n"
        )
        .listings(for: connection)
        #expect(listings.map(\.merchantSKU.rawValue) == ["MSKU-1", "MSKU-2"])
        #expect(listings.map(\.asin.rawValue) == ["B0ASIN0001", "B0ASIN0002"])
        #expect(listings.allSatisfy { $0.marketplaceID.rawValue == "A21TJRUUN4KGV" })
        #expect(listings.allSatisfy { $0.fulfilledBy == .amazon }, "Amazon-fulfilled unless the file says otherwise")
        let marked = try CSVTable(
            parsing:
                "clientSkuId,channelSerialNo,channelSkuId,marketplace,fulfilledBy\nE1,B0ASIN0001,M1,,merchant\nE2,B0ASIN0002,M2,,\n"
        )
        .listings(for: connection)
        #expect(marked.map(\.fulfilledBy) == [.merchant, .amazon])
        #expect {
            _ = try CSVTable(
                parsing: "clientSkuId,channelSerialNo,channelSkuId,marketplace,fulfilledBy\nE1,B0ASIN0001,M1,,MFN\n"
            )
            .listings(for: connection)
        } throws: { error in
            (error as? CSVErrors)?.errors.first?.columnName == "fulfilledBy"
                && "\(error)".contains("must be AMAZON or MERCHANT, got \"MFN\"")
        }
    }

    @Test("every bad listing row is reported with its line, column and reason")
    func badListings() throws {
        let text = """
            clientSkuId,channelSerialNo,channelSkuId,marketplace
            EAN1,B0ASIN0001,MSKU-1,
            EAN2,,MSKU-2,
            EAN3,B0ASIN0003,MSKU-1,
            ,B0ASIN0004,MSKU-4,
            EAN5,B0ASIN0005,MSKU-5,ATVPDKIKX0DER
            EAN6,B0ASIN0006
            """
        #expect {
            _ = try CSVTable(parsing: text).listings(for: connection)
        } throws: { error in
            guard let errors = error as? CSVErrors else { return false }
            let found = errors.errors.map { "\($0.line):\($0.column):\($0.columnName ?? "")" }
            return found == ["3:2:channelSerialNo", "4:3:channelSkuId", "5:1:clientSkuId", "6:4:marketplace", "7:3:"]
                && errors.description.contains("nothing was imported")
        }
        #expect(throws: CSVErrors.self) { try CSVTable(parsing: "sku,asin\nA,B").listings(for: connection) }
    }

    @Test("stock rows: hub, sku and a whole quantity of 0 or more")
    func stock() throws {
        let levels = try CSVTable(parsing: "hub,sku,quantity\nH1,S1,5\nH1,S2,0\n").stockLevels()
        #expect(
            levels == [
                StockLevel(hub: "H1", warehouseSKU: "S1", quantity: 5),
                StockLevel(hub: "H1", warehouseSKU: "S2", quantity: 0),
            ]
        )
        #expect {
            _ = try CSVTable(parsing: "hub,sku,quantity\nH1,S1,-1\nH1,S2,many\n,S3,1\n").stockLevels()
        } throws: { error in
            (error as? CSVErrors)?.errors.map { "\($0.line):\($0.columnName ?? "")" } == [
                "2:quantity", "3:quantity", "4:hub",
            ]
        }
    }

    @Test(
        "price rows: the marketplace's currency taken when left out; every bad value, a sale without its dates and a SKU priced twice reported by line and column"
    )
    func prices() throws {
        let prices = try CSVTable(
            parsing: """
                sku,marketplace,price,currency,salePrice,saleStart,saleEnd,minimumPrice,maximumPrice
                S1,A1PA6795UKMFR9,19.90,,14.5,2026-12-24,2026-12-26T18:00:00Z,10,40
                S1,A1VC38T7YXB528,2500,JPY,,,,,

                """
        ).prices()
        #expect(prices.count == 2)
        #expect(prices[0].price.currency == "EUR" && prices[0].price.amount == Decimal(string: "19.9"))
        #expect(prices[0].price.saleStart == Date(timeIntervalSince1970: 1_798_070_400))
        #expect(prices[0].price.saleEnd == Date(timeIntervalSince1970: 1_798_308_000))
        #expect(prices[0].price.minimum == 10 && prices[0].price.maximum == 40 && prices[1].price.currency == "JPY")
        #expect {
            _ = try CSVTable(
                parsing: """
                    sku,marketplace,price,currency,salePrice,saleStart,saleEnd,minimumPrice,maximumPrice
                    S1,A1PA6795UKMFR9,-1,,,,,,
                    S2,A1PA6795UKMFR9,NaN,,,,,,
                    S3,A1PA6795UKMFR9,5,USD,,,,,
                    S4,A1PA6795UKMFR9,5,,4,,,,
                    S5,A1VC38T7YXB528,2500.5,,,,,,
                    S6,A1PA6795UKMFR9,5,,,,,6,
                    S7,A1PA6795UKMFR9,5,,4,2026-12-26,2026-12-24,,
                    S8,NOWHERE,5,,,,,,
                    S9,A1PA6795UKMFR9,5,,,,,,
                    S9,A1PA6795UKMFR9,6,,,,,,
                    ,A1PA6795UKMFR9,5,,,,,,
                    S10,A1PA6795UKMFR9,5,,4,tomorrow,2026-12-24,,

                    """
            ).prices()
        } throws: { error in
            (error as? CSVErrors)?.errors.map { "\($0.line):\($0.columnName ?? "")" } == [
                "2:price", "3:price", "4:currency", "5:saleStart", "6:price", "7:price", "8:saleEnd", "9:marketplace",
                "11:sku", "12:sku", "13:saleStart",
            ]
        }
    }

    @Test("the quantity sent: buffer by SKU, else hub, else connection; capped; Amazon's reserved units added back")
    func rules() {
        var settings = ConnectionSettings(
            safetyStock: 2,
            quantityCap: 10,
            hubSafetyStock: ["H1": 4],
            skuSafetyStock: ["S1": 1]
        )
        #expect(InventoryRules.quantityToSend(free: 20, reserved: 3, hub: "H1", sku: "S1", settings: settings) == 13)
        #expect(InventoryRules.quantityToSend(free: 8, reserved: 0, hub: "H1", sku: "S2", settings: settings) == 4)
        #expect(InventoryRules.quantityToSend(free: 8, reserved: 0, hub: "H2", sku: "S2", settings: settings) == 6)
        #expect(InventoryRules.quantityToSend(free: 1, reserved: 2, hub: "H2", sku: "S2", settings: settings) == 2)
        settings.sendZeroForAll = true
        #expect(InventoryRules.quantityToSend(free: 20, reserved: 3, hub: "H1", sku: "S1", settings: settings) == 0)
    }

    @Test("sequence numbers: the clock in milliseconds, always above every number used or seen")
    func sequenceNumbers() {
        let now = Date(timeIntervalSince1970: 1_800_000_000.123)
        #expect(InventoryRules.nextSequenceNumber(now: now, lastUsed: nil, lastSeenAtAmazon: nil) == 1_800_000_000_123)
        #expect(
            InventoryRules.nextSequenceNumber(now: now, lastUsed: 1_800_000_000_123, lastSeenAtAmazon: nil)
                == 1_800_000_000_124
        )
        #expect(
            InventoryRules.nextSequenceNumber(now: now, lastUsed: 5, lastSeenAtAmazon: 9_000_000_000_000)
                == 9_000_000_000_001
        )
    }
}
