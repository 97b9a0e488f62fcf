import FlexStore
import FlexStoreTesting
import Foundation
import SQLKit
import Testing

/// SQLite's writer and readers keep each statement prepared and run it on the caller's own thread: what a kept
/// statement must still do right. Run on PostgreSQL too, which must answer the same.
@Suite("Statements kept prepared, in write transactions and reads")
struct StatementTests {
    @Test("a statement run before a migration added a column sees the column after it", arguments: TestEngine.available)
    func columnAddedLater(engine: TestEngine) async throws {
        try await withDatabase(engine) { database in
            try await database.transaction { sql in
                try await sql.raw("CREATE TABLE kept (a INTEGER NOT NULL)").run()
                try await sql.raw("INSERT INTO kept (a) VALUES (\(bind: 1))").run()
            }
            let before = try await database.transaction { try await $0.raw("SELECT * FROM kept").all() }
            #expect(before.first?.allColumns == ["a"])
            try await database.transaction { sql in
                try await sql.raw("ALTER TABLE kept ADD COLUMN b INTEGER NOT NULL DEFAULT 7").run()
            }
            let after = try await database.transaction { try await $0.raw("SELECT * FROM kept").all() }
            #expect(after.first?.allColumns == ["a", "b"])
            #expect(try after.first?.decode(column: "b", as: Int64.self) == 7)
        }
    }

    @Test("more distinct statements than are kept each run with their own values", arguments: TestEngine.available)
    func manyStatements(engine: TestEngine) async throws {
        try await withDatabase(engine) { database in
            // 700 texts: past the 512 SQLite's writer keeps, so that it starts again at least once.
            let sums = try await database.transaction { sql in
                var sums: [Int64] = []
                for round in 0..<2 {
                    for n in 0..<700 {
                        let row = try await sql.raw(
                            "SELECT CAST(\(bind: Int64(round)) AS BIGINT) + \(unsafeRaw: String(n)) AS v"
                        ).first()
                        sums.append(try row?.decode(column: "v", as: Int64.self) ?? -1)
                    }
                }
                return sums
            }
            let expected: [Int64] = (0..<2).flatMap { round in (0..<700).map { Int64(round + $0) } }
            #expect(sums == expected)
        }
    }

    @Test("a statement that failed runs again with other values", arguments: TestEngine.available)
    func failedStatementRunsAgain(engine: TestEngine) async throws {
        try await withDatabase(engine) { database in
            try await database.transaction { sql in
                try await sql.raw("CREATE TABLE once (k TEXT PRIMARY KEY)").run()
            }
            func insert(_ key: String) async throws {
                try await database.transaction { try await $0.raw("INSERT INTO once (k) VALUES (\(bind: key))").run() }
            }
            try await insert("a")
            await #expect(throws: (any Error).self) { try await insert("a") }
            try await insert("b")
            let keys = try await database.session { try await $0.raw("SELECT k FROM once ORDER BY k").all() }
            #expect(try keys.map { try $0.decode(column: "k", as: String.self) } == ["a", "b"])
        }
    }

    @Test("values go in and come out as they were", arguments: TestEngine.available)
    func valuesRoundTrip(engine: TestEngine) async throws {
        try await withDatabase(engine) { database in
            let text = "Zoë's 📦 — \"quoted\", 'single'"
            let bytes = Data([0, 1, 2, 255, 0, 42])
            let blobType = engine == .postgres ? "BYTEA" : "BLOB"
            let realType = engine == .postgres ? "DOUBLE PRECISION" : "REAL"
            let row = try await database.transaction { sql in
                try await sql.raw(
                    """
                    CREATE TABLE kinds (i BIGINT, r \(unsafeRaw: realType), t TEXT, b \(unsafeRaw: blobType), n TEXT)
                    """
                ).run()
                try await sql.raw(
                    """
                    INSERT INTO kinds (i, r, t, b, n) VALUES (\(bind: Int64.max), \(bind: -0.125), \(bind: text),
                        \(bind: bytes), \(bind: String?.none))
                    """
                ).run()
                return try await sql.raw("SELECT i, r, t, b, n FROM kinds").first()
            }
            let read = try #require(row)
            #expect(try read.decode(column: "i", as: Int64.self) == Int64.max)
            #expect(try read.decode(column: "r", as: Double.self) == -0.125)
            #expect(try read.decode(column: "t", as: String.self) == text)
            #expect(try read.decode(column: "b", as: Data.self) == bytes)
            #expect(try read.decodeNil(column: "n"))
            #expect(try read.decode(column: "n", as: String?.self) == nil)
            // Optional and Int forms of the same values, as the store reads them.
            #expect(try read.decode(column: "i", as: Int.self) == Int.max)
            #expect(try read.decode(column: "i", as: Int64?.self) == Int64.max)
            #expect(try read.decode(column: "i", as: Int?.self) == Int.max)
            #expect(try read.decode(column: "t", as: String?.self) == text)
            #expect(try read.decode(column: "n", as: Int64?.self) == nil)
            #expect(try read.decode(column: "n", as: Int?.self) == nil)
            // A value of another kind is refused, not made up.
            #expect(throws: (any Error).self) { try read.decode(column: "t", as: Int64.self) }
            #expect(throws: (any Error).self) { try read.decode(column: "n", as: Int64.self) }
            #expect(throws: (any Error).self) { try read.decode(column: "n", as: String.self) }
            #expect(!read.contains(column: "missing"))
            #expect(throws: (any Error).self) { try read.decode(column: "missing", as: String.self) }
        }
    }

    @Test(
        "reads run beside a write transaction, see only what was committed, and nest",
        arguments: TestEngine.available
    )
    func readsBesideAWrite(engine: TestEngine) async throws {
        try await withDatabase(engine) { database in
            try await database.transaction { sql in
                try await sql.raw("CREATE TABLE seen (n BIGINT NOT NULL)").run()
                try await sql.raw("INSERT INTO seen (n) VALUES (1)").run()
            }
            func count() async throws -> Int64 {
                try await database.session { sql in
                    try await sql.raw("SELECT COUNT(*) AS n FROM seen").first()?.decode(column: "n", as: Int64.self)
                } ?? -1
            }
            let inserted = AsyncStream<Void>.makeStream()
            let release = AsyncStream<Void>.makeStream()
            let writing = Task {
                try await database.transaction { sql in
                    try await sql.raw("INSERT INTO seen (n) VALUES (2)").run()
                    inserted.continuation.yield()
                    for await _ in release.stream { break }
                }
            }
            for await _ in inserted.stream { break }
            // The write holds SQLite's one write lock and has not committed: reads go on, without its row, 10 at
            // once, each with a read inside its own (more sessions than SQLite keeps connections for; fewer than
            // PostgreSQL's pool, where each session holds a connection).
            let counts = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        try await database.session { _ in [try await count(), try await count()] }
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(counts == Array(repeating: 1, count: 20))
            release.continuation.yield()
            try await writing.value
            #expect(try await count() == 2)
        }
    }

    @Test(
        "a read kept prepared sees a column added later, and reads of many texts from many tasks each get their own",
        arguments: TestEngine.available
    )
    func readsKeptPrepared(engine: TestEngine) async throws {
        try await withDatabase(engine) { database in
            try await database.transaction { sql in
                try await sql.raw("CREATE TABLE kept (a INTEGER NOT NULL)").run()
                try await sql.raw("INSERT INTO kept (a) VALUES (\(bind: 1))").run()
            }
            // Run on every reader (the readers are used in turn), so that each keeps the statement.
            for _ in 0..<8 {
                let before = try await database.session { try await $0.raw("SELECT * FROM kept").all() }
                #expect(before.first?.allColumns == ["a"])
            }
            try await database.transaction { sql in
                try await sql.raw("ALTER TABLE kept ADD COLUMN b INTEGER NOT NULL DEFAULT 7").run()
            }
            for _ in 0..<8 {
                let after = try await database.session { try await $0.raw("SELECT * FROM kept").all() }
                #expect(after.first?.allColumns == ["a", "b"])
                #expect(try after.first?.decode(column: "b", as: Int64.self) == 7)
            }
            // 8 tasks at once, 700 texts each (past the 512 a connection keeps), each with its own values.
            let wrong = try await withThrowingTaskGroup(of: Int.self) { group in
                for task in 0..<8 {
                    group.addTask {
                        var wrong = 0
                        for n in 0..<700 {
                            let row = try await database.session { sql in
                                try await sql.raw(
                                    "SELECT CAST(\(bind: Int64(task)) AS BIGINT) + \(unsafeRaw: String(n)) AS v"
                                ).first()
                            }
                            if try row?.decode(column: "v", as: Int64.self) != Int64(task + n) { wrong += 1 }
                        }
                        return wrong
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(wrong == 0)
        }
    }

    @Test("on SQLite a read session cannot write: SQLite refuses, saying why, and nothing changes")
    func readSessionCannotWrite() async throws {
        try await withDatabase(.sqlite) { database in
            try await database.transaction { sql in
                try await sql.raw("CREATE TABLE guarded (n BIGINT NOT NULL)").run()
            }
            let error = await #expect(throws: (any Error).self) {
                try await database.session { sql in
                    try await sql.raw("INSERT INTO guarded (n) VALUES (1)").run()
                }
            }
            #expect(String(describing: error).contains("readonly"))
            let count = try await database.session { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM guarded").first()?.decode(column: "n", as: Int64.self)
            }
            #expect(count == 0)
        }
    }

    private func withDatabase(
        _ engine: TestEngine,
        _ body: (Database) async throws -> Void
    ) async throws {
        try await TestDatabase.with(engine) { test in
            let database = try await Database.open(test.url)
            do {
                try await body(database)
            } catch {
                try? await database.close()
                throw error
            }
            try await database.close()
        }
    }
}
