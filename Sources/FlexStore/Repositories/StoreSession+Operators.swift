import FlexCore
import Foundation
import SQLKit

extension StoreSession {
    /// Stores an operator with their password's hash; a name the account uses already is a conflict.
    public func insertOperator(_ person: Operator, passwordHash: String) async throws {
        guard try await `operator`(named: person.name, account: person.account) == nil else {
            throw StoreError(code: .conflict, message: "There is an operator named \(person.name) already.")
        }
        do {
            try await sql.raw(
                """
                INSERT INTO operators (id, account_id, name, password_hash, role, connection_ids, created_at, created_by)
                VALUES (\(bind: person.id), \(bind: person.account.rawValue), \(bind: person.name), \(bind: passwordHash),
                    \(bind: person.role.rawValue), \(bind: try Self.scopeJSON(person.scope)),
                    \(bind: person.createdAt.millisecondsSince1970), \(bind: person.createdBy))
                """
            ).run()
        } catch  where Self.isUniqueViolation(error) {
            // Two requests for one name at once (PostgreSQL): the second finds the first's row by its index.
            throw StoreError(code: .conflict, message: "There is an operator named \(person.name) already.")
        }
    }

    /// The account's operator of that name, with the stored password hash.
    public func `operator`(named name: String, account: AccountID) async throws -> (person: Operator, hash: String)? {
        guard
            let row = try await sql.raw(
                "SELECT * FROM operators WHERE account_id = \(bind: account.rawValue) AND name = \(bind: name)"
            ).first()
        else { return nil }
        return (try Self.decodeOperator(row), try row.decode(column: "password_hash", as: String.self))
    }

    public func `operator`(_ id: String, account: AccountID) async throws -> Operator? {
        try await sql.raw(
            "SELECT * FROM operators WHERE id = \(bind: id) AND account_id = \(bind: account.rawValue)"
        ).first().map(Self.decodeOperator)
    }

    /// The account's operators, oldest first.
    public func operators(account: AccountID) async throws -> [Operator] {
        try await sql.raw(
            "SELECT * FROM operators WHERE account_id = \(bind: account.rawValue) ORDER BY created_at, id"
        ).all().map(Self.decodeOperator)
    }

    /// Records a login attempt's outcome: a good one clears the failures, a wrong one counts (and may lock).
    public func recordLogin(
        _ id: String,
        failedAttempts: Int,
        lockedUntil: Date?,
        loggedInAt: Date?
    ) async throws {
        try await sql.raw(
            """
            UPDATE operators SET failed_attempts = \(bind: Int64(failedAttempts)),
                locked_until = \(bind: lockedUntil?.millisecondsSince1970),
                last_login_at = COALESCE(\(bind: loggedInAt?.millisecondsSince1970), last_login_at)
            WHERE id = \(bind: id)
            """
        ).run()
    }

    /// Disables the account's operator: no login from now on. Returns it, or nil when there is none.
    public func disableOperator(_ id: String, account: AccountID) async throws -> Operator? {
        try await sql.raw(
            """
            UPDATE operators SET disabled_at = COALESCE(disabled_at, \(bind: nowMilliseconds))
            WHERE id = \(bind: id) AND account_id = \(bind: account.rawValue)
            """
        ).run()
        return try await `operator`(id, account: account)
    }

    static func decodeOperator(_ row: any SQLRow) throws -> Operator {
        let id = try row.decode(column: "id", as: String.self)
        let roleText = try row.decode(column: "role", as: String.self)
        guard let role = Role(rawValue: roleText) else {
            throw StoreError(code: .invalidInput, message: "Operator \(id) has an unknown role \(roleText).")
        }
        func date(_ column: String) throws -> Date? {
            try row.decode(column: column, as: Int64?.self).map(Date.init(millisecondsSince1970:))
        }
        return Operator(
            id: id,
            account: AccountID(rawValue: try row.decode(column: "account_id", as: String.self)),
            name: try row.decode(column: "name", as: String.self),
            role: role,
            scope: try decodeScope(try row.decode(column: "connection_ids", as: String?.self)),
            createdAt: Date(millisecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
            createdBy: try row.decode(column: "created_by", as: String.self),
            lastLoginAt: try date("last_login_at"),
            failedAttempts: try row.decode(column: "failed_attempts", as: Int.self),
            lockedUntil: try date("locked_until"),
            disabledAt: try date("disabled_at")
        )
    }
}
