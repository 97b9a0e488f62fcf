import FlexStoreTesting
import Foundation
import Logging
import SQLKit
import Testing

@testable import FlexStore

@Suite("SQLite's writer's kept statements")
struct KeptStatementTests {
    /// SQLite ties a statement's plan to a bound value when the planner looked at it (an `=` term an index does not
    /// use, a `LIMIT ?`); clearing or changing such a binding makes the next run prepare the statement again, which
    /// cost the writer a fifth of its time before the bindings were left as they are.
    @Test("a kept statement run with other values each time is not prepared again")
    func notPreparedAgain() async throws {
        try await TestDatabase.with(.sqlite) { test in
            let database = try await Database.open(test.url)
            try await database.migrate()
            try await database.close()
            guard case .sqlite(let path) = test.url else { return }
            let connection = try DirectSQLiteConnection.open(
                path: path,
                busyTimeoutMilliseconds: 1_000,
                logger: Logger(label: "test")
            )
            defer { connection.close() }
            let sql = connection.sql(queryLogLevel: nil)
            for run in 0..<5 {
                // The inventory worker's claim, as the store runs it.
                _ = try await sql.raw(
                    """
                    SELECT * FROM inventory_items WHERE connection_id = \(bind: "connection-\(run)")
                        AND version > synced_version AND version > failed_version AND retry_at <= \(bind: Int64(1_000 + run))
                    ORDER BY changed_at, location_id, merchant_sku, channel LIMIT \(literal: 160)
                    """
                ).all()
            }
            let text = """
                SELECT * FROM inventory_items WHERE connection_id = ?1
                    AND version > synced_version AND version > failed_version AND retry_at <= ?2
                ORDER BY changed_at, location_id, merchant_sku, channel LIMIT 160
                """
            #expect(connection.timesPreparedAgain(text) == 0)
            #expect(connection.isKept(text))
        }
    }

    /// A bound `LIMIT` is a value SQLite's planner looks at: every read through SQLiteNIO prepared such a statement
    /// twice, and the writer prepared it again at each run with another value. The store writes `LIMIT` as a literal.
    @Test("no statement of the store binds its LIMIT")
    func limitsAreLiterals() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources")
        let files = try #require(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil))
        var checked = 0
        var bound: [String] = []
        for case let file as URL in files where file.pathExtension == "swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            checked += 1
            for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where line.contains("LIMIT \\(bind:") || line.contains("OFFSET \\(bind:") {
                bound.append("\(file.lastPathComponent):\(number + 1)")
            }
        }
        #expect(checked > 100, "read the sources")
        #expect(bound.isEmpty, "LIMIT or OFFSET bound at \(bound)")
    }
}
