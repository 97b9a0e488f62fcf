import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import HTTPTypes
import Hummingbird

/// The panel's connections: each seller connection's settings, hubs and locations (with the go-live checklist and
/// the hand-over report, and the mode to change), and its change log.
extension Panel {
    func registerConnections(on router: Router<BasicRequestContext>) {
        router.get("connections") { request, _ in try await signedIn(request) { try await connectionsPage($0) } }
        registerConnectionSetup(on: router)
        router.get("connections/{id}") { request, context in
            let id = try context.parameters.require("id")
            return try await signedIn(request) { try await connectionPage(id, $0) }
        }
        postForm("connections/{id}/settings", on: router) { signed, form, parameters in
            let id = try parameters.require("id")
            return try await saveSettings(id, form, signed)
        }
        postForm("connections/{id}/locations/{location}/mode", on: router) { signed, form, parameters in
            let id = try parameters.require("id")
            let location = try parameters.require("location")
            return try await changeMode(id, location, form, signed)
        }
    }

    var connectionUseCases: ConnectionUseCases { ConnectionUseCases(store: store, outbound: outbound) }

    func connectionsPage(_ signed: Signed) async throws -> Response {
        let listed = try await connectionUseCases.connections(by: signed.principal)
        let values: [String: Any] = [
            "canAdd": signed.principal.may(.manageConnections),
            "connections": listed.map { item -> [String: Any] in
                [
                    "id": item.connection.id.rawValue, "name": item.connection.name,
                    "seller": item.connection.sellingPartnerID.rawValue, "region": item.connection.region.rawValue,
                    "status": item.connection.status.rawValue, "authorized": item.authorized ? "yes" : "no",
                ]
            },
        ]
        return render("connections", values, title: "Connections", operator: signed)
    }

    /// The switches of the settings form: field, label, setting.
    static var toggles: [(String, String, WritableKeyPath<ConnectionSettings, Bool>)] {
        [
            ("orderSyncEnabled", "Pull orders from Amazon", \.orderSyncEnabled),
            ("inventorySyncEnabled", "Send stock to Amazon", \.inventorySyncEnabled),
            ("autoConfirm", "Confirm new orders automatically", \.autoConfirm),
            ("sendZeroForAll", "Offer zero of everything (stop sales)", \.sendZeroForAll),
            ("mfnOrderSyncEnabled", "Pull merchant-fulfilled (MFN) orders", \.mfnOrderSyncEnabled),
            ("fbaStockSyncEnabled", "Read Amazon's FBA stock", \.fbaStockSyncEnabled),
            ("fbaInboundSyncEnabled", "Read inbound shipments to Amazon as stock orders", \.fbaInboundSyncEnabled),
            ("inboundCheapestPlacement", "Send to Amazon: take the cheapest placement", \.inboundCheapestPlacement),
            ("inboundPartneredCarrier", "Send to Amazon: take Amazon's partnered carrier", \.inboundPartneredCarrier),
            ("partneredCarrierFees", "Carry partnered carriers' fees onto stock orders", \.partneredCarrierFees),
        ]
    }

    static let numbers: [(String, String)] = [
        ("safetyStock", "Units held back per SKU"), ("quantityCap", "Most units offered per SKU (empty: no cap)"),
        ("reconciliationIntervalMinutes", "Compare with Amazon every … minutes (0: never)"),
    ]

    func connectionPage(
        _ id: String,
        _ signed: Signed,
        entered: [String: String]? = nil,
        fieldErrors: [String: String] = [:],
        hubEntered: [String: String] = [:],
        extra: [String: Any] = [:],
        notice: String? = nil,
        error: String? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let connectionID = ConnectionID(rawValue: id)
        guard let connection = try await connectionUseCases.connection(connectionID, by: signed.principal) else {
            return notFound(signed, what: "connection \(id)")
        }
        let mappings = try await connectionUseCases.mappings(of: connectionID, by: signed.principal) ?? []
        let changes =
            signed.principal.may(.read)
            ? try await connectionUseCases.changes(of: connectionID, limit: 50, by: signed.principal) ?? [] : []
        let locations = try await LocationUseCases(store: store).locations(of: connectionID)
        let canChange = signed.principal.may(.changeSettings)
        let settings = connection.settings
        func number(_ name: String) -> String {
            if let entered { return entered[name] ?? "" }
            switch name {
            case "safetyStock": return "\(settings.safetyStock)"
            case "quantityCap": return settings.quantityCap.map(String.init) ?? ""
            default: return "\(settings.reconciliationIntervalMinutes)"
            }
        }
        let authorized = try await connectionUseCases.isAuthorized(connectionID)
        var values: [String: Any] = [
            "authorized": authorized, "canManage": signed.principal.may(.manageConnections),
            "endpoint": connection.endpoint.absoluteString,
            "marketplaces": connection.marketplaceIDs.map(\.rawValue).joined(separator: ", "),
            "hubForm": [
                "hub": hubEntered["hub"] ?? "", "locationId": hubEntered["locationId"] ?? "",
                "hubError": fieldErrors["hub"] ?? false, "locationError": fieldErrors["locationId"] ?? false,
                "channels": ChannelName.allCases.map(\.rawValue),
            ] as [String: Any],
            "id": id, "name": connection.name, "seller": connection.sellingPartnerID.rawValue,
            "region": connection.region.rawValue, "status": connection.status.rawValue, "csrf": signed.session.csrf,
            "canChange": canChange,
            "toggles": Self.toggles.map { name, label, path in
                [
                    "name": name, "label": label, "canChange": canChange,
                    "on": entered.map { $0[name] == "on" } ?? settings[keyPath: path],
                ] as [String: Any]
            },
            "numbers": Self.numbers.map { name, label in
                [
                    "name": name, "label": label, "value": number(name), "canChange": canChange,
                    "error": fieldErrors[name] ?? false,
                ] as [String: Any]
            },
            "mappings": mappings.map {
                [
                    "hub": $0.hub.rawValue, "locationId": $0.locationID.rawValue, "channel": $0.channel.rawValue,
                    "canChange": canChange, "csrf": signed.session.csrf, "connectionId": id,
                ] as [String: Any]
            },
            "locations": locations.map { report -> [String: Any] in
                let state = report.state
                return [
                    "locationId": state.locationID.rawValue, "connectionId": id, "mode": state.mode.rawValue,
                    "pilot": state.pilotSKUs.isEmpty
                        ? false
                        : state.pilotSKUs.map { "\($0.merchantSKU) ≤ \($0.maximumQuantity)" }.joined(separator: ", "),
                    "pilotText": state.pilotSKUs.map { "\($0.merchantSKU)=\($0.maximumQuantity)" }.joined(
                        separator: "\n"
                    ),
                    "shipped": report.checklist.shippedOrder?.rawValue ?? "—",
                    "sellerCancellation": report.checklist.sellerCancellation?.rawValue ?? "—",
                    "customerCancellation": report.checklist.customerCancellation?.rawValue ?? "—",
                    "missing": report.checklist.isComplete ? false : report.checklist.missing.joined(separator: ", "),
                    "openOrders": report.handover.openOrders.count, "notAtZero": report.handover.itemsNotAtZero,
                    "items": report.handover.items, "clean": report.handover.isClean && state.mode == .outgoing,
                    "canChange": canChange, "csrf": signed.session.csrf,
                    "showChecklist": state.mode == .pilot || state.wentLiveWith != nil,
                    "showHandover": state.mode == .outgoing || state.mode == .handedOver,
                    "modes": LocationMode.allCases.map { ["value": $0.rawValue, "selected": $0 == state.mode] },
                ]
            },
            "merchant": Self.merchantSettingsForm(connection, entered: entered, errors: fieldErrors),
            "changes": changes.map {
                [
                    "at": Self.time($0.changedAt), "actor": $0.actor, "setting": $0.setting, "old": $0.oldValue ?? "",
                    "new": $0.newValue ?? "",
                ]
            },
        ]
        values.merge(extra) { _, new in new }
        return render(
            "connection",
            values,
            title: connection.name,
            operator: signed,
            notice: notice,
            error: error,
            status: status
        )
    }

    func saveSettings(_ id: String, _ form: [String: String], _ signed: Signed) async throws -> Response {
        guard signed.principal.may(.changeSettings) else { return forbidden(signed) }
        let connectionID = ConnectionID(rawValue: id)
        guard let connection = try await connectionUseCases.connection(connectionID, by: signed.principal) else {
            return notFound(signed, what: "connection \(id)")
        }
        var settings = connection.settings
        for (name, _, path) in Self.toggles { settings[keyPath: path] = form[name] == "on" }
        var errors: [String: String] = [:]
        func whole(_ name: String, optional: Bool = false) -> Int? {
            let text = form[name]?.trimmingCharacters(in: .whitespaces) ?? ""
            if text.isEmpty, optional { return nil }
            guard let value = Int(text), value >= 0 else {
                errors[name] = "must be a whole number, 0 or more"
                return nil
            }
            return value
        }
        settings.safetyStock = whole("safetyStock") ?? settings.safetyStock
        settings.quantityCap = whole("quantityCap", optional: true)
        settings.reconciliationIntervalMinutes =
            whole("reconciliationIntervalMinutes") ?? settings.reconciliationIntervalMinutes
        do {
            try Self.readMerchantSettings(form, connection: connection, into: &settings)
        } catch {
            errors[Self.settingsField(error.field)] = error.reason
        }
        if errors.isEmpty {
            do {
                var changed = connection
                changed.settings = settings
                try changed.validate()
            } catch {
                errors[Self.settingsField(error.field)] = error.reason
            }
        }
        guard errors.isEmpty else {
            return try await connectionPage(
                id,
                signed,
                entered: form,
                fieldErrors: errors,
                error: "Nothing was saved: a value is wrong.",
                status: .badRequest
            )
        }
        _ = try await connectionUseCases.updateSettings(of: connectionID, to: settings, by: signed.principal)
        return Self.redirect(to: "/connections/\(id)")
    }

    func changeMode(
        _ id: String,
        _ location: String,
        _ form: [String: String],
        _ signed: Signed
    ) async throws
        -> Response
    {
        guard signed.principal.may(.changeSettings) else { return forbidden(signed) }
        let connectionID = ConnectionID(rawValue: id)
        guard try await connectionUseCases.connection(connectionID, by: signed.principal) != nil else {
            return notFound(signed, what: "connection \(id)")
        }
        guard let mode = form["mode"].flatMap(LocationMode.init(rawValue:)) else {
            return try await connectionPage(id, signed, error: "Choose a mode.", status: .badRequest)
        }
        var pilot: [PilotSKU] = []
        if mode == .pilot {
            for line in (form["pilotSkus"] ?? "").split(whereSeparator: \.isNewline) {
                let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty, let units = Int(parts[1]) else {
                    return try await connectionPage(
                        id,
                        signed,
                        error: "Pilot SKUs: write each as SKU=most units, got \"\(line)\".",
                        status: .badRequest
                    )
                }
                pilot.append(PilotSKU(merchantSKU: MerchantSKU(rawValue: parts[0]), maximumQuantity: units))
            }
        }
        let reason = form["reason"]?.trimmingCharacters(in: .whitespaces)
        do {
            _ = try await LocationUseCases(store: store).setMode(
                LocationModeChange(
                    mode: mode,
                    pilotSKUs: pilot,
                    force: form["force"] == "on",
                    reason: reason?.isEmpty == true ? nil : reason
                ),
                of: LocationID(rawValue: location),
                connectionID: connectionID,
                by: signed.principal
            )
        } catch let refusal as LocationUseCases.Refusal {
            return try await connectionPage(id, signed, error: refusal.description, status: .conflict)
        } catch let error as ValidationError {
            return try await connectionPage(id, signed, error: "\(error.field) \(error.reason)", status: .badRequest)
        }
        return Self.redirect(to: "/connections/\(id)")
    }
}

extension ConnectionSettings {
    /// The placement setting as the panel's switch: on is `cheapest`.
    var inboundCheapestPlacement: Bool {
        get { inboundPlacement == .cheapest }
        set { inboundPlacement = newValue ? .cheapest : .manual }
    }

    /// The transportation setting as the panel's switch: on is `partnered`.
    var inboundPartneredCarrier: Bool {
        get { inboundTransportation == .partnered }
        set { inboundTransportation = newValue ? .partnered : .manual }
    }
}
