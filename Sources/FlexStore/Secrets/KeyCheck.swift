import Foundation
import Logging
import SQLKit

/// Proves at start that the master key is the one the database's secrets were sealed with, so that a wrong key is
/// an error at once rather than garbage later: the first start seals a known value into `meta`, every later start
/// must open it.
enum KeyCheck {
    static let metaKey = "master_key_check"
    static let context = "meta:master_key_check"
    static let plaintext = "flexbridge master key check"

    static func unlock(database: Database, source: MasterKey.Source?, logger: Logger) async throws -> SecretBox {
        let existing = try await storedCheck(database)
        let resolved = try resolve(source, database: database, databaseHasSecrets: existing != nil)
        let (key, created) = try MasterKey.load(resolved)
        if created, case .file(let path, _) = resolved {
            logger.notice("created a new master key file; back it up with the database", metadata: ["path": "\(path)"])
        }
        let box = SecretBox(key: key)
        if existing == nil {
            let sealed = try box.seal(plaintext, context: context)
            try await database.transaction { sql in
                try await sql.raw(
                    "INSERT INTO meta (key, value) VALUES (\(bind: metaKey), \(bind: sealed)) ON CONFLICT (key) DO NOTHING"
                ).run()
            }
        }
        // Read back even after writing: another node may have sealed its check first, with another key.
        guard let check = try await storedCheck(database), (try? box.open(check, context: context)) == plaintext else {
            throw StoreError(
                code: .masterKeyMismatch,
                message:
                    "The master key (\(describe(resolved))) is not the key this database's secrets were sealed with. Use the original key; secrets sealed with it cannot be read with another."
            )
        }
        return box
    }

    private static func storedCheck(_ database: Database) async throws -> String? {
        try await database.session { sql in
            try await sql.raw("SELECT value FROM meta WHERE key = \(bind: metaKey)").first()?
                .decode(column: "value", as: String.self)
        }
    }

    private static func resolve(
        _ source: MasterKey.Source?,
        database: Database,
        databaseHasSecrets: Bool
    ) throws -> MasterKey.Source {
        switch source {
        case .file(let path, let create):
            return .file(path: path, createIfMissing: create && !databaseHasSecrets)
        case .value:
            return source!
        case nil:
            guard case .sqlite(let path) = database.url else {
                throw StoreError(
                    code: .masterKeyMissing,
                    message:
                        "FLEXBRIDGE_MASTER_KEY is not set. With PostgreSQL every node must use the same master key: generate one with `flexbridge keygen` and set it on every node."
                )
            }
            return .file(path: path + ".key", createIfMissing: !databaseHasSecrets)
        }
    }

    private static func describe(_ source: MasterKey.Source) -> String {
        switch source {
        case .value: "from FLEXBRIDGE_MASTER_KEY"
        case .file(let path, _): "from the key file \(path)"
        }
    }
}
