import FlexCore
import FlexStore
import Foundation

/// The shape the FBA workers share: each round reads every marketplace of an active connection whose setting is
/// on, each when due by where its last read reached (stored, so that a restart carries on), and waits until the
/// soonest is due again.
enum MarketplaceRounds {
    /// The connection while it is active and `enabled` says its setting is on.
    static func connection(
        _ id: ConnectionID,
        in store: Store,
        enabled: @Sendable (ConnectionSettings) -> Bool
    ) async throws -> Connection? {
        guard let connection = try await store.read({ try await $0.connection(id) }), connection.status == .active,
            enabled(connection.settings)
        else { return nil }
        return connection
    }

    /// Runs `read` for each marketplace (it returns the seconds until that marketplace is due again); the wait
    /// until the soonest, at most `interval`.
    static func round(
        _ connection: Connection,
        interval: TimeInterval,
        _ read: (MarketplaceID) async throws -> TimeInterval
    ) async throws -> NextRound {
        var soonest = interval
        for marketplace in connection.marketplaceIDs.sorted() {
            soonest = min(soonest, try await read(marketplace))
        }
        return .within(.milliseconds(Int64(max(1, soonest) * 1000)))
    }

    /// The seconds until a read last made at `readAt` is due again every `interval`; nil when it is due now (or
    /// was never made).
    static func wait(readAt: Date?, now: Date, interval: TimeInterval) -> TimeInterval? {
        guard let readAt else { return nil }
        let since = now.timeIntervalSince(readAt)
        return since < interval ? interval - since : nil
    }
}
