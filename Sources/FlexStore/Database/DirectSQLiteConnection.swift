import Logging
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization
import VaporCSQLite

/// An SQLite connection whose statements run on the calling thread, each statement prepared once and kept: the
/// store's writer, and each of its readers (``DirectSQLiteReaders``).
///
/// SQLiteNIO runs every statement as a job on a thread pool and hands its result back through an event loop, two
/// thread hops a statement, and prepares every statement anew. Under SQLite's one write lock those hops and the
/// preparing were most of a write transaction's time, and every other writer waited for them (BENCHMARKS.md). The
/// store's writer is used by one transaction at a time (the driver's write lock), so its statements can run where the
/// transaction runs, without a hop. It uses the SQLite library SQLiteNIO vendors — one library in the process, as
/// SQLite's locks on the file need.
final class DirectSQLiteConnection: Sendable {
    /// Only ever used under the mutex, whatever thread holds it: its statements and handle go with it.
    private struct State: @unchecked Sendable {
        var handle: OpaquePointer?
        /// Prepared statements by their SQL text. A statement whose tables changed is prepared again by SQLite itself.
        var statements: [String: Kept] = [:]
    }

    /// A prepared statement, with its result's column names as of the last time SQLite prepared it.
    private struct Kept {
        let statement: OpaquePointer
        var columns: DirectSQLiteRow.Columns?
        /// How many times SQLite had prepared the statement again when `columns` were read: a migration that adds a
        /// column to a `SELECT *` makes SQLite prepare it again, and the names are read anew.
        var preparedAgain: Int32 = 0

        /// The names of the columns the statement returns, read again only when SQLite prepared it again since.
        mutating func columns(of statement: OpaquePointer) -> DirectSQLiteRow.Columns {
            let preparedAgain = sqlite_nio_sqlite3_stmt_status(statement, SQLITE_STMTSTATUS_REPREPARE, 0)
            if let columns, preparedAgain == self.preparedAgain { return columns }
            let read = DirectSQLiteRow.Columns(statement)
            columns = read
            self.preparedAgain = preparedAgain
            return read
        }
    }

    /// Statements kept at most; past it the cache starts again (a few statements embed a list's length in their text).
    static let keptStatements = 512

    private let state: Mutex<State>
    private let logger: Logger

    private init(handle: sending OpaquePointer, logger: Logger) {
        state = Mutex(State(handle: handle))
        self.logger = logger
    }

    /// Opens (and creates) the database file at `path`, waiting up to `busyTimeoutMilliseconds` for another
    /// process's lock.
    static func open(path: String, busyTimeoutMilliseconds: Int32, logger: Logger) throws -> DirectSQLiteConnection {
        _ = sqlite_nio_sqlite3_initialize()
        var handle: OpaquePointer?
        // No mutex of SQLite's own on the connection (NOMUTEX): every use of the handle is under this class's
        // mutex already, and SQLite's would be taken again at every call (each bind, step and column read).
        let flags = SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let opened = sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil)
        guard opened == SQLITE_OK, let handle else {
            let message = handle.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "cannot open"
            if let handle { sqlite_nio_sqlite3_close(handle) }
            throw SQLiteFailure(code: opened, message: message)
        }
        sqlite_nio_sqlite3_busy_timeout(handle, busyTimeoutMilliseconds)
        return DirectSQLiteConnection(handle: handle, logger: logger)
    }

    /// Runs one statement, handing each row it returns to `onRow`; returns when the statement is done.
    func execute(
        _ sql: String,
        _ binds: [SQLiteData],
        decoder: SQLiteDataDecoder,
        _ onRow: (any SQLRow) -> Void
    )
        throws
    {
        try state.withLock { state in try Self.execute(sql, binds, decoder: decoder, onRow, in: &state) }
    }

    /// Runs one statement as ``execute(_:_:decoder:_:)`` does if no other thread is running one on the connection;
    /// returns whether it ran.
    func executeIfFree(
        _ sql: String,
        _ binds: [SQLiteData],
        decoder: SQLiteDataDecoder,
        _ onRow: (any SQLRow) -> Void
    ) throws -> Bool {
        try state.withLockIfAvailable { state in
            try Self.execute(sql, binds, decoder: decoder, onRow, in: &state)
        } != nil
    }

    private static func execute(
        _ sql: String,
        _ binds: [SQLiteData],
        decoder: SQLiteDataDecoder,
        _ onRow: (any SQLRow) -> Void,
        in state: inout State
    ) throws {
        guard let handle = state.handle else {
            throw SQLiteFailure(code: SQLITE_MISUSE, message: "the database is closed")
        }
        // Looked up once: the statement runs under the connection's mutex, so no other caller steps it meanwhile.
        var kept: Kept
        let isNew: Bool
        if let found = state.statements[sql] {
            kept = found
            isNew = false
        } else {
            var prepared: OpaquePointer?
            let code = sqlite_nio_sqlite3_prepare_v3(
                handle,
                sql,
                -1,
                UInt32(SQLITE_PREPARE_PERSISTENT),
                &prepared,
                nil
            )
            guard code == SQLITE_OK else {
                sqlite_nio_sqlite3_finalize(prepared)
                throw SQLiteFailure(code: code, handle: handle)
            }
            // Only a comment or white space: nothing to run.
            guard let prepared else { return }
            kept = Kept(statement: prepared)
            isNew = true
        }
        let statement = kept.statement
        let columnsBefore = kept.columns
        defer {
            // Bindings are left as they are: every run binds every parameter again, and clearing them would
            // make SQLite prepare the statement anew at its next run whenever the planner looked at a value
            // bound (an `=` term the index does not use: most statements).
            sqlite_nio_sqlite3_reset(statement)
            if isNew {
                if state.statements.count >= Self.keptStatements {
                    for other in state.statements.values { sqlite_nio_sqlite3_finalize(other.statement) }
                    state.statements.removeAll(keepingCapacity: true)
                }
                state.statements[sql] = kept
            } else if kept.columns !== columnsBefore {
                state.statements[sql] = kept
            }
        }
        for (index, value) in binds.enumerated() {
            let code = Self.bind(value, at: Int32(index + 1), to: statement)
            guard code == SQLITE_OK else { throw SQLiteFailure(code: code, handle: handle) }
        }
        var columns: DirectSQLiteRow.Columns?
        while true {
            let code = sqlite_nio_sqlite3_step(statement)
            if code == SQLITE_DONE { return }
            guard code == SQLITE_ROW else { throw SQLiteFailure(code: code, handle: handle) }
            let names: DirectSQLiteRow.Columns
            if let columns {
                names = columns
            } else {
                names = kept.columns(of: statement)
                columns = names
            }
            onRow(
                DirectSQLiteRow(
                    columns: names,
                    values: try (0..<Int32(names.names.count)).map { try Self.value(at: $0, of: statement) },
                    decoder: decoder
                )
            )
        }
    }

    /// How many times SQLite prepared the kept statement `sql` again since it was first prepared (0 when it is not
    /// kept): a statement whose plan SQLite ties to the values bound is prepared anew at each run.
    func timesPreparedAgain(_ sql: String) -> Int {
        state.withLock { state in
            state.statements[sql].map {
                Int(sqlite_nio_sqlite3_stmt_status($0.statement, SQLITE_STMTSTATUS_REPREPARE, 0))
            } ?? 0
        }
    }

    /// Whether the statement `sql` is kept prepared.
    func isKept(_ sql: String) -> Bool {
        state.withLock { $0.statements[sql] != nil }
    }

    /// Runs a statement that returns no rows and takes no binds (BEGIN, COMMIT, ROLLBACK).
    func run(_ sql: String) throws {
        try execute(sql, [], decoder: SQLiteDataDecoder()) { _ in }
    }

    deinit { close() }

    /// Finalizes every kept statement and closes the connection; later statements fail.
    func close() {
        state.withLock { state in
            guard let handle = state.handle else { return }
            for kept in state.statements.values { sqlite_nio_sqlite3_finalize(kept.statement) }
            state.statements.removeAll()
            sqlite_nio_sqlite3_close(handle)
            state.handle = nil
        }
    }

    /// The connection as SQLKit's database, its queries logged at `queryLogLevel` as SQLiteKit's are.
    func sql(
        on eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any(),
        queryLogLevel: Logger.Level? = .debug
    ) -> any SQLDatabase {
        DirectSQLiteDatabase(statements: self, eventLoop: eventLoop, logger: logger, queryLogLevel: queryLogLevel)
    }

    private static func bind(_ value: SQLiteData, at index: Int32, to statement: OpaquePointer) -> Int32 {
        switch value {
        case .integer(let integer): sqlite_nio_sqlite3_bind_int64(statement, index, Int64(integer))
        case .float(let double): sqlite_nio_sqlite3_bind_double(statement, index, double)
        case .text(var text):
            // Its UTF-8 in place (a short string's on the stack), where passing the string itself as a C string
            // copied a short one to the heap first.
            text.withUTF8 { utf8 in
                guard let base = utf8.baseAddress else {
                    return sqlite_nio_sqlite3_bind_text64(statement, index, "", 0, transient, UInt8(SQLITE_UTF8))
                }
                return sqlite_nio_sqlite3_bind_text64(
                    statement,
                    index,
                    UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self),
                    UInt64(utf8.count),
                    transient,
                    UInt8(SQLITE_UTF8)
                )
            }
        case .blob(let buffer):
            buffer.withUnsafeReadableBytes {
                sqlite_nio_sqlite3_bind_blob64(statement, index, $0.baseAddress, UInt64($0.count), transient)
            }
        case .null: sqlite_nio_sqlite3_bind_null(statement, index)
        }
    }

    /// A column's value, as SQLiteNIO reads it.
    private static func value(at column: Int32, of statement: OpaquePointer) throws -> SQLiteData {
        switch sqlite_nio_sqlite3_column_type(statement, column) {
        case SQLITE_INTEGER: return .integer(Int(sqlite_nio_sqlite3_column_int64(statement, column)))
        case SQLITE_FLOAT: return .float(sqlite_nio_sqlite3_column_double(statement, column))
        case SQLITE_TEXT:
            guard let text = sqlite_nio_sqlite3_column_text(statement, column) else {
                throw SQLiteFailure(code: SQLITE_NOMEM, message: "no text for column \(column)")
            }
            // Its length from SQLite (after the text, as SQLite asks), not by looking for its end.
            let length = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: length), as: UTF8.self))
        case SQLITE_BLOB:
            let length = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            var buffer = ByteBufferAllocator().buffer(capacity: length)
            if let bytes = sqlite_nio_sqlite3_column_blob(statement, column) {
                buffer.writeBytes(UnsafeRawBufferPointer(start: bytes, count: length))
            }
            return .blob(buffer)
        default: return .null
        }
    }

    /// SQLite copies the bound text or bytes before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
}

/// What SQLite answered when a statement failed: its extended result code and message.
struct SQLiteFailure: Error, CustomStringConvertible {
    let code: Int32
    let message: String

    init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    init(code: Int32, handle: OpaquePointer) {
        self.code = code
        message = sqlite_nio_sqlite3_errmsg(handle).map { String(cString: $0) } ?? "SQLite error \(code)"
    }

    /// Another connection holds the lock and the busy timeout ran out.
    var isBusy: Bool { code & 0xFF == SQLITE_BUSY }
    /// A UNIQUE or PRIMARY KEY constraint refused the write (SQLITE_CONSTRAINT_UNIQUE, _PRIMARYKEY: macros Swift does
    /// not import).
    var isUniqueViolation: Bool {
        code == SQLITE_CONSTRAINT | (8 << 8) || code == SQLITE_CONSTRAINT | (6 << 8) || code == SQLITE_CONSTRAINT
    }

    var description: String { "SQLite error \(code): \(message)" }
}

/// A row read by ``DirectSQLiteConnection``, decoded as SQLiteKit decodes SQLiteNIO's rows.
struct DirectSQLiteRow: SQLRow {
    /// A statement's column names, shared by its rows; a name given twice means its first column, as in SQLiteNIO.
    final class Columns: Sendable {
        let names: [String]
        let offsets: [String: Int]

        init(_ statement: OpaquePointer) {
            names = (0..<sqlite_nio_sqlite3_column_count(statement)).map {
                sqlite_nio_sqlite3_column_name(statement, $0).map { String(cString: $0) } ?? ""
            }
            offsets = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        }
    }

    let columns: Columns
    let values: [SQLiteData]
    let decoder: SQLiteDataDecoder

    var allColumns: [String] { columns.names }

    func contains(column: String) -> Bool { columns.offsets[column] != nil }

    func decodeNil(column: String) throws -> Bool {
        guard let offset = columns.offsets[column] else { return true }
        return values[offset] == .null
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let offset = columns.offsets[column] else {
            throw DecodingError.keyNotFound(
                SQLiteColumnKey(column),
                .init(codingPath: [], debugDescription: "The row has no column \(column).")
            )
        }
        let value = values[offset]
        // The types the store reads most, without SQLiteKit's decoder's conformance look-up (and, for an optional,
        // its nested decoder): the same values it gives. Anything else goes through it.
        switch value {
        case .text(let text):
            if D.self == String.self { return text as! D }
            if D.self == String?.self { return Optional(text) as! D }
        case .integer(let integer):
            if D.self == Int64.self { return Int64(integer) as! D }
            if D.self == Int64?.self { return Optional(Int64(integer)) as! D }
            if D.self == Int.self { return integer as! D }
            if D.self == Int?.self { return Optional(integer) as! D }
        case .null:
            if D.self == String?.self { return String?.none as! D }
            if D.self == Int64?.self { return Int64?.none as! D }
            if D.self == Int?.self { return Int?.none as! D }
        default:
            break
        }
        return try decoder.decode(D.self, from: value)
    }

    private struct SQLiteColumnKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

/// What runs ``DirectSQLiteDatabase``'s statements: one connection (the writer's), or the readers.
protocol DirectSQLiteStatements: Sendable {
    func execute(
        _ sql: String,
        _ binds: [SQLiteData],
        decoder: SQLiteDataDecoder,
        _ onRow: (any SQLRow) -> Void
    )
        throws
}

extension DirectSQLiteConnection: DirectSQLiteStatements {}

/// The store's readers: a few connections that only read (`query_only`), each statement run on the calling thread on
/// whichever of them no other thread is using, each keeping its statements prepared.
///
/// Under WAL a read takes no lock another connection waits for, and waits for none but in SQLite's rare recoveries: a
/// read runs where it is asked for, as the writer's statements do. Through SQLiteNIO every read statement was
/// prepared anew and went to a thread pool and back through an event loop — three hops and a compile for what is
/// mostly an indexed look-up (BENCHMARKS.md).
final class DirectSQLiteReaders: DirectSQLiteStatements {
    private let connections: [DirectSQLiteConnection]
    private let logger: Logger
    /// Where the next statement starts looking for a free connection, so that they are used in turn.
    private let next = Atomic<UInt>(0)

    private init(connections: [DirectSQLiteConnection], logger: Logger) {
        self.connections = connections
        self.logger = logger
    }

    /// Opens `count` reading connections to the database file at `path` (which exists, in WAL mode).
    static func open(
        path: String,
        count: Int,
        busyTimeoutMilliseconds: Int32,
        logger: Logger
    ) throws -> DirectSQLiteReaders {
        var connections: [DirectSQLiteConnection] = []
        do {
            for _ in 0..<max(1, count) {
                let connection = try DirectSQLiteConnection.open(
                    path: path,
                    busyTimeoutMilliseconds: busyTimeoutMilliseconds,
                    logger: logger
                )
                connections.append(connection)
                try connection.run("PRAGMA foreign_keys = ON")
                // A write through a reader would go around the writer's lock: SQLite refuses it.
                try connection.run("PRAGMA query_only = ON")
            }
        } catch {
            for connection in connections { connection.close() }
            throw error
        }
        return DirectSQLiteReaders(connections: connections, logger: logger)
    }

    func execute(
        _ sql: String,
        _ binds: [SQLiteData],
        decoder: SQLiteDataDecoder,
        _ onRow: (any SQLRow) -> Void
    )
        throws
    {
        let start = Int(next.wrappingAdd(1, ordering: .relaxed).oldValue % UInt(connections.count))
        for offset in connections.indices {
            let connection = connections[(start + offset) % connections.count]
            if try connection.executeIfFree(sql, binds, decoder: decoder, onRow) { return }
        }
        // Every one in use (more threads reading than connections): wait for one.
        try connections[start].execute(sql, binds, decoder: decoder, onRow)
    }

    /// The readers as SQLKit's database.
    func sql(queryLogLevel: Logger.Level? = .debug) -> any SQLDatabase {
        DirectSQLiteDatabase(
            statements: self,
            eventLoop: MultiThreadedEventLoopGroup.singleton.any(),
            logger: logger,
            queryLogLevel: queryLogLevel
        )
    }

    /// Closes every connection; later statements fail.
    func close() {
        for connection in connections { connection.close() }
    }
}

/// ``DirectSQLiteConnection`` as SQLKit's database: the SQL SQLiteKit would run, run on the calling thread.
private struct DirectSQLiteDatabase: SQLDatabase {
    let statements: any DirectSQLiteStatements
    let eventLoop: any EventLoop
    let logger: Logger
    let queryLogLevel: Logger.Level?
    let encoder = SQLiteDataEncoder()
    let decoder = SQLiteDataDecoder()

    var dialect: any SQLDialect { SQLiteDialect() }

    var version: (any SQLDatabaseReportedVersion)? { SQLiteLibraryVersion() }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try run(query, onRow)
    }

    func execute(
        sql query: any SQLExpression,
        _ onRow: @escaping @Sendable (any SQLRow) -> Void
    ) -> EventLoopFuture<Void> {
        eventLoop.makeCompletedFuture { try run(query, onRow) }
    }

    private func run(_ query: any SQLExpression, _ onRow: (any SQLRow) -> Void) throws {
        let (sql, rawBinds) = serialize(query)
        if let queryLogLevel {
            logger.log(
                level: queryLogLevel,
                "Executing query",
                metadata: ["sql": .string(sql), "binds": .array(rawBinds.map { .string("\($0)") })]
            )
        }
        try statements.execute(sql, rawBinds.map { try encoder.encode($0) }, decoder: decoder, onRow)
    }
}

/// The version of the SQLite library in the process, as SQLiteKit reports it.
private struct SQLiteLibraryVersion: SQLDatabaseReportedVersion {
    let intValue = Int(sqlite_nio_sqlite3_libversion_number())
    var stringValue: String { "\(intValue / 1_000_000).\(intValue / 1_000 % 1_000).\(intValue % 1_000)" }

    func isEqual(to otherVersion: any SQLDatabaseReportedVersion) -> Bool {
        (otherVersion as? Self)?.intValue == intValue
    }

    func isOlder(than otherVersion: any SQLDatabaseReportedVersion) -> Bool {
        (otherVersion as? Self).map { intValue < $0.intValue } ?? false
    }
}
