import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where FlexBridge may send requests that carry secrets or data: a connection's Selling Partner API endpoint
/// (which receives the client secret and refresh token) and webhook URLs (which receive every event). In
/// production only Amazon's regional hosts, over https, and webhooks over https to public addresses — so that
/// nobody with an API key can point FlexBridge at an internal service or a cloud metadata endpoint. A node run for
/// local development (`--allow-private-addresses`: the simulator, a receiver on this machine) lifts both.
public struct OutboundPolicy: Sendable, Hashable {
    public var allowsPrivateAddresses: Bool

    public init(allowsPrivateAddresses: Bool) {
        self.allowsPrivateAddresses = allowsPrivateAddresses
    }

    public static let production = OutboundPolicy(allowsPrivateAddresses: false)
    public static let localDevelopment = OutboundPolicy(allowsPrivateAddresses: true)

    /// The Selling Partner API's hosts, production and sandbox, of every region.
    public static let amazonHosts: Set<String> = [
        "sellingpartnerapi-na.amazon.com", "sellingpartnerapi-eu.amazon.com", "sellingpartnerapi-fe.amazon.com",
        "sandbox.sellingpartnerapi-na.amazon.com", "sandbox.sellingpartnerapi-eu.amazon.com",
        "sandbox.sellingpartnerapi-fe.amazon.com",
    ]

    static let developmentHint = "(a node run with --allow-private-addresses, for local development, takes any)"

    /// A connection's custom endpoint: an absolute http(s) URL; in production, https on one of Amazon's hosts.
    public func check(endpoint url: URL, field: String = "endpoint") throws(ValidationError) {
        guard let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), let host = url.host,
            !host.isEmpty
        else {
            throw ValidationError(field: field, reason: "must be an absolute http or https URL, got \"\(url)\"")
        }
        guard !allowsPrivateAddresses else { return }
        guard scheme == "https", Self.amazonHosts.contains(host.lowercased()), url.port == nil || url.port == 443
        else {
            throw ValidationError(
                field: field,
                reason:
                    "must be one of Amazon's Selling Partner API hosts over https (such as https://sandbox.sellingpartnerapi-eu.amazon.com), got \"\(url)\"; leave it out for the region's production host \(Self.developmentHint)"
            )
        }
    }

    /// A webhook URL's shape: an absolute http(s) URL; in production https, and not a host that names this machine
    /// or a private, link-local or metadata address. Where a name resolves to is checked by
    /// ``check(addresses:of:field:)``, at registration and again at each delivery.
    public func check(webhook url: URL, field: String = "url") throws(ValidationError) {
        guard let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme), let host = url.host,
            !host.isEmpty
        else {
            throw ValidationError(field: field, reason: "must be an absolute http or https URL, got \"\(url)\"")
        }
        guard !allowsPrivateAddresses else { return }
        guard scheme == "https" else {
            throw ValidationError(
                field: field,
                reason: "must be an https URL: events carry orders and addresses \(Self.developmentHint)"
            )
        }
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")).lowercased()
        if bare == "localhost" || bare.hasSuffix(".localhost") || bare.hasSuffix(".internal")
            || bare.hasSuffix(".local")
        {
            throw ValidationError(field: field, reason: "must not name this machine or an internal host, got \(host)")
        }
        if let address = IPAddress(bare), !address.isPublic {
            throw ValidationError(
                field: field,
                reason:
                    "must not be a loopback, private, link-local or metadata address, got \(host) \(Self.developmentHint)"
            )
        }
    }

    /// The addresses a webhook's host resolved to: in production every one must be public.
    public func check(addresses: [IPAddress], of host: String, field: String = "url") throws(ValidationError) {
        guard !allowsPrivateAddresses else { return }
        guard !addresses.isEmpty else {
            throw ValidationError(field: field, reason: "names \(host), which does not resolve to any address")
        }
        if let address = addresses.first(where: { !$0.isPublic }) {
            throw ValidationError(
                field: field,
                reason:
                    "names \(host), which resolves to \(address), a loopback, private, link-local or metadata address \(Self.developmentHint)"
            )
        }
    }
}

/// An IPv4 or IPv6 address, and whether it is one anybody on the internet could reach.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4([UInt8])
    case v6([UInt8])

    /// Reads dotted IPv4 or IPv6 text; nil for anything else (a host name).
    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self = .v4(withUnsafeBytes(of: v4) { Array($0) })
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self = .v6(withUnsafeBytes(of: v6) { Array($0) })
            return
        }
        return nil
    }

    public var description: String {
        switch self {
        case .v4(let bytes): return bytes.map(String.init).joined(separator: ".")
        case .v6(let bytes):
            return stride(from: 0, to: 16, by: 2).map {
                String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16)
            }
            .joined(separator: ":")
        }
    }

    /// Not loopback, private (RFC 1918, unique local), shared (CGNAT), link-local (cloud metadata services live
    /// there), unspecified, multicast, reserved or documentation space.
    public var isPublic: Bool {
        switch self {
        case .v4(let b):
            guard b.count == 4 else { return false }
            switch (b[0], b[1]) {
            case (0, _), (10, _), (127, _): return false
            case (100, 64...127): return false  // shared address space (CGNAT)
            case (169, 254): return false  // link-local, 169.254.169.254 metadata
            case (172, 16...31): return false
            case (192, 168): return false
            case (192, 0) where b[2] == 0 || b[2] == 2: return false  // IETF protocol assignments, TEST-NET-1
            case (198, 18...19): return false  // benchmarking
            case (198, 51) where b[2] == 100: return false  // TEST-NET-2
            case (203, 0) where b[2] == 113: return false  // TEST-NET-3
            case (224...255, _): return false  // multicast, reserved, broadcast
            default: return true
            }
        case .v6(let b):
            guard b.count == 16 else { return false }
            if b[0..<15].allSatisfy({ $0 == 0 }) { return false }  // :: and ::1
            if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff {
                return IPAddress.v4(Array(b[12..<16])).isPublic  // IPv4-mapped
            }
            if b[0] & 0xfe == 0xfc { return false }  // unique local fc00::/7 (AWS metadata fd00:ec2::254)
            if b[0] == 0xfe && b[1] & 0xc0 == 0x80 { return false }  // link-local fe80::/10
            if b[0] == 0xff { return false }  // multicast
            if b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8 { return false }  // documentation
            if b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b {
                return IPAddress.v4(Array(b[12..<16])).isPublic  // NAT64
            }
            return true
        }
    }
}
