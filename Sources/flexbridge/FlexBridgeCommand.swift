import AmazonSimulator
import ArgumentParser
import FlexBench
import FlexBridgeApp
import FlexCore
import FlexStore
import FlexUseCases
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
        subcommands: [
            Demo.self, Serve.self, Simulate.self, Import.self, Keys.self, Operators.self, Bench.self, Migrate.self,
            Keygen.self,
        ]
    )
}

/// The options every command that opens the database shares. Each one is optional so that the environment
/// variable and then the default apply when it is absent.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("database"),
        help:
            "The database: an SQLite file path or postgres://USER:PASSWORD@HOST:PORT/DB. Env: FLEXBRIDGE_DATABASE_URL. Default: flexbridge.sqlite"
    )
    var database: String?

    @Option(
        name: .customLong("master-key-file"),
        help:
            "A file holding the master key. Env: FLEXBRIDGE_MASTER_KEY_FILE (or the key itself in FLEXBRIDGE_MASTER_KEY). Default for SQLite: the database path + .key"
    )
    var masterKeyFile: String?

    @Option(
        name: .customLong("log-level"),
        help: "trace, debug, info, notice, warning, error or critical. Env: FLEXBRIDGE_LOG_LEVEL. Default: info"
    )
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

    @Option(
        name: .customLong("node-id"),
        help:
            "This node's name among nodes sharing a database. Env: FLEXBRIDGE_NODE_ID. Default: host name and process id"
    )
    var nodeID: String?

    @Option(
        name: .customLong("public-url"),
        help:
            "The URL sellers' browsers reach this node at, for Amazon's consent redirect. Env: FLEXBRIDGE_PUBLIC_URL. Default: http://HOST:PORT"
    )
    var publicURL: String?

    @Flag(
        name: .customLong("allow-private-addresses"),
        help:
            "For local development: connections may name any endpoint (the simulator) and webhooks any http(s) URL, this machine's and private networks' included. Env: FLEXBRIDGE_ALLOW_PRIVATE_ADDRESSES=true. Default: only Amazon's hosts, and webhooks over https to public addresses"
    )
    var allowPrivateAddresses = false

    @Option(
        name: .customLong("tls-certificate"),
        help:
            "A PEM file of the certificate chain to answer HTTPS with (with --tls-key). Env: FLEXBRIDGE_TLS_CERTIFICATE"
    )
    var tlsCertificate: String?

    @Option(
        name: .customLong("tls-key"),
        help: "A PEM file of the certificate's private key (with --tls-certificate). Env: FLEXBRIDGE_TLS_KEY"
    )
    var tlsKey: String?

    func run() async throws {
        var flags = database.flags
        flags[.host] = host
        flags[.port] = port
        flags[.nodeID] = nodeID
        flags[.publicURL] = publicURL
        if allowPrivateAddresses { flags[.allowPrivateAddresses] = "true" }
        flags[.tlsCertificate] = tlsCertificate
        flags[.tlsKey] = tlsKey
        let (configuration, logger) = try FlexBridgeConfiguration.loadForCommand(flags: flags)
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        try await UserFacing.wrapping {
            let tracing = try NodeTracing.bootstrap(logger: logger)
            if tracing != nil { logger.notice("Traces are exported by OTLP over HTTP, as the OTEL_ variables say") }
            try await FlexBridgeServer(
                configuration: configuration,
                registry: registry,
                logger: logger,
                tracing: tracing
            )
            .run()
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

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Imports a CSV file into the database; a file with a bad row imports nothing and every bad row is listed.",
        subcommands: [Listings.self, Stock.self, Prices.self]
    )

    struct Listings: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Imports listings: columns clientSkuId, channelSerialNo (ASIN), channelSkuId (merchant SKU; empty to have FlexBridge find it by the ASIN), marketplace, and optionally fulfilledBy (AMAZON, the default, or MERCHANT for MFN stock)."
        )

        @Argument(help: "The CSV file.")
        var file: String

        @Option(help: "The connection the listings belong to (its id, as GET /api/v1/connections shows).")
        var connection: String

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let text = try readFile(file)
            try await withImporter(database) { importer in
                let report = try await importer.importListings(
                    csv: text,
                    connectionID: ConnectionID(rawValue: connection),
                    progress: ProgressBar(title: "listings").update
                )
                var line = "imported \(report.rows) listings; \(report.pendingItems) Amazon items are pending"
                if report.awaitingSKU > 0 {
                    line += "; \(report.awaitingSKU) given by ASIN only are looked up at Amazon (GET .../asin-listings)"
                }
                print(line)
            }
        }
    }

    struct Stock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Imports stock levels: columns hub, sku, quantity (absolute)."
        )

        @Argument(help: "The CSV file.")
        var file: String

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let text = try readFile(file)
            try await withImporter(database) { importer in
                let report = try await importer.importStock(csv: text, progress: ProgressBar(title: "stock").update)
                print("recorded \(report.rows) stock levels; \(report.pendingItems) Amazon items are pending")
            }
        }
    }
}

extension Import {
    struct Prices: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Imports prices: columns sku (the WMS's SKU), marketplace, price, and optionally currency, salePrice, saleStart, saleEnd, minimumPrice, maximumPrice."
        )

        @Argument(help: "The CSV file.")
        var file: String

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let text = try readFile(file)
            try await withImporter(database) { importer in
                let report = try await importer.importPrices(csv: text, progress: ProgressBar(title: "prices").update)
                var line = "recorded \(report.rows) prices; \(report.changed) changed"
                if report.unlisted > 0 {
                    line += "; \(report.unlisted) name a SKU no listing sells in that marketplace yet"
                }
                print(line)
            }
        }
    }
}

func readFile(_ path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw UserFacing("Cannot read \(path): no such file, or not readable.")
    }
    guard let text = String(data: data, encoding: .utf8) else { throw UserFacing("\(path) is not UTF-8 text.") }
    return text
}

func withImporter(_ database: DatabaseOptions, _ body: (Importer) async throws -> Void) async throws {
    let (configuration, logger) = try FlexBridgeConfiguration.loadForCommand(flags: database.flags)
    try await UserFacing.wrapping {
        let store = try await Store.open(configuration.storeConfiguration, logger: logger)
        do {
            try await body(Importer(store: store))
            try await store.close()
        } catch let error as CSVErrors {
            try? await store.close()
            throw UserFacing(error.description)
        } catch let error as CSVError {
            try? await store.close()
            throw UserFacing(CSVErrors([error]).description)
        } catch {
            try? await store.close()
            throw error
        }
    }
}

struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "API keys, made on the node itself: this is how the first admin key comes to exist. Every /api/v1 request needs one.",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Makes a key and prints it, this once: only its hash is kept."
        )

        @Option(help: "Who uses it, such as wms-berlin or monitoring.")
        var name: String

        @Option(help: "admin, operator, wms or read.")
        var role: String

        @Option(
            name: .customLong("connection"),
            help: "A connection it may touch (repeat for several); all of the account's when absent."
        )
        var connections: [String] = []

        @Flag(help: "Print the key alone, for scripts: KEY=$(flexbridge keys create … --quiet).")
        var quiet = false

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            guard let role = Role(rawValue: role) else {
                throw UserFacing("--role must be admin, operator, wms or read, got \"\(role)\".")
            }
            try await withAccess(database) { access in
                let (key, secret) = try await access.createKey(
                    name: name,
                    role: role,
                    connections: connections.isEmpty ? nil : connections.map(ConnectionID.init(rawValue:)),
                    by: .node()
                )
                if quiet {
                    print(secret)
                } else {
                    print("\(key.name) (\(key.role.rawValue)), id \(key.id):")
                    print(secret)
                    print("Keep it now: FlexBridge stores only its hash. Send it as Authorization: Bearer <key>.")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lists the keys, without their secrets.")

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await withAccess(database) { access in
                let formatter = ISO8601DateFormatter()
                for key in try await access.keys(by: .node()) {
                    let scope = key.scope.summary
                    let state =
                        key.revokedAt.map { "revoked \(formatter.string(from: $0))" }
                        ?? key.lastUsedAt.map { "last used \(formatter.string(from: $0))" } ?? "never used"
                    print(
                        "\(key.id)  \(key.prefix)  \(key.role.rawValue)  \(key.name)  connections: \(scope)  \(state)"
                    )
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revokes a key: its next request, on any node, is refused."
        )

        @Argument(help: "The key's id (flexbridge keys list) or its prefix (fbk_…).")
        var key: String

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await withAccess(database) { access in
                let id =
                    key.hasPrefix("fbk_")
                    ? try await access.keys(by: .node()).first { $0.prefix == key }?.id : key
                guard let id, let revoked = try await access.revokeKey(id, by: .node()) else {
                    throw UserFacing("No API key \(key).")
                }
                print("revoked \(revoked.name) (\(revoked.prefix))")
            }
        }
    }
}

struct Operators: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The people who log in to the operators' panel: made, listed and disabled on the node.",
        subcommands: [Create.self, List.self, Disable.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Adds an operator. The password is read from standard input with --password-stdin, else a random one is made and printed once."
        )

        @Argument(help: "The name they log in with (letters, digits, '.', '_', '-', '@').")
        var name: String

        @Option(help: "admin, operator, wms or read.")
        var role: String

        @Option(
            name: .customLong("connection"),
            help: "A connection they may touch (repeat for several); all of the account's when absent."
        )
        var connections: [String] = []

        @Flag(help: "Read the password from the first line of standard input.")
        var passwordStdin = false

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            guard let role = Role(rawValue: role) else {
                throw UserFacing("--role must be admin, operator, wms or read, got \"\(role)\".")
            }
            let password: String
            if passwordStdin {
                guard let line = readLine(strippingNewline: true) else {
                    throw UserFacing("--password-stdin: standard input is empty.")
                }
                password = line
            } else {
                var generator = SystemRandomNumberGenerator()
                password = Data((0..<15).map { _ in UInt8.random(in: 0...255, using: &generator) })
                    .base64URLEncodedString()
            }
            try await withStore(database) { store in
                let person = try await OperatorUseCases(store: store).create(
                    name: name,
                    password: password,
                    role: role,
                    connections: connections.isEmpty ? nil : connections.map(ConnectionID.init(rawValue:)),
                    by: .node()
                )
                print("operator \(person.name) (\(person.role.rawValue)), id \(person.id)")
                if !passwordStdin { print("password: \(password)   (shown once)") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lists the operators.")

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await withStore(database) { store in
                let formatter = ISO8601DateFormatter()
                for person in try await OperatorUseCases(store: store).operators(by: .node()) {
                    let scope = person.scope.summary
                    let state =
                        person.disabledAt.map { "disabled \(formatter.string(from: $0))" }
                        ?? person.lastLoginAt.map { "last login \(formatter.string(from: $0))" } ?? "never logged in"
                    print("\(person.id)  \(person.name)  \(person.role.rawValue)  connections: \(scope)  \(state)")
                }
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disables an operator: no login from now on.")

        @Argument(help: "The operator's name or id.")
        var name: String

        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            try await withStore(database) { store in
                let operators = OperatorUseCases(store: store)
                guard
                    let person = try await operators.operators(by: .node()).first(where: {
                        $0.name == name || $0.id == name
                    }),
                    let disabled = try await operators.disable(person.id, by: .node())
                else { throw UserFacing("No operator \(name).") }
                print("disabled \(disabled.name)")
            }
        }
    }
}

func withAccess(_ database: DatabaseOptions, _ body: (AccessUseCases) async throws -> Void) async throws {
    try await withStore(database) { try await body(AccessUseCases(store: $0)) }
}

/// Opens the store for a command of the node's own; a refusal with a reason becomes one line for the terminal.
func withStore(_ database: DatabaseOptions, _ body: (Store) async throws -> Void) async throws {
    let (configuration, logger) = try FlexBridgeConfiguration.loadForCommand(flags: database.flags)
    try await UserFacing.wrapping {
        let store = try await Store.open(configuration.storeConfiguration, logger: logger)
        do {
            try await body(store)
            try await store.close()
        } catch let error as FlexCore.ValidationError {
            try? await store.close()
            throw UserFacing(error.description)
        } catch let error as StoreError where error.code == .conflict || error.code == .invalidInput {
            try? await store.close()
            throw UserFacing(error.message)
        } catch {
            try? await store.close()
            throw error
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

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Shows FlexBridge at work in one process: Amazon's simulator, a FlexBridge node, a demo seller and warehouse.",
        discussion:
            "Connects a demo seller through Login with Amazon's consent flow, maps its location to a hub, lists and stocks a catalogue, and lets orders arrive; a demo warehouse confirms, packs, labels, manifests and hands them over through FlexBridge's API while customers cancel and return some. Prints the API's address and a key. The demo's database and the simulator's state live in --folder: a second run carries on, --reset starts afresh."
    )

    @Option(help: "Where the demo keeps its database and the simulator's state.")
    var folder = "flexbridge-demo"

    @Flag(help: "Start afresh: remove the demo folder first.")
    var reset = false

    @Option(help: "The port of FlexBridge's API.")
    var port = 8080

    @Option(name: .customLong("simulator-port"), help: "The port of the Amazon simulator.")
    var simulatorPort = 8090

    @Option(name: .customLong("orders-per-minute"), help: "New orders a minute (0.1 to 600).")
    var ordersPerMinute = 6.0

    @Option(name: .customLong("log-level"), help: "FlexBridge's log level (its log goes to standard error).")
    var logLevel = "warning"

    func validate() throws {
        for (name, value) in [("--port", port), ("--simulator-port", simulatorPort)] where !(1...65535).contains(value)
        {
            throw ValidationError("\(name) must be between 1 and 65535, got \(value)")
        }
        guard port != simulatorPort else { throw ValidationError("--port and --simulator-port must differ") }
        guard (0.1...600).contains(ordersPerMinute) else {
            throw ValidationError("--orders-per-minute must be from 0.1 to 600, got \(ordersPerMinute)")
        }
        guard Logger.Level(rawValue: logLevel.lowercased()) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical")
        }
        guard !folder.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("--folder must not be empty")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel.lowercased()) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: "flexbridge")
        logger.logLevel = level
        let path = folder.hasPrefix("/") ? folder : FileManager.default.currentDirectoryPath + "/" + folder
        // The demo node's /metrics answers as serve's does.
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let runner = DemoRunner(
            folder: URL(fileURLWithPath: path),
            reset: reset,
            port: port,
            simulatorPort: simulatorPort,
            ordersPerMinute: ordersPerMinute,
            registry: registry
        )
        try await UserFacing.wrapping { try await runner.run(logger: logger) }
    }
}

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Runs a stateful simulator of Amazon's External Fulfillment APIs, Login with Amazon included.",
        discussion:
            "Amazon's SDKs and FlexBridge reach it as they reach Amazon: set the SP-API endpoint and the LWA token endpoint to the addresses it prints. Its control path is described in docs/simulator.md."
    )

    @Option(help: "The address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "The port to listen on (0 picks a free one).")
    var port = 8090

    @Option(name: .customLong("client-id"), help: "The test application's Login with Amazon client id.")
    var clientID = "amzn1.application-oa2-client.simulator"

    @Option(name: .customLong("client-secret"), help: "The test application's client secret.")
    var clientSecret = "simulator-secret"

    @Flag(name: .customLong("no-throttle"), help: "Answer every call instead of throttling at Amazon's rates.")
    var noThrottle = false

    @Option(name: .customLong("fault-rate"), help: "Share of API calls (0 to 1) answered 500 or 503, half each.")
    var faultRate = 0.0

    @Option(
        name: .customLong("drop-rate"),
        help: "Share of API calls (0 to 1) applied but answered by a dropped connection."
    )
    var dropRate = 0.0

    @Option(name: .customLong("latency-ms"), help: "Latency added to every API call, in milliseconds.")
    var latency = 0

    @Option(
        name: .customLong("orders-per-minute"),
        help: "New orders generated per minute for --merchant-id (0: none)."
    )
    var ordersPerMinute = 0.0

    @Option(name: .customLong("merchant-id"), help: "The seller the order generator creates orders for.")
    var merchantID = "A1SIMSELLER"

    @Option(name: .customLong("label-format"), help: "The format of shipping labels: PDF or ZPL.")
    var labelFormat = "PDF"

    func validate() throws {
        guard (0...65535).contains(port) else {
            throw ValidationError("--port must be between 0 and 65535, got \(port)")
        }
        guard (0...1).contains(faultRate) else {
            throw ValidationError("--fault-rate must be between 0 and 1, got \(faultRate)")
        }
        guard (0...1).contains(dropRate) else {
            throw ValidationError("--drop-rate must be between 0 and 1, got \(dropRate)")
        }
        guard (0...60_000).contains(latency) else {
            throw ValidationError("--latency-ms must be between 0 and 60000, got \(latency)")
        }
        guard (0...60_000).contains(ordersPerMinute) else {
            throw ValidationError("--orders-per-minute must be from 0 to 60000, got \(ordersPerMinute)")
        }
        guard Simulator.LabelFormat(rawValue: labelFormat.uppercased()) != nil else {
            throw ValidationError("--label-format must be PDF or ZPL, got \(labelFormat)")
        }
        guard !clientID.isEmpty, !clientSecret.isEmpty else {
            throw ValidationError("--client-id and --client-secret must not be empty")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .notice
            return handler
        }
        let configuration = Simulator.Configuration(
            clientID: clientID,
            clientSecret: clientSecret,
            throttling: !noThrottle,
            faults: FaultSettings(
                internalErrorRate: faultRate / 2,
                unavailableRate: faultRate / 2,
                dropAfterApplyRate: dropRate,
                latencyMilliseconds: latency
            ),
            labelFormat: Simulator.LabelFormat(rawValue: labelFormat.uppercased()) ?? .pdf
        )
        let runner = SimulatorRunner(
            host: host,
            port: port,
            configuration: configuration,
            ordersPerMinute: ordersPerMinute,
            merchantID: merchantID
        )
        try await UserFacing.wrapping {
            try await runner.run(logger: Logger(label: "amazon.simulator"))
        }
    }
}

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measures FlexBridge against the simulator; BENCHMARKS.md has the results.",
        subcommands: [AmazonClient.self, Inventory.self, Orders.self, Listings.self, Fleet.self]
    )

    struct Fleet: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Runs many sellers on one FlexBridge node (a serve child process) against the simulator at Amazon's rates: its CPU and memory idle and under load, stock change → Amazon and notification → API."
        )

        @Option(help: "How many sellers, each its own connection, location and SKUs.")
        var connections = 100

        @Option(name: .customLong("idle-seconds"), help: "How long nothing happens, for what a seller costs idle.")
        var idleSeconds = 300.0

        @Option(name: .customLong("load-seconds"), help: "How long the load runs.")
        var loadSeconds = 120.0

        @Option(name: .customLong("stock-changes-per-second"), help: "Stock changes a second, per seller.")
        var stockChangesPerSecond = 1.0

        @Option(name: .customLong("orders-per-minute"), help: "New orders a minute, per seller.")
        var ordersPerMinute = 1.0

        @Option(help: "A PostgreSQL URL of an empty database; without it, an SQLite file in a temporary folder.")
        var database: String?

        @Option(
            help:
                "A shared library the node runs with (LD_PRELOAD), such as jemalloc's: /usr/lib/x86_64-linux-gnu/libjemalloc.so.2."
        )
        var preload: String?

        func validate() throws {
            if let preload, !FileManager.default.isReadableFile(atPath: preload) {
                throw ValidationError("--preload \(preload): no such readable file")
            }
            guard (1...10_000).contains(connections) else {
                throw ValidationError("--connections must be 1 to 10,000")
            }
            guard (1...3600).contains(idleSeconds), (1...3600).contains(loadSeconds) else {
                throw ValidationError("--idle-seconds and --load-seconds must be 1 to 3,600")
            }
            guard (0...100).contains(stockChangesPerSecond), (0...600).contains(ordersPerMinute) else {
                throw ValidationError(
                    "--stock-changes-per-second must be 0 to 100 and --orders-per-minute 0 to 600, per seller"
                )
            }
            if let database, !(database.hasPrefix("postgres://") || database.hasPrefix("postgresql://")) {
                throw ValidationError("--database must be a postgres:// URL")
            }
        }

        func run() async throws {
            print(
                try await FleetBenchmark(
                    connections: connections,
                    idleSeconds: idleSeconds,
                    loadSeconds: loadSeconds,
                    stockChangesPerSecond: stockChangesPerSecond,
                    ordersPerMinute: ordersPerMinute,
                    database: database,
                    preload: preload
                ).run()
            )
        }
    }

    struct Listings: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Sends MFN stock for many listings at once through a FlexBridge node to the simulator at Amazon's Listings and Feeds rates, then single changes."
        )

        @Option(help: "How many merchant-fulfilled listings change at once.")
        var skus = 100_000

        @Option(
            name: .customLong("idle-samples"),
            help: "Single changes sent one at a time afterwards, for the latency without load."
        )
        var idleSamples = 30

        @Option(name: .customLong("feed-queue-seconds"), help: "How long the simulator keeps a feed IN_QUEUE.")
        var feedQueueSeconds = 5.0

        @Option(name: .customLong("feed-base-seconds"), help: "How long the simulator takes over any feed.")
        var feedBaseSeconds = 10.0

        @Option(
            name: .customLong("feed-seconds-per-thousand"),
            help: "How long the simulator takes per thousand messages of a feed."
        )
        var feedSecondsPerThousand = 1.0

        func validate() throws {
            guard (1...1_000_000).contains(skus) else { throw ValidationError("--skus must be 1 to 1,000,000") }
            guard (0...1_000).contains(idleSamples) else { throw ValidationError("--idle-samples must be 0 to 1,000") }
            for value in [feedQueueSeconds, feedBaseSeconds, feedSecondsPerThousand] where !(0...3600).contains(value) {
                throw ValidationError("the feed timings must be 0 to 3,600 seconds")
            }
        }

        func run() async throws {
            print(
                try await ListingsBenchmark(
                    skus: skus,
                    idleSamples: idleSamples,
                    timing: FeedTiming(
                        queueSeconds: feedQueueSeconds,
                        baseSeconds: feedBaseSeconds,
                        secondsPerThousandMessages: feedSecondsPerThousand
                    )
                ).run()
            )
        }
    }

    struct Orders: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Carries orders from the simulator through confirm, pack, label and ship via a FlexBridge node, and measures how fast new orders appear."
        )

        @Option(help: "Orders carried through the whole flow (default 1,000; 100 for mfn).")
        var orders: Int?

        @Option(
            name: .customLong("notification-samples"),
            help: "Orders generated one at a time to time notification → API (default 100; 30 for mfn)."
        )
        var notificationSamples: Int?

        @Option(
            name: .customLong("poll-samples"),
            help: "Orders generated one at a time with notifications off, to time polling (default 5; 0 for mfn)."
        )
        var pollSamples: Int?

        @Flag(
            name: .customLong("amazon-rates"),
            help: "Throttle the simulator at Amazon's default rates instead of answering every call."
        )
        var amazonRates = false

        @Option(
            help:
                "external_fulfillment (Seller Flex shipments) or mfn (merchant-fulfilled orders, at Amazon's Orders API rates: --orders 100 and --notification-samples 30 by default)."
        )
        var source = "external_fulfillment"

        @Option(
            name: .customLong("poll-seconds"),
            help: "mfn: how often searchOrders runs (Amazon's rate allows 180)."
        )
        var pollSeconds = 180

        func validate() throws {
            guard ["external_fulfillment", "mfn"].contains(source) else {
                throw ValidationError("--source must be external_fulfillment or mfn, got \(source)")
            }
            guard (1...86_400).contains(pollSeconds) else {
                throw ValidationError("--poll-seconds must be 1 to 86,400")
            }
            guard (1...100_000).contains(orders ?? 1) else { throw ValidationError("--orders must be 1 to 100,000") }
            guard (0...10_000).contains(notificationSamples ?? 0) else {
                throw ValidationError("--notification-samples must be 0 to 10,000")
            }
            guard (0...100).contains(pollSamples ?? 0) else { throw ValidationError("--poll-samples must be 0 to 100") }
        }

        func run() async throws {
            if source == "mfn" {
                // Amazon's getOrder rate (one every two seconds) sets the pace: smaller defaults.
                print(
                    try await MerchantOrdersBenchmark(
                        orders: orders ?? 100,
                        notificationSamples: notificationSamples ?? 30,
                        pollSamples: pollSamples ?? 0,
                        pollInterval: .seconds(pollSeconds),
                        amazonRates: true
                    ).run()
                )
                return
            }
            print(
                try await OrdersBenchmark(
                    orders: orders ?? 1_000,
                    notificationSamples: notificationSamples ?? 100,
                    pollSamples: pollSamples ?? 5,
                    amazonRates: amazonRates
                ).run()
            )
        }
    }

    struct Inventory: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Sends stock changes through a FlexBridge node to the simulator with Amazon's default throttling, end to end."
        )

        @Option(help: "How many SKUs change.")
        var skus = 10_000

        @Option(name: .customLong("request-size"), help: "Stock levels per PUT /api/v1/stock request.")
        var requestSize = 10_000

        @Option(
            name: .customLong("idle-samples"),
            help: "Single changes sent one at a time afterwards, for the latency without load."
        )
        var idleSamples = 50

        func validate() throws {
            guard (1...1_000_000).contains(skus) else { throw ValidationError("--skus must be 1 to 1,000,000") }
            guard (1...100_000).contains(requestSize) else {
                throw ValidationError("--request-size must be 1 to 100,000")
            }
            guard (0...10_000).contains(idleSamples) else {
                throw ValidationError("--idle-samples must be 0 to 10,000")
            }
        }

        func run() async throws {
            print(try await InventoryBenchmark(skus: skus, requestSize: requestSize, idleSamples: idleSamples).run())
        }
    }

    struct AmazonClient: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "amazon",
            abstract:
                "Calls batchInventory through FlexBridge's Amazon client as fast as Amazon's default throttling allows."
        )

        @Option(help: "How long to run, in seconds.")
        var seconds = 30.0

        @Option(help: "Concurrent callers.")
        var workers = 16

        @Option(name: .customLong("unavailable-rate"), help: "Share of calls (0 to 1) the simulator answers 503.")
        var unavailableRate = 0.0

        func validate() throws {
            guard seconds > 0, seconds <= 3600 else {
                throw ValidationError("--seconds must be above 0 and at most 3600")
            }
            guard (1...1000).contains(workers) else { throw ValidationError("--workers must be 1 to 1000") }
            guard (0...1).contains(unavailableRate) else {
                throw ValidationError("--unavailable-rate must be between 0 and 1")
            }
        }

        func run() async throws {
            let report = try await AmazonClientBenchmark(
                seconds: seconds,
                workers: workers,
                unavailableRate: unavailableRate
            ).run()
            print(report)
        }
    }
}
