import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import Synchronization

/// Live pages: `/live` streams the account's new events (those of connections the operator may see) as
/// Server-Sent Events, and `/panel.js` — the panel's only script, its own — reloads the part of a page that shows
/// them (a new order on the orders page, a status on an order's page, the dashboard's numbers). Without the
/// script, or with the stream cut, every page still works by reloading it.
extension Panel {
    /// How long one stream lasts; the browser's EventSource reconnects (with the last event's id) right away, and
    /// each reconnection checks the session again.
    static let streamLifetime: Duration = .seconds(300)

    func registerLive(on router: Router<BasicRequestContext>) {
        router.get("panel.js") { _, _ in
            var headers = Self.securityHeaders
            headers[.contentType] = "text/javascript; charset=utf-8"
            headers[.cacheControl] = "max-age=3600"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: Self.script)))
        }
        router.get("live") { request, _ in
            guard let token = Self.cookie(Self.sessionCookie, in: request),
                let (principal, _) = try await operators.session(token: token, touch: false)
            else {
                var headers = Self.securityHeaders
                headers[.contentType] = "text/plain; charset=utf-8"
                return Response(
                    status: .unauthorized,
                    headers: headers,
                    body: .init(byteBuffer: ByteBuffer(string: "Log in to the panel first.\n"))
                )
            }
            let within = try await connectionUseCases.visibleIDs(by: principal)
            let resumed = request.headers[HTTPField.Name("Last-Event-ID")!].flatMap { Int64($0) }
            var cursor = try await store.read { try await $0.latestEventSequence(account: principal.account) }
            if let resumed, resumed < cursor, cursor - resumed <= 1000 { cursor = resumed }
            var headers = Self.securityHeaders
            headers[.contentType] = "text/event-stream"
            headers[.cacheControl] = "no-store"
            let store = self.store
            let operators = self.operators
            let account = principal.account
            return Response(
                status: .ok,
                headers: headers,
                body: ResponseBody { [cursor] writer in
                    var position = cursor
                    try await writer.write(ByteBuffer(string: "retry: 3000\n\n"))
                    let ends = ContinuousClock.now + Self.streamLifetime
                    var lastWrite = ContinuousClock.now
                    var lastCheck = ContinuousClock.now
                    let stopping = Stopping()
                    // A node shutting down ends the stream at once rather than waiting out its lifetime.
                    try await withGracefulShutdownHandler {
                        while ContinuousClock.now < ends, !stopping.isSet, !Task.isCancelled {
                            // A session that ended (logged out, expired, the operator disabled) ends the stream.
                            if ContinuousClock.now - lastCheck > .seconds(30) {
                                guard try await operators.session(token: token, touch: false) != nil else { break }
                                lastCheck = .now
                            }
                            let events = try await store.read { [position] in
                                try await $0.events(after: position, account: account, within: within, limit: 100)
                            }
                            for event in events {
                                try await writer.write(ByteBuffer(string: Self.message(event)))
                                position = event.sequence
                                lastWrite = .now
                            }
                            if ContinuousClock.now - lastWrite > .seconds(15) {
                                // A comment: keeps proxies from closing an idle stream, and finds a closed one.
                                try await writer.write(ByteBuffer(string: ": still here\n\n"))
                                lastWrite = .now
                            }
                            try? await Task.sleep(for: .seconds(1))
                        }
                    } onGracefulShutdown: {
                        stopping.set()
                    }
                    try await writer.finish(nil)
                }
            )
        }
    }

    /// One event as SSE: its sequence as the id, and what the page needs to know whether it concerns it.
    static func message(_ event: OutboxEvent) -> String {
        var data: [String: String] = ["type": event.type]
        if let subject = event.subject { data["subject"] = subject }
        if let connection = event.connectionID { data["connectionId"] = connection.rawValue }
        let json = (try? JSONText.encode(data)) ?? "{}"
        return "id: \(event.sequence)\ndata: \(json)\n\n"
    }

    static let script = """
        "use strict";
        (function () {
          var live = document.body.getAttribute("data-live");
          if (!live || !window.EventSource || !window.fetch) return;
          var busy = false, again = false, edited = false, pressing = false, leaving = false;
          // A form the operator has started filling in is never replaced under them, nor the page while a button is
          // pressed (a click needs the same element under the press and the release) or a form is on its way.
          document.addEventListener("input", function () { edited = true; });
          document.addEventListener("pointerdown", function () { pressing = true; }, true);
          document.addEventListener("pointerup", function () {
            setTimeout(function () { pressing = false; }, 1000);
          }, true);
          document.addEventListener("submit", function () { leaving = true; }, true);
          function typing() {
            var active = document.activeElement;
            return edited || pressing || leaving || (active && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName));
          }
          function refresh() {
            if (busy) { again = true; return; }
            if (typing()) { if (!edited) setTimeout(refresh, 3000); return; }
            busy = true;
            fetch(location.href, { credentials: "same-origin", headers: { "X-Panel-Refresh": "1" } })
              .then(function (response) { return response.ok && !response.redirected ? response.text() : null; })
              .then(function (html) {
                if (!html || typing()) return;
                var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
                var current = document.querySelector("main");
                if (fresh && current) current.replaceWith(fresh);
              })
              .catch(function () {})
              .then(function () {
                setTimeout(function () { busy = false; if (again) { again = false; refresh(); } }, 2000);
              });
          }
          function concerns(event) {
            if (live === "dashboard") return true;
            if (live === "orders") return event.type.indexOf("order.") === 0;
            if (live === "returns") return event.type.indexOf("return.") === 0;
            if (live.indexOf("order:") === 0) return event.subject === live.slice(6);
            if (live.indexOf("return:") === 0) return event.subject === live.slice(7);
            return false;
          }
          var source = new EventSource("/live");
          source.onmessage = function (message) {
            try { if (concerns(JSON.parse(message.data))) refresh(); } catch (e) {}
          };
          if (live === "dashboard") setInterval(refresh, 10000);
        })();
        """
}

/// Set once, read by the loop it stops.
final class Stopping: Sendable {
    private let flag = Mutex(false)
    var isSet: Bool { flag.withLock { $0 } }
    func set() { flag.withLock { $0 = true } }
}
