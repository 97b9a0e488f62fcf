import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import Hummingbird

/// The panel's pages: the dashboard, the orders and an order with its next actions.
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

    /// The order, when the operator may see its connection.
    func visibleOrder(_ id: String, _ signed: Signed) async throws -> Order? {
        guard let order = try await store.read({ try await $0.order(ShipmentID(rawValue: id)) }),
            try await connectionUseCases.connection(order.connectionID, by: signed.principal) != nil
        else { return nil }
        return order
    }

    func orderPage(
        _ id: String,
        _ signed: Signed,
        notice: String? = nil,
        error: String? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        guard let order = try await visibleOrder(id, signed) else { return notFound(signed, what: "order \(id)") }
        let (history, commands) = try await store.read { session in
            (
                try await session.orderHistory(order.shipmentID, connectionID: order.connectionID),
                try await session.commands(shipmentID: order.shipmentID, connectionID: order.connectionID)
            )
        }
        let facts = try? ShipmentFacts(json: order.shipment)
        var actions: [[String: Any]] = []
        if signed.principal.may(.workOrders) {
            for (type, label) in Self.actions(for: order.state) {
                actions.append([
                    "type": type.rawValue, "label": label, "csrf": signed.session.csrf,
                    "key": "panel:\(UUID().uuidString.lowercased())", "shipmentId": order.shipmentID.rawValue,
                    "reasons": type == .reject ? ["OUT_OF_STOCK", "CUSTOMER_REQUESTED"] : [],
                    "hasReasons": type == .reject,
                ])
            }
        }
        let values: [String: Any] = [
            "shipmentId": order.shipmentID.rawValue, "state": order.state.rawValue, "status": order.status,
            "program": order.program.rawValue, "locationId": order.locationID.rawValue,
            "shipBy": order.expectedShipAt.map(Self.time) ?? "",
            "original": order.originalShipmentID?.rawValue ?? false,
            "problem": order.error.map { "\($0.code): \($0.message)" } ?? false,
            "lines": (facts?.lineItems ?? []).map {
                ["id": $0.shipmentLineItemId, "sku": $0.merchantSku, "units": $0.numberOfUnits] as [String: Any]
            },
            "actions": actions, "hasActions": !actions.isEmpty,
            "commands": commands.map {
                [
                    "type": $0.request.type.rawValue, "status": $0.status.rawValue,
                    "requestedBy": $0.requestedBy ?? "", "result": $0.errorMessage ?? "",
                ]
            },
            "history": history.map {
                ["status": $0.status, "at": Self.time($0.amazonUpdatedAt), "source": $0.source]
            },
        ]
        return render(
            "order",
            values,
            title: "Order \(order.shipmentID)",
            operator: signed,
            notice: notice,
            error: error,
            status: status
        )
    }

    /// What an operator may ask for next, by the order's state.
    static func actions(for state: FulfilmentState) -> [(CommandType, String)] {
        switch state {
        case .awaitingConfirmation: [(.confirm, "Confirm"), (.reject, "Reject")]
        case .confirmed: [(.pack, "Pack (Amazon's recommended box)")]
        case .packed: [(.label, "Print label")]
        case .readyToShip: [(.ship, "Hand over")]
        default: []
        }
    }

    func submitCommand(_ id: String, _ form: [String: String], _ signed: Signed) async throws -> Response {
        guard signed.principal.may(.workOrders) else {
            return render(
                "message",
                [
                    "heading": "Not allowed",
                    "text": "Your role (\(signed.principal.role.rawValue)) may not work orders; nothing was done.",
                    "link": "/orders/\(id)", "linkText": "Back to the order",
                ],
                title: "Not allowed",
                operator: signed,
                status: .forbidden
            )
        }
        guard try await visibleOrder(id, signed) != nil else { return notFound(signed, what: "order \(id)") }
        guard let type = form["type"].flatMap(CommandType.init(rawValue:)),
            [.confirm, .reject, .pack, .label, .ship].contains(type)
        else {
            return try await orderPage(id, signed, error: "Choose one of the actions shown.", status: .badRequest)
        }
        let key = form["key"].flatMap { $0.isEmpty || $0.count > 200 ? nil : $0 } ?? "panel:\(UUID().uuidString)"
        let request = CommandRequest(type: type, reason: type == .reject ? form["reason"] : nil)
        do {
            _ = try await FulfilmentUseCases(store: store).submitCommand(
                request,
                to: ShipmentID(rawValue: id),
                idempotencyKey: key,
                by: signed.principal
            )
        } catch let refusal as FulfilmentUseCases.Refusal {
            return try await orderPage(id, signed, error: refusal.description, status: .conflict)
        } catch let error as ValidationError {
            return try await orderPage(id, signed, error: "\(error.field) \(error.reason)", status: .badRequest)
        } catch let error as StoreError where error.code == .conflict {
            return try await orderPage(id, signed, error: error.message, status: .conflict)
        }
        var components = URLComponents()
        components.path = "/orders/\(id)"
        return Self.redirect(to: components.string ?? "/orders")
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
