/// Input that FlexBridge refuses, naming the field and why, so that the person who sent it can fix it.
public struct ValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The field at fault, in the API's spelling (`settings.safetyStock`, `marketplaceIds`).
    public var field: String
    /// Why the value is refused.
    public var reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(field) \(reason)" }
}
