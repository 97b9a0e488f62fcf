import AmazonEFLocation
import Foundation

/// Amazon's sandbox createSandboxLocation: one location id per channel, idempotent by location name.
extension Simulator: AmazonEFLocation.APIProtocol {
    public func createSandboxLocation(
        _ input: Operations.CreateSandboxLocation.Input
    ) async throws -> Operations.CreateSandboxLocation.Output {
        let merchantID = try RequestScope.merchant()
        guard case .json(let body) = input.body else { throw AmazonError.invalidInput("A JSON body is required") }
        guard !body.merchantIds.isEmpty else {
            throw AmazonError.invalidInput("merchantIds must hold at least one merchant id")
        }
        for id in body.merchantIds where !(1...64).contains(id.count) {
            throw AmazonError.invalidInput(
                "Invalid input \(id) for parameter merchantIds: each id must be 1 to 64 characters"
            )
        }
        guard body.merchantIds.contains(merchantID) else {
            throw AmazonError(
                status: 403,
                code: "Unauthorized",
                message: "Access to requested resource is denied.",
                details: "merchantIds must include the calling seller \(merchantID)"
            )
        }
        guard (1...60).contains(body.locationName.count) else {
            throw AmazonError.invalidInput("Invalid input for parameter locationName: must be 1 to 60 characters")
        }
        guard !body.marketplaceId.isEmpty else { throw AmazonError.invalidInput("marketplaceId is required") }
        if let channels = body.channels, channels.isEmpty {
            throw AmazonError.invalidInput("channels must hold at least one channel when given")
        }
        let channels = Set((body.channels ?? [.fba, .mfn]).map(\.rawValue)).sorted()
        let ids = location(
            named: body.locationName,
            merchantIDs: body.merchantIds,
            marketplaceID: body.marketplaceId,
            channels: channels
        )
        return .created(.init(body: .json(.init(locationIds: .init(fba: ids["FBA"], mfn: ids["MFN"])))))
    }

    /// The location ids for a name, created on first use.
    func location(
        named name: String,
        merchantIDs: [String],
        marketplaceID: String,
        channels: [String]
    ) -> [String: String] {
        let key = "\(merchantIDs.sorted().joined(separator: ","))|\(marketplaceID)|\(name)"
        var ids = world.locationsByName[key] ?? [:]
        for channel in channels where ids[channel] == nil {
            let id = World.uniqueID(length: 4, using: &random) { self.world.locations[$0] != nil }
            world.locations[id] = World.Location(
                id: id,
                name: name,
                merchantIDs: merchantIDs,
                marketplaceID: marketplaceID,
                channel: channel
            )
            ids[channel] = id
        }
        world.locationsByName[key] = ids
        return ids.filter { channels.contains($0.key) }
    }
}
