import FlexBridgeApp
import FlexStore
import Foundation
import Logging
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    @Test("flags win over the environment, which wins over defaults")
    func precedence() throws {
        let defaults = try FlexBridgeConfiguration.load(flags: [:], environment: [:], workingDirectory: "/srv")
        #expect(defaults.database == .sqlite(path: "/srv/flexbridge.sqlite"))
        #expect(defaults.port == 8080)
        #expect(defaults.host == "127.0.0.1")
        #expect(defaults.logFormat == .console)
        #expect(defaults.masterKey == nil)

        let environment = [
            "FLEXBRIDGE_PORT": "9000",
            "FLEXBRIDGE_DATABASE_URL": "postgres://fb:pw@db:5432/fb",
            "FLEXBRIDGE_LOG_FORMAT": "json",
            "FLEXBRIDGE_LOG_LEVEL": "debug",
            "FLEXBRIDGE_MASTER_KEY": "k",
            "FLEXBRIDGE_NODE_ID": "node-7",
        ]
        let fromEnvironment = try FlexBridgeConfiguration.load(
            flags: [:],
            environment: environment,
            workingDirectory: "/srv"
        )
        #expect(fromEnvironment.port == 9000)
        #expect(fromEnvironment.database.kind == .postgres)
        #expect(fromEnvironment.logFormat == .json)
        #expect(fromEnvironment.logLevel == .debug)
        #expect(fromEnvironment.masterKey == .value("k"))
        #expect(fromEnvironment.nodeID == "node-7")

        let fromFlags = try FlexBridgeConfiguration.load(
            flags: [.port: "9100", .database: "other.sqlite"],
            environment: environment,
            workingDirectory: "/srv"
        )
        #expect(fromFlags.port == 9100)
        #expect(fromFlags.database == .sqlite(path: "/srv/other.sqlite"))
        #expect(fromFlags.logFormat == .json)
    }

    @Test(
        "bad values name the variable and the flag that set them",
        arguments: [
            ("FLEXBRIDGE_PORT", "eighty", "FLEXBRIDGE_PORT (or --port) must be a whole number from 0 to 65535"),
            ("FLEXBRIDGE_PORT", "70000", "got \"70000\""),
            ("FLEXBRIDGE_LOG_LEVEL", "loud", "FLEXBRIDGE_LOG_LEVEL (or --log-level) must be one of"),
            ("FLEXBRIDGE_LOG_FORMAT", "xml", "must be console or json"),
            ("FLEXBRIDGE_LEASE_TTL_SECONDS", "1", "FLEXBRIDGE_LEASE_TTL_SECONDS must be a whole number from 3 to 3600"),
            (
                "FLEXBRIDGE_DATABASE_URL", "mysql://x@y/z",
                "FLEXBRIDGE_DATABASE_URL (or --database) is wrong: The database URL"
            ),
        ]
    )
    func badValues(variable: String, value: String, message: String) {
        let error = #expect(throws: ConfigurationError.self) {
            try FlexBridgeConfiguration.load(flags: [:], environment: [variable: value])
        }
        #expect(error?.description.contains(message) == true, "\(error?.description ?? "")")
    }

    @Test("a default node id of this host is dead only when its process no longer runs")
    func deadLocalNode() throws {
        let host = ProcessInfo.processInfo.hostName
        #expect(!FlexBridgeConfiguration.isDeadLocalNode(FlexBridgeConfiguration.defaultNodeID()), "this process lives")
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        #expect(FlexBridgeConfiguration.isDeadLocalNode("\(host)-\(child.processIdentifier)"), "a finished process")
        #expect(
            !FlexBridgeConfiguration.isDeadLocalNode("another-host-\(child.processIdentifier)"),
            "another host's node"
        )
        #expect(!FlexBridgeConfiguration.isDeadLocalNode("warehouse-node-1"), "an id set with --node-id")
        #expect(!FlexBridgeConfiguration.isDeadLocalNode("\(host)-1"), "pid 1 always lives")
    }

    @Test("a key file path is taken relative to the working directory")
    func keyFile() throws {
        let configuration = try FlexBridgeConfiguration.load(
            flags: [.masterKeyFile: "keys/master.key"],
            environment: [:],
            workingDirectory: "/srv"
        )
        #expect(configuration.masterKey == .file(path: "/srv/keys/master.key", createIfMissing: true))
    }
}
