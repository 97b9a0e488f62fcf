import Configuration
import FlexCore
import FlexStore
import Foundation
import Logging

/// Everything a FlexBridge process is told at start, as one value built once: command-line flags win over
/// environment variables (`FLEXBRIDGE_…`), which win over defaults.
public struct FlexBridgeConfiguration: Sendable {
    /// How logs are written.
    public enum LogFormat: String, Sendable, CaseIterable {
        /// One line of text per entry, for people.
        case console
        /// One JSON object per line, for log collectors.
        case json
    }

    public var database: DatabaseURL
    /// Where the master key comes from; nil for the store's default (a key file beside an SQLite database).
    public var masterKey: MasterKey.Source?
    public var maximumDatabaseConnections: Int
    public var host: String
    public var port: Int
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    /// This process's name among the nodes sharing one database, in leases and logs.
    public var nodeID: String
    /// How long a node's lease on a connection lasts without renewal.
    public var leaseTTL: Duration
    /// Whether the node holds a PostgreSQL advisory lock while it runs, so that the other nodes see at once that it
    /// died; off behind a pooler in transaction mode (PgBouncer), where session locks do not hold, and a dead node's
    /// connections are then taken when its leases expire.
    public var nodePresence = true
    /// The address sellers' browsers and Amazon reach this node at, for the consent redirect
    /// (`{publicURL}/api/v1/connections/callback`). Default: http://HOST:PORT.
    public var publicURL: URL?
    /// The shared secret Amazon's notifications (through an EventBridge API destination) carry in the `x-api-key`
    /// header; nil turns `POST /notifications/amazon` off.
    public var notificationSecret: String?
    /// Where connections' endpoints and webhooks may point: Amazon's hosts and public https addresses, or — for
    /// local development, with `--allow-private-addresses` — anything (the simulator, a receiver on this machine).
    public var outbound: OutboundPolicy = .production
    /// Host names, beyond localhost, the host listened on and the public URL's, that requests may name in `Host`
    /// (behind a proxy or a load balancer with names of its own). Addresses are always taken.
    public var allowedHosts: [String] = []
    /// PEM files of the certificate chain and private key `serve` answers HTTPS with; both or neither. Without
    /// them it answers plain HTTP, for a node behind a TLS-terminating reverse proxy or on loopback.
    public var tlsCertificatePath: String?
    public var tlsKeyPath: String?
    /// How often every location is polled for new and cancelled Seller Flex orders, the safety net behind the
    /// shipment notifications: each poll is a getShipments call per location and status (three).
    public var orderPollInterval: Duration = .seconds(15)
    /// The same for a seller whose shipment notifications arrive (one in the last day): the poll is then only the
    /// safety net for a lost one.
    public var notifiedOrderPollInterval: Duration = .seconds(60)
    /// How often every shipment status (ten) and every return status (fifteen) is polled, and at a start: the
    /// statuses the seller's own calls or a carrier change.
    public var statusPollInterval: Duration = .seconds(300)
    /// How often each return location is polled (Amazon sends no notification for returns), and the page size.
    public var returnPollInterval: Duration = .seconds(60)
    public var returnPageSize = 100
    /// How often searchOrders looks for changed MFN orders, the safety net behind ORDER_CHANGE notifications:
    /// Amazon's rate (0.0056 calls a second) allows one call every 180 seconds once its burst is spent.
    public var mfnPollInterval: Duration = .seconds(180)

    public init(
        database: DatabaseURL,
        masterKey: MasterKey.Source? = nil,
        maximumDatabaseConnections: Int = 20,
        host: String = "127.0.0.1",
        port: Int = 8080,
        logLevel: Logger.Level = .info,
        logFormat: LogFormat = .console,
        nodeID: String = FlexBridgeConfiguration.defaultNodeID(),
        leaseTTL: Duration = .seconds(30)
    ) {
        self.database = database
        self.masterKey = masterKey
        self.maximumDatabaseConnections = maximumDatabaseConnections
        self.host = host
        self.port = port
        self.logLevel = logLevel
        self.logFormat = logFormat
        self.nodeID = nodeID
        self.leaseTTL = leaseTTL
    }

    /// The settings FlexBridge reads, each with its configuration key; the environment variable is the key in upper
    /// case with underscores (`flexbridge.database.url` → `FLEXBRIDGE_DATABASE_URL`).
    public enum Key: String, CaseIterable, Sendable {
        case database = "flexbridge.database.url"
        case databaseMaxConnections = "flexbridge.database.max.connections"
        case masterKey = "flexbridge.master.key"
        case masterKeyFile = "flexbridge.master.key.file"
        case host = "flexbridge.host"
        case port = "flexbridge.port"
        case logLevel = "flexbridge.log.level"
        case logFormat = "flexbridge.log.format"
        case nodeID = "flexbridge.node.id"
        case leaseTTL = "flexbridge.lease.ttl.seconds"
        case nodePresence = "flexbridge.node.presence"
        case publicURL = "flexbridge.public.url"
        case notificationSecret = "flexbridge.notification.secret"
        case allowPrivateAddresses = "flexbridge.allow.private.addresses"
        case allowedHosts = "flexbridge.allowed.hosts"
        case tlsCertificate = "flexbridge.tls.certificate"
        case tlsKey = "flexbridge.tls.key"
        case orderPollSeconds = "flexbridge.orders.poll.seconds"
        case notifiedOrderPollSeconds = "flexbridge.notified.orders.poll.seconds"
        case returnPollSeconds = "flexbridge.returns.poll.seconds"
        case statusPollSeconds = "flexbridge.status.poll.seconds"
        case returnPageSize = "flexbridge.returns.page.size"
        case mfnPollSeconds = "flexbridge.mfn.poll.seconds"

        /// The environment variable that sets it.
        public var environmentVariable: String {
            rawValue.replacingOccurrences(of: ".", with: "_").uppercased()
        }

        var isSecret: Bool { self == .masterKey || self == .notificationSecret }

        /// The command-line flag that sets it, for the settings that have one.
        public var flag: String? {
            switch self {
            case .database: "--database"
            case .masterKeyFile: "--master-key-file"
            case .host: "--host"
            case .port: "--port"
            case .logLevel: "--log-level"
            case .logFormat: "--log-format"
            case .nodeID: "--node-id"
            case .publicURL: "--public-url"
            case .allowPrivateAddresses: "--allow-private-addresses"
            case .tlsCertificate: "--tls-certificate"
            case .tlsKey: "--tls-key"
            case .databaseMaxConnections, .masterKey, .leaseTTL, .nodePresence, .notificationSecret, .allowedHosts,
                .orderPollSeconds, .notifiedOrderPollSeconds, .returnPollSeconds, .statusPollSeconds, .returnPageSize,
                .mfnPollSeconds:
                nil
            }
        }
    }

    /// The default SQLite file, in the working directory.
    public static let defaultDatabase = "flexbridge.sqlite"

    /// Builds the configuration from flags (already parsed, by key) and the environment, naming the flag or
    /// variable at fault when a value is wrong.
    public static func load(
        flags: [Key: String],
        environment: [String: String] = ProcessInfo.processInfo.environment,
        workingDirectory: String = FileManager.default.currentDirectoryPath
    ) throws -> FlexBridgeConfiguration {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        for (key, value) in flags {
            values[AbsoluteConfigKey(stringLiteral: key.rawValue)] = ConfigValue(.string(value), isSecret: key.isSecret)
        }
        let reader = ConfigReader(providers: [
            InMemoryProvider(name: "flags", values: values),
            EnvironmentVariablesProvider(
                environmentVariables: environment,
                secretsSpecifier: .specific([Key.masterKey.environmentVariable])
            ),
        ])
        func string(_ key: Key) -> String? {
            guard let value = reader.string(forKey: ConfigKey(stringLiteral: key.rawValue), isSecret: key.isSecret)
            else {
                return nil
            }
            let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.isEmpty ? nil : trimmed
        }

        let database: DatabaseURL
        do {
            database = try DatabaseURL(
                parsing: string(.database) ?? defaultDatabase,
                workingDirectory: workingDirectory
            )
        } catch {
            throw ConfigurationError(key: .database, message: "is wrong: \(error.message)")
        }
        var configuration = FlexBridgeConfiguration(database: database)
        if let key = string(.masterKey) {
            configuration.masterKey = .value(key)
        } else if let path = string(.masterKeyFile) {
            let absolute =
                path.hasPrefix("/") ? path : URL(fileURLWithPath: workingDirectory).appendingPathComponent(path).path
            configuration.masterKey = .file(path: absolute, createIfMissing: database.kind == .sqlite)
        }
        if let text = string(.databaseMaxConnections) {
            configuration.maximumDatabaseConnections = try integer(text, key: .databaseMaxConnections, in: 1...1000)
        }
        if let host = string(.host) { configuration.host = host }
        if let text = string(.port) { configuration.port = try integer(text, key: .port, in: 0...65535) }
        if let text = string(.logLevel) {
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                let levels = Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")
                throw ConfigurationError(key: .logLevel, message: "must be one of \(levels), got \"\(text)\".")
            }
            configuration.logLevel = level
        }
        if let text = string(.logFormat) {
            guard let format = LogFormat(rawValue: text.lowercased()) else {
                throw ConfigurationError(key: .logFormat, message: "must be console or json, got \"\(text)\".")
            }
            configuration.logFormat = format
        }
        if let node = string(.nodeID) { configuration.nodeID = node }
        if let text = string(.leaseTTL) {
            configuration.leaseTTL = .seconds(try integer(text, key: .leaseTTL, in: 3...3600))
        }
        if let text = string(.nodePresence) {
            switch text.lowercased() {
            case "true", "1", "yes", "on": configuration.nodePresence = true
            case "false", "0", "no", "off": configuration.nodePresence = false
            default:
                throw ConfigurationError(key: .nodePresence, message: "must be true or false, got \"\(text)\".")
            }
        }
        if let text = string(.orderPollSeconds) {
            configuration.orderPollInterval = .seconds(try integer(text, key: .orderPollSeconds, in: 1...86400))
        }
        if let text = string(.notifiedOrderPollSeconds) {
            configuration.notifiedOrderPollInterval = .seconds(
                try integer(text, key: .notifiedOrderPollSeconds, in: 1...86400)
            )
        }
        if let text = string(.returnPollSeconds) {
            configuration.returnPollInterval = .seconds(try integer(text, key: .returnPollSeconds, in: 1...86400))
        }
        if let text = string(.statusPollSeconds) {
            configuration.statusPollInterval = .seconds(try integer(text, key: .statusPollSeconds, in: 1...86400))
        }
        if let text = string(.mfnPollSeconds) {
            configuration.mfnPollInterval = .seconds(try integer(text, key: .mfnPollSeconds, in: 1...86400))
        }
        if let text = string(.returnPageSize) {
            configuration.returnPageSize = try integer(text, key: .returnPageSize, in: 1...100)
        }
        if let text = string(.publicURL) {
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
                ["http", "https"].contains(scheme), url.host != nil
            else {
                throw ConfigurationError(
                    key: .publicURL,
                    message:
                        "must be an absolute http or https URL such as https://flexbridge.example.com, got \"\(text)\"."
                )
            }
            configuration.publicURL = url
        }
        if let text = string(.allowPrivateAddresses) {
            switch text.lowercased() {
            case "true", "1", "yes": configuration.outbound = .localDevelopment
            case "false", "0", "no": configuration.outbound = .production
            default:
                throw ConfigurationError(
                    key: .allowPrivateAddresses,
                    message: "must be true or false, got \"\(text)\"."
                )
            }
        }
        let certificate = string(.tlsCertificate)
        let key = string(.tlsKey)
        guard (certificate == nil) == (key == nil) else {
            throw ConfigurationError(
                key: certificate == nil ? .tlsCertificate : .tlsKey,
                message: "must be given with \(certificate == nil ? "--tls-key" : "--tls-certificate"): TLS needs both."
            )
        }
        func absolute(_ path: String) -> String {
            path.hasPrefix("/") ? path : URL(fileURLWithPath: workingDirectory).appendingPathComponent(path).path
        }
        configuration.tlsCertificatePath = certificate.map(absolute)
        configuration.tlsKeyPath = key.map(absolute)
        if let text = string(.allowedHosts) {
            configuration.allowedHosts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
        }
        if let secret = string(.notificationSecret) {
            guard secret.count >= 16 else {
                throw ConfigurationError(
                    key: .notificationSecret,
                    message: "must be at least 16 characters, got \(secret.count)."
                )
            }
            configuration.notificationSecret = secret
        }
        return configuration
    }

    private static func integer(_ text: String, key: Key, in range: ClosedRange<Int>) throws -> Int {
        guard let value = Int(text), range.contains(value) else {
            throw ConfigurationError(
                key: key,
                message: "must be a whole number from \(range.lowerBound) to \(range.upperBound), got \"\(text)\"."
            )
        }
        return value
    }

    /// Whether `owner` is a default node id of this host (`HOST-PID`) whose process no longer runs: this node's own
    /// previous run, killed, whose leases need not be waited for. Another host's node, a live process, or an id set
    /// with --node-id is never called dead.
    public static func isDeadLocalNode(_ owner: String) -> Bool {
        let prefix = "\(ProcessInfo.processInfo.hostName)-"
        guard owner.hasPrefix(prefix), let pid = Int32(owner.dropFirst(prefix.count)), pid > 1,
            pid != ProcessInfo.processInfo.processIdentifier
        else { return false }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// The host name and process id: unique among the processes sharing a database.
    public static func defaultNodeID() -> String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Where Amazon sends sellers back after consent.
    public var authorizationCallbackURL: String {
        let base = publicURL?.absoluteString ?? "\(tlsCertificatePath == nil ? "http" : "https")://\(host):\(port)"
        return (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/api/v1/connections/callback"
    }

    /// The store configuration this process opens.
    public var storeConfiguration: Store.Configuration {
        Store.Configuration(databaseURL: database, masterKey: masterKey, maximumConnections: maximumDatabaseConnections)
    }
}

/// A configuration value FlexBridge cannot use, naming the flag and the environment variable that set it.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var key: FlexBridgeConfiguration.Key
    public var message: String

    public var description: String {
        guard let flag = key.flag else { return "\(key.environmentVariable) \(message)" }
        return "\(key.environmentVariable) (or \(flag)) \(message)"
    }
}
