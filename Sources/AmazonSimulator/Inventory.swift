import AmazonEFInventory
import Foundation

typealias InventorySchemas = AmazonEFInventory.Components.Schemas

/// Amazon's batchInventory: up to 10 updates and fetches per call, each answered on its own in a 207.
///
/// Sequence numbers: an update applies only when its clientSequenceNumber is above the last one applied for that
/// (location, SKU, channel). A repeated or lower number changes nothing; its item answers 409 with the stored
/// number and the current quantities, so the client can see which update Amazon holds.
extension Simulator: AmazonEFInventory.APIProtocol {
    public func batchInventory(
        _ input: Operations.BatchInventory.Input
    ) async throws -> Operations.BatchInventory.Output {
        let merchantID = try RequestScope.merchant()
        guard case .json(let body) = input.body, let requests = body.requests else {
            throw AmazonError.invalidInput("requests is required")
        }
        guard (1...10).contains(requests.count) else {
            throw AmazonError.invalidInput(
                "Invalid input \(requests.count) for parameter requests: must hold 1 to 10 requests"
            )
        }
        var responses: [InventorySchemas.InventoryResponse] = []
        for request in requests {
            responses.append(inventory(request, merchantID: merchantID))
        }
        return .code207(.init(body: .json(.init(responses: responses))))
    }

    func inventory(
        _ request: InventorySchemas.InventoryRequest,
        merchantID: String
    ) -> InventorySchemas.InventoryResponse {
        func answer(
            _ code: Int,
            _ phrase: String,
            _ body: InventorySchemas.InventoryResponseBody
        ) -> InventorySchemas.InventoryResponse {
            .init(status: .init(statusCode: code, reasonPhrase: phrase), body: body)
        }
        func failure(
            _ code: Int,
            _ phrase: String,
            _ type: String,
            _ detail: String,
            location: String? = nil,
            sku: String? = nil
        )
            -> InventorySchemas.InventoryResponse
        {
            answer(
                code,
                phrase,
                .init(
                    locationId: location,
                    skuId: sku,
                    actionableErrors: [.init(errorType: type, errorSubType: detail)]
                )
            )
        }
        guard let components = URLComponents(string: request.uri),
            components.path == "/inventory/update" || components.path == "/inventory/fetch"
        else {
            return failure(
                400,
                "Invalid Input",
                "INVALID_INPUT",
                "uri must be /inventory/update or /inventory/fetch with locationId and skuId"
            )
        }
        let items = components.queryItems ?? []
        guard let locationID = items.first(where: { $0.name == "locationId" })?.value, !locationID.isEmpty,
            let sku = items.first(where: { $0.name == "skuId" })?.value, !sku.isEmpty
        else {
            return failure(400, "Invalid Input", "INVALID_INPUT", "uri needs the query parameters locationId and skuId")
        }
        guard let location = world.locations[locationID], location.merchantIDs.contains(merchantID) else {
            return failure(
                404,
                "Not Found",
                "INVALID_LOCATION",
                "The requested location does not exist for the seller.",
                location: locationID,
                sku: sku
            )
        }
        let attributes = request.body?.marketplaceAttributes
        let marketplaceID = attributes?.marketplaceId ?? location.marketplaceID
        let channel = attributes?.channelName?.rawValue ?? location.channel
        guard world.knows(sku: sku, merchantID: merchantID, marketplaceID: marketplaceID) else {
            return failure(
                400,
                "Invalid Input",
                "INVALID_SKU",
                "The requested Sku does not exist for the seller in requested marketplace.",
                location: locationID,
                sku: sku
            )
        }
        let key = World.StockKey(locationID: locationID, sku: sku, channel: channel)
        let responseAttributes = InventorySchemas.MarketplaceAttributes(
            channelName: .init(rawValue: channel),
            marketplaceId: marketplaceID
        )
        func state(
            _ code: Int,
            _ phrase: String,
            errors: [InventorySchemas.ActionableError]? = nil
        ) -> InventorySchemas.InventoryResponse {
            let stock = world.stock[key]
            let reserved = world.reserved(key)
            return answer(
                code,
                phrase,
                .init(
                    clientSequenceNumber: stock?.clientSequenceNumber,
                    locationId: locationID,
                    skuId: sku,
                    sellableQuantity: max(0, (stock?.quantity ?? 0) - reserved),
                    reservedQuantity: reserved,
                    marketplaceAttributes: responseAttributes,
                    actionableErrors: errors
                )
            )
        }
        if components.path == "/inventory/fetch" { return state(200, "OK") }
        guard request.method == .post else {
            return failure(
                400,
                "Invalid Input",
                "INVALID_INPUT",
                "An update is sent with method POST",
                location: locationID,
                sku: sku
            )
        }
        guard let quantity = request.body?.quantity, let sequence = request.body?.clientSequenceNumber else {
            return failure(
                400,
                "Invalid Input",
                "INVALID_INPUT",
                "An update needs quantity and clientSequenceNumber",
                location: locationID,
                sku: sku
            )
        }
        guard quantity >= 0 else {
            return failure(
                400,
                "Invalid Input",
                "INVALID_INPUT",
                "quantity must be 0 or more, got \(quantity)",
                location: locationID,
                sku: sku
            )
        }
        if let stored = world.stock[key], sequence <= stored.clientSequenceNumber {
            return state(
                409,
                "Conflict",
                errors: [
                    .init(
                        errorType: "STALE_SEQUENCE_NUMBER",
                        errorSubType:
                            "clientSequenceNumber \(sequence) is not above \(stored.clientSequenceNumber), the last one applied; nothing changed."
                    )
                ]
            )
        }
        world.stock[key] = World.Stock(quantity: quantity, clientSequenceNumber: sequence, updatedAt: now())
        return state(200, "OK")
    }
}
