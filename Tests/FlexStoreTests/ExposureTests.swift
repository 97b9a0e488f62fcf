import FlexCore
import FlexStore
import FlexStoreTesting
import Foundation
import SQLKit
import Testing

/// What the store keeps must not be readable by others, nor grow without bound because someone keeps asking.
@Suite("Exposure and growth")
struct ExposureTests {
    @Test("the SQLite database and its -wal and -shm files are readable by their owner only")
    func sqliteFileModes() async throws {
        try await withStore(.sqlite) { store, database in
            try await store.transaction {
                try await $0.insertConnection(makeConnection(), clientSecret: "s", actor: "test")
            }
            guard case .sqlite(let path) = database.url else {
                Issue.record("not SQLite")
                return
            }
            for file in [path, path + "-wal", path + "-shm"] {
                let attributes = try FileManager.default.attributesOfItem(atPath: file)
                let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
                #expect(mode & 0o077 == 0, "\(file) has mode \(String(mode, radix: 8))")
            }
        }
    }

    @Test(
        "a consent link asked for again and again keeps at most the newest few states per connection",
        arguments: TestEngine.available
    )
    func authorizationStatesBounded(engine: TestEngine) async throws {
        let clock = TestClock()
        try await withStore(engine, clock: clock) { store, _ in
            let connection = makeConnection()
            try await store.transaction { try await $0.insertConnection(connection, clientSecret: "s", actor: "test") }
            var states: [String] = []
            for _ in 0..<(StoreSession.authorizationStatesKept + 15) {
                clock.advance(by: .seconds(1))
                states.append(
                    try await store.transaction {
                        try await $0.createAuthorizationState(
                            for: connection.id,
                            redirectURI: "http://x/callback",
                            lifetime: 3600
                        ).state
                    }
                )
            }
            let count = try await store.read { session in
                try await session.sql.raw("SELECT COUNT(*) AS n FROM authorization_states").first()?.decode(
                    column: "n",
                    as: Int64.self
                )
            }
            #expect(count == Int64(StoreSession.authorizationStatesKept))
            // The newest still works; the oldest was dropped.
            #expect(try await store.transaction { try await $0.consumeAuthorizationState(states.last!) } != nil)
            #expect(try await store.transaction { try await $0.consumeAuthorizationState(states.first!) } == nil)
        }
    }
}
