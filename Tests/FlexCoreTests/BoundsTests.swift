import FlexCore
import Foundation
import Testing

/// Values outside their range, stored before the range was enforced, must give an answer, never a trap.
@Suite("Rules at the edges of their numbers")
struct BoundsTests {
    @Test("sequence numbers: the next is above every number seen; none is left after the largest 64-bit number")
    func sequenceNumbers() {
        let now = Date(timeIntervalSince1970: 1_790_000_000)
        #expect(InventoryRules.nextSequenceNumber(now: now, lastUsed: nil, lastSeenAtAmazon: nil) == 1_790_000_000_000)
        #expect(
            InventoryRules.nextSequenceNumber(now: now, lastUsed: 5_000_000_000_000, lastSeenAtAmazon: 7)
                == 5_000_000_000_001
        )
        #expect(InventoryRules.nextSequenceNumber(now: now, lastUsed: nil, lastSeenAtAmazon: .max - 1) == .max)
        #expect(InventoryRules.nextSequenceNumber(now: now, lastUsed: nil, lastSeenAtAmazon: .max) == nil)
        #expect(InventoryRules.nextSequenceNumber(now: .distantFuture, lastUsed: .max, lastSeenAtAmazon: nil) == nil)
        #expect(
            InventoryRules.nextSequenceNumber(
                now: Date(timeIntervalSince1970: 1e300),
                lastUsed: 3,
                lastSeenAtAmazon: nil
            ) == 4
        )
    }

    @Test("the quantity sent stays within Amazon's 32-bit range whatever was stored")
    func quantities() {
        var settings = ConnectionSettings()
        settings.safetyStock = .min
        let hub = HubCode(rawValue: "H")
        let sku = WarehouseSKU(rawValue: "S")
        #expect(
            InventoryRules.quantityToSend(free: .max, reserved: .max, hub: hub, sku: sku, settings: settings) == 2
                * StockLevel.maximumQuantity
        )
        #expect(InventoryRules.quantityToSend(free: .min, reserved: .min, hub: hub, sku: sku, settings: settings) == 0)
        settings.quantityCap = .max
        settings.safetyStock = .max
        #expect(InventoryRules.sellable(free: .max, hub: hub, sku: sku, settings: settings) == 0)
    }

    @Test(
        "settings out of range are refused with the setting named; the reconciliation interval is used within its range"
    )
    func settings() {
        var settings = ConnectionSettings()
        settings.reconciliationIntervalMinutes = .max
        #expect(throws: ValidationError.self) { try settings.validate() }
        #expect(settings.reconciliationInterval == 7 * 24 * 3600)
        settings.reconciliationIntervalMinutes = .min
        #expect(settings.reconciliationInterval == 0)
        settings = ConnectionSettings(quantityCap: StockLevel.maximumQuantity + 1)
        do {
            try settings.validate()
            Issue.record("a cap above the largest quantity passed")
        } catch {
            #expect(error.field == "settings.quantityCap")
        }
        #expect(throws: Never.self) {
            try ConnectionSettings(safetyStock: StockLevel.maximumQuantity, reconciliationIntervalMinutes: 10_080)
                .validate()
        }
    }

    @Test("a CSV that is not UTF-8 is refused at its first bad byte; imported sequence numbers have a range")
    func csv() throws {
        let latin1: [UInt8] = Array("hub,sku,quantity\nH1,K".utf8) + [0xE4] + Array("se,4\n".utf8)
        do {
            _ = try CSVTable(utf8: latin1)
            Issue.record("Latin-1 was read")
        } catch {
            #expect(error.line == 2 && error.column == 5, "\(error)")
            #expect(error.reason.contains("UTF-8"))
        }
        let table = try CSVTable(
            utf8: Array(
                "locationId,sku,channel,sequenceNumber\nL1,M1,MFN,9223372036854775807\nL1,M2,MFN,9007199254740991\n"
                    .utf8
            )
        )
        do {
            _ = try table.sequenceNumbers(for: ConnectionID(rawValue: "c"))
            Issue.record("a number above 2^53 - 1 was taken")
        } catch {
            #expect(error.errors.map(\.line) == [2])
        }
    }
}
