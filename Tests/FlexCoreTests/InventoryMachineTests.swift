import FlexCore
import Foundation
import Testing

@Suite("The inventory machine: what Amazon's answer means for an item")
struct InventoryMachineTests {
    static let key = InventoryKey(connectionID: "C", locationID: "L", merchantSKU: "SKU-A", channel: .mfn)
    static let update = InventoryUpdate(
        key: key,
        marketplaceID: "M",
        version: 3,
        quantity: 7,
        reservedIncluded: 2,
        sequenceNumber: 100,
        changedAt: Date(timeIntervalSince1970: 0)
    )
    static let retryAt = Date(timeIntervalSince1970: 60)

    static func answer(
        _ status: Int,
        sequence: Int64? = 100,
        reserved: Int = 2,
        errors: [(String?, String?)] = [],
        reason: String? = nil
    ) -> InventoryAnswer {
        InventoryAnswer(
            statusCode: status,
            reasonPhrase: reason,
            stock: AmazonStock(sellable: 5, reserved: reserved, sequenceNumber: sequence),
            actionableErrors: errors.map { InventoryAnswer.ActionableError(type: $0.0, subType: $0.1) }
        )
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var answer: InventoryAnswer?
        var expected: InventoryOutcome
        var testDescription: String { answer.map { "HTTP \($0.statusCode)" } ?? "no answer" }
    }

    @Test(
        "each answer of batchInventory becomes one outcome",
        arguments: [
            Case(
                answer: answer(200),
                expected: .applied(update, AmazonStock(sellable: 5, reserved: 2, sequenceNumber: 100))
            ),
            Case(
                answer: answer(409, sequence: 140, errors: [("STALE_SEQUENCE_NUMBER", nil)]),
                expected: .staleSequence(key, AmazonStock(sellable: 5, reserved: 2, sequenceNumber: 140))
            ),
            Case(
                answer: answer(409, sequence: 100),
                expected: .staleSequence(key, AmazonStock(sellable: 5, reserved: 2, sequenceNumber: 100))
            ),
            Case(
                answer: answer(409, sequence: 99, reason: "Conflict"),
                expected: .refused(update, code: "HTTP_409", message: "Conflict")
            ),
            Case(
                answer: answer(429, reason: "Too Many Requests"),
                expected: .failed(key, code: "HTTP_429", message: "Too Many Requests", retryAt: retryAt)
            ),
            Case(
                answer: answer(503, errors: [("INTERNAL", "try later")]),
                expected: .failed(key, code: "INTERNAL", message: "INTERNAL: try later", retryAt: retryAt)
            ),
            Case(
                answer: answer(400, errors: [("INVALID_SKU", "The requested Sku does not exist."), ("X", nil)]),
                expected: .refused(
                    update,
                    code: "INVALID_SKU",
                    message: "INVALID_SKU: The requested Sku does not exist.; X"
                )
            ),
            Case(answer: answer(400), expected: .refused(update, code: "HTTP_400", message: "refused")),
            Case(
                answer: nil,
                expected: .failed(
                    key,
                    code: "NO_ANSWER",
                    message: "Amazon's answer had no entry for this item.",
                    retryAt: retryAt
                )
            ),
        ]
    )
    func outcome(_ example: Case) {
        #expect(
            InventoryMachine.outcome(of: Self.update, answer: example.answer, retryAt: Self.retryAt) == example.expected
        )
    }

    @Test("a fetch's failed entry says nothing; a good one reports Amazon's numbers")
    func fetch() {
        #expect(InventoryMachine.outcome(ofFetch: Self.key, answer: Self.answer(500)) == nil)
        #expect(
            InventoryMachine.outcome(ofFetch: Self.key, answer: Self.answer(200))
                == .fetched(Self.key, AmazonStock(sellable: 5, reserved: 2, sequenceNumber: 100))
        )
    }

    @Test("an applied update goes again when Amazon's reservation moved meanwhile")
    func reservation() {
        #expect(!InventoryMachine.reservationMoved(Self.update, stock: Self.answer(200, reserved: 2).stock))
        #expect(InventoryMachine.reservationMoved(Self.update, stock: Self.answer(200, reserved: 3).stock))
        var zeroForAll = Self.update
        zeroForAll.reservedIncluded = nil
        #expect(!InventoryMachine.reservationMoved(zeroForAll, stock: Self.answer(200, reserved: 3).stock))
    }

    struct DriftCase: Sendable, CustomTestStringConvertible {
        var name: String
        var sent: InventoryMachine.Sent
        var fetched: AmazonStock
        var foreign: Bool
        var resend: Bool
        var testDescription: String { name }
    }

    static let inSync = InventoryMachine.Sent(
        version: 4,
        syncedVersion: 4,
        sentQuantity: 7,
        sentReserved: 2,
        amazonSequence: 100
    )

    @Test(
        "a reconciliation fetch resends an item in sync whose copy at Amazon is foreign or moved",
        arguments: [
            DriftCase(
                name: "as sent",
                sent: inSync,
                fetched: .init(sellable: 5, reserved: 2, sequenceNumber: 100),
                foreign: false,
                resend: false
            ),
            DriftCase(
                name: "sold out at Amazon",
                sent: inSync,
                fetched: .init(sellable: 0, reserved: 2, sequenceNumber: 100),
                foreign: false,
                resend: false
            ),
            DriftCase(
                name: "quantity moved",
                sent: inSync,
                fetched: .init(sellable: 4, reserved: 2, sequenceNumber: 100),
                foreign: false,
                resend: true
            ),
            DriftCase(
                name: "reservation moved",
                sent: inSync,
                fetched: .init(sellable: 4, reserved: 3, sequenceNumber: 100),
                foreign: false,
                resend: true
            ),
            DriftCase(
                name: "written by someone else",
                sent: inSync,
                fetched: .init(sellable: 5, reserved: 2, sequenceNumber: 120),
                foreign: true,
                resend: true
            ),
            DriftCase(
                name: "lost at Amazon",
                sent: inSync,
                fetched: .init(sellable: 5, reserved: 2, sequenceNumber: nil),
                foreign: true,
                resend: true
            ),
            DriftCase(
                name: "changed since: already going out",
                sent: InventoryMachine.Sent(
                    version: 5,
                    syncedVersion: 4,
                    sentQuantity: 7,
                    sentReserved: 2,
                    amazonSequence: 100
                ),
                fetched: .init(sellable: 1, reserved: 0, sequenceNumber: 120),
                foreign: true,
                resend: false
            ),
            DriftCase(
                name: "never sent",
                sent: InventoryMachine.Sent(
                    version: 0,
                    syncedVersion: 0,
                    sentQuantity: nil,
                    sentReserved: nil,
                    amazonSequence: 100
                ),
                fetched: .init(sellable: 5, reserved: 0, sequenceNumber: 100),
                foreign: false,
                resend: true
            ),
        ]
    )
    func drift(_ example: DriftCase) {
        let drift = InventoryMachine.drift(of: example.sent, fetched: example.fetched)
        #expect(drift.foreign == example.foreign)
        #expect(drift.resend == example.resend)
    }
}
