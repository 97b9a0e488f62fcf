import FlexCore
import FlexStore
import FlexStoreTesting
import Foundation
import SQLKit
import Testing

@Suite("Secrets at rest")
struct SecretTests {
    @Test("client secret and refresh token round-trip sealed, never stored in clear", arguments: TestEngine.available)
    func roundTrip(engine: TestEngine) async throws {
        try await withStore(engine) { store, _ in
            let connection = makeConnection()
            try await store.transaction { session in
                try await session.insertConnection(
                    connection,
                    clientSecret: "amzn1.oa2-cs.v1.client-secret",
                    actor: "test"
                )
                try await session.authorize(connection.id, refreshToken: "Atzr|refresh-token-value", actor: "test")
            }
            let credentials = try await store.read { try await $0.credentials(for: connection.id) }
            #expect(
                credentials
                    == ConnectionCredentials(
                        clientSecret: "amzn1.oa2-cs.v1.client-secret",
                        refreshToken: "Atzr|refresh-token-value"
                    )
            )
            #expect(!"\(credentials)".contains("client-secret"))

            let raw = try await store.read { session in
                try await session.sql.raw("SELECT client_secret_sealed, refresh_token_sealed FROM connections").first()
            }
            let sealedSecret = try #require(try raw?.decode(column: "client_secret_sealed", as: String.self))
            let sealedToken = try #require(try raw?.decode(column: "refresh_token_sealed", as: String?.self))
            #expect(!sealedSecret.contains("client-secret"))
            #expect(!sealedToken.contains("refresh-token"))
            #expect(try await store.read { try await $0.connection(connection.id) }?.status == .active)
        }
    }

    @Test("a sealed value moved to another field does not open")
    func contextBinding() throws {
        let box = SecretBox(key: try MasterKey.parse(MasterKey.generate(), origin: "test"))
        let sealed = try box.seal("token", context: "connection:a:refresh_token")
        #expect(try box.open(sealed, context: "connection:a:refresh_token") == "token")
        #expect(throws: StoreError.self) { try box.open(sealed, context: "connection:b:refresh_token") }
    }

    @Test("a different master key is refused at start with a clear error", arguments: TestEngine.available)
    func wrongKey(engine: TestEngine) async throws {
        try await TestDatabase.with(engine) { database in
            let store = try await openStore(database, key: MasterKey.generate())
            try await store.transaction {
                try await $0.insertConnection(makeConnection(), clientSecret: "s", actor: "test")
            }
            try await store.close()

            let error = await #expect(throws: StoreError.self) {
                try await openStore(database, key: MasterKey.generate())
            }
            #expect(error?.code == .masterKeyMismatch)
            #expect(error?.message.contains("FLEXBRIDGE_MASTER_KEY") == true)
        }
    }

    @Test("malformed keys are refused, naming where they came from")
    func malformedKey() {
        let error = #expect(throws: StoreError.self) {
            try MasterKey.parse("not-a-key", origin: "FLEXBRIDGE_MASTER_KEY")
        }
        #expect(error?.code == .masterKeyInvalid)
        #expect(error?.message.contains("FLEXBRIDGE_MASTER_KEY") == true)
        #expect(throws: Never.self) { try MasterKey.parse(String(repeating: "ab", count: 32), origin: "hex") }
    }

    @Test("SQLite's key file is created once, owner-only, and required once secrets exist")
    func keyFile() async throws {
        try await TestDatabase.with(.sqlite) { database in
            guard case .sqlite(let path) = database.url else { return }
            let keyPath = path + ".key"
            let store = try await Store.open(Store.Configuration(databaseURL: database.url))
            let attributes = try FileManager.default.attributesOfItem(atPath: keyPath)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            let keyText = try String(contentsOfFile: keyPath, encoding: .utf8)
            try await store.close()

            // Reopening uses the same file.
            let reopened = try await Store.open(Store.Configuration(databaseURL: database.url))
            try await reopened.close()
            #expect(try String(contentsOfFile: keyPath, encoding: .utf8) == keyText)

            // Without the file the database's secrets are unreadable: a clear error, and no new key is made.
            try FileManager.default.removeItem(atPath: keyPath)
            let error = await #expect(throws: StoreError.self) {
                try await Store.open(Store.Configuration(databaseURL: database.url))
            }
            #expect(error?.code == .masterKeyMissing)
            #expect(error?.message.contains(keyPath) == true)
            #expect(!FileManager.default.fileExists(atPath: keyPath))
        }
    }

    @Test("an unreadable key file is a clear error")
    func unreadableKeyFile() async throws {
        try await TestDatabase.with(.sqlite) { database in
            // A folder where the key file should be cannot be read as a file, even by root.
            let keyPath = database.folder.appendingPathComponent("key-folder").path
            try FileManager.default.createDirectory(atPath: keyPath, withIntermediateDirectories: true)
            let error = await #expect(throws: StoreError.self) {
                try await Store.open(
                    Store.Configuration(
                        databaseURL: database.url,
                        masterKey: .file(path: keyPath, createIfMissing: true)
                    )
                )
            }
            #expect(error?.code == .keyFileUnreadable)
            #expect(error?.message.contains(keyPath) == true)
        }
    }

    @Test("PostgreSQL without a configured key is refused: every node must share one")
    func postgresNeedsKey() async throws {
        guard TestEngine.available.contains(.postgres) else { return }
        try await TestDatabase.with(.postgres) { database in
            let error = await #expect(throws: StoreError.self) {
                try await Store.open(Store.Configuration(databaseURL: database.url))
            }
            #expect(error?.code == .masterKeyMissing)
        }
    }
}
