import Foundation
import SQLKit

/// One step of the schema. Steps are applied in `version` order, each once, and recorded in `schema_migrations`.
/// A released step never changes: a later change is a new step.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    let apply: @Sendable (any SQLDatabase, DatabaseKind) async throws -> Void

    init(version: Int, name: String, apply: @escaping @Sendable (any SQLDatabase, DatabaseKind) async throws -> Void) {
        self.version = version
        self.name = name
        self.apply = apply
    }
}

/// What a migration run did.
public struct MigrationReport: Sendable, Hashable {
    /// The steps this run applied, in order; empty when the schema was already current.
    public var applied: [AppliedMigration]
    /// The schema version after the run.
    public var version: Int
}

/// A step recorded as applied.
public struct AppliedMigration: Sendable, Hashable {
    public var version: Int
    public var name: String
}

/// Applies migrations so that any number of processes may run it at the same time: each run takes the database's
/// migration lock inside one transaction, reads what is applied, applies the rest and records them before it
/// commits. A second run waits for the first and then finds nothing to do.
struct Migrator {
    let migrations: [Migration]

    /// An arbitrary constant naming FlexBridge's migration lock among PostgreSQL advisory locks.
    static let postgresLockKey: Int64 = 0x466C_6578_4D69_6772  // "FlexMigr"

    /// How long a run waits on SQLite for another process's migration to commit. SQLite's busy timeout (10 s) is
    /// meant for ordinary writes; a migration of a large database, or of any database on a loaded machine, may hold
    /// the write lock longer, and a process starting beside it must wait for it rather than fail.
    static let sqliteWait: Duration = .seconds(600)

    func migrate(_ driver: any SQLDriver) async throws -> MigrationReport {
        let started = ContinuousClock.now
        while true {
            do {
                return try await migrateOnce(driver)
            } catch let error as SQLiteFailure where error.isBusy && ContinuousClock.now - started < Self.sqliteWait {
                // Nothing of this run stands (its BEGIN IMMEDIATE was refused): the other process's migration is
                // still running, and this run finds what it applied once it has committed.
                try await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    private func migrateOnce(_ driver: any SQLDriver) async throws -> MigrationReport {
        let migrations = self.migrations
        let kind = driver.kind
        return try await driver.withTransaction { database in
            if kind == .postgres {
                // Held until commit: a concurrent migrator waits here, then sees this run's result.
                try await database.raw("SELECT pg_advisory_xact_lock(\(bind: Self.postgresLockKey))").run()
            }
            try await database.create(table: "schema_migrations")
                .ifNotExists()
                .column("version", type: .bigint, .primaryKey(autoIncrement: false))
                .column("name", type: .text, .notNull)
                .column("applied_at", type: .bigint, .notNull)
                .run()
            let appliedRows = try await database.raw("SELECT version FROM schema_migrations").all()
            let applied = Set(try appliedRows.map { try $0.decode(column: "version", as: Int.self) })
            let newest = migrations.map(\.version).max() ?? 0
            if let unknown = applied.filter({ $0 > newest }).max() {
                throw StoreError(
                    code: .schemaTooNew,
                    message:
                        "The database's schema is at version \(unknown), newer than this FlexBridge knows (\(newest)). Run a FlexBridge at least as new as the one that migrated it."
                )
            }
            var report = MigrationReport(applied: [], version: applied.max() ?? 0)
            for migration in migrations.sorted(by: { $0.version < $1.version })
            where !applied.contains(migration.version) {
                try await migration.apply(database, kind)
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                try await database.raw(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: now))"
                ).run()
                report.applied.append(AppliedMigration(version: migration.version, name: migration.name))
                report.version = max(report.version, migration.version)
            }
            return report
        }
    }
}
