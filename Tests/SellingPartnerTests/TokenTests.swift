import AmazonEFShipments
import AmazonSimulator
import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import SellingPartner
import Synchronization
import Testing

@Suite("Login with Amazon tokens")
struct TokenTests {
    @Test("100 concurrent calls across a token expiry cause exactly one refresh")
    func singleFlight() async throws {
        try await SimulatedAmazon.run { amazon in
            let now = Mutex(Date())
            let refreshToken = try await amazon.simulator.authorize(merchantID: SimulatedAmazon.merchant)
            let provider = AccessTokenProvider(
                login: amazon.login,
                refreshToken: refreshToken,
                clock: { now.withLock { $0 } }
            )
            let first = try await provider.token()
            #expect(await provider.refreshCount == 1)
            // Fifty-nine minutes later the token is within a minute of expiring.
            now.withLock { $0 = $0.addingTimeInterval(3541) }
            let tokens = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<100 { group.addTask { try await provider.token() } }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(await provider.refreshCount == 2)
            #expect(tokens.count == 1)
            #expect(tokens.first != first)
        }
    }

    @Test("100 concurrent API calls across a token expiry cause exactly one refresh")
    func singleFlightThroughClient() async throws {
        try await SimulatedAmazon.run { amazon in
            let now = Mutex(Date())
            let client = SellingPartnerClient(
                endpoint: .custom(amazon.base),
                login: amazon.login,
                refreshToken: try await amazon.simulator.authorize(merchantID: SimulatedAmazon.merchant),
                // A minute per attempt: the test is about one refresh for 100 callers, and on a machine busy with
                // the rest of the suite 100 answers of the in-process simulator can take longer than Amazon's 10 s.
                configuration: .init(
                    retry: RetryPolicy(timeout: 60),
                    rateLimits: ["getShipments": .init(rate: 10_000, burst: 10_000)]
                ),
                clock: { now.withLock { $0 } },
                sleep: { _ in }
            )
            _ = try await client.shipments.getShipments(query: .init(status: .accepted)).ok
            #expect(await client.tokens.refreshCount == 1)
            now.withLock { $0 = $0.addingTimeInterval(3600) }
            await amazon.simulator.expireAccessTokens()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<100 {
                    group.addTask { _ = try await client.shipments.getShipments(query: .init(status: .accepted)).ok }
                }
                try await group.waitForAll()
            }
            #expect(await client.tokens.refreshCount == 2)
        }
    }

    @Test("a request cancelled while its token is refreshed stops waiting at once; the refresh goes on for the others")
    func cancellableWait() async throws {
        // A Login with Amazon that answers only when the test lets it.
        let (gate, open) = AsyncStream<Void>.makeStream()
        let router = Router()
        router.post("auth/o2/token") { _, _ -> Response in
            for await _ in gate { break }
            let body = #"{"access_token":"Atza|late","token_type":"bearer","expires_in":3600}"#
            return Response(
                status: .ok,
                headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: body))
            )
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let login = LoginWithAmazon(
                tokenEndpoint: URL(string: "http://127.0.0.1:\(client.port!)/auth/o2/token")!,
                application: ApplicationCredentials(clientID: "client", clientSecret: "secret")
            )
            let provider = AccessTokenProvider(login: login, refreshToken: "Atzr|seller")
            let patient = Task { try await provider.token() }
            let cancelled = Task { try await provider.token() }
            try await Task.sleep(for: .milliseconds(200))
            cancelled.cancel()
            // Returns without Login with Amazon's answer: nothing else could end it.
            await #expect(throws: CancellationError.self) { _ = try await cancelled.value }
            open.yield()
            #expect(try await patient.value == "Atza|late")
            #expect(await provider.refreshCount == 1)
        }
    }

    @Test("a revoked refresh token means re-authorisation, asked of Login with Amazon once")
    func revoked() async throws {
        try await SimulatedAmazon.run { amazon in
            let refreshToken = try await amazon.simulator.authorize(merchantID: SimulatedAmazon.merchant)
            try await amazon.simulator.revoke(refreshToken: refreshToken)
            let provider = AccessTokenProvider(login: amazon.login, refreshToken: refreshToken)
            for _ in 0..<3 {
                await #expect {
                    _ = try await provider.token()
                } throws: { error in
                    if case .needsReauthorization = error as? LoginWithAmazonError { return true }
                    return false
                }
            }
            #expect(await provider.refreshCount == 0)
        }
    }

    @Test("a wrong client secret is said as such")
    func wrongSecret() async throws {
        try await SimulatedAmazon.run { amazon in
            let login = LoginWithAmazon(
                tokenEndpoint: amazon.login.tokenEndpoint,
                application: ApplicationCredentials(clientID: amazon.application.clientID, clientSecret: "wrong")
            )
            await #expect {
                _ = try await login.accessToken(refreshToken: "Atzr|x")
            } throws: { error in
                if case .invalidClient = error as? LoginWithAmazonError { return true }
                return false
            }
        }
    }

    @Test("the onboarding exchange: a consent's authorization code becomes a refresh token that works")
    func authorizationCode() async throws {
        try await SimulatedAmazon.run { amazon in
            // The consent page's form, as the seller's browser posts it.
            let code = try await ConsentFollower.code(
                at: amazon.base.appendingPathComponent("apps/authorize/consent"),
                form:
                    "application_id=\(amazon.application.clientID)&state=s1&redirect_uri=https%3A%2F%2Fflexbridge.example%2Fcallback&selling_partner_id=A9SELLER"
            )
            let refreshToken = try await amazon.login.refreshToken(
                authorizationCode: code,
                redirectURI: "https://flexbridge.example/callback"
            )
            let token = try await amazon.login.accessToken(refreshToken: refreshToken)
            #expect(token.value.hasPrefix("Atza|"))
            #expect(token.expiresAt.timeIntervalSinceNow > 3500)
        }
    }
}

/// Posts the consent form without following the redirect, and reads the code from its Location.
enum ConsentFollower {
    static let client = HTTPClient(
        eventLoopGroup: HTTPClient.defaultEventLoopGroup,
        configuration: .init(redirectConfiguration: .disallow)
    )

    static func code(at url: URL, form: String) async throws -> String {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.body = .bytes(ByteBuffer(string: form))
        let response = try await client.execute(request, timeout: .seconds(10))
        #expect(response.status.code == 302)
        let location = try #require(response.headers.first(name: "Location"))
        let items = URLComponents(string: location)?.queryItems ?? []
        return try #require(items.first { $0.name == "spapi_oauth_code" }?.value)
    }
}
