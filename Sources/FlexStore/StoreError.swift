import FlexCore

/// What went wrong in the store, said so that an operator knows what to fix.
public struct StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure, for code that reacts to it.
    public enum Code: String, Sendable, Hashable {
        case invalidDatabaseURL
        case databaseUnavailable
        case schemaTooNew
        case masterKeyMissing
        case masterKeyInvalid
        case masterKeyMismatch
        case keyFileUnreadable
        case secretUnreadable
        case notFound
        case conflict
        case invalidInput
        /// A worker wrote under a lease another node has since taken (or that was released): the write was refused.
        case leaseLost
    }

    public var code: Code
    /// One sentence for a person: what is wrong and how to fix it.
    public var message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func invalidDatabaseURL(_ url: String, reason: String) -> StoreError {
        StoreError(code: .invalidDatabaseURL, message: "The database URL \"\(url)\" is not valid: \(reason).")
    }

    public static func leaseLost(_ lease: Lease) -> StoreError {
        StoreError(
            code: .leaseLost,
            message:
                "Lease \(lease.name) is no longer held by \(lease.owner) at epoch \(lease.epoch): another node took it over, so this write was refused."
        )
    }

    public static func notFound(_ what: String) -> StoreError {
        StoreError(code: .notFound, message: "\(what) does not exist.")
    }
}

extension Error {
    /// Whether this is the store refusing a write because the writer's lease was taken over by another node.
    public var isLeaseLost: Bool { (self as? StoreError)?.code == .leaseLost }
}
