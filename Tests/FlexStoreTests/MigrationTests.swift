import FlexStore
import FlexStoreTesting
import SQLKit
import Testing

@Suite("Migrations")
struct MigrationTests {
    @Test(
        "accounts: what an older FlexBridge stored moves into the default account, stock levels kept",
        arguments: TestEngine.available
    )
    func accounts(engine: TestEngine) async throws {
        try await TestDatabase.with(engine) { test in
            let database = try await Database.open(test.url)
            try await database.migrate(through: 7)
            try await database.transaction { sql in
                try await sql.raw(
                    """
                    INSERT INTO stock_levels (hub, warehouse_sku, quantity, updated_at, write_id)
                    VALUES ('HUB1', 'W-1', 12, 1, 1), ('HUB2', 'W-1', 3, 1, 1)
                    """
                ).run()
                try await sql.raw(
                    "INSERT INTO events (id, type, payload, created_at) VALUES ('e1', 'order.created', '{}', 1)"
                ).run()
            }
            #expect(try await database.migrate().applied.map(\.version).contains(8))
            try await database.session { sql in
                let levels = try await sql.raw("SELECT account_id, hub, quantity FROM stock_levels ORDER BY hub").all()
                #expect(
                    try levels.map { try $0.decode(column: "account_id", as: String.self) } == ["default", "default"]
                )
                #expect(try levels.map { try $0.decode(column: "quantity", as: Int.self) } == [12, 3])
                let event = try await sql.raw("SELECT account_id FROM events").first()
                #expect(try event?.decode(column: "account_id", as: String.self) == "default")
            }
            try await database.close()
        }
    }

    @Test(
        "connections that sum hubs for MFN stock are marked so when the column comes (schema 23); unreadable settings sum none",
        arguments: TestEngine.available
    )
    func connectionsSendingMFNStock(engine: TestEngine) async throws {
        try await TestDatabase.with(engine) { test in
            let database = try await Database.open(test.url)
            try await database.migrate(through: 22)
            try await database.transaction { sql in
                for (id, settings) in [
                    ("c-sums", #"{"mfnStockHubs":["MFN1"]}"#), ("c-not", #"{"mfnStockHubs":[]}"#),
                    ("c-unreadable", #"{"mfnStockHubs":"#),
                ] {
                    try await sql.raw(
                        """
                        INSERT INTO connections (id, account_id, name, selling_partner_id, region, marketplace_ids,
                            application_client_id, application_id, client_secret_sealed, refresh_token_sealed, status,
                            endpoint_override, settings, created_at, updated_at)
                        VALUES (\(bind: id), 'default', 'Acme', \(bind: "SELLER-" + id), 'eu', '["A21TJRUUN4KGV"]',
                            'client', NULL, 'sealed', NULL, 'active', NULL, \(bind: settings), 1, 1)
                        """
                    ).run()
                }
            }
            #expect(try await database.migrate().applied.map(\.version).contains(23))
            try await database.session { sql in
                let rows = try await sql.raw("SELECT id, sends_mfn_stock FROM connections ORDER BY id").all()
                #expect(
                    try rows.map { try $0.decode(column: "id", as: String.self) } == [
                        "c-not", "c-sums", "c-unreadable",
                    ]
                )
                #expect(try rows.map { try $0.decode(column: "sends_mfn_stock", as: Int.self) } == [0, 1, 0])
            }
            try await database.close()
        }
    }

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
            do {
                async let first = one.migrate()
                async let second = two.migrate()
                let reports = try await [first, second]
                let appliedVersions = reports.flatMap { $0.applied.map(\.version) }.sorted()
                #expect(appliedVersions == Database.knownMigrations.map(\.version).sorted())
                let rows = try await one.session { sql in
                    try await sql.raw("SELECT version FROM schema_migrations").all()
                }
                #expect(rows.count == Database.knownMigrations.count)
            } catch {
                // Closed either way, so that a failure is reported as one and not as a crash of the test process.
                try? await one.close()
                try? await two.close()
                throw error
            }
            try await one.close()
            try await two.close()
        }
    }

    @Test("on SQLite a migration waits for another process's write held longer than SQLite's busy timeout")
    func migrationWaitsPastBusyTimeout() async throws {
        try await TestDatabase.with(.sqlite) { test in
            let one = try await Database.open(test.url)
            let two = try await Database.open(test.url)
            let holding = Task {
                try await one.transaction { sql in
                    try await sql.raw("CREATE TABLE held_by_one (x INTEGER)").run()
                    // Past SQLite's busy timeout (10 s): the second process's BEGIN IMMEDIATE is refused at least once.
                    try await Task.sleep(for: .milliseconds(11_500))
                }
            }
            try await Task.sleep(for: .milliseconds(300))
            let report = try await two.migrate()
            #expect(report.applied.map(\.version) == Database.knownMigrations.map(\.version))
            try await holding.value
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
