import Foundation

/// A tenant of the installation: it owns connections (seller account × region), the hubs and their stock levels,
/// the events of its connections and the webhooks that deliver them. Nothing of one account is visible to another.
public struct Account: Sendable, Hashable, Codable {
    public var id: AccountID
    public var name: String
    public var createdAt: Date

    public init(id: AccountID = .generate(), name: String, createdAt: Date) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
    }
}
