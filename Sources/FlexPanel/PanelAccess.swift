import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import HTTPTypes
import Hummingbird

/// Access, for admins: the account's API keys (made here and shown once, revoked) and operators (made, disabled),
/// and the log of who changed which.
extension Panel {
    func registerAccess(on router: Router<BasicRequestContext>) {
        router.get("access") { request, _ in
            try await signedIn(request) { signed in
                guard signed.principal.may(.manageAccess) else { return forbidden(signed) }
                return try await accessPage(signed)
            }
        }
        postForm("access/keys", on: router, needs: .manageAccess) { signed, form, _ in
            return try await createKey(form, signed)
        }
        postForm("access/keys/{id}/revoke", on: router, needs: .manageAccess) { signed, form, parameters in
            let id = try parameters.require("id")
            guard try await AccessUseCases(store: store).revokeKey(id, by: signed.principal) != nil else {
                return notFound(signed, what: "key \(id)")
            }
            return Self.redirect(to: "/access")
        }
        postForm("access/operators", on: router, needs: .manageAccess) { signed, form, _ in
            return try await createOperator(form, signed)
        }
        postForm("access/operators/{id}/disable", on: router, needs: .manageAccess) { signed, form, parameters in
            let id = try parameters.require("id")
            guard id != signed.session.operatorID else {
                return try await accessPage(
                    signed,
                    error: "You cannot disable yourself: another admin can, or flexbridge operators disable.",
                    status: .conflict
                )
            }
            guard try await operators.disable(id, by: signed.principal) != nil else {
                return notFound(signed, what: "operator \(id)")
            }
            return Self.redirect(to: "/access")
        }
    }

    /// What a form of this page asked for when it is shown again with its errors, or the key just made.
    struct AccessForm {
        var form: String?
        var values: [String: String] = [:]
        var errors: [String: String] = [:]
        var newKey: (name: String, secret: String)?
    }

    func accessPage(
        _ signed: Signed,
        entered: AccessForm = AccessForm(),
        notice: String? = nil,
        error: String? = nil,
        status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        let access = AccessUseCases(store: store)
        let connections = try await visibleConnections(signed)
        let names = Dictionary(connections.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
        let (keys, people, changes) = (
            try await access.keys(by: signed.principal), try await operators.operators(by: signed.principal),
            try await access.changes(by: signed.principal, limit: 50)
        )
        func scope(_ scope: ConnectionScope) -> String {
            scope.sortedIDs.map { $0.map { names[ConnectionID(rawValue: $0)] ?? $0 }.joined(separator: ", ") }
                ?? "all"
        }
        func form(_ name: String) -> [String: Any] {
            let values = entered.form == name ? entered.values : [:]
            let errors = entered.form == name ? entered.errors : [:]
            return [
                "name": values["name"] ?? "", "nameError": errors["name"] ?? false,
                "passwordError": errors["password"] ?? false, "connectionsError": errors["connectionIds"] ?? false,
                "roles": Role.allCases.map {
                    ["value": $0.rawValue, "selected": $0.rawValue == (values["role"] ?? "operator")] as [String: Any]
                },
                "connections": connections.map {
                    [
                        "id": $0.id.rawValue, "name": $0.name,
                        "checked": values["connection.\($0.id.rawValue)"] == "on",
                    ] as [String: Any]
                },
            ]
        }
        let values: [String: Any] = [
            "csrf": signed.session.csrf,
            "newKey": entered.newKey.map { ["name": $0.name, "secret": $0.secret] } ?? false,
            "keys": keys.sorted { $0.createdAt > $1.createdAt }.map { key -> [String: Any] in
                [
                    "id": key.id, "name": key.name, "prefix": key.prefix, "role": key.role.rawValue,
                    "connections": scope(key.scope), "created": "\(Self.time(key.createdAt)) by \(key.createdBy)",
                    "lastUsed": key.lastUsedAt.map(Self.time) ?? "never",
                    "revoked": key.revokedAt.map(Self.time) ?? "", "canRevoke": key.revokedAt == nil,
                ]
            },
            "operators": people.sorted { $0.name < $1.name }.map { person -> [String: Any] in
                let locked = person.lockedUntil.map { $0 > store.clock.now() } ?? false
                return [
                    "id": person.id, "name": person.name, "role": person.role.rawValue,
                    "connections": scope(person.scope),
                    "created": "\(Self.time(person.createdAt)) by \(person.createdBy)",
                    "lastLogin": person.lastLoginAt.map(Self.time) ?? "never",
                    "state": person.disabledAt.map { "disabled \(Self.time($0))" }
                        ?? (locked ? "locked after wrong passwords" : "active"),
                    "canDisable": person.disabledAt == nil && person.id != signed.session.operatorID,
                ]
            },
            "keyForm": form("key"), "operatorForm": form("operator"),
            "changes": changes.map {
                [
                    "at": Self.time($0.changedAt), "actor": $0.actor, "setting": $0.setting, "old": $0.oldValue ?? "",
                    "new": $0.newValue ?? "",
                ]
            },
        ]
        return render("access", values, title: "Access", operator: signed, notice: notice, error: error, status: status)
    }

    /// The connections a form picked (`connection.<id>` checkboxes); nil, for all of them, when none is.
    static func pickedConnections(_ form: [String: String]) -> [ConnectionID]? {
        let picked = form.filter { $0.key.hasPrefix("connection.") && $0.value == "on" }
            .map { ConnectionID(rawValue: String($0.key.dropFirst("connection.".count))) }
            .sorted { $0.rawValue < $1.rawValue }
        return picked.isEmpty ? nil : picked
    }

    func createKey(_ form: [String: String], _ signed: Signed) async throws -> Response {
        var entered = AccessForm(form: "key", values: form)
        guard let role = form["role"].flatMap(Role.init(rawValue:)) else {
            entered.errors["role"] = "choose a role"
            return try await accessPage(signed, entered: entered, error: "Choose a role.", status: .badRequest)
        }
        do {
            let (key, secret) = try await AccessUseCases(store: store).createKey(
                name: form["name"] ?? "",
                role: role,
                connections: Self.pickedConnections(form),
                by: signed.principal
            )
            return try await accessPage(
                signed,
                entered: AccessForm(newKey: (key.name, secret)),
                notice: "Key \(key.name) made. Copy it now: FlexBridge keeps only its hash and cannot show it again."
            )
        } catch let error as ValidationError {
            entered.errors[error.field] = error.reason
            return try await accessPage(
                signed,
                entered: entered,
                error: "No key was made: \(error.field) \(error.reason).",
                status: .badRequest
            )
        }
    }

    func createOperator(_ form: [String: String], _ signed: Signed) async throws -> Response {
        var entered = AccessForm(form: "operator", values: form)
        entered.values["password"] = nil
        guard let role = form["role"].flatMap(Role.init(rawValue:)) else {
            return try await accessPage(signed, entered: entered, error: "Choose a role.", status: .badRequest)
        }
        do {
            let person = try await operators.create(
                name: form["name"] ?? "",
                password: form["password"] ?? "",
                role: role,
                connections: Self.pickedConnections(form),
                by: signed.principal
            )
            return try await accessPage(signed, notice: "Operator \(person.name) can log in now.")
        } catch let error as ValidationError {
            entered.errors[error.field] = error.reason
            return try await accessPage(
                signed,
                entered: entered,
                error: "No operator was made: \(error.field) \(error.reason).",
                status: .badRequest
            )
        } catch let error as StoreError where error.code == .conflict {
            entered.errors["name"] = error.message
            return try await accessPage(signed, entered: entered, error: error.message, status: .conflict)
        }
    }
}
