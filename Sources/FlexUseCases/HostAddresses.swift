import Dispatch
import FlexCore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension OutboundPolicy {
    /// Checks a webhook URL in full: its shape, then every address its host resolves to now. Run at registration
    /// and again before each delivery, since DNS may change in between.
    public func checkDelivery(to url: URL, field: String = "url") async throws(ValidationError) {
        try check(webhook: url, field: field)
        guard !allowsPrivateAddresses, let host = url.host else { return }
        let bare = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let addresses: [IPAddress]
        if let literal = IPAddress(bare) {
            addresses = [literal]
        } else {
            addresses = await HostAddresses.resolve(bare)
        }
        try check(addresses: addresses, of: host, field: field)
    }
}

/// The addresses a host name resolves to, as the system resolver gives them (off Swift's cooperative pool).
public enum HostAddresses {
    public static func resolve(_ host: String) async -> [IPAddress] {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                var hints = addrinfo()
                hints.ai_family = AF_UNSPEC
                #if canImport(Glibc)
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                #else
                hints.ai_socktype = SOCK_STREAM
                #endif
                var list: UnsafeMutablePointer<addrinfo>?
                guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else {
                    continuation.resume(returning: [])
                    return
                }
                defer { freeaddrinfo(first) }
                var addresses: [IPAddress] = []
                var entry: UnsafeMutablePointer<addrinfo>? = first
                while let current = entry {
                    if let socketAddress = current.pointee.ai_addr {
                        switch current.pointee.ai_family {
                        case AF_INET:
                            socketAddress.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                                var address = $0.pointee.sin_addr
                                addresses.append(.v4(withUnsafeBytes(of: &address) { Array($0) }))
                            }
                        case AF_INET6:
                            socketAddress.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                                var address = $0.pointee.sin6_addr
                                addresses.append(.v6(withUnsafeBytes(of: &address) { Array($0) }))
                            }
                        default: break
                        }
                    }
                    entry = current.pointee.ai_next
                }
                continuation.resume(returning: Array(Set(addresses)))
            }
        }
    }
}
