import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import Hummingbird

/// The panel's pages: the dashboard and the orders.
extension Panel {
    static let stateLabels: [(FulfilmentState, String)] = [
        (.awaitingConfirmation, "To confirm"), (.confirmed, "To pack"), (.packed, "To label"),
        (.readyToShip, "Ready to ship"), (.shipped, "Shipped"), (.delivered, "Delivered"), (.cancelled, "Cancelled"),
        (.rejected, "Rejected"),
    ]

    /// The connections the operator may see.
    func visibleConnections(_ signed: Signed) async throws -> [Connection] {
        try await ConnectionUseCases(store: store, outbound: .production).visibleConnections(by: signed.principal)
    }

    func dashboard(_ signed: Signed) async throws -> Response {
        let connections = try await visibleConnections(signed)
        let counts = try await store.read { try await $0.orderCounts(within: connections.map(\.id)) }
        let values: [[String: Any]] = connections.map { connection in
            [
                "name": connection.name, "sellingPartnerId": connection.sellingPartnerID.rawValue,
                "region": connection.region.rawValue, "status": connection.status.rawValue,
                "needsAuthorization": connection.status == .needsReauthorization,
                "states": Self.stateLabels.map { state, label in
                    [
                        "state": state.rawValue, "label": label, "connectionId": connection.id.rawValue,
                        "count": counts[connection.id]?[state] ?? 0,
                    ] as [String: Any]
                },
            ]
        }
        return render("dashboard", ["connections": values], title: "Dashboard", operator: signed)
    }

    func ordersPage(_ request: Request, _ signed: Signed) async throws -> Response {
        let query = request.uri.queryParameters
        let state = query.get("state").flatMap(FulfilmentState.init(rawValue:))
        let connections = try await visibleConnections(signed)
        var within = connections.map(\.id)
        if let asked = query.get("connectionId") { within = within.filter { $0.rawValue == asked } }
        let limit = 100
        let orders = try await store.read { [within] in
            try await $0.orders(
                connectionID: nil,
                within: within,
                status: nil,
                state: state,
                after: query.get("after"),
                limit: limit + 1
            )
        }
        let names = Dictionary(connections.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        let page = orders.prefix(limit)
        let values: [String: Any] = [
            "all": state == nil,
            "states": Self.stateLabels.map { candidate, label in
                ["state": candidate.rawValue, "label": label, "current": candidate == state] as [String: Any]
            },
            "orders": page.map { order -> [String: Any] in
                [
                    "shipmentId": order.shipmentID.rawValue, "connection": names[order.connectionID] ?? "",
                    "locationId": order.locationID.rawValue, "status": order.status, "state": order.state.rawValue,
                    "shipBy": order.expectedShipAt.map(Self.time) ?? "", "problem": order.error?.message ?? "",
                ]
            },
            "next": orders.count > limit ? (page.last?.shipmentID.rawValue ?? "") : false,
            "stateQuery": state.map { "state=\($0.rawValue)&" } ?? "",
        ]
        return render("orders", values, title: "Orders", operator: signed)
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
