import FlexCore
import FlexStore
import FlexUseCases
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore

/// A test client that sends every request with an API key, as a WMS does; a request that sets its own
/// `Authorization` keeps it.
struct KeyedClient: TestClientProtocol {
    let base: any TestClientProtocol
    let key: String

    func executeRequest(
        uri: String,
        method: HTTPRequest.Method,
        headers: HTTPFields,
        body: ByteBuffer?
    ) async throws -> TestResponse {
        var headers = headers
        if headers[.authorization] == nil { headers[.authorization] = "Bearer \(key)" }
        return try await base.executeRequest(uri: uri, method: method, headers: headers, body: body)
    }

    var port: Int? { base.port }
}

enum TestKeys {
    /// A new key of the default account, made as the node's command line makes one.
    static func make(
        _ store: Store,
        role: Role = .admin,
        connections: [ConnectionID]? = nil,
        name: String = "tests"
    ) async throws -> String {
        try await AccessUseCases(store: store).createKey(name: name, role: role, connections: connections, by: .node())
            .secret
    }
}

extension ApplicationProtocol {
    /// Tests the application with a client that holds an admin key of `store`.
    func testAsAdmin<Value: Sendable>(
        _ store: Store,
        _ testingSetup: TestingSetup,
        _ test: @Sendable (any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        let key = try await TestKeys.make(store)
        return try await self.test(testingSetup) { client in try await test(KeyedClient(base: client, key: key)) }
    }
}
