import FlexBridgeAPI
import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import OpenAPIRuntime

/// API keys through the API: made (shown once), listed without their secrets, revoked.
extension APIHandler {
    /// The permission each operation needs (nil: none, for the consent callback).
    public static var operationPermissions: [String: Permission?] { AccessMiddleware.permissions }

    public func createApiKey(_ input: Operations.CreateApiKey.Input) async throws -> Operations.CreateApiKey.Output {
        guard case .json(let body) = input.body else {
            return .badRequest(Self.problem(.invalidInput, "A JSON body is required."))
        }
        let connections = body.connectionIds.map { $0.map(ConnectionID.init(rawValue:)) }
        do {
            let (key, secret) = try await access.createKey(
                name: body.name,
                role: Role(rawValue: body.role.rawValue)!,
                connections: connections,
                by: try caller()
            )
            var answer = Self.schema(key)
            answer.secret = secret
            return .created(.init(body: .json(answer)))
        } catch let error as ValidationError {
            return .badRequest(Self.problem(.invalidInput, error.reason, field: error.field))
        }
    }

    public func listApiKeys(_ input: Operations.ListApiKeys.Input) async throws -> Operations.ListApiKeys.Output {
        .ok(.init(body: .json(.init(keys: try await access.keys(by: try caller()).map(Self.schema)))))
    }

    public func revokeApiKey(_ input: Operations.RevokeApiKey.Input) async throws -> Operations.RevokeApiKey.Output {
        let principal = try caller()
        if principal.kind == .apiKey, principal.id == input.path.keyId {
            return .conflict(
                .init(
                    body: .json(
                        Self.problemBody(
                            .conflict,
                            "This is the key the request is made with; revoke it with another admin key, or with flexbridge keys revoke on the node."
                        )
                    )
                )
            )
        }
        guard let key = try await access.revokeKey(input.path.keyId, by: principal) else {
            return .notFound(.init(body: .json(Self.problemBody(.notFound, "No API key with id \(input.path.keyId)."))))
        }
        return .ok(.init(body: .json(Self.schema(key))))
    }

    public func listAccountChanges(
        _ input: Operations.ListAccountChanges.Input
    ) async throws -> Operations.ListAccountChanges.Output {
        let changes = try await access.changes(by: try caller(), limit: input.query.limit ?? 100)
        return .ok(.init(body: .json(.init(changes: changes.map(Self.schema)))))
    }

    static func schema(_ change: ConfigChange) -> Components.Schemas.ConfigChange {
        .init(
            id: change.id,
            setting: change.setting,
            oldValue: change.oldValue,
            newValue: change.newValue,
            actor: change.actor,
            changedAt: change.changedAt
        )
    }

    // MARK: Operators

    var operators: OperatorUseCases { OperatorUseCases(store: store) }

    public func createOperator(
        _ input: Operations.CreateOperator.Input
    ) async throws -> Operations.CreateOperator.Output {
        guard case .json(let body) = input.body else {
            return .badRequest(Self.problem(.invalidInput, "A JSON body is required."))
        }
        let connections = body.connectionIds.map { $0.map(ConnectionID.init(rawValue:)) }
        do {
            let person = try await operators.create(
                name: body.name,
                password: body.password,
                role: Role(rawValue: body.role.rawValue)!,
                connections: connections,
                by: try caller()
            )
            return .created(.init(body: .json(Self.schema(person, now: store.clock.now()))))
        } catch let error as ValidationError {
            return .badRequest(Self.problem(.invalidInput, error.reason, field: error.field))
        } catch let error as StoreError where error.code == .conflict {
            return .conflict(.init(body: .json(Self.problemBody(.conflict, error.message))))
        }
    }

    public func listOperators(_ input: Operations.ListOperators.Input) async throws -> Operations.ListOperators.Output {
        let now = store.clock.now()
        return .ok(
            .init(
                body: .json(
                    .init(operators: try await operators.operators(by: try caller()).map { Self.schema($0, now: now) })
                )
            )
        )
    }

    public func disableOperator(
        _ input: Operations.DisableOperator.Input
    ) async throws -> Operations.DisableOperator.Output {
        guard let person = try await operators.disable(input.path.operatorId, by: try caller()) else {
            return .notFound(
                .init(body: .json(Self.problemBody(.notFound, "No operator with id \(input.path.operatorId).")))
            )
        }
        return .ok(.init(body: .json(Self.schema(person, now: store.clock.now()))))
    }

    static func schema(_ person: Operator, now: Date) -> Components.Schemas.Operator {
        .init(
            id: person.id,
            name: person.name,
            role: .init(rawValue: person.role.rawValue)!,
            connectionIds: person.scope.sortedIDs,
            createdAt: person.createdAt,
            createdBy: person.createdBy,
            lastLoginAt: person.lastLoginAt,
            locked: person.isLocked(at: now),
            disabledAt: person.disabledAt
        )
    }

    static func schema(_ key: APIKey) -> Components.Schemas.ApiKey {
        .init(
            id: key.id,
            name: key.name,
            prefix: key.prefix,
            role: .init(rawValue: key.role.rawValue)!,
            connectionIds: key.scope.sortedIDs,
            createdAt: key.createdAt,
            createdBy: key.createdBy,
            lastUsedAt: key.lastUsedAt,
            revokedAt: key.revokedAt
        )
    }
}
