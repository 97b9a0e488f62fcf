import AmazonEFInventory
import FlexCore
import Foundation

/// Amazon's External Fulfillment inventory API in FlexCore's words: what the engine's inventory worker needs of it,
/// and all it sees of Amazon's generated types.
public protocol ExternalFulfillmentInventory: Sendable {
    /// Sets absolute quantities in one batchInventory call (at most 10); one answer per update, in order — fewer
    /// when Amazon answered fewer.
    func update(_ updates: [InventoryUpdate]) async throws -> [InventoryAnswer]
    /// Reads Amazon's numbers of items in one batchInventory call (at most 10); one answer per item, in order.
    func fetch(_ items: [(key: InventoryKey, marketplaceID: MarketplaceID)]) async throws -> [InventoryAnswer]
}

extension SellingPartnerClient: ExternalFulfillmentInventory {
    public func update(_ updates: [InventoryUpdate]) async throws -> [InventoryAnswer] {
        try await batchInventory(
            updates.map { update in
                Components.Schemas.InventoryRequest(
                    uri: Self.inventoryURI("/inventory/update", update.key),
                    method: .post,
                    body: .init(
                        clientSequenceNumber: Int(update.sequenceNumber),
                        quantity: update.quantity,
                        marketplaceAttributes: .init(
                            channelName: .init(rawValue: update.key.channel.rawValue),
                            marketplaceId: update.marketplaceID.rawValue
                        )
                    )
                )
            }
        )
    }

    public func fetch(_ items: [(key: InventoryKey, marketplaceID: MarketplaceID)]) async throws -> [InventoryAnswer] {
        try await batchInventory(
            items.map { key, marketplaceID in
                Components.Schemas.InventoryRequest(
                    uri: Self.inventoryURI("/inventory/fetch", key),
                    method: .get,
                    body: .init(
                        marketplaceAttributes: .init(
                            channelName: .init(rawValue: key.channel.rawValue),
                            marketplaceId: marketplaceID.rawValue
                        )
                    )
                )
            }
        )
    }

    private func batchInventory(_ requests: [Components.Schemas.InventoryRequest]) async throws -> [InventoryAnswer] {
        let responses =
            try await inventory.batchInventory(body: .json(.init(requests: requests))).code207.body.json
            .responses ?? []
        return responses.map { response in
            InventoryAnswer(
                statusCode: response.status.statusCode ?? 0,
                reasonPhrase: response.status.reasonPhrase,
                stock: AmazonStock(
                    sellable: response.body.sellableQuantity ?? 0,
                    reserved: response.body.reservedQuantity ?? 0,
                    sequenceNumber: response.body.clientSequenceNumber.map(Int64.init)
                ),
                actionableErrors: (response.body.actionableErrors ?? []).map {
                    InventoryAnswer.ActionableError(type: $0.errorType, subType: $0.errorSubType)
                }
            )
        }
    }

    /// The sub-request's URI, with the SKU and location percent-encoded as Amazon asks.
    static func inventoryURI(_ path: String, _ key: InventoryKey) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        func encode(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text }
        return "\(path)?locationId=\(encode(key.locationID.rawValue))&skuId=\(encode(key.merchantSKU.rawValue))"
    }
}
