import AmazonSimulator
import Foundation
import Testing

@Suite("Login with Amazon")
struct LoginWithAmazonTests {
    @Test(
        "an application registered on the control path consents by its solution id and gets tokens with its client id"
    )
    func registeredApplication() async throws {
        try await LiveSimulator.run { live in
            let registered = try await RawHTTP.send(
                .POST,
                "\(live.base)/_simulator/applications",
                json:
                    #"{"clientId":"amzn1.application-oa2-client.wms","clientSecret":"wms-secret-123","applicationId":"amzn1.sp.solution.wms"}"#
            )
            #expect(registered.status == 201)
            let unknown = try await RawHTTP.send(
                .POST,
                "\(live.base)/apps/authorize/consent",
                form: ["application_id": "amzn1.sp.solution.other", "state": "s", "selling_partner_id": "A3WMSSELLER"]
            )
            #expect(unknown.status != 302, "an unregistered application gets no code")
            let page = try await RawHTTP.send(
                .GET,
                "\(live.base)/apps/authorize/consent?application_id=amzn1.sp.solution.wms&state=s"
            )
            #expect(page.status == 200 && page.text.contains("<form"))
            let consent = try await RawHTTP.send(
                .POST,
                "\(live.base)/apps/authorize/consent",
                form: [
                    "application_id": "amzn1.sp.solution.wms", "state": "s", "redirect_uri": "https://wms.example/cb",
                    "selling_partner_id": "A3WMSSELLER",
                ]
            )
            #expect(consent.status == 302)
            let location = try #require(URLComponents(string: consent.headers["location"] ?? ""))
            let code = try #require(location.queryItems?.first { $0.name == "spapi_oauth_code" }?.value)
            let tokens = try await RawHTTP.send(
                .POST,
                "\(live.base)/auth/o2/token",
                form: [
                    "grant_type": "authorization_code", "code": code, "redirect_uri": "https://wms.example/cb",
                    "client_id": "amzn1.application-oa2-client.wms", "client_secret": "wms-secret-123",
                ]
            )
            #expect(tokens.status == 200)
            let short = try await RawHTTP.send(
                .POST,
                "\(live.base)/_simulator/applications",
                json: #"{"clientId":"x","clientSecret":"short"}"#
            )
            #expect(short.status == 400)
        }
    }

    @Test("consent page → redirect with code, state and seller → code exchanged once for tokens that work")
    func websiteAuthorization() async throws {
        try await LiveSimulator.run { live in
            let client = live.configuration.clientID
            let page = try await RawHTTP.send(
                .GET,
                "\(live.base)/apps/authorize/consent?application_id=\(client)&state=xyz&redirect_uri=https://wms.example/callback"
            )
            #expect(page.status == 200)
            #expect(page.text.contains("<form"))
            let consent = try await RawHTTP.send(
                .POST,
                "\(live.base)/apps/authorize/consent",
                form: [
                    "application_id": client, "state": "xyz", "redirect_uri": "https://wms.example/callback",
                    "selling_partner_id": "A3NEWSELLER",
                ]
            )
            #expect(consent.status == 302)
            let location = try #require(URLComponents(string: consent.headers["location"] ?? ""))
            #expect(location.host == "wms.example")
            let query = Dictionary(uniqueKeysWithValues: (location.queryItems ?? []).map { ($0.name, $0.value ?? "") })
            #expect(query["state"] == "xyz")
            #expect(query["selling_partner_id"] == "A3NEWSELLER")
            let code = try #require(query["spapi_oauth_code"])

            let form = [
                "grant_type": "authorization_code", "code": code, "redirect_uri": "https://wms.example/callback",
                "client_id": client, "client_secret": live.configuration.clientSecret,
            ]
            let tokens = try await RawHTTP.send(.POST, "\(live.base)/auth/o2/token", form: form)
            #expect(tokens.status == 200)
            #expect(tokens.json?["token_type"] as? String == "bearer")
            #expect(tokens.json?["expires_in"] as? Int == 3600)
            #expect((tokens.json?["refresh_token"] as? String)?.hasPrefix("Atzr|") == true)
            let access = try #require(tokens.json?["access_token"] as? String)
            try live.expectStatus(
                200,
                try await live.call(.GET, "/externalFulfillment/2024-09-11/shipments?status=ACCEPTED", token: access)
            )

            let reused = try await RawHTTP.send(.POST, "\(live.base)/auth/o2/token", form: form)
            #expect(reused.status == 400)
            #expect(reused.json?["error"] as? String == "invalid_grant")
        }
    }

    @Test(
        "the token endpoint refuses bad requests in Amazon's shape",
        arguments: [
            (["grant_type": "refresh_token", "refresh_token": "Atzr|nope"], 400, "invalid_grant"),
            (["grant_type": "password"], 400, "unsupported_grant_type"),
            ([:], 400, "invalid_request"),
            (["grant_type": "refresh_token", "client_secret": "wrong"], 401, "invalid_client"),
        ]
    )
    func tokenErrors(fields: [String: String], status: Int, error: String) async throws {
        try await LiveSimulator.run { live in
            var form = ["client_id": live.configuration.clientID, "client_secret": live.configuration.clientSecret]
            form.merge(fields) { $1 }
            if fields.isEmpty { form = [:] }
            let response = try await RawHTTP.send(.POST, "\(live.base)/auth/o2/token", form: form)
            #expect(response.status == status)
            #expect(response.json?["error"] as? String == error)
            #expect(response.json?["error_description"] as? String != nil)
        }
    }

    @Test("access tokens expire after an hour; a missing, invalid or expired token answers 403")
    func expiry() async throws {
        let (clock, time) = SimulatorClock.manual()
        try await LiveSimulator.run(clock: clock) { live in
            let path = "/externalFulfillment/2024-09-11/shipments?status=ACCEPTED"
            try live.expectStatus(200, try await live.call(.GET, path))
            time.advance(seconds: 3599)
            try live.expectStatus(200, try await live.call(.GET, path))
            time.advance(seconds: 2)
            let expired = try await live.call(.GET, path)
            try live.expectStatus(403, expired)
            #expect(expired.firstErrorCode == "Unauthorized")
            #expect(expired.text.contains("expired"))
            try live.expectStatus(403, try await live.call(.GET, path, token: "Atza|forged"))
            try live.expectStatus(403, try await live.call(.GET, path, token: ""))
        }
    }

    @Test("a revoked refresh token no longer yields access tokens")
    func revocation() async throws {
        try await LiveSimulator.run { live in
            let refresh = try await live.simulator.authorize(merchantID: "A4SELLER")
            let revoke = try await RawHTTP.send(
                .POST,
                "\(live.base)/_simulator/authorizations/revoke",
                json: #"{"refreshToken":"\#(refresh)"}"#
            )
            #expect(revoke.status == 200)
            let form = [
                "grant_type": "refresh_token", "refresh_token": refresh, "client_id": live.configuration.clientID,
                "client_secret": live.configuration.clientSecret,
            ]
            let response = try await RawHTTP.send(.POST, "\(live.base)/auth/o2/token", form: form)
            #expect(response.status == 400)
            #expect(response.json?["error"] as? String == "invalid_grant")
        }
    }

    @Test(
        "POST /_simulator/authorizations mints a refresh token for a merchant; bad bodies are refused with the reason"
    )
    func mint() async throws {
        try await LiveSimulator.run { live in
            let response = try await RawHTTP.send(
                .POST,
                "\(live.base)/_simulator/authorizations",
                json: #"{"merchantId":"A5SELLER"}"#
            )
            #expect(response.status == 201)
            #expect((response.json?["refreshToken"] as? String)?.hasPrefix("Atzr|") == true)
            let missing = try await RawHTTP.send(
                .POST,
                "\(live.base)/_simulator/authorizations",
                json: #"{"merchant":"A5SELLER"}"#
            )
            #expect(missing.status == 400)
            #expect(missing.json?["error"] as? String == "merchantId is required")
            let notJSON = try await RawHTTP.send(.POST, "\(live.base)/_simulator/authorizations", json: "merchantId=A5")
            #expect(notJSON.status == 400)
        }
    }
}
