/// Which connection a notification from Amazon belongs to. A seller authorised in several regions has one connection
/// per region, and a notification names the seller, not the connection: it goes to the connection that has the
/// notified location mapped, else to the one that already holds the shipment, else to the one of the region the
/// notification came from. Only when none of these tells the connections apart is it filed under each of them — a
/// fetch in the wrong region finds no such shipment and is dropped, so nothing is lost and nothing is doubled.
public enum NotificationRouting {
    /// A connection of the notified seller, with what the store knows of it.
    public struct Candidate: Sendable, Hashable {
        public var connectionID: ConnectionID
        public var region: Region
        /// Amazon locations mapped to a hub on this connection.
        public var locationIDs: Set<String>
        /// Whether the notified shipment is already an order of this connection.
        public var holdsShipment: Bool

        public init(connectionID: ConnectionID, region: Region, locationIDs: Set<String>, holdsShipment: Bool) {
            self.connectionID = connectionID
            self.region = region
            self.locationIDs = locationIDs
            self.holdsShipment = holdsShipment
        }
    }

    /// The connections to file the notification under: one whenever the notification tells them apart, none when
    /// the seller has no connection.
    public static func route(
        _ candidates: [Candidate],
        locationID: String?,
        region: Region?
    ) -> [ConnectionID] {
        guard candidates.count > 1 else { return candidates.map(\.connectionID) }
        let tests: [(Candidate) -> Bool] = [
            { candidate in locationID.map { candidate.locationIDs.contains($0) } ?? false },
            { candidate in candidate.holdsShipment },
            { candidate in region == candidate.region },
        ]
        for test in tests {
            let matching = candidates.filter(test)
            if matching.count == 1 { return [matching[0].connectionID] }
        }
        return candidates.map(\.connectionID)
    }
}
