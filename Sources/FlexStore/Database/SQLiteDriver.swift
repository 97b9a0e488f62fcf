import Foundation
import Logging
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO

/// SQLite in one file: WAL journal, a busy timeout so that two processes wait for each other instead of failing,
/// writes serialized through one connection, reads on a second connection that WAL lets run beside a write.
///
/// The writer has a thread of its own: SQLite's calls block a thread, a write waiting for another process's lock for
/// up to the busy timeout, and on NIO's shared pool (as many threads as cores) that wait would hold up every other
/// SQLite call of the process, the reader's included. Reads under WAL do not wait for locks and use the shared pool.
final class SQLiteDriver: SQLDriver {
    let kind = DatabaseKind.sqlite
    private let writer: SQLiteConnection
    private let reader: SQLiteConnection
    private let threads: NIOThreadPool
    /// Runs a write transaction's own code on the writer's thread, between its statements.
    private let writerExecutor: ThreadPoolTaskExecutor
    private let writeLock = AsyncLock()

    /// How long a write waits for another process's transaction before failing.
    static let busyTimeoutMilliseconds = 10_000

    private init(writer: SQLiteConnection, reader: SQLiteConnection, threads: NIOThreadPool) {
        self.writer = writer
        self.reader = reader
        self.threads = threads
        writerExecutor = ThreadPoolTaskExecutor(threads: threads)
    }

    /// Opens (and creates if needed) the database file at `path`.
    static func open(path: String, logger: Logger) async throws -> SQLiteDriver {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) {
            throw StoreError(
                code: .databaseUnavailable,
                message:
                    "Cannot open the SQLite database \(path): the folder \(folder) does not exist. Create it or choose another path with --database."
            )
        }
        // The database holds customers' names and addresses: readable by its owner only, as are the -wal and -shm
        // files SQLite creates beside it (with the database file's mode).
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
            try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        }
        let threads = NIOThreadPool(numberOfThreads: 1)
        threads.start()
        func connect(on pool: NIOThreadPool) async throws -> SQLiteConnection {
            try await SQLiteConnection.open(
                storage: .file(path: path),
                threadPool: pool,
                logger: logger,
                on: MultiThreadedEventLoopGroup.singleton.any()
            )
        }
        let writer: SQLiteConnection
        do {
            writer = try await connect(on: threads)
        } catch {
            try? await threads.shutdownGracefully()
            throw StoreError(
                code: .databaseUnavailable,
                message: "Cannot open the SQLite database \(path): \(error). Check that the path is writable."
            )
        }
        var reader: SQLiteConnection?
        do {
            // Busy timeout first: switching to WAL itself needs a lock another process may hold.
            try await writer.sql().raw("PRAGMA busy_timeout = \(unsafeRaw: String(busyTimeoutMilliseconds))").run()
            try await writer.sql().raw("PRAGMA journal_mode = WAL").run()
            try await writer.sql().raw("PRAGMA synchronous = NORMAL").run()
            try await writer.sql().raw("PRAGMA foreign_keys = ON").run()
            let opened = try await connect(on: .singleton)
            reader = opened
            try await opened.sql().raw("PRAGMA busy_timeout = \(unsafeRaw: String(busyTimeoutMilliseconds))").run()
            try await opened.sql().raw("PRAGMA foreign_keys = ON").run()
            return SQLiteDriver(writer: writer, reader: opened, threads: threads)
        } catch {
            // Closed before released: an unclosed SQLiteConnection traps.
            try? await reader?.close()
            try? await writer.close()
            try? await threads.shutdownGracefully()
            throw StoreError(
                code: .databaseUnavailable,
                message: "Cannot use the SQLite database \(path): \(error). Is it an SQLite file?"
            )
        }
    }

    func withTransaction<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        // On the writer's thread from the wait for the lock to the commit: the lock passes from one transaction to
        // the next, and each statement to the next, without waiting for Swift's shared pool (ThreadPoolTaskExecutor).
        try await withTaskExecutorPreference(writerExecutor) {
            await writeLock.lock()
            do {
                // IMMEDIATE takes the write lock at once, so that two processes queue here rather than fail later
                // when a reading transaction tries to write.
                let value = try await Self.transaction(
                    on: writer.sql(),
                    begin: "BEGIN IMMEDIATE",
                    executor: writerExecutor,
                    body
                )
                await writeLock.unlock()
                return value
            } catch {
                await writeLock.unlock()
                throw error
            }
        }
    }

    func withSession<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await body(reader.sql())
    }

    func close() async throws {
        // Both, whatever the first does: an unclosed SQLiteConnection traps when it is released.
        var readerError: (any Error)?
        do { try await reader.close() } catch { readerError = error }
        do {
            try await writer.close()
        } catch {
            try? await threads.shutdownGracefully()
            throw error
        }
        try await threads.shutdownGracefully()
        if let readerError { throw readerError }
    }
}
