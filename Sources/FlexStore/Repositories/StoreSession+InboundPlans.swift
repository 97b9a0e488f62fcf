import FlexCore
import Foundation
import SQLKit

/// The shipment a Send to Amazon plan confirmed, as its stock order takes it.
public struct SentInboundShipment: Sendable, Hashable {
    public var planID: String
    public var carrierFees: InboundMoney?
    public var expectedAt: Date?

    public init(planID: String, carrierFees: InboundMoney?, expectedAt: Date?) {
        self.planID = planID
        self.carrierFees = carrierFees
        self.expectedAt = expectedAt
    }
}

/// A plan due for its next step, with the trace of the request that last moved it on.
public struct DueInboundPlan: Sendable {
    public var plan: InboundPlan
    public var trace: TraceContext?
}

extension StoreSession {
    /// Records a new plan, or answers the one its reference already made (`created` false). Wakes the connection's
    /// plan worker. `trace`: the traced request that made the plan, for the worker's steps to continue.
    public func createInboundPlan(
        _ plan: InboundPlan,
        trace: TraceContext? = nil
    ) async throws -> (plan: InboundPlan, created: Bool) {
        let request = try Self.json(plan.request)
        let inserted = try await sql.raw(
            """
            INSERT INTO inbound_plans (id, connection_id, reference, status, step, due_at, revision, request, document,
                created_at, updated_at, trace_context)
            VALUES (\(bind: plan.id), \(bind: plan.connectionID.rawValue), \(bind: plan.request.reference),
                \(bind: plan.status.rawValue), \(bind: plan.step.rawValue), \(bind: plan.dueAt.millisecondsSince1970),
                \(bind: Int64(plan.revision)), \(bind: request), \(bind: try Self.json(plan)),
                \(bind: plan.createdAt.millisecondsSince1970), \(bind: plan.updatedAt.millisecondsSince1970),
                \(bind: trace?.stored))
            ON CONFLICT (connection_id, reference) DO NOTHING RETURNING id
            """
        ).first()
        if inserted != nil {
            try await appendEvents([Self.planEvent(plan, type: "inbound_plan.created")])
            notes.note(.inboundPlans, for: [plan.connectionID])
            return (plan, true)
        }
        let held = try await sql.raw(
            """
            SELECT document FROM inbound_plans WHERE connection_id = \(bind: plan.connectionID.rawValue)
                AND reference = \(bind: plan.request.reference)
            """
        ).first()
        guard let held else {
            throw StoreError(code: .conflict, message: "Inbound plan \(plan.request.reference) was removed meanwhile.")
        }
        return (try Self.inboundPlan(held), false)
    }

    /// Writes a plan read at `plan.revision`, with an event when named, and answers it as written; nil (nothing
    /// written) when it was written since. `touch` false keeps its time of change (a worker only looked at it).
    /// Wakes the connection's plan worker when asked (a choice, a resume). `trace`: the traced request that moved the
    /// plan on (a choice, a resume), for the worker's next steps to continue; nil keeps the one held.
    public func saveInboundPlan(
        _ plan: InboundPlan,
        event: String? = nil,
        wake: Bool = false,
        touch: Bool = true,
        trace: TraceContext? = nil
    ) async throws -> InboundPlan? {
        var saved = plan
        saved.revision += 1
        if touch { saved.updatedAt = Date(millisecondsSince1970: nowMilliseconds) }
        let updated = try await sql.raw(
            """
            UPDATE inbound_plans SET status = \(bind: saved.status.rawValue), step = \(bind: saved.step.rawValue),
                due_at = \(bind: saved.dueAt.millisecondsSince1970), revision = \(bind: Int64(saved.revision)),
                document = \(bind: try Self.json(saved)), updated_at = \(bind: saved.updatedAt.millisecondsSince1970),
                trace_context = COALESCE(\(bind: trace?.stored), trace_context)
            WHERE id = \(bind: plan.id) AND revision = \(bind: Int64(plan.revision)) RETURNING id
            """
        ).first()
        guard updated != nil else { return nil }
        if let event { try await appendEvents([Self.planEvent(saved, type: event)]) }
        if wake { notes.note(.inboundPlans, for: [plan.connectionID]) }
        return saved
    }

    public func inboundPlan(id: String) async throws -> InboundPlan? {
        try await sql.raw("SELECT document FROM inbound_plans WHERE id = \(bind: id)").first().map(Self.inboundPlan)
    }

    /// The connection's plans the worker should look at now (working or waiting, due), the longest due first.
    public func dueInboundPlans(connectionID: ConnectionID, limit: Int = 20) async throws -> [DueInboundPlan] {
        try await sql.raw(
            """
            SELECT document, trace_context FROM inbound_plans WHERE connection_id = \(bind: connectionID.rawValue)
                AND status IN ('working', 'waiting') AND due_at <= \(bind: nowMilliseconds)
            ORDER BY due_at LIMIT \(literal: Int64(limit))
            """
        ).all().map {
            DueInboundPlan(
                plan: try Self.inboundPlan($0),
                trace: TraceContext(stored: try $0.decode(column: "trace_context", as: String?.self))
            )
        }
    }

    /// When the connection's next plan is due; nil when none is working or waiting.
    public func nextInboundPlanDue(connectionID: ConnectionID) async throws -> Date? {
        try await sql.raw(
            """
            SELECT MIN(due_at) AS due FROM inbound_plans WHERE connection_id = \(bind: connectionID.rawValue)
                AND status IN ('working', 'waiting')
            """
        ).first().flatMap { try $0.decode(column: "due", as: Int64?.self) }.map(Date.init(millisecondsSince1970:))
    }

    /// Plans of these connections, the latest change first; of one status when named; after a (time, id) when
    /// paging.
    public func inboundPlans(
        of connections: [ConnectionID],
        status: InboundPlanStatus? = nil,
        after: (updatedAt: Date, id: String)? = nil,
        limit: Int = 100
    ) async throws -> [InboundPlan] {
        guard !connections.isEmpty else { return [] }
        var query: SQLQueryString = """
            SELECT document FROM inbound_plans WHERE connection_id IN (\(binds: connections.map(\.rawValue)))
            """
        if let status { query += " AND status = \(bind: status.rawValue)" }
        if let after {
            let at = after.updatedAt.millisecondsSince1970
            query += " AND (updated_at < \(bind: at) OR (updated_at = \(bind: at) AND id < \(bind: after.id)))"
        }
        query += " ORDER BY updated_at DESC, id DESC LIMIT \(literal: Int64(limit))"
        return try await sql.raw(query).all().map(Self.inboundPlan)
    }

    /// Keeps a shipment's labels (Amazon's PDF).
    public func recordInboundPlanLabels(planID: String, shipmentID: String, pdf: Data) async throws {
        try await sql.raw(
            """
            INSERT INTO inbound_plan_labels (plan_id, shipment_id, document, created_at)
            VALUES (\(bind: planID), \(bind: shipmentID), \(bind: pdf.base64EncodedString()), \(bind: nowMilliseconds))
            ON CONFLICT (plan_id, shipment_id) DO UPDATE SET document = excluded.document
            """
        ).run()
    }

    public func inboundPlanLabels(planID: String, shipmentID: String) async throws -> Data? {
        try await sql.raw(
            """
            SELECT document FROM inbound_plan_labels WHERE plan_id = \(bind: planID)
                AND shipment_id = \(bind: shipmentID)
            """
        ).first().flatMap { Data(base64Encoded: try $0.decode(column: "document", as: String.self)) }
    }

    /// Notes a shipment a plan confirmed under the FBA… id its stock order will carry.
    public func recordSentInboundShipment(
        _ sent: SentInboundShipment,
        connectionID: ConnectionID,
        confirmationID: String
    ) async throws {
        try await sql.raw(
            """
            INSERT INTO inbound_plan_shipments (connection_id, confirmation_id, plan_id, carrier_fees, expected_at)
            VALUES (\(bind: connectionID.rawValue), \(bind: confirmationID), \(bind: sent.planID),
                \(bind: try sent.carrierFees.map(Self.json)), \(bind: sent.expectedAt?.millisecondsSince1970))
            ON CONFLICT (connection_id, confirmation_id) DO UPDATE SET plan_id = excluded.plan_id,
                carrier_fees = excluded.carrier_fees, expected_at = excluded.expected_at
            """
        ).run()
    }

    public func inboundPlanShipment(
        connectionID: ConnectionID,
        confirmationID: String
    ) async throws
        -> SentInboundShipment?
    {
        try await sql.raw(
            """
            SELECT plan_id, carrier_fees, expected_at FROM inbound_plan_shipments
            WHERE connection_id = \(bind: connectionID.rawValue) AND confirmation_id = \(bind: confirmationID)
            """
        ).first().map { row in
            SentInboundShipment(
                planID: try row.decode(column: "plan_id", as: String.self),
                carrierFees: try row.decode(column: "carrier_fees", as: String?.self).map {
                    try JSONDecoder().decode(InboundMoney.self, from: Data($0.utf8))
                },
                expectedAt: try row.decode(column: "expected_at", as: Int64?.self)
                    .map(Date.init(millisecondsSince1970:))
            )
        }
    }

    static func inboundPlan(_ row: any SQLRow) throws -> InboundPlan {
        try JSONDecoder().decode(
            InboundPlan.self,
            from: Data(try row.decode(column: "document", as: String.self).utf8)
        )
    }

    static func planEvent(_ plan: InboundPlan, type: String) throws -> NewEvent {
        var payload: [String: JSONValue] = [
            "planId": .string(plan.id), "reference": .string(plan.request.reference),
            "step": .string(plan.step.rawValue), "status": .string(plan.status.rawValue),
        ]
        if let problem = plan.problem { payload["problem"] = .string(problem) }
        if let amazon = plan.amazonPlanID { payload["amazonPlanId"] = .string(amazon) }
        return NewEvent(type: type, connectionID: plan.connectionID, subject: plan.id, payload: try Self.json(payload))
    }
}
