import Foundation

/// One entry of Amazon's batchInventory answer, in FlexCore's words (SellingPartner reads it from Amazon's).
public struct InventoryAnswer: Sendable, Hashable {
    /// An error Amazon says the seller can act on.
    public struct ActionableError: Sendable, Hashable {
        public var type: String?
        public var subType: String?

        public init(type: String?, subType: String?) {
            self.type = type
            self.subType = subType
        }
    }

    /// The entry's own HTTP status; 0 when Amazon gave none.
    public var statusCode: Int
    public var reasonPhrase: String?
    public var stock: AmazonStock
    public var actionableErrors: [ActionableError]

    public init(statusCode: Int, reasonPhrase: String?, stock: AmazonStock, actionableErrors: [ActionableError]) {
        self.statusCode = statusCode
        self.reasonPhrase = reasonPhrase
        self.stock = stock
        self.actionableErrors = actionableErrors
    }
}

/// The rules of an inventory item's sync: what Amazon's answer to an update means for the item, and when a
/// reconciliation fetch shows the item drifted at Amazon. Pure; the inventory worker and the store carry them out.
public enum InventoryMachine {
    /// What Amazon's answer to `update` means: applied; a stale sequence number (sent again above Amazon's); a
    /// passing failure (throttled, Amazon's fault, no answer: tried again at `retryAt`); or a refusal the seller must
    /// fix (not sent again until the item changes).
    public static func outcome(of update: InventoryUpdate, answer: InventoryAnswer?, retryAt: Date) -> InventoryOutcome
    {
        guard let answer else {
            return .failed(
                update.key,
                code: "NO_ANSWER",
                message: "Amazon's answer had no entry for this item.",
                retryAt: retryAt
            )
        }
        let errors = answer.actionableErrors
        let code = errors.first?.type ?? "HTTP_\(answer.statusCode)"
        let message = errors.map { [$0.type, $0.subType].compactMap { $0 }.joined(separator: ": ") }
            .joined(separator: "; ")
        switch answer.statusCode {
        case 200..<300:
            return .applied(update, answer.stock)
        case 409
        where errors.contains { $0.type == "STALE_SEQUENCE_NUMBER" }
            || answer.stock.sequenceNumber.map { $0 >= update.sequenceNumber } == true:
            return .staleSequence(update.key, answer.stock)
        case 429, 500..<600:
            return .failed(
                update.key,
                code: code,
                message: message.isEmpty ? answer.reasonPhrase ?? "" : message,
                retryAt: retryAt
            )
        default:
            return .refused(update, code: code, message: message.isEmpty ? (answer.reasonPhrase ?? "refused") : message)
        }
    }

    /// A reconciliation fetch's answer: Amazon's numbers when it gave them, nothing when the entry failed.
    public static func outcome(ofFetch key: InventoryKey, answer: InventoryAnswer) -> InventoryOutcome? {
        (200..<300).contains(answer.statusCode) ? .fetched(key, answer.stock) : nil
    }

    /// Whether an applied update must go again: Amazon's reservation moved since the quantity was computed, so what
    /// it now sells is off by the difference.
    public static func reservationMoved(_ update: InventoryUpdate, stock: AmazonStock) -> Bool {
        update.reservedIncluded.map { $0 != stock.reserved } ?? false
    }

    /// What FlexBridge last knew of an item, against which a fetch is judged.
    public struct Sent: Sendable, Hashable {
        public var version: Int64
        public var syncedVersion: Int64
        public var sentQuantity: Int?
        public var sentReserved: Int?
        public var amazonSequence: Int64?

        public init(
            version: Int64,
            syncedVersion: Int64,
            sentQuantity: Int?,
            sentReserved: Int?,
            amazonSequence: Int64?
        ) {
            self.version = version
            self.syncedVersion = syncedVersion
            self.sentQuantity = sentQuantity
            self.sentReserved = sentReserved
            self.amazonSequence = amazonSequence
        }
    }

    /// What a reconciliation fetch found.
    public struct Drift: Sendable, Hashable {
        /// Someone else wrote the item at Amazon (another connector, a person in Seller Central), or Amazon lost it:
        /// what FlexBridge sent last no longer counts.
        public var foreign: Bool
        /// The item is sent again: it was in sync, and Amazon's copy is foreign or its numbers moved.
        public var resend: Bool
    }

    public static func drift(of sent: Sent, fetched stock: AmazonStock) -> Drift {
        let foreign = stock.sequenceNumber == nil || stock.sequenceNumber != sent.amazonSequence
        let quantityDrifted =
            sent.sentQuantity.map { stock.sellable > 0 && $0 != stock.sellable + stock.reserved } ?? true
        let reservationMoved = sent.sentReserved.map { $0 != stock.reserved } ?? false
        return Drift(
            foreign: foreign,
            resend: sent.version == sent.syncedVersion && (foreign || quantityDrifted || reservationMoved)
        )
    }
}
