import FlexCore
import Foundation
import SQLKit

extension StoreSession {
    /// Appends entries to the configuration change log. Call it in the transaction that makes the change, so that
    /// the log and the change commit together.
    /// A change of no connection (an API key, an operator) names the account it belongs to.
    public func recordChanges(
        _ changes: [SettingChange],
        connectionID: ConnectionID?,
        account: AccountID? = nil,
        actor: String
    ) async throws {
        let now = nowMilliseconds
        for change in changes {
            try await sql.raw(
                """
                INSERT INTO config_changes (connection_id, account_id, setting, old_value, new_value, actor, changed_at)
                VALUES (\(bind: connectionID?.rawValue), \(bind: account?.rawValue), \(bind: change.setting),
                    \(bind: change.oldValue), \(bind: change.newValue), \(bind: actor), \(bind: now))
                """
            ).run()
        }
    }

    /// The account's changes of no connection (API keys, operators), newest first.
    public func accountChanges(account: AccountID, limit: Int = 100) async throws -> [ConfigChange] {
        try await sql.raw(
            """
            SELECT * FROM config_changes WHERE connection_id IS NULL AND account_id = \(bind: account.rawValue)
            ORDER BY id DESC LIMIT \(literal: limit)
            """
        ).all().map(Self.decodeChange)
    }

    /// The change log, newest first, for one connection or for everything; `before` pages back through it.
    public func configChanges(
        connectionID: ConnectionID? = nil,
        before: Int64? = nil,
        limit: Int = 100
    ) async throws
        -> [ConfigChange]
    {
        let cursor = before ?? Int64.max
        let rows =
            if let connectionID {
                try await sql.raw(
                    """
                    SELECT * FROM config_changes WHERE connection_id = \(bind: connectionID.rawValue) AND id < \(bind: cursor)
                    ORDER BY id DESC LIMIT \(literal: limit)
                    """
                ).all()
            } else {
                try await sql.raw(
                    "SELECT * FROM config_changes WHERE id < \(bind: cursor) ORDER BY id DESC LIMIT \(literal: limit)"
                ).all()
            }
        return try rows.map(Self.decodeChange)
    }

    static func decodeChange(_ row: any SQLRow) throws -> ConfigChange {
        ConfigChange(
            id: try row.decode(column: "id", as: Int64.self),
            connectionID: try row.decode(column: "connection_id", as: String?.self).map(
                ConnectionID.init(rawValue:)
            ),
            setting: try row.decode(column: "setting", as: String.self),
            oldValue: try row.decode(column: "old_value", as: String?.self),
            newValue: try row.decode(column: "new_value", as: String?.self),
            actor: try row.decode(column: "actor", as: String.self),
            changedAt: Date(millisecondsSince1970: try row.decode(column: "changed_at", as: Int64.self))
        )
    }
}
