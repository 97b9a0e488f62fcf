import FlexCore
import Foundation
import SQLKit

extension StoreSession {
    /// Stores a new account; a name already taken is a conflict.
    public func insertAccount(_ account: Account) async throws {
        let name = account.name.trimmingCharacters(in: .whitespaces)
        guard (1...200).contains(name.count), !name.contains("\u{0}") else {
            throw StoreError(
                code: .invalidInput,
                message: "An account's name must be 1 to 200 characters, got \(name.count)."
            )
        }
        guard try await self.account(account.id) == nil else {
            throw StoreError(code: .conflict, message: "Account \(account.id) exists already.")
        }
        try await sql.raw(
            """
            INSERT INTO accounts (id, name, created_at)
            VALUES (\(bind: account.id.rawValue), \(bind: name), \(bind: account.createdAt.millisecondsSince1970))
            """
        ).run()
    }

    public func account(_ id: AccountID) async throws -> Account? {
        try await sql.raw("SELECT * FROM accounts WHERE id = \(bind: id.rawValue)").first().map(Self.decodeAccount)
    }

    /// Every account, oldest first.
    public func accounts() async throws -> [Account] {
        try await sql.raw("SELECT * FROM accounts ORDER BY created_at, id").all().map(Self.decodeAccount)
    }

    private static func decodeAccount(_ row: any SQLRow) throws -> Account {
        Account(
            id: AccountID(rawValue: try row.decode(column: "id", as: String.self)),
            name: try row.decode(column: "name", as: String.self),
            createdAt: Date(millisecondsSince1970: try row.decode(column: "created_at", as: Int64.self))
        )
    }
}
