import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import Hummingbird

/// The panel's orders.
extension Panel {
    static let stateLabels: [(FulfilmentState, String)] = [
        (.awaitingConfirmation, "To confirm"), (.confirmed, "To pack"), (.packed, "To label"),
        (.readyToShip, "Ready to ship"), (.shipped, "Shipped"), (.delivered, "Delivered"), (.cancelled, "Cancelled"),
        (.rejected, "Rejected"),
    ]

    /// The connections the operator may see.
    func visibleConnections(_ signed: Signed) async throws -> [Connection] {
        try await connectionUseCases.visibleConnections(by: signed.principal)
    }

    func ordersPage(_ request: Request, _ signed: Signed) async throws -> Response {
        let query = request.uri.queryParameters
        func text(_ name: String) -> String? {
            query.get(name).map { String($0.trimmingCharacters(in: .whitespaces).prefix(100)) }.flatMap {
                $0.isEmpty ? nil : $0
            }
        }
        let state = text("state").flatMap(FulfilmentState.init(rawValue:))
        let connections = try await visibleConnections(signed)
        let connectionID = text("connectionId")
        let location = text("locationId")
        let search = text("q")
        let atRisk = text("atRisk") != nil
        var within = connections.map(\.id)
        if let connectionID { within = within.filter { $0.rawValue == connectionID } }
        let limit = 100
        let now = store.clock.now()
        let orders = try await store.read { [within] in
            try await $0.orders(
                connectionID: nil,
                within: within,
                status: nil,
                state: state,
                locationID: location.map(LocationID.init(rawValue:)),
                search: search,
                atRiskBefore: atRisk ? now.addingTimeInterval(Self.riskWindow) : nil,
                after: text("after"),
                limit: limit + 1
            )
        }
        let names = Dictionary(connections.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        let page = orders.prefix(limit)
        var filters = URLComponents()
        filters.queryItems = [
            ("state", state?.rawValue), ("connectionId", connectionID), ("locationId", location), ("q", search),
            ("atRisk", atRisk ? "1" : nil),
        ].compactMap { name, value in value.map { URLQueryItem(name: name, value: $0) } }
        let values: [String: Any] = [
            "states": Self.stateLabels.map { candidate, label in
                ["state": candidate.rawValue, "label": label, "selected": candidate == state] as [String: Any]
            },
            "connections": connections.map {
                ["id": $0.id.rawValue, "name": $0.name, "selected": $0.id.rawValue == connectionID] as [String: Any]
            },
            "locationId": location ?? "", "q": search ?? "", "atRisk": atRisk,
            "orders": page.map { order -> [String: Any] in
                let late = order.expectedShipAt.map { $0 < now } ?? false
                return [
                    "shipmentId": order.shipmentID.rawValue, "connection": names[order.connectionID] ?? "",
                    "locationId": order.locationID.rawValue, "status": order.status, "state": order.state.rawValue,
                    "shipBy": order.expectedShipAt.map(Self.time) ?? "", "problem": order.error?.message ?? "",
                    "late": late && !order.state.isFinal && order.state != .readyToShip,
                ]
            },
            "next": orders.count > limit ? Self.queryValue(page.last?.shipmentID.rawValue ?? "") : false,
            "filterQuery": (filters.percentEncodedQuery.map { $0 + "&" } ?? ""),
        ]
        return render("orders", values, title: "Orders", operator: signed, live: "orders")
    }

    func notFound(_ signed: Signed, what: String) -> Response {
        render(
            "message",
            ["heading": "Not found", "text": "There is no \(what) here.", "link": "/orders", "linkText": "All orders"],
            title: "Not found",
            operator: signed,
            status: .notFound
        )
    }

    static func time(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false))
    }
}
