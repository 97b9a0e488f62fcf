import FlexCore
import FlexStore
import Logging
import Metrics

/// A value Amazon sent in a field whose values FlexBridge acts on, that this version's model does not have (Amazon
/// adds enum values over time): the document is kept as Amazon sent it and the sync carries on, and the value is said
/// — an `amazon.unknown_value` event, `flexbridge_amazon_unknown_values_total{field}` and a warning — so that someone
/// adds it where FlexBridge acts on that field. Said once per document and value: when the document comes into it
/// (new, or from another value), not again at each later copy in it.
struct UnknownAmazonValue: Sendable {
    /// The field, as `document.field` (`return.status`, `mfn_order.status`).
    var field: String
    var value: String
    /// The event's subject and the payload's key for it (`returnId`, `orderId`).
    var subjectKey: String
    var subject: String

    /// The event, written in the transaction that stored the document.
    func event(connectionID: ConnectionID) throws -> NewEvent {
        NewEvent(
            type: "amazon.unknown_value",
            connectionID: connectionID,
            subject: subject,
            payload: try JSONText.encode(["field": field, "value": value, subjectKey: subject])
        )
    }

    /// The metric and the warning, once the transaction committed.
    func report(_ logger: Logger, connectionID: ConnectionID) {
        Counter(label: "flexbridge_amazon_unknown_values_total", dimensions: [("field", field)]).increment()
        logger.warning(
            "Amazon sent a value this version does not know; kept as sent",
            metadata: [
                "connection": "\(connectionID)", "field": "\(field)", "value": "\(value)",
                "\(subjectKey)": "\(subject)",
            ]
        )
    }
}

extension UnknownAmazonValue {
    /// Whether storing a copy of an order (Seller Flex or MFN) brought it into `status`: the moment to say it.
    static func isEntered(_ status: String, by change: OrderChange) -> Bool {
        switch change {
        case .created: true
        case .updated(let previousStatus): previousStatus != status
        case .unchanged: false
        }
    }

    /// Whether storing a copy of a return brought it into its status.
    static func isEntered(by change: ReturnChange) -> Bool { change == .statusChanged }

    /// For a document that keeps the unknown value it was last seen in (a feed, an inbound operation): the value to
    /// say when `value` is one this version does not know and not the one `held` — the document comes into it.
    static func entered(
        _ value: String,
        known: Bool,
        held: String?,
        field: String,
        subjectKey: String,
        subject: String
    ) -> UnknownAmazonValue? {
        guard !known, value != held else { return nil }
        return UnknownAmazonValue(field: field, value: value, subjectKey: subjectKey, subject: subject)
    }
}
