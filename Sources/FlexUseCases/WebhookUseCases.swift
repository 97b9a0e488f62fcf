import FlexCore
import FlexStore
import Foundation

/// Webhooks: registered within the principal's connections, checked against where this node may send events,
/// listed, retried and removed.
public struct WebhookUseCases: Sendable {
    let store: Store
    let outbound: OutboundPolicy

    public init(store: Store, outbound: OutboundPolicy) {
        self.store = store
        self.outbound = outbound
    }

    /// A new webhook of the principal's account, delivering the events of the connections the principal may see.
    /// Its URL is checked now — shape, and every address its host resolves to — and again before each delivery.
    /// Returns the webhook and its signing secret (the one given, or a new one), shown this once.
    public func create(
        url text: String,
        secret: String?,
        eventTypes: [String],
        fromStart: Bool,
        by principal: Principal
    ) async throws -> (webhook: Webhook, secret: String) {
        try AccessUseCases.require(.manageWebhooks, of: principal)
        let url = try Webhook.validate(url: text, secret: secret)
        try await outbound.checkDelivery(to: url)
        let secret = secret ?? Self.newSecret()
        let webhook = try await store.transaction {
            try await $0.createWebhook(
                account: principal.account,
                scope: principal.scope,
                url: url,
                secret: secret,
                eventTypes: eventTypes,
                fromStart: fromStart
            )
        }
        return (webhook, secret)
    }

    /// The account's webhooks the principal may see: those reaching no connection it cannot see.
    public func webhooks(by principal: Principal) async throws -> [Webhook] {
        try AccessUseCases.require(.read, of: principal)
        return try await store.read { try await $0.webhooks(account: principal.account) }
            .filter { principal.scope.covers($0.scope) }
    }

    /// Removes a webhook the principal may see; false when there is none.
    public func delete(_ id: String, by principal: Principal) async throws -> Bool {
        try AccessUseCases.require(.manageWebhooks, of: principal)
        guard try await webhooks(by: principal).contains(where: { $0.id == id }) else { return false }
        return try await store.transaction { try await $0.deleteWebhook(id, account: principal.account) }
    }

    /// Makes a webhook's next attempt due now; nil when the principal sees no such webhook.
    public func retryNow(_ id: String, by principal: Principal) async throws -> Webhook? {
        try AccessUseCases.require(.manageWebhooks, of: principal)
        guard try await webhooks(by: principal).contains(where: { $0.id == id }) else { return nil }
        return try await store.transaction { try await $0.retryWebhookNow(id, account: principal.account) }
    }

    /// 256 random bits, hex.
    static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
