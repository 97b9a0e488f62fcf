import FlexStore
import FlexStoreTesting
import SQLKit
import Testing

@Suite("Migrations")
struct MigrationTests {
    @Test("a second run applies nothing", arguments: TestEngine.available)
    func idempotent(engine: TestEngine) async throws {
        try await TestDatabase.with(engine) { test in
            let database = try await Database.open(test.url)
            let first = try await database.migrate()
            let second = try await database.migrate()
            #expect(first.applied.map(\.version) == Database.knownMigrations.map(\.version))
            #expect(second.applied.isEmpty)
            #expect(second.version == first.version)
            #expect(try await database.schemaVersion() == Database.knownMigrations.map(\.version).max())
            try await database.close()
        }
    }

    @Test("two processes migrating at once apply each step once", arguments: TestEngine.available)
    func concurrentMigrators(engine: TestEngine) async throws {
        try await TestDatabase.with(engine) { test in
            // Two Database values are two independent connection sets, as two processes would have.
            let one = try await Database.open(test.url)
            let two = try await Database.open(test.url)
            async let first = one.migrate()
            async let second = two.migrate()
            let reports = try await [first, second]
            let appliedVersions = reports.flatMap { $0.applied.map(\.version) }.sorted()
            #expect(appliedVersions == Database.knownMigrations.map(\.version).sorted())
            let rows = try await one.session { sql in
                try await sql.raw("SELECT version FROM schema_migrations").all()
            }
            #expect(rows.count == Database.knownMigrations.count)
            try await one.close()
            try await two.close()
        }
    }

    @Test("an empty database reports schema version 0 before migrating", arguments: TestEngine.available)
    func versionBeforeMigrating(engine: TestEngine) async throws {
        try await TestDatabase.with(engine) { test in
            let database = try await Database.open(test.url)
            _ = try await database.transaction { sql in
                try await sql.raw(
                    "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
                ).run()
            }
            #expect(try await database.schemaVersion() == 0)
            try await database.close()
        }
    }

    @Test("a database migrated by a newer FlexBridge is refused", arguments: TestEngine.available)
    func schemaTooNew(engine: TestEngine) async throws {
        try await TestDatabase.with(engine) { test in
            let database = try await Database.open(test.url)
            try await database.migrate()
            try await database.transaction { sql in
                try await sql.raw("INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'future', 0)")
                    .run()
            }
            let error = await #expect(throws: StoreError.self) { try await database.migrate() }
            #expect(error?.code == .schemaTooNew)
            #expect(error?.message.contains("999") == true)
            try await database.close()
        }
    }
}
