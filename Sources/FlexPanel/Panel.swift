import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore

/// The operators' web panel, served under `/`: server-rendered HTML, plain forms, no JavaScript. Operators log in
/// with their name and password (an HttpOnly, SameSite=Strict session cookie, Secure behind TLS); every form carries
/// the session's CSRF token and is refused without it; every value shown is HTML-escaped by its template; every
/// page goes out with a Content-Security-Policy that allows nothing but this origin's stylesheet and forms.
public struct Panel: Sendable {
    let store: Store
    let secureCookies: Bool
    let library: MustacheLibrary
    /// The most SKUs a second Amazon takes for one seller: batchInventory's rate times the items per call.
    let stockBound: Double
    /// Tests a connection end to end (Login with Amazon, the seller's token, the locations).
    let authorizer: any SellerAuthorizer
    let outbound: OutboundPolicy
    /// The address of a consent link's token: where a seller opens it.
    let consentLink: @Sendable (String) -> String

    public init(
        store: Store,
        secureCookies: Bool,
        stockBound: Double,
        authorizer: any SellerAuthorizer,
        outbound: OutboundPolicy,
        consentLink: @escaping @Sendable (String) -> String
    ) throws {
        self.store = store
        self.secureCookies = secureCookies
        self.stockBound = stockBound
        self.authorizer = authorizer
        self.outbound = outbound
        self.consentLink = consentLink
        self.library = try PanelTemplates.library()
    }

    static let sessionCookie = "flexbridge_session"
    static let loginCookie = "flexbridge_login"
    static let maximumFormBytes = 64 * 1024

    var operators: OperatorUseCases { OperatorUseCases(store: store) }

    public func register(on router: Router<BasicRequestContext>) {
        router.get("panel.css") { _, _ in
            var headers = Self.securityHeaders
            headers[.contentType] = "text/css; charset=utf-8"
            headers[.cacheControl] = "max-age=3600"
            return Response(
                status: .ok,
                headers: headers,
                body: .init(byteBuffer: ByteBuffer(string: PanelTemplates.css))
            )
        }
        router.get("login") { request, _ in try await loginPage(request) }
        router.post("login") { request, _ in try await logIn(request) }
        router.post("logout") { request, _ in try await logOut(request) }
        router.get("") { request, _ in try await signedIn(request) { try await dashboard($0) } }
        router.get("orders") { request, _ in
            try await signedIn(request) { try await ordersPage(request, $0) }
        }
        registerOrder(on: router)
        registerShipping(on: router)
        registerConnections(on: router)
        registerStock(on: router)
        registerAccess(on: router)
        registerLive(on: router)
    }

    /// Registers a form the panel posts to `path`: for a signed-in operator (anyone else goes to the login page),
    /// whose form carries the session's token (a stale or forged form changes nothing), whose role allows
    /// `permission` when one is named; then `handle` with the operator, the form's fields and the path's parameters.
    func postForm(
        _ path: String,
        on router: Router<BasicRequestContext>,
        needs permission: Permission? = nil,
        _ handle: @escaping @Sendable (Signed, [String: String], Parameters) async throws -> Response
    ) {
        router.post(RouterPath(path)) { request, context in
            try await signedIn(request) { signed in
                let form = try await Self.form(request)
                guard Self.sameToken(form["csrf"], signed.session.csrf) else { return staleForm(signed) }
                if let permission, !signed.principal.may(permission) { return forbidden(signed) }
                return try await handle(signed, form, context.parameters)
            }
        }
    }

    /// The operator a request is made by, with their session and its token.
    struct Signed: Sendable {
        var principal: Principal
        var session: PanelSession
        var token: String
    }

    /// Runs `page` for a signed-in operator; anyone else goes to the login page, and comes back here after it.
    func signedIn(_ request: Request, _ page: (Signed) async throws -> Response) async throws -> Response {
        // No text FlexBridge stores or looks up holds NUL (PostgreSQL refuses it in text): refused before anything.
        if request.uri.description.range(of: "%00", options: .caseInsensitive) != nil {
            throw HTTPError(.badRequest, message: "The address holds a NUL character (%00); nothing was done.")
        }
        // panel.js marks the requests it makes on its own; they do not count as the operator's use.
        let automatic = request.headers[HTTPField.Name("X-Panel-Refresh")!] == "1"
        if let token = Self.cookie(Self.sessionCookie, in: request),
            let (principal, session) = try await operators.session(token: token, touch: !automatic)
        {
            return try await page(Signed(principal: principal, session: session, token: token))
        }
        let next = request.method == .get ? request.uri.path + (request.uri.query.map { "?\($0)" } ?? "") : "/"
        var components = URLComponents()
        components.path = "/login"
        components.queryItems = [URLQueryItem(name: "next", value: next)]
        return Self.redirect(to: components.string ?? "/login")
    }

    // MARK: Log in and out

    func loginPage(
        _ request: Request,
        name: String = "",
        next asked: String? = nil,
        error: String? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        // The login form's CSRF token is a cookie it must match (double submit), so a page elsewhere cannot log a
        // browser in as someone else.
        let token = Self.cookie(Self.loginCookie, in: request) ?? Self.randomToken()
        let next = Self.localPath(asked ?? request.uri.queryParameters.get("next")) ?? "/"
        var response = render(
            "login",
            ["csrf": token, "next": next, "name": name],
            title: "Log in",
            operator: nil,
            error: error,
            status: status
        )
        response.headers.append(
            HTTPField(name: .setCookie, value: cookieValue(Self.loginCookie, token, maxAge: 3600))
        )
        return response
    }

    func logIn(_ request: Request) async throws -> Response {
        let form = try await Self.form(request)
        guard let cookie = Self.cookie(Self.loginCookie, in: request), Self.sameToken(form["csrf"], cookie) else {
            return try await loginPage(
                request,
                next: form["next"],
                error: "The form was stale; nothing was done. Log in again.",
                status: .forbidden
            )
        }
        let name = form["name"]?.trimmingCharacters(in: .whitespaces) ?? ""
        do {
            let (token, _, _) = try await operators.startSession(name: name, password: form["password"] ?? "")
            var response = Self.redirect(to: Self.localPath(form["next"]) ?? "/")
            response.headers.append(
                HTTPField(
                    name: .setCookie,
                    value: cookieValue(Self.sessionCookie, token, maxAge: Int(OperatorUseCases.sessionLifetime))
                )
            )
            response.headers.append(HTTPField(name: .setCookie, value: cookieValue(Self.loginCookie, "", maxAge: 0)))
            return response
        } catch let refusal as OperatorUseCases.LoginRefusal {
            return try await loginPage(
                request,
                name: name,
                next: form["next"],
                error: refusal.description,
                status: .unauthorized
            )
        }
    }

    func logOut(_ request: Request) async throws -> Response {
        let form = try await Self.form(request)
        if let token = Self.cookie(Self.sessionCookie, in: request),
            let (_, session) = try await operators.session(token: token)
        {
            guard Self.sameToken(form["csrf"], session.csrf) else {
                return staleForm(nil)
            }
            try await operators.endSession(token: token)
        }
        var response = Self.redirect(to: "/login")
        response.headers.append(HTTPField(name: .setCookie, value: cookieValue(Self.sessionCookie, "", maxAge: 0)))
        return response
    }

    func staleForm(_ signed: Signed?) -> Response {
        render(
            "message",
            [
                "heading": "Nothing was done",
                "text":
                    "The form was stale or did not come from this panel. Reload the page and try again.",
                "link": "/", "linkText": "Back to the dashboard",
            ],
            title: "Nothing was done",
            operator: signed,
            status: .forbidden
        )
    }

    // MARK: Rendering

    /// A page: the template rendered into the layout, with the panel's security headers.
    func render(
        _ template: String,
        _ values: [String: Any],
        title: String,
        operator signed: Signed?,
        notice: String? = nil,
        error: String? = nil,
        status: HTTPResponse.Status = .ok,
        live: String? = nil
    ) -> Response {
        let body = library.render(values, withTemplate: template) ?? ""
        var layout: [String: Any] = ["title": title, "body": body]
        if let live, signed != nil { layout["live"] = live }
        if let signed {
            layout["operator"] = [
                "name": signed.principal.name, "role": signed.principal.role.rawValue, "csrf": signed.session.csrf,
                "canAccess": signed.principal.may(.manageAccess),
            ]
        }
        if let notice { layout["notice"] = notice }
        if let error { layout["error"] = error }
        let html = library.render(layout, withTemplate: "layout") ?? ""
        var headers = Self.securityHeaders
        headers[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static let securityHeaders: HTTPFields = [
        .contentSecurityPolicy:
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        HTTPField.Name("Referrer-Policy")!: "same-origin",
        .cacheControl: "no-store",
    ]

    static func redirect(to location: String) -> Response {
        var headers = securityHeaders
        headers[.location] = location
        return Response(status: .seeOther, headers: headers)
    }

    func cookieValue(_ name: String, _ value: String, maxAge: Int) -> String {
        "\(name)=\(value); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict\(secureCookies ? "; Secure" : "")"
    }

    // MARK: Requests

    static func cookie(_ name: String, in request: Request) -> String? {
        for field in request.headers[values: .cookie] {
            for pair in field.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                if parts.count == 2, parts[0] == name, !parts[1].isEmpty { return String(parts[1]) }
            }
        }
        return nil
    }

    /// A form body's fields; a body over 64 KiB is refused.
    static func form(_ request: Request) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: maximumFormBytes)
        var fields: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            guard let key = parts.first else { continue }
            fields[decode(key)] = parts.count > 1 ? decode(parts[1]) : ""
        }
        guard !fields.contains(where: { $0.key.contains("\u{0}") || $0.value.contains("\u{0}") }) else {
            throw HTTPError(.badRequest, message: "A form field holds a NUL character (U+0000); nothing was done.")
        }
        return fields
    }

    /// Compares tokens in time that does not depend on where they differ.
    static func sameToken(_ given: String?, _ expected: String) -> Bool {
        guard let given, !expected.isEmpty else { return false }
        let a = Array(given.utf8)
        let b = Array(expected.utf8)
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    /// A path on this panel to go back to after logging in; nothing else (no other site, no scheme).
    static func localPath(_ text: String?) -> String? {
        // Printable ASCII only: a browser drops tabs and line breaks from a URL, so "/<tab>/evil.example" would
        // become "//evil.example", another site.
        guard let text, text.hasPrefix("/"), !text.hasPrefix("//"), !text.contains("\\"), text.count <= 500,
            text.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) })
        else {
            return nil
        }
        return text
    }

    /// A value as it goes into a link's query: percent-encoded, so that `&`, `#`, `+` or `%` in a SKU or an id stay
    /// part of it.
    static func queryValue(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// 24 random bytes, base64url.
    public static func randomToken() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<24).map { _ in UInt8.random(in: .min ... .max, using: &generator) }).base64URLEncodedString()
    }
}
