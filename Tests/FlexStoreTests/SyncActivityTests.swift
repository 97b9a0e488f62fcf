import FlexCore
import FlexStore
import FlexStoreTesting
import Foundation
import Testing

@Suite("The sync's activity per connection and minute, for the dashboard")
struct SyncActivityTests {
    @Test(
        "counts from several flushes (several nodes) add up per minute; the latest times win; an unknown connection is dropped",
        arguments: TestEngine.available
    )
    func addsUp(_ engine: TestEngine) async throws {
        let clock = TestClock()
        try await withStore(engine, clock: clock) { store, _ in
            let connection = makeConnection(seller: "A1ACTIVITY")
            try await store.transaction { try await $0.insertConnection(connection, clientSecret: "s", actor: "test") }
            let start = clock.now
            let minute = SyncMinute.minute(of: start)
            store.activity.record(.skusSent(10), for: connection.id, at: start)
            store.activity.record(.amazonAnswer(status: 200), for: connection.id, at: start)
            store.activity.record(.amazonAnswer(status: 429), for: connection.id, at: start)
            store.activity.record(.amazonAnswer(status: nil), for: connection.id, at: start)
            store.activity.record(.orderPoll, for: connection.id, at: start)
            store.activity.record(.skusSent(3), for: "no-such-connection", at: start)
            try await store.flushActivity()
            // Another node's counts of the same minute, and a later minute.
            let later = start.addingTimeInterval(5)
            store.activity.record(.skusSent(7), for: connection.id, at: later)
            store.activity.record(.notification, for: connection.id, at: later)
            store.activity.record(.commandFailed, for: connection.id, at: start.addingTimeInterval(120))
            try await store.flushActivity()
            try await store.flushActivity()  // nothing left: writes nothing

            let minutes = try await store.read {
                try await $0.activity(within: [connection.id, "no-such-connection"], since: minute)
            }
            #expect(minutes.keys.map(\.rawValue) == [connection.id.rawValue])
            let first = try #require(minutes[connection.id]?.first)
            #expect(first.minute == minute && first.skusSent == 17 && first.amazonCalls == 3)
            #expect(
                first.throttled == 1 && first.amazonErrors == 1 && first.orderPolls == 1 && first.notifications == 1
            )
            #expect(first.lastPushAt == Date(millisecondsSince1970: later.millisecondsSince1970))
            #expect(minutes[connection.id]?.count == 2 && minutes[connection.id]?.last?.commandsFailed == 1)
            let last = try await store.read { try await $0.lastActivity(within: [connection.id]) }[connection.id]
            #expect(last?.poll == Date(millisecondsSince1970: start.millisecondsSince1970))
            #expect(last?.notification == Date(millisecondsSince1970: later.millisecondsSince1970))
            #expect(
                try await store.read { try await $0.activity(within: [connection.id], since: minute + 1) }.count == 1
            )
            // Three days on, those minutes are gone, but the connection still says when it last pushed.
            clock.advance(by: .seconds(3 * 86_400))
            store.activity.record(.amazonAnswer(status: 200), for: connection.id, at: clock.now)
            try await store.flushActivity()
            #expect(try await store.read { try await $0.activity(within: [connection.id], since: minute) }.count == 1)
            let kept = try await store.read { try await $0.lastActivity(within: [connection.id]) }[connection.id]
            #expect(kept?.push == Date(millisecondsSince1970: later.millisecondsSince1970))
        }
    }

    @Test(
        "one flush of many connections' minutes (more than one statement's worth) writes each, two minutes of one connection keep their latest times",
        arguments: TestEngine.available
    )
    func manyConnections(_ engine: TestEngine) async throws {
        let clock = TestClock()
        try await withStore(engine, clock: clock) { store, _ in
            let connections = (0..<150).map { makeConnection(seller: "A1MANY\($0)") }
            try await store.transaction { session in
                for connection in connections {
                    try await session.insertConnection(connection, clientSecret: "s", actor: "test")
                }
            }
            let start = clock.now
            let minute = SyncMinute.minute(of: start)
            for (index, connection) in connections.enumerated() {
                store.activity.record(.skusSent(index + 1), for: connection.id, at: start)
                store.activity.record(.orderPoll, for: connection.id, at: start.addingTimeInterval(90))
            }
            try await store.flushActivity()
            let ids = connections.map(\.id)
            let minutes = try await store.read { try await $0.activity(within: ids, since: minute) }
            let lasts = try await store.read { try await $0.lastActivity(within: ids) }
            for (index, connection) in connections.enumerated() {
                #expect(minutes[connection.id]?.count == 2)
                #expect(minutes[connection.id]?.first?.skusSent == index + 1)
                #expect(lasts[connection.id]?.push == Date(millisecondsSince1970: start.millisecondsSince1970))
                #expect(
                    lasts[connection.id]?.poll
                        == Date(millisecondsSince1970: start.addingTimeInterval(90).millisecondsSince1970)
                )
            }
        }
    }
}
