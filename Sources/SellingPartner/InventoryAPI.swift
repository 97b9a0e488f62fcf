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
    package static func inventoryURI(_ path: String, _ key: InventoryKey) -> String {
        "\(path)?locationId=\(percentEncoded(key.locationID.rawValue))&skuId=\(percentEncoded(key.merchantSKU.rawValue))"
    }

    /// `text` with every UTF-8 byte but RFC 3986's unreserved characters (ASCII letters, digits, `-._~`) written as
    /// `%XX`. (Foundation's `CharacterSet.alphanumerics` would let non-ASCII letters through unencoded, and building
    /// it cost more than the rest of a push's request.)
    package static func percentEncoded(_ text: String) -> String {
        let hex = hexDigits
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                bytes.append(byte)
            default:
                bytes += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `0`–`9`, `A`–`F` as UTF-8, made once: the encoder runs twice for every stock push.
    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)
}
