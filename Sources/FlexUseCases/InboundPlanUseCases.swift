import FlexCore
import FlexStore
import Foundation

/// Send to Amazon as a WMS starts and steers it: a plan from a stock order, the choices Amazon's options wait for,
/// taking a failed plan up again. The plan worker (FlexEngine) carries each plan through Amazon's steps.
public struct InboundPlanUseCases: Sendable {
    let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// Why a request was not taken.
    public enum Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        case planNotFound(String)
        /// The reference made a plan from another request, or the plan is not where the request needs it.
        case conflict(String)

        public var description: String {
            switch self {
            case .planNotFound(let id): "No inbound plan \(id)."
            case .conflict(let reason): reason
            }
        }
    }

    /// Records a plan for a stock order of the connection, once per reference: each line's SKU must have an FBA
    /// listing in the marketplace (its merchant SKU is what Amazon is sent). The same request again answers the
    /// plan it made (`created` false); another request under that reference is a conflict.
    public func create(
        _ request: InboundPlanRequest,
        connection: Connection
    ) async throws -> (plan: InboundPlan, created: Bool) {
        let now = store.clock.now()
        try request.validate(today: now)
        let trace = TraceContext.current
        return try await store.transaction { session in
            var skus: [MerchantSKU] = []
            for (index, line) in request.lines.enumerated() {
                let listings = try await session.listings(for: connection.id, warehouseSKU: line.sku)
                    .filter { $0.marketplaceID == request.marketplaceID }
                guard let listing = listings.first(where: { $0.fulfilledBy == .amazon }) else {
                    throw ValidationError(
                        field: "lines[\(index)].sku",
                        reason: listings.isEmpty
                            ? "\(line.sku) has no listing in marketplace \(request.marketplaceID): Amazon does not know it"
                            : "\(line.sku) is listed merchant-fulfilled in marketplace \(request.marketplaceID), not for FBA"
                    )
                }
                skus.append(listing.merchantSKU)
            }
            let plan = InboundPlan(
                id: InboundPlan.newID(),
                connectionID: connection.id,
                request: request,
                merchantSKUs: skus,
                now: now
            )
            let result = try await session.createInboundPlan(plan, trace: trace)
            if !result.created && result.plan.request != request {
                throw Refusal.conflict(
                    "Reference \(request.reference) already made plan \(result.plan.id) from another request"
                )
            }
            return result
        }
    }

    /// The WMS's placement choice for a plan waiting for it.
    public func choosePlacement(
        _ optionID: String,
        planID: String,
        visible: [ConnectionID]
    ) async throws
        -> InboundPlan
    {
        try await change(planID, visible: visible) { plan, now throws(ValidationError) in
            try InboundPlanRules.placementChoice(optionID, plan: plan, now: now)
            plan.placementOptionID = optionID
            plan.step = .confirmPlacement
        }
    }

    /// The WMS's transportation choice (shipment → option) for a plan waiting for it.
    public func chooseTransportation(
        _ selections: [String: String],
        planID: String,
        visible: [ConnectionID]
    ) async throws -> InboundPlan {
        try await change(planID, visible: visible) { plan, now throws(ValidationError) in
            try InboundPlanRules.transportationChoice(selections, plan: plan, now: now)
            for index in plan.shipments.indices {
                plan.shipments[index].transportationOptionID = selections[plan.shipments[index].id]
                plan.shipments[index].deliveryWindowChoice = nil
            }
            plan.step = InboundPlanRules.afterTransportationChosen(plan)
        }
    }

    /// Takes a failed plan up again at its step (a refused confirmation at fresh options).
    public func resume(planID: String, visible: [ConnectionID]) async throws -> InboundPlan {
        let now = store.clock.now()
        let trace = TraceContext.current
        return try await store.transaction { session in
            guard let plan = try await session.inboundPlan(id: planID), visible.contains(plan.connectionID) else {
                throw Refusal.planNotFound(planID)
            }
            guard plan.status == .failed else {
                throw Refusal.conflict("Plan \(planID) has not failed: it is \(plan.status.rawValue)")
            }
            var resumed = plan
            resumed.status = .working
            resumed.problem = nil
            // A plan Amazon could not create is made anew (the one it errored stays ERRORED there, never adopted).
            resumed.intentAt = nil
            if plan.step == .create { resumed.amazonPlanID = nil }
            resumed.operation = nil
            resumed.step = InboundPlanRules.resumeStep(plan.step)
            resumed.dueAt = now
            guard
                let saved = try await session.saveInboundPlan(
                    resumed,
                    event: "inbound_plan.updated",
                    wake: true,
                    trace: trace
                )
            else { throw Refusal.conflict("Plan \(planID) changed meanwhile; try again") }
            return saved
        }
    }

    private func change(
        _ planID: String,
        visible: [ConnectionID],
        _ apply: (inout InboundPlan, Date) throws(ValidationError) -> Void
    ) async throws -> InboundPlan {
        let now = store.clock.now()
        let trace = TraceContext.current
        return try await store.transaction { session in
            guard let plan = try await session.inboundPlan(id: planID), visible.contains(plan.connectionID) else {
                throw Refusal.planNotFound(planID)
            }
            var chosen = plan
            try apply(&chosen, now)
            chosen.status = .working
            chosen.dueAt = now
            guard
                let saved = try await session.saveInboundPlan(
                    chosen,
                    event: "inbound_plan.updated",
                    wake: true,
                    trace: trace
                )
            else { throw Refusal.conflict("Plan \(planID) changed meanwhile; try again") }
            return saved
        }
    }
}
