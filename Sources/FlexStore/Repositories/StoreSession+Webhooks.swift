import FlexCore
import Foundation
import SQLKit

extension StoreSession {
    /// Stores a webhook of the account with its signing secret sealed. It starts after the account's newest event, or
    /// at the feed's start; it delivers the account's events only.
    public func createWebhook(
        account: AccountID,
        scope: ConnectionScope = .all,
        url: URL,
        secret: String,
        eventTypes: [String],
        fromStart: Bool
    ) async throws -> Webhook {
        notes.noteEventsWritten()
        let id = "wh_\(UUID().uuidString.lowercased())"
        let position: Int64 =
            fromStart
            ? 0
            : try await sql.raw(
                "SELECT MAX(sequence) AS newest FROM events WHERE account_id = \(bind: account.rawValue)"
            ).first()?.decode(
                column: "newest",
                as: Int64?.self
            ) ?? 0
        let now = nowMilliseconds
        try await sql.raw(
            """
            INSERT INTO webhooks (id, account_id, connection_ids, url, secret_sealed, event_types, enabled, position, attempts, next_attempt_at, claimed_until, created_at)
            VALUES (\(bind: id), \(bind: account.rawValue), \(bind: try Self.scopeJSON(scope)), \(bind: url.absoluteString), \(bind: try secrets.seal(secret, context: "webhook:\(id)")),
                \(bind: try Self.json(eventTypes)), 1, \(bind: position), 0, 0, 0, \(bind: now))
            """
        ).run()
        guard let webhook = try await webhook(id) else { throw StoreError.notFound("Webhook \(id)") }
        return webhook
    }

    public func webhook(_ id: String) async throws -> Webhook? {
        try await sql.raw("SELECT * FROM webhooks WHERE id = \(bind: id)").first().map(Self.decodeWebhook)
    }

    /// The account's webhook `id`; nil when it is another account's or does not exist.
    public func webhook(_ id: String, account: AccountID) async throws -> Webhook? {
        try await webhook(id).flatMap { $0.accountID == account ? $0 : nil }
    }

    /// The account's webhooks.
    public func webhooks(account: AccountID) async throws -> [Webhook] {
        try await sql.raw("SELECT * FROM webhooks WHERE account_id = \(bind: account.rawValue) ORDER BY created_at, id")
            .all().map(Self.decodeWebhook)
    }

    /// Returns whether the account had the webhook.
    public func deleteWebhook(_ id: String, account: AccountID) async throws -> Bool {
        try await sql.raw(
            "DELETE FROM webhooks WHERE id = \(bind: id) AND account_id = \(bind: account.rawValue) RETURNING id"
        ).first() != nil
    }

    /// Makes the account's webhook's next attempt due now; nil when the account has no such webhook.
    public func retryWebhookNow(_ id: String, account: AccountID) async throws -> Webhook? {
        notes.noteEventsWritten()
        try await sql.raw(
            """
            UPDATE webhooks SET next_attempt_at = \(bind: nowMilliseconds)
            WHERE id = \(bind: id) AND account_id = \(bind: account.rawValue)
            """
        ).run()
        return try await webhook(id, account: account)
    }

    public func webhookSecret(_ id: String) async throws -> String {
        guard let row = try await sql.raw("SELECT secret_sealed FROM webhooks WHERE id = \(bind: id)").first() else {
            throw StoreError.notFound("Webhook \(id)")
        }
        return try secrets.open(try row.decode(column: "secret_sealed", as: String.self), context: "webhook:\(id)")
    }

    /// Webhooks with events to deliver whose next attempt is due and that no node holds.
    public func dueWebhooks() async throws -> [Webhook] {
        let now = nowMilliseconds
        return try await sql.raw(
            """
            SELECT * FROM webhooks
            WHERE enabled = 1 AND next_attempt_at <= \(bind: now) AND claimed_until <= \(bind: now)
                AND position < (SELECT COALESCE(MAX(sequence), 0) FROM events WHERE events.account_id = webhooks.account_id)
            ORDER BY id
            """
        ).all().map(Self.decodeWebhook)
    }

    /// When the next webhook waiting after a failure is due, if any.
    public func nextWebhookAttempt() async throws -> Date? {
        try await sql.raw(
            """
            SELECT MIN(next_attempt_at) AS next FROM webhooks
            WHERE enabled = 1 AND attempts > 0 AND position < (SELECT COALESCE(MAX(sequence), 0) FROM events WHERE events.account_id = webhooks.account_id)
            """
        ).first()?.decode(column: "next", as: Int64?.self).map(Date.init(millisecondsSince1970:))
    }

    /// Takes a webhook for one node until `until`, so that two nodes never deliver its events side by side.
    public func claimWebhook(_ id: String, until: Date) async throws -> Bool {
        try await sql.raw(
            """
            UPDATE webhooks SET claimed_until = \(bind: until.millisecondsSince1970)
            WHERE id = \(bind: id) AND claimed_until <= \(bind: nowMilliseconds)
            RETURNING id
            """
        ).first() != nil
    }

    /// Records a delivered event (or one passed over): the position moves on, failures are forgotten.
    public func recordWebhookDelivery(_ id: String, position: Int64, status: Int?) async throws {
        try await sql.raw(
            """
            UPDATE webhooks SET position = \(bind: position), attempts = 0, next_attempt_at = 0,
                last_status = COALESCE(\(bind: status.map(Int64.init)), last_status), last_error = NULL,
                last_delivered_at = COALESCE(\(bind: status == nil ? nil : nowMilliseconds), last_delivered_at)
            WHERE id = \(bind: id) AND position < \(bind: position)
            """
        ).run()
    }

    /// Records a failed attempt; the next one is due after the backoff.
    public func recordWebhookFailure(_ id: String, status: Int?, error: String) async throws {
        guard let webhook = try await webhook(id) else { return }
        let attempts = webhook.attempts + 1
        let next = clock.now().addingTimeInterval(Webhook.retryDelay(afterAttempts: attempts))
        try await sql.raw(
            """
            UPDATE webhooks SET attempts = \(bind: Int64(attempts)), next_attempt_at = \(bind: next.millisecondsSince1970),
                last_status = \(bind: status.map(Int64.init)), last_error = \(bind: error), claimed_until = 0
            WHERE id = \(bind: id)
            """
        ).run()
    }

    /// Lets go of a webhook after a round of deliveries.
    public func releaseWebhook(_ id: String) async throws {
        try await sql.raw("UPDATE webhooks SET claimed_until = 0 WHERE id = \(bind: id)").run()
    }

    static func decodeWebhook(_ row: any SQLRow) throws -> Webhook {
        let id = try row.decode(column: "id", as: String.self)
        let urlText = try row.decode(column: "url", as: String.self)
        guard let url = URL(string: urlText) else {
            throw StoreError(code: .invalidInput, message: "Webhook \(id) has an unreadable URL.")
        }
        let types = try JSONDecoder().decode(
            [String].self,
            from: Data(try row.decode(column: "event_types", as: String.self).utf8)
        )
        return Webhook(
            id: id,
            accountID: AccountID(rawValue: try row.decode(column: "account_id", as: String.self)),
            scope: try decodeScope(try row.decode(column: "connection_ids", as: String?.self)),
            url: url,
            eventTypes: types,
            position: try row.decode(column: "position", as: Int64.self),
            attempts: try row.decode(column: "attempts", as: Int.self),
            nextAttemptAt: Date(millisecondsSince1970: try row.decode(column: "next_attempt_at", as: Int64.self)),
            lastStatus: try row.decode(column: "last_status", as: Int?.self),
            lastError: try row.decode(column: "last_error", as: String?.self),
            lastDeliveredAt: try row.decode(column: "last_delivered_at", as: Int64?.self).map(
                Date.init(millisecondsSince1970:)
            ),
            createdAt: Date(millisecondsSince1970: try row.decode(column: "created_at", as: Int64.self))
        )
    }
}
