import FlexCore
import Foundation
import Testing

@Suite("Lease shares")
struct LeaseSharesTests {
    @Test("a share is the connections divided by the live nodes, rounded up, so that together the shares cover all")
    func share() {
        #expect(LeaseShares.share(connections: 300, liveNodes: 3) == 100)
        #expect(LeaseShares.share(connections: 300, liveNodes: 4) == 75)
        #expect(LeaseShares.share(connections: 10, liveNodes: 3) == 4)
        #expect(LeaseShares.share(connections: 0, liveNodes: 3) == 0)
        #expect(LeaseShares.share(connections: 5, liveNodes: 0) == 5, "a node counts itself")
    }

    @Test(
        "a node above its share hands over the end of its sorted list; below it, it tries the free, expired, its own and dead nodes' leases"
    )
    func plan() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        let ids = (0..<6).map { ConnectionID(rawValue: "c\($0)") }
        func lease(_ id: ConnectionID, _ owner: String, expires seconds: TimeInterval) -> (String, Lease) {
            (Lease.name(for: id), Lease(name: Lease.name(for: id), owner: owner, epoch: 1, expiresAt: now + seconds))
        }
        let leases = Dictionary(
            uniqueKeysWithValues: [
                lease(ids[0], "a", expires: 10), lease(ids[1], "a", expires: 10), lease(ids[2], "a", expires: 10),
                lease(ids[3], "b", expires: 10), lease(ids[4], "dead", expires: 10), lease(ids[5], "b", expires: -1),
            ]
        )
        let above = LeaseShares.plan(
            wanted: Set(ids),
            held: Set(ids[0...2]),
            leases: leases,
            owner: "a",
            deadOwners: [],
            liveNodes: 3,
            now: now
        )
        #expect(above.renew == [ids[0], ids[1]] && above.handOver == [ids[2]] && above.take == 0)
        let below = LeaseShares.plan(
            wanted: Set(ids),
            held: [],
            leases: leases,
            owner: "c",
            deadOwners: ["dead"],
            liveNodes: 3,
            now: now
        )
        #expect(below.renew.isEmpty && below.handOver.isEmpty && below.take == 2)
        #expect(below.candidates == [ids[4], ids[5]], "a dead node's and an expired lease; not a live node's")
    }
}
