import FlexCore
import Foundation
import PostgresNIO
import SQLKit

extension StoreSession {
    /// Stores a new connection with its application's client secret sealed, and logs its creation.
    public func insertConnection(
        _ connection: Connection,
        clientSecret: String,
        actor: String
    ) async throws {
        try connection.validate()
        guard !clientSecret.isEmpty else {
            throw StoreError(code: .invalidInput, message: "clientSecret must not be empty.")
        }
        let sealedSecret = try secrets.seal(clientSecret, context: Self.secretContext(connection.id, "client_secret"))
        do {
            try await sql.raw(
                """
                INSERT INTO connections (id, account_id, name, selling_partner_id, region, marketplace_ids, application_client_id,
                    application_id, client_secret_sealed, refresh_token_sealed, status, endpoint_override, settings,
                    sends_mfn_stock, created_at, updated_at)
                VALUES (\(bind: connection.id.rawValue), \(bind: connection.accountID.rawValue), \(bind: connection.name), \(bind: connection.sellingPartnerID.rawValue),
                    \(bind: connection.region.rawValue), \(bind: try Self.json(connection.marketplaceIDs)),
                    \(bind: connection.applicationClientID), \(bind: connection.applicationID), \(bind: sealedSecret), NULL,
                    \(bind: connection.status.rawValue),
                    \(bind: connection.endpointOverride?.absoluteString), \(bind: try Self.json(connection.settings)),
                    \(bind: Self.sendsMFNStock(connection.settings)), \(bind: connection.createdAt.millisecondsSince1970), \(bind: connection.updatedAt.millisecondsSince1970))
                """
            ).run()
        } catch  where Self.isUniqueViolation(error) {
            throw StoreError(
                code: .conflict,
                message:
                    "A connection for seller \(connection.sellingPartnerID) in region \(connection.region.rawValue) exists already."
            )
        }
        try await recordChanges(
            [SettingChange(setting: "connection", oldValue: nil, newValue: "\"created\"")],
            connectionID: connection.id,
            actor: actor
        )
    }

    /// The connection with this id, or nil.
    public func connection(_ id: ConnectionID) async throws -> Connection? {
        try await sql.raw(
            "SELECT \(unsafeRaw: Self.connectionColumns) FROM connections WHERE id = \(bind: id.rawValue)"
        )
        .first().map(
            Self.decodeConnection
        )
    }

    /// The ids of the active connections: what the lease keeper works on every round, read without decoding the rest.
    public func activeConnectionIDs() async throws -> [ConnectionID] {
        try await sql.raw("SELECT id FROM connections WHERE status = \(bind: Connection.Status.active.rawValue)").all()
            .map { ConnectionID(rawValue: try $0.decode(column: "id", as: String.self)) }
    }

    /// The account's connections, oldest first.
    public func connections(of account: AccountID) async throws -> [Connection] {
        try await sql.raw(
            """
            SELECT \(unsafeRaw: Self.connectionColumns) FROM connections WHERE account_id = \(bind: account.rawValue)
            ORDER BY created_at, id
            """
        ).all().map(Self.decodeConnection)
    }

    /// Every connection, oldest first.
    public func connections() async throws -> [Connection] {
        try await sql.raw("SELECT \(unsafeRaw: Self.connectionColumns) FROM connections ORDER BY created_at, id").all()
            .map(Self.decodeConnection)
    }

    /// The connection's secrets, opened.
    public func credentials(for id: ConnectionID) async throws -> ConnectionCredentials {
        guard
            let row = try await sql.raw(
                "SELECT client_secret_sealed, refresh_token_sealed FROM connections WHERE id = \(bind: id.rawValue)"
            ).first()
        else { throw StoreError.notFound("Connection \(id)") }
        let secret = try secrets.open(
            try row.decode(column: "client_secret_sealed", as: String.self),
            context: Self.secretContext(id, "client_secret")
        )
        let token = try row.decode(column: "refresh_token_sealed", as: String?.self).map {
            try secrets.open($0, context: Self.secretContext(id, "refresh_token"))
        }
        return ConnectionCredentials(clientSecret: secret, refreshToken: token)
    }

    /// Stores the seller's refresh token (sealed) and makes the connection active.
    public func authorize(_ id: ConnectionID, refreshToken: String, actor: String) async throws {
        guard !refreshToken.isEmpty else {
            throw StoreError(code: .invalidInput, message: "refreshToken must not be empty.")
        }
        let sealed = try secrets.seal(refreshToken, context: Self.secretContext(id, "refresh_token"))
        let updated = try await sql.raw(
            """
            UPDATE connections SET refresh_token_sealed = \(bind: sealed), updated_at = \(bind: nowMilliseconds)
            WHERE id = \(bind: id.rawValue) RETURNING id
            """
        ).first()
        guard updated != nil else { throw StoreError.notFound("Connection \(id)") }
        notes.noteConnectionsChanged()
        try await recordChanges(
            [SettingChange(setting: "refreshToken", oldValue: nil, newValue: "\"<sealed>\"")],
            connectionID: id,
            actor: actor
        )
        try await setStatus(id, to: .active, actor: actor)
    }

    /// Disconnects the seller: the refresh token is forgotten and the connection disabled, so nothing more is sent to
    /// or read from Amazon for it; its orders, events, settings and change log stay. Consent given again (a new
    /// authorization link or refresh token) makes it active again.
    public func disconnect(_ id: ConnectionID, actor: String) async throws -> Connection {
        let updated = try await sql.raw(
            """
            UPDATE connections SET refresh_token_sealed = NULL, updated_at = \(bind: nowMilliseconds)
            WHERE id = \(bind: id.rawValue) RETURNING id
            """
        ).first()
        guard updated != nil else { throw StoreError.notFound("Connection \(id)") }
        try await recordChanges(
            [SettingChange(setting: "refreshToken", oldValue: "\"<sealed>\"", newValue: nil)],
            connectionID: id,
            actor: actor
        )
        try await setStatus(id, to: .disabled, actor: actor)
        guard let connection = try await connection(id) else { throw StoreError.notFound("Connection \(id)") }
        return connection
    }

    /// Moves the connection to `status`, logging the change if it is one.
    public func setStatus(_ id: ConnectionID, to status: Connection.Status, actor: String) async throws {
        guard let current = try await connection(id) else { throw StoreError.notFound("Connection \(id)") }
        guard current.status != status else { return }
        notes.noteConnectionsChanged()
        try await sql.raw(
            """
            UPDATE connections SET status = \(bind: status.rawValue), updated_at = \(bind: nowMilliseconds)
            WHERE id = \(bind: id.rawValue)
            """
        ).run()
        try await recordChanges(
            [
                SettingChange(
                    setting: "status",
                    oldValue: "\"\(current.status.rawValue)\"",
                    newValue: "\"\(status.rawValue)\""
                )
            ],
            connectionID: id,
            actor: actor
        )
    }

    /// Applies `change` to the connection's settings, validates the result and logs one change-log entry per
    /// setting that changed. Returns the new settings.
    @discardableResult
    public func updateSettings(
        of id: ConnectionID,
        actor: String,
        _ change: (inout ConnectionSettings) -> Void
    ) async throws -> ConnectionSettings {
        guard let current = try await connection(id) else { throw StoreError.notFound("Connection \(id)") }
        var settings = current.settings
        change(&settings)
        var changed = current
        changed.settings = settings
        try changed.validate()
        let changes = ConnectionSettings.changes(from: current.settings, to: settings)
        guard !changes.isEmpty else { return settings }
        notes.noteInventoryChanged(id)
        try await sql.raw(
            """
            UPDATE connections SET settings = \(bind: try Self.json(settings)),
                sends_mfn_stock = \(bind: Self.sendsMFNStock(settings)), updated_at = \(bind: nowMilliseconds)
            WHERE id = \(bind: id.rawValue)
            """
        ).run()
        try await recordChanges(changes, connectionID: id, actor: actor)
        if settings.changesQuantities(from: current.settings) {
            try await markInventoryPending(connectionID: id, resend: false)
        }
        if settings.changesQuantities(from: current.settings)
            || settings.mfnHandlingTime != current.settings.mfnHandlingTime
        {
            try await markListingItemsPending(connectionID: id)
        }
        if settings.fbaStockSyncEnabled != current.settings.fbaStockSyncEnabled
            || settings.fbaInboundSyncEnabled != current.settings.fbaInboundSyncEnabled
        {
            notes.note(.fba, for: [id])
        }
        return settings
    }

    // MARK: Helpers shared by the repositories

    /// `connections.sends_mfn_stock` for these settings: whether the connection sums hubs' stock for MFN listings, so
    /// that a stock write reads only such connections of its account, not all of them.
    static func sendsMFNStock(_ settings: ConnectionSettings) -> Int64 {
        settings.mfnStockHubs.isEmpty ? 0 : 1
    }

    static func secretContext(_ id: ConnectionID, _ field: String) -> String {
        "connection:\(id.rawValue):\(field)"
    }

    /// `column IN (…)` over the connections; never true for none.
    static func within(_ column: String, _ connections: [ConnectionID]) -> SQLQueryString {
        guard !connections.isEmpty else { return "1 = 0" }
        return "\(unsafeRaw: column) IN (\(binds: connections.map(\.rawValue)))"
    }

    static func json(_ value: some Encodable) throws -> String {
        try JSONText.encode(value)
    }

    /// Connections' settings by their stored text: every worker round reads its connection, and the settings are the
    /// costly part of decoding it; the same text always decodes to the same settings.
    static let decodedSettings = DecodedCache<ConnectionSettings>(capacity: 10_000)
    static let decodedMarketplaces = DecodedCache<[MarketplaceID]>(capacity: 10_000)
    /// What a ``Connection`` is read from: every worker reads its connection each round, so not the sealed secrets.
    static let connectionColumns = """
        id, account_id, name, selling_partner_id, region, marketplace_ids, application_client_id, application_id, \
        status, endpoint_override, settings, created_at, updated_at
        """

    static func fromJSON<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    /// Whether `error` is the database refusing a duplicate key, on either engine.
    static func isUniqueViolation(_ error: any Error) -> Bool {
        if let error = error as? SQLiteFailure {
            return error.isUniqueViolation
        }
        if let error = error as? PSQLError {
            return error.serverInfo?[.sqlState] == "23505"
        }
        return false
    }

    /// A row's `status` and `settings` columns.
    static func decodeSyncState(_ row: any SQLRow) throws -> ConnectionSyncState {
        let statusName = try row.decode(column: "status", as: String.self)
        guard let status = Connection.Status(rawValue: statusName) else {
            throw StoreError(code: .invalidInput, message: "A stored connection has an unknown status (\(statusName)).")
        }
        return ConnectionSyncState(
            status: status,
            settings: try decodedSettings.value(for: try row.decode(column: "settings", as: String.self))
        )
    }

    static func decodeConnection(_ row: any SQLRow) throws -> Connection {
        let regionName = try row.decode(column: "region", as: String.self)
        let statusName = try row.decode(column: "status", as: String.self)
        guard let region = Region(rawValue: regionName), let status = Connection.Status(rawValue: statusName) else {
            throw StoreError(
                code: .invalidInput,
                message: "A stored connection has an unknown region or status (\(regionName), \(statusName))."
            )
        }
        return Connection(
            id: ConnectionID(rawValue: try row.decode(column: "id", as: String.self)),
            accountID: AccountID(rawValue: try row.decode(column: "account_id", as: String.self)),
            name: try row.decode(column: "name", as: String.self),
            sellingPartnerID: SellingPartnerID(rawValue: try row.decode(column: "selling_partner_id", as: String.self)),
            region: region,
            marketplaceIDs: try decodedMarketplaces.value(
                for: try row.decode(column: "marketplace_ids", as: String.self)
            ),
            applicationClientID: try row.decode(column: "application_client_id", as: String.self),
            applicationID: try row.decode(column: "application_id", as: String?.self),
            status: status,
            endpointOverride: try row.decode(column: "endpoint_override", as: String?.self).flatMap(URL.init(string:)),
            settings: try decodedSettings.value(for: try row.decode(column: "settings", as: String.self)),
            createdAt: Date(millisecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Date(millisecondsSince1970: try row.decode(column: "updated_at", as: Int64.self))
        )
    }
}
