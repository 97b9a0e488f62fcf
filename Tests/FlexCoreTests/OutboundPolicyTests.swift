import FlexCore
import Foundation
import Testing

@Suite("Where FlexBridge may send secrets and events")
struct OutboundPolicyTests {
    @Test(
        "addresses nobody on the internet can reach are not public",
        arguments: [
            ("127.0.0.1", false), ("10.1.2.3", false), ("172.16.0.1", false), ("172.31.255.255", false),
            ("192.168.1.1", false), ("169.254.169.254", false), ("100.64.0.1", false), ("0.0.0.0", false),
            ("224.0.0.1", false), ("255.255.255.255", false), ("192.0.2.1", false), ("::1", false), ("::", false),
            ("fe80::1", false), ("fd00:ec2::254", false), ("fc00::1", false), ("::ffff:127.0.0.1", false),
            ("::ffff:10.0.0.1", false), ("2001:db8::1", false), ("64:ff9b::a00:1", false),
            ("93.184.215.14", true), ("172.32.0.1", true), ("8.8.8.8", true), ("2606:4700::1111", true),
            ("::ffff:8.8.8.8", true),
        ]
    )
    func publicAddresses(address: String, isPublic: Bool) throws {
        let parsed = try #require(IPAddress(address))
        #expect(parsed.isPublic == isPublic, "\(address)")
    }

    @Test("host names are not addresses")
    func names() {
        #expect(IPAddress("example.com") == nil && IPAddress("10.0.0") == nil && IPAddress("") == nil)
    }

    @Test("in production a connection's endpoint is one of Amazon's hosts over https; in development anything")
    func endpoints() throws {
        let production = OutboundPolicy.production
        try production.check(endpoint: URL(string: "https://sellingpartnerapi-eu.amazon.com")!)
        try production.check(endpoint: URL(string: "https://sandbox.sellingpartnerapi-na.amazon.com")!)
        for bad in [
            "http://sellingpartnerapi-eu.amazon.com", "https://127.0.0.1:8090", "https://internal.corp",
            "https://sellingpartnerapi-eu.amazon.com.evil.com", "https://sellingpartnerapi-eu.amazon.com:8443",
        ] {
            #expect(throws: ValidationError.self, "\(bad)") { try production.check(endpoint: URL(string: bad)!) }
        }
        try OutboundPolicy.localDevelopment.check(endpoint: URL(string: "http://127.0.0.1:8090")!)
        #expect(throws: ValidationError.self) {
            try OutboundPolicy.localDevelopment.check(endpoint: URL(string: "ftp://127.0.0.1")!)
        }
    }

    @Test("in production a webhook is https and names no private host; every address it resolves to is public")
    func webhooks() throws {
        let production = OutboundPolicy.production
        try production.check(webhook: URL(string: "https://wms.example.com/hooks")!)
        for bad in [
            "http://wms.example.com/hooks", "https://localhost/x", "https://127.0.0.1/x", "https://[::1]/x",
            "https://169.254.169.254/latest/meta-data", "https://10.0.0.5/x", "https://db.internal/x",
        ] {
            #expect(throws: ValidationError.self, "\(bad)") { try production.check(webhook: URL(string: bad)!) }
        }
        let public4 = try #require(IPAddress("93.184.215.14"))
        let private4 = try #require(IPAddress("10.0.0.7"))
        try production.check(addresses: [public4], of: "wms.example.com")
        #expect(throws: ValidationError.self, "one private address is enough to refuse") {
            try production.check(addresses: [public4, private4], of: "wms.example.com")
        }
        #expect(throws: ValidationError.self, "a name that resolves to nothing") {
            try production.check(addresses: [], of: "nowhere.example.com")
        }
        try OutboundPolicy.localDevelopment.check(webhook: URL(string: "http://127.0.0.1:9000/hook")!)
        try OutboundPolicy.localDevelopment.check(addresses: [private4], of: "receiver")
    }
}
