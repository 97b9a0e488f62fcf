import FlexCore
import FlexStore
import Foundation

/// What a WMS asks of an order: commands, each under its idempotency key.
public struct FulfilmentUseCases: Sendable {
    let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// Why a command was not taken.
    public enum Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        /// No such order.
        case orderNotFound(ShipmentID)
        /// The order's state does not take the command (a labelled order cannot be rejected, a shipped one packed…).
        case notNow(String)

        public var description: String {
            switch self {
            case .orderNotFound(let id): "No order \(id)."
            case .notNow(let reason): reason
            }
        }
    }

    /// A command submitted: stored now (`created`), or the one stored before under the same key.
    public struct Submitted: Sendable {
        public var command: FulfilmentCommand
        public var created: Bool
    }

    /// Queues `request` for the order. A repeat of an earlier request under the same key gets the earlier command
    /// back — answered before the order's state is looked at, so a retry after the order moved on still gets it; a
    /// key used for another request is a conflict (``StoreError``). The request is checked against the order
    /// (``CommandRules``) before anything is stored: a bad one is a ``ValidationError``, one the order's state does
    /// not take a ``Refusal``.
    public func submitCommand(
        _ request: CommandRequest,
        to shipmentID: ShipmentID,
        idempotencyKey key: String,
        by principal: Principal = .node()
    ) async throws -> Submitted {
        try AccessUseCases.require(.workOrders, of: principal)
        guard let order = try await store.read({ try await $0.order(shipmentID) }) else {
            throw Refusal.orderNotFound(shipmentID)
        }
        let fingerprint = try JSONText.encode(request)
        if let replay = try await store.read({
            try await $0.existingCommand(idempotencyKey: key, fingerprint: fingerprint, for: order)
        }) {
            return Submitted(command: replay, created: false)
        }
        let resolved =
            order.source == .mfn
            ? try await resolveMerchantShip(request, for: order) : try await resolveShipmentCommand(request, for: order)
        // The trace of the request goes with the command, for the worker that carries it to Amazon to continue.
        let trace = TraceContext.current
        let (command, created) = try await store.transaction {
            try await $0.submitCommand(
                resolved,
                fingerprint: fingerprint,
                for: order,
                idempotencyKey: key,
                requestedBy: principal.actor,
                trace: trace
            )
        }
        return Submitted(command: command, created: created)
    }

    /// A Seller Flex, Easy Ship or Self Ship command, checked against the order's location, state and shipment.
    private func resolveShipmentCommand(_ request: CommandRequest, for order: Order) async throws -> CommandRequest {
        let location = try await store.read {
            try await $0.locationState(connectionID: order.connectionID, locationID: order.locationID)
        }
        guard location.isWorked else {
            throw Refusal.notNow(
                "Order \(order.shipmentID) is at location \(order.locationID), which was handed over to another connector: FlexBridge runs no command there."
            )
        }
        if let refusal = CommandRules.refusal(request.type, state: order.state) {
            throw Refusal.notNow("Order \(order.shipmentID) cannot take \(request.type.rawValue): \(refusal).")
        }
        return try CommandRules.resolve(request, for: try ShipmentFacts(json: order.shipment))
    }

    /// A merchant-fulfilled order takes `ship` only: one package, resolved by ``MerchantShipRules`` against the
    /// stored copy and the connection's ship-method table before it is stored.
    private func resolveMerchantShip(_ request: CommandRequest, for order: Order) async throws -> CommandRequest {
        guard request.type == .ship else {
            throw Refusal.notNow(
                "Order \(order.shipmentID) is a merchant-fulfilled (MFN) order: it takes ship (a package with its items, carrier and tracking id) only; \(request.type.rawValue) is a Seller Flex, Easy Ship or Self Ship command."
            )
        }
        let facts = try MerchantOrderFacts(document: order.shipment)
        guard facts.status == "UNSHIPPED" || facts.status == "PARTIALLY_SHIPPED" else {
            throw Refusal.notNow(
                "Order \(order.shipmentID) is \(facts.status) at Amazon; only an UNSHIPPED or PARTIALLY_SHIPPED order ships."
            )
        }
        guard let connection = try await store.read({ try await $0.connection(order.connectionID) }) else {
            throw Refusal.orderNotFound(order.shipmentID)
        }
        return try MerchantShipRules.resolve(
            request,
            facts: facts,
            table: connection.settings.shipMethods,
            now: store.clock.now(),
            reference: Self.packageReference()
        )
    }

    /// A package reference no other package of the order has: FB- and twelve hexadecimal digits.
    static func packageReference() -> String {
        "FB-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12)
    }
}
