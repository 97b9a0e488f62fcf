import Foundation
import Hummingbird
import NIOCore

/// Login with Amazon: the seller's consent page and the token endpoint.
enum LoginRoutes {
    static func add(to router: Router<BasicRequestContext>, simulator: Simulator) {
        router.post("auth/o2/token") { request, _ -> Response in
            let buffer = try await request.body.collect(upTo: 1 << 16)
            let form = parseForm(String(buffer: buffer))
            do {
                let tokens = try await simulator.token(form: form)
                var response = JSONResponse.make(tokens)
                response.headers[.cacheControl] = "no-store"
                return response
            } catch let error as LoginWithAmazon.TokenError {
                return JSONResponse.make(
                    ["error": error.error, "error_description": error.description],
                    status: .init(code: error.status)
                )
            }
        }

        router.get("apps/authorize/consent") { request, _ -> Response in
            let query = request.uri.queryParameters
            guard let application = query.get("application_id"), !application.isEmpty else {
                return page(
                    status: .badRequest,
                    title: "Authorization failed",
                    body: "<p>application_id is missing.</p>"
                )
            }
            guard await simulator.hasApplication(application) else {
                return page(
                    status: .badRequest,
                    title: "Authorization failed",
                    body: "<p>Unknown application \(escape(application)).</p>"
                )
            }
            let state = query.get("state") ?? ""
            let redirect = query.get("redirect_uri") ?? ""
            let form = """
                <p>The application <b>\(escape(application))</b> asks to access your selling account.</p>
                <form method="post" action="/apps/authorize/consent">
                <input type="hidden" name="application_id" value="\(escape(application))">
                <input type="hidden" name="state" value="\(escape(state))">
                <input type="hidden" name="redirect_uri" value="\(escape(redirect))">
                <label>Selling partner id <input name="selling_partner_id" value="A1SIMSELLER" required></label>
                <button type="submit">Confirm</button>
                </form>
                """
            return page(status: .ok, title: "Authorize \(escape(application))", body: form)
        }

        router.post("apps/authorize/consent") { request, _ -> Response in
            let buffer = try await request.body.collect(upTo: 1 << 16)
            let form = parseForm(String(buffer: buffer))
            let application = form["application_id"] ?? ""
            let merchant = form["selling_partner_id"] ?? ""
            let state = form["state"] ?? ""
            guard let redirect = form["redirect_uri"], var target = URLComponents(string: redirect),
                target.scheme != nil
            else {
                return page(
                    status: .badRequest,
                    title: "Authorization failed",
                    body: "<p>redirect_uri must be an absolute URL.</p>"
                )
            }
            do {
                let code = try await simulator.consent(
                    applicationID: application,
                    merchantID: merchant,
                    redirectURI: redirect
                )
                target.queryItems =
                    (target.queryItems ?? []) + [
                        URLQueryItem(name: "spapi_oauth_code", value: code), URLQueryItem(name: "state", value: state),
                        URLQueryItem(name: "selling_partner_id", value: merchant),
                    ]
                return Response(status: .found, headers: [.location: target.url?.absoluteString ?? redirect])
            } catch let error as ControlError {
                return page(status: .badRequest, title: "Authorization failed", body: "<p>\(escape(error.message))</p>")
            }
        }
    }

    static func parseForm(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1)
            func decode(_ part: Substring) -> String {
                part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(part)
            }
            guard let key = parts.first else { continue }
            fields[decode(key)] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }

    static func page(status: HTTPResponse.Status, title: String, body: String) -> Response {
        let html =
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>\(title)</title></head><body><h1>\(title)</h1>\(body)</body></html>"
        return Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(string: html))
        )
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}

extension Simulator {
    /// Whether `id` is a registered application's client id or solution id.
    func hasApplication(_ id: String) -> Bool { lwa.applications[id] != nil || lwa.solutions[id] != nil }
}
