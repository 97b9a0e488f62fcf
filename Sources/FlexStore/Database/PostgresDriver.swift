import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresKit
import PostgresNIO
import SQLKit

/// PostgreSQL through postgres-nio's connection pool. The pool runs in a task the driver owns from `open` to `close`.
final class PostgresDriver: SQLDriver {
    let kind = DatabaseKind.postgres
    private let client: PostgresClient
    private let runTask: Task<Void, Never>
    private let logger: Logger

    private init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
        // Started at once, before the first connection is asked for: the pool marks itself running before it first
        // suspends, so a lease right after `open` (migrations) finds it running instead of warning.
        if #available(macOS 26, *) {
            self.runTask = Task.immediate { await client.run() }
        } else {
            self.runTask = Task { await client.run() }
        }
    }

    /// Connects to the server the URL names, checking first with one connection so that a wrong host, password or
    /// database name fails at once with the server's reason instead of hanging in the pool.
    static func open(url: URL, maximumConnections: Int, logger: Logger) async throws -> PostgresDriver {
        let display = DatabaseURL.redacted(url.absoluteString)
        guard let sqlConfiguration = try? SQLPostgresConfiguration(url: url) else {
            throw StoreError.invalidDatabaseURL(display, reason: "expected postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        let core = sqlConfiguration.coreConfiguration
        do {
            let probe = try await PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.any(),
                configuration: core,
                id: 0,
                logger: logger
            )
            try await probe.close()
        } catch {
            throw StoreError(
                code: .databaseUnavailable,
                message:
                    "Cannot connect to PostgreSQL at \(display): \(describe(error)). Check that the server runs and the URL is right."
            )
        }
        var configuration = PostgresClient.Configuration(coreConfiguration: core)
        configuration.options.maximumConnections = maximumConnections
        return PostgresDriver(
            client: PostgresClient(configuration: configuration, backgroundLogger: logger),
            logger: logger
        )
    }

    /// How many times a transaction that PostgreSQL chose as a deadlock victim, or could not serialize, is run
    /// again before its error reaches the caller.
    static let conflictAttempts = 8

    func withTransaction<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await availability {
                    try await client.withConnection { connection in
                        try await Self.transaction(on: connection.sql(), begin: "BEGIN", body)
                    }
                }
            } catch let error as PSQLError where Self.isConflict(error) && attempt < Self.conflictAttempts {
                // PostgreSQL rolled the whole transaction back; nothing of it stands, so running it again is safe.
                logger.debug(
                    "transaction conflicted with another; running it again",
                    metadata: ["sqlstate": "\(error.serverInfo?[.sqlState] ?? "")", "attempt": "\(attempt)"]
                )
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 << min(attempt, 6)))))
                attempt += 1
            }
        }
    }

    func withSession<T: Sendable>(_ body: (any SQLDatabase) async throws -> T) async throws -> T {
        try await availability {
            try await client.withConnection { connection in
                try await body(connection.sql())
            }
        }
    }

    /// Whether PostgreSQL refused the transaction only because of another running beside it: a deadlock
    /// (40P01) or a serialization failure (40001).
    static func isConflict(_ error: PSQLError) -> Bool {
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40P01" || state == "40001"
    }

    /// Runs `body`, turning a lost or refused connection into ``StoreError/Code/databaseUnavailable`` with the reason,
    /// so that callers can answer 503 and say the database is down rather than fail without a word.
    private func availability<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PSQLError
            where [.connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .uncleanShutdown]
            .contains(error.code)
        {
            throw StoreError(
                code: .databaseUnavailable,
                message: "PostgreSQL does not answer: \(Self.describe(error))."
            )
        } catch let error as NIOConnectionError {
            throw StoreError(
                code: .databaseUnavailable,
                message: "PostgreSQL does not answer: \(Self.describe(error))."
            )
        } catch  where String(reflecting: type(of: error)).hasSuffix(".ConnectionPoolError") {
            // The pool's own error type lives in a module postgres-nio does not export; its name is what there is.
            throw StoreError(
                code: .databaseUnavailable,
                message: "PostgreSQL does not answer: no connection could be opened (\(error))."
            )
        }
    }

    /// Pins one of the pool's connections for as long as it listens (postgres-nio's client has no listen of its
    /// own); a lost connection is listened on again after a second.
    func listen(on channel: String, _ handle: @escaping @Sendable (String) -> Void) async {
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        for try await notification in notifications { handle(notification.payload) }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning(
                    "listening for other nodes' wake-ups failed; listening again",
                    metadata: ["channel": "\(channel)", "error": "\(Self.describe(error))"]
                )
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Pins one of the pool's connections for as long as the lock is held. A lock another session holds (two nodes'
    /// names with one key) is asked for again every few seconds; the lock is given back before the connection
    /// returns to the pool, so that a cancelled holder leaves no lock behind on a pooled connection.
    func holdAdvisoryLock(_ namespace: Int32, _ key: Int32, granted: @escaping @Sendable () -> Void) async {
        var warned = false
        while !Task.isCancelled {
            do {
                let held = try await client.withConnection { connection in
                    let rows = try await connection.query(
                        "SELECT pg_try_advisory_lock(\(namespace), \(key)) AS locked",
                        logger: logger
                    )
                    var locked = false
                    for try await value in rows.decode(Bool.self) { locked = value }
                    guard locked else { return false }
                    granted()
                    // A lost connection (and with it the lock) shows as a failed statement.
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(2))
                        if Task.isCancelled { break }
                        _ = try await connection.query("SELECT 1", logger: logger)
                    }
                    // Outside the cancelled task: the unlock must reach the server before the connection is pooled.
                    let logger = self.logger
                    try await Task {
                        _ = try await connection.query(
                            "SELECT pg_advisory_unlock(\(namespace), \(key))",
                            logger: logger
                        )
                    }.value
                    return true
                }
                if !held, !warned {
                    warned = true
                    logger.warning(
                        "another session holds this node's presence lock; other nodes see this node alive by its leases only",
                        metadata: ["key": "\(key)"]
                    )
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning(
                    "holding this node's presence lock failed; taking it again",
                    metadata: ["error": "\(Self.describe(error))"]
                )
            }
            try? await Task.sleep(for: .seconds(warned ? 5 : 1))
        }
    }

    func close() async throws {
        runTask.cancel()
        await runTask.value
    }

    /// The part of a postgres-nio error a person can act on; its own description hides everything on purpose.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as PSQLError:
            if let message = error.serverInfo?[.message] { return message }
            if let underlying = error.underlying { return describe(underlying) }
            return error.code.description
        case let error as NIOConnectionError:
            if let failure = error.connectionErrors.first { return describe(failure.error) }
            if let dnsError = error.dnsAError ?? error.dnsAAAAError {
                return "the host \(error.host) cannot be resolved (\(dnsError))"
            }
            return "no address of \(error.host) answers"
        case let error as IOError:
            return String(cString: strerror(error.errnoCode)).lowercased()
        default:
            return String(describing: error)
        }
    }
}

extension PostgresClient.Configuration {
    /// Translates a connection configuration parsed from a URL, as postgres-kit's documentation shows.
    init(coreConfiguration configuration: PostgresConnection.Configuration) {
        let tls: PostgresClient.Configuration.TLS =
            switch (configuration.tls.isEnforced, configuration.tls.isAllowed) {
            case (true, _): .require(configuration.tls.sslContext!.configuration)
            case (_, true): .prefer(configuration.tls.sslContext!.configuration)
            default: .disable
            }
        if let socket = configuration.unixSocketPath {
            self.init(
                unixSocketPath: socket,
                username: configuration.username,
                password: configuration.password,
                database: configuration.database
            )
        } else {
            self.init(
                host: configuration.host ?? "localhost",
                port: configuration.port ?? 5432,
                username: configuration.username,
                password: configuration.password,
                database: configuration.database,
                tls: tls
            )
        }
    }
}
