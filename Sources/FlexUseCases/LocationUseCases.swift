import FlexCore
import FlexStore
import Foundation

/// A location's place in Amazon's go-live process (pilot, live) and in handing it over to another connector
/// (outgoing, handed over), with what its orders proved and what still ties it to FlexBridge.
public struct LocationUseCases: Sendable {
    let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// A location as the API shows it: its mode, what the pilot proved so far, and what is still open.
    public struct Report: Sendable, Hashable {
        public var state: LocationState
        /// The go-live checklist of the current pilot (or what it held when the location went live).
        public var checklist: GoLiveChecklist
        public var handover: HandoverReport
    }

    /// Why a mode change was not made.
    public enum Refusal: Error, Sendable, Hashable, CustomStringConvertible {
        case locationNotFound(LocationID)
        /// Amazon's process forbids it now; the message says what is missing.
        case notNow(String)

        public var description: String {
            switch self {
            case .locationNotFound(let id): "No location \(id) is mapped on the connection."
            case .notNow(let reason): reason
            }
        }
    }

    /// Every location the connection maps (or has a mode for), with its report.
    public func locations(of connectionID: ConnectionID) async throws -> [Report] {
        try await store.read { session in
            var reports: [Report] = []
            for id in try await session.knownLocations(connectionID: connectionID) {
                reports.append(try await Self.report(connectionID, id, in: session))
            }
            return reports
        }
    }

    /// One location's report; nil when the connection neither maps it nor has a mode for it.
    public func location(_ id: LocationID, of connectionID: ConnectionID) async throws -> Report? {
        try await store.read { session in
            guard try await session.knownLocations(connectionID: connectionID).contains(id) else { return nil }
            return try await Self.report(connectionID, id, in: session)
        }
    }

    /// Changes the location's mode as Amazon's process allows (``LocationRules``), in one transaction: the state,
    /// the change log (a forced go-live with its reason and what was missing), the event, and every item of the
    /// location made pending so that Amazon is sent what the new mode offers. Setting the mode it has (with the
    /// same pilot SKUs) changes nothing.
    public func setMode(
        _ change: LocationModeChange,
        of id: LocationID,
        connectionID: ConnectionID,
        by principal: Principal = .node()
    ) async throws -> Report {
        try AccessUseCases.require(.changeSettings, of: principal)
        try LocationRules.validate(change)
        let now = store.clock.now()
        return try await store.transaction { session in
            guard try await session.knownLocations(connectionID: connectionID).contains(id) else {
                throw Refusal.locationNotFound(id)
            }
            let before = try await Self.report(connectionID, id, in: session)
            let old = before.state
            if old.mode == change.mode, change.mode != .pilot || old.pilotSKUs == change.pilotSKUs { return before }
            do throws(LocationRules.Refusal) {
                try LocationRules.check(change, from: old, checklist: before.checklist, handover: before.handover)
            } catch {
                throw Refusal.notNow(error.message)
            }
            var state = old
            state.mode = change.mode
            state.pilotSKUs = change.pilotSKUs
            // A pilot that only changes its SKUs keeps its start: the test orders already seen still count.
            if !(old.mode == .pilot && change.mode == .pilot) { state.modeSince = now }
            state.changedBy = principal.actor
            if change.mode == .live, old.mode != .live { state.wentLiveWith = before.checklist }
            try await session.saveLocationState(state)
            var changes = [
                SettingChange(
                    setting: "location.\(id).mode",
                    oldValue: Self.describe(old),
                    newValue: Self.describe(state)
                )
            ]
            if change.force, !before.checklist.isComplete, old.mode != .live {
                changes.append(
                    SettingChange(
                        setting: "location.\(id).forcedLive",
                        oldValue: "missing: \(before.checklist.missing.joined(separator: ", "))",
                        newValue: change.reason
                    )
                )
            }
            try await session.recordChanges(changes, connectionID: connectionID, actor: principal.actor)
            var payload: [String: JSONValue] = [
                "locationId": .string(id.rawValue), "mode": .string(state.mode.rawValue),
                "previousMode": .string(old.mode.rawValue),
            ]
            if change.force, let reason = change.reason { payload["forcedBecause"] = .string(reason) }
            try await session.appendEvents([
                NewEvent(
                    .locationModeChanged,
                    connectionID: connectionID,
                    subject: id.rawValue,
                    payload: try JSONText.encode(payload)
                )
            ])
            try await session.markLocationPending(connectionID: connectionID, locationID: id)
            return try await Self.report(connectionID, id, in: session)
        }
    }

    static func report(_ connectionID: ConnectionID, _ id: LocationID, in session: StoreSession) async throws -> Report
    {
        let state = try await session.locationState(connectionID: connectionID, locationID: id)
        let checklist =
            state.mode == .live && state.wentLiveWith != nil
            ? state.wentLiveWith!
            : try await session.goLiveChecklist(connectionID: connectionID, locationID: id, since: state.modeSince)
        return Report(
            state: state,
            checklist: checklist,
            handover: try await session.handoverReport(connectionID: connectionID, locationID: id)
        )
    }

    static func describe(_ state: LocationState) -> String {
        guard state.mode == .pilot else { return state.mode.rawValue }
        let skus = state.pilotSKUs.map { "\($0.merchantSKU) ≤ \($0.maximumQuantity)" }.joined(separator: ", ")
        return "pilot (\(skus))"
    }
}
