import ArgumentParser
import FlexBridgeApp
import FlexStore
import Foundation
import Logging
import Metrics
import Prometheus

@main
struct FlexBridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flexbridge",
        abstract: "Connects a seller's warehouse to Amazon's External Fulfillment APIs.",
        version: FlexBridgeVersion.current,
        subcommands: [Serve.self, Migrate.self, Keygen.self]
    )
}

/// The options every command that opens the database shares. Each one is optional so that the environment
/// variable and then the default apply when it is absent.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database"), help: "The database: an SQLite file path or postgres://USER:PASSWORD@HOST:PORT/DB. Env: FLEXBRIDGE_DATABASE_URL. Default: flexbridge.sqlite")
    var database: String?

    @Option(name: .customLong("master-key-file"), help: "A file holding the master key. Env: FLEXBRIDGE_MASTER_KEY_FILE (or the key itself in FLEXBRIDGE_MASTER_KEY). Default for SQLite: the database path + .key")
    var masterKeyFile: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical. Env: FLEXBRIDGE_LOG_LEVEL. Default: info")
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: "console or json. Env: FLEXBRIDGE_LOG_FORMAT. Default: console")
    var logFormat: String?

    var flags: [FlexBridgeConfiguration.Key: String] {
        var flags: [FlexBridgeConfiguration.Key: String] = [:]
        flags[.database] = database
        flags[.masterKeyFile] = masterKeyFile
        flags[.logLevel] = logLevel
        flags[.logFormat] = logFormat
        return flags
    }
}

extension FlexBridgeConfiguration {
    /// Loads the configuration and sets up logging as it says; user errors become one line and exit code 1.
    static func loadForCommand(flags: [Key: String]) throws -> (FlexBridgeConfiguration, Logger) {
        let configuration: FlexBridgeConfiguration
        do {
            configuration = try FlexBridgeConfiguration.load(flags: flags)
        } catch let error as ConfigurationError {
            throw UserFacing(error.description)
        }
        let format = configuration.logFormat
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                switch format {
                case .console: StreamLogHandler.standardError(label: label)
                case .json: JSONLogHandler(label: label)
                }
            handler.logLevel = level
            return handler
        }
        return (configuration, Logger(label: "flexbridge"))
    }
}

/// An error meant for the person at the terminal: printed as one line, without a stack trace.
struct UserFacing: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }

    /// Wraps the errors FlexBridge explains itself; anything else passes through.
    static func wrapping(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let error as StoreError {
            throw UserFacing(error.message)
        } catch let error as StartupError {
            throw UserFacing(error.message)
        } catch let error as ConfigurationError {
            throw UserFacing(error.description)
        }
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Runs FlexBridge: migrates the database, then serves the API until SIGTERM or SIGINT."
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "The address to listen on. Env: FLEXBRIDGE_HOST. Default: 127.0.0.1")
    var host: String?

    @Option(help: "The port to listen on (0 picks a free one). Env: FLEXBRIDGE_PORT. Default: 8080")
    var port: String?

    @Option(name: .customLong("node-id"), help: "This node's name among nodes sharing a database. Env: FLEXBRIDGE_NODE_ID. Default: host name and process id")
    var nodeID: String?

    func run() async throws {
        var flags = database.flags
        flags[.host] = host
        flags[.port] = port
        flags[.nodeID] = nodeID
        let (configuration, logger) = try FlexBridgeConfiguration.loadForCommand(flags: flags)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        try await UserFacing.wrapping {
            try await FlexBridgeServer(configuration: configuration, registry: registry, logger: logger).run()
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Brings the database's schema up to date. Safe to run twice and from several nodes at once."
    )

    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let (configuration, logger) = try FlexBridgeConfiguration.loadForCommand(flags: database.flags)
        try await UserFacing.wrapping {
            let database = try await Database.open(configuration.database, maximumConnections: 2, logger: logger)
            do {
                let report = try await database.migrate()
                try await database.close()
                if report.applied.isEmpty {
                    print("\(configuration.database) is up to date at schema version \(report.version).")
                } else {
                    for step in report.applied { print("applied \(step.version): \(step.name)") }
                    print("\(configuration.database) is now at schema version \(report.version).")
                }
            } catch {
                try? await database.close()
                throw error
            }
        }
    }
}

struct Keygen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prints a new random master key, for FLEXBRIDGE_MASTER_KEY or a key file."
    )

    func run() async throws {
        print(MasterKey.generate())
    }
}
