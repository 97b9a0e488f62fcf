import Foundation
import Logging
import NIOPosix
import SQLKit

/// SQLite in one file: WAL journal, a busy timeout so that two processes wait for each other instead of failing,
/// writes serialized through one connection, reads on a few more that WAL lets run beside a write.
///
/// The writer's statements run on the thread of the transaction that runs them (``DirectSQLiteConnection``), and a
/// write transaction runs on a thread of its own: a write waits for another process's lock for up to the busy
/// timeout, and on Swift's or NIO's shared pools (as many threads as cores) that wait would hold up the rest of the
/// process. Reads under WAL do not wait for locks: they run on the thread that asks (``DirectSQLiteReaders``).
final class SQLiteDriver: SQLDriver {
    let kind = DatabaseKind.sqlite
    private let writer: DirectSQLiteConnection
    private let writerDatabase: any SQLDatabase
    private let readers: DirectSQLiteReaders
    private let readerDatabase: any SQLDatabase
    private let threads: NIOThreadPool
    /// Runs a write transaction's own code, and so its statements, on the writer's thread.
    private let writerExecutor: ThreadPoolTaskExecutor
    private let writeLock = AsyncLock()

    /// How long a write waits for another process's transaction before failing.
    static let busyTimeoutMilliseconds = 10_000

    private init(writer: DirectSQLiteConnection, readers: DirectSQLiteReaders, threads: NIOThreadPool) {
        self.writer = writer
        writerDatabase = writer.sql()
        self.readers = readers
        readerDatabase = readers.sql()
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
        let writer: DirectSQLiteConnection
        do {
            // Busy timeout first: switching to WAL itself needs a lock another process may hold. On the writer's
            // thread, which may wait for it.
            writer = try await threads.runIfActive {
                try DirectSQLiteConnection.open(
                    path: path,
                    busyTimeoutMilliseconds: Int32(busyTimeoutMilliseconds),
                    logger: logger
                )
            }
        } catch {
            try? await threads.shutdownGracefully()
            throw StoreError(
                code: .databaseUnavailable,
                message: "Cannot open the SQLite database \(path): \(error). Check that the path is writable."
            )
        }
        do {
            let readers = try await threads.runIfActive {
                try writer.run("PRAGMA journal_mode = WAL")
                try writer.run("PRAGMA synchronous = NORMAL")
                try writer.run("PRAGMA foreign_keys = ON")
                // One more than the threads that run Swift's tasks, so that a reader is nearly always free; at most
                // eight, each keeping its statements prepared (a read is short, and SQLite's one writer is the limit
                // long before a ninth reader would be).
                return try DirectSQLiteReaders.open(
                    path: path,
                    count: min(ProcessInfo.processInfo.activeProcessorCount + 1, 8),
                    busyTimeoutMilliseconds: Int32(busyTimeoutMilliseconds),
                    logger: logger
                )
            }
            return SQLiteDriver(writer: writer, readers: readers, threads: threads)
        } catch {
            writer.close()
            try? await threads.shutdownGracefully()
            throw StoreError(
                code: .databaseUnavailable,
                message: "Cannot use the SQLite database \(path): \(error). Is it an SQLite file?"
            )
        }
    }

    func withTransaction<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        // On the writer's thread from the wait for the lock to the commit: the lock passes from one transaction to
        // the next without waiting for Swift's shared pool (ThreadPoolTaskExecutor). BEGIN, COMMIT and ROLLBACK run
        // on this thread and return whatever the task's cancellation: a statement that ran is never reported as
        // cancelled, which would leave a transaction open on the connection.
        try await withTaskExecutorPreference(writerExecutor) {
            await writeLock.lock()
            defer { writeLock.unlock() }
            // IMMEDIATE takes the write lock at once, so that two processes queue here rather than fail later when a
            // reading transaction tries to write.
            do {
                try writer.run("BEGIN IMMEDIATE")
            } catch {
                // The BEGIN may have taken effect before its error was reported; a ROLLBACK without a transaction
                // fails harmlessly.
                try? writer.run("ROLLBACK")
                throw error
            }
            do {
                let value = try await body(writerDatabase)
                try writer.run("COMMIT")
                return value
            } catch {
                try? writer.run("ROLLBACK")
                throw error
            }
        }
    }

    func withSession<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await body(readerDatabase)
    }

    func close() async throws {
        readers.close()
        writer.close()
        try await threads.shutdownGracefully()
    }
}
