import FlexCore
import FlexStore
import SellingPartner

/// A worker stopped because Amazon refused the seller's refresh token; the connection was marked
/// `needs_reauthorization`, so nothing retries until the seller consents again.
public struct ConnectionNeedsReauthorization: Error, Sendable {
    public var message: String

    public init(message: String) {
        self.message = message
    }
}

/// Runs a call to Amazon for a connection's worker. A refused refresh token marks the connection and becomes
/// ``ConnectionNeedsReauthorization``; any other failure is rethrown as the Selling Partner error behind it.
func callAmazon<T: Sendable>(
    store: Store,
    connectionID: ConnectionID,
    lease: Lease?,
    isolation: isolated (any Actor)? = #isolation,
    _ body: () async throws -> T
) async throws -> T {
    do {
        return try await body()
    } catch {
        // A call cut short by the task's cancellation (a shutdown, a lease lost) is not Amazon's failure.
        if Task.isCancelled { throw CancellationError() }
        let cause = error.sellingPartnerError ?? error
        if case .needsReauthorization(let text)? = cause as? LoginWithAmazonError {
            try await store.transaction(fencedBy: lease) {
                try await $0.setStatus(connectionID, to: .needsReauthorization, actor: "system")
            }
            throw ConnectionNeedsReauthorization(message: text)
        }
        throw cause
    }
}
