import FlexCore
import FlexStore
import FlexStoreTesting
import Foundation
import Synchronization
import Testing

@Suite("Transactions and the outbox")
struct TransactionTests {
    struct Boom: Error {}

    @Test("a failed transaction leaves nothing behind", arguments: TestEngine.available)
    func rollback(engine: TestEngine) async throws {
        try await withStore(engine) { store, _ in
            let connection = makeConnection()
            await #expect(throws: Boom.self) {
                try await store.transaction { session in
                    try await session.insertConnection(connection, clientSecret: "secret", actor: "test")
                    try await session.appendEvents([NewEvent(type: "connection.created", connectionID: connection.id)])
                    throw Boom()
                }
            }
            #expect(try await store.read { try await $0.connections() }.isEmpty)
            #expect(try await store.read { try await $0.events(after: 0, account: .default) }.isEmpty)
            #expect(try await store.read { try await $0.configChanges() }.isEmpty)
            // The store is still usable after the rollback.
            try await store.transaction {
                try await $0.insertConnection(connection, clientSecret: "secret", actor: "test")
            }
            #expect(try await store.read { try await $0.connections() }.map(\.id) == [connection.id])
        }
    }

    @Test("a transaction of a cancelled task leaves the store writable", arguments: TestEngine.available)
    func cancelledTask(engine: TestEngine) async throws {
        try await withStore(engine) { store, _ in
            // A statement can take effect and still report CancellationError to a cancelled task; a BEGIN left
            // open that way used to make every later write on SQLite fail.
            // Cancelled at varying points, some of them while a statement runs on SQLite's thread pool.
            for attempt in 0..<1000 {
                let task = Task {
                    try await store.transaction { session in
                        try await session.appendEvents([NewEvent(type: "test.cancelled", subject: "\(attempt)")])
                    }
                }
                for _ in 0..<(attempt % 7) { await Task.yield() }
                task.cancel()
                _ = await task.result
            }
            try await store.transaction {
                try await $0.insertConnection(makeConnection(region: .na), clientSecret: "secret", actor: "test")
            }
            #expect(try await store.read { try await $0.connections() }.contains { $0.region == .na })
        }
    }

    @Test("a write after the store closed fails at once instead of waiting forever", arguments: TestEngine.available)
    func writeAfterClose(engine: TestEngine) async throws {
        try await withStore(engine) { store, _ in
            try await store.close()
            // On SQLite a transaction runs on the writer's own thread, which is gone once the store closed: the
            // transaction must still run (and fail), not wait for a thread that will never take it. Not awaited, so
            // that a write that waits forever fails the test instead of hanging it.
            let outcome = Mutex<String?>(nil)
            let write = Task {
                do {
                    try await store.transaction {
                        try await $0.appendEvents([NewEvent(type: "test.closed", subject: "1")])
                    }
                    outcome.withLock { $0 = "written" }
                } catch {
                    outcome.withLock { $0 = "failed" }
                }
            }
            let deadline = ContinuousClock.now + .seconds(20)
            while outcome.withLock({ $0 }) == nil, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            write.cancel()
            #expect(outcome.withLock { $0 } == "failed")
        }
    }

    @Test("a second connection for the same seller and region is a conflict", arguments: TestEngine.available)
    func duplicateConnection(engine: TestEngine) async throws {
        try await withStore(engine) { store, _ in
            try await store.transaction {
                try await $0.insertConnection(makeConnection(), clientSecret: "s", actor: "test")
            }
            let error = await #expect(throws: StoreError.self) {
                try await store.transaction {
                    try await $0.insertConnection(makeConnection(), clientSecret: "s", actor: "test")
                }
            }
            #expect(error?.code == .conflict)
            try await store.transaction {
                try await $0.insertConnection(makeConnection(region: .na), clientSecret: "s", actor: "test")
            }
            #expect(try await store.read { try await $0.connections() }.count == 2)
        }
    }

    @Test("events get increasing sequences and stable ids, and page by cursor", arguments: TestEngine.available)
    func outbox(engine: TestEngine) async throws {
        try await withStore(engine) { store, _ in
            let written = try await store.transaction { session in
                try await session.appendEvents(
                    (1...5).map { NewEvent(type: "test.event", subject: "s\($0)", payload: "{\"n\":\($0)}") }
                )
            }
            #expect(written.map(\.sequence) == written.map(\.sequence).sorted())
            #expect(Set(written.map(\.id)).count == 5)
            let firstPage = try await store.read { try await $0.events(after: 0, account: .default, limit: 2) }
            let secondPage = try await store.read {
                try await $0.events(after: firstPage.last!.sequence, account: .default, limit: 10)
            }
            #expect((firstPage + secondPage).map(\.id) == written.map(\.id))
            #expect(secondPage.map(\.subject) == ["s3", "s4", "s5"])
            #expect(secondPage.first?.payload == "{\"n\":3}")
        }
    }

    @Test("a reader following the cursor while writers commit sees every event", arguments: TestEngine.available)
    func outboxOrderUnderConcurrency(engine: TestEngine) async throws {
        try await withStore(engine) { store, _ in
            let finished = Flag()
            let writers = Task {
                defer { finished.set() }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for writer in 0..<8 {
                        group.addTask {
                            for n in 0..<15 {
                                try await store.transaction { session in
                                    try await session.appendEvents([
                                        NewEvent(type: "test.event", subject: "\(writer)-\(n)")
                                    ])
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
            }
            // Follow the feed as a webhook dispatcher would, while the writers run, then drain what is left.
            var seen: [OutboxEvent] = []
            while true {
                let writersDone = finished.isSet
                let page = try await store.read { [cursor = seen.last?.sequence ?? 0] in
                    try await $0.events(after: cursor, account: .default, limit: 7)
                }
                seen += page
                if page.isEmpty {
                    if writersDone { break }
                    try await Task.sleep(for: .milliseconds(1))
                }
            }
            try await writers.value
            #expect(seen.count == 120)
            #expect(Set(seen.map(\.subject)).count == 120)
            #expect(seen.map(\.sequence) == seen.map(\.sequence).sorted())
        }
    }
}
