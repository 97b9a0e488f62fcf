import Algorithms
import FlexCore
import Foundation
import SQLKit

/// What a stock write changed.
public struct StockWrite: Sendable, Hashable {
    /// Stock levels whose quantity changed (or that are new).
    public var changedLevels: Int
    /// Inventory items (location × merchant SKU × channel) made pending by the write.
    public var changedItems: Int
    /// The connections whose inventory workers have work now.
    public var connections: Set<ConnectionID>
    /// Hubs of the write that no connection maps to an Amazon location: recorded, but sent nowhere yet.
    public var unmappedHubs: [HubCode] = []
}

/// The stock of one WMS SKU, for `GET /api/v1/stock/{sku}`.
public struct StockStatus: Sendable, Hashable {
    public struct HubLevel: Sendable, Hashable {
        public var hub: HubCode
        public var quantity: Int
        public var updatedAt: Date
    }

    public var warehouseSKU: WarehouseSKU
    public var hubs: [HubLevel]
    public var items: [InventoryItemStatus]
}

extension StoreSession {
    /// The most stock levels one write takes: 100,000 rows, the size of a large seller's whole catalogue.
    public static let maximumStockLevelsPerWrite = 100_000

    /// Records the WMS's stock levels of the account's hubs (latest wins: a hub and SKU given twice keeps the last)
    /// and makes every inventory item they feed — on the account's connections only — pending; a level whose
    /// quantity did not change changes nothing.
    ///
    /// Validates everything first: one bad level refuses the whole write, naming it as `items[i].field`.
    /// `trace`: the traced request the levels came with, kept with each item they change for its push to continue.
    public func recordStock(
        _ levels: [StockLevel],
        account: AccountID,
        trace: TraceContext? = nil
    ) async throws -> StockWrite {
        guard levels.count <= Self.maximumStockLevelsPerWrite else {
            throw ValidationError(
                field: "items",
                reason: "holds \(levels.count) levels; at most \(Self.maximumStockLevelsPerWrite) per write"
            )
        }
        var latest: [StockKey: Int] = [:]
        var order: [StockKey] = []
        for (index, level) in levels.enumerated() {
            do {
                try level.validate()
            } catch {
                throw ValidationError(field: "items[\(index)].\(error.field)", reason: error.reason)
            }
            let key = StockKey(hub: level.hub.rawValue, sku: level.warehouseSKU.rawValue)
            if latest.updateValue(level.quantity, forKey: key) == nil { order.append(key) }
        }
        // Read before any row is locked, so that the write holds its locks no longer for it.
        let hubs = Set(order.map(\.hub)).sorted()
        var mapped: Set<String> = []
        for chunk in hubs.chunks(ofCount: 500) {
            // Hub first, then its connection's account: SQLite, left to choose, read every connection of the
            // account and looked each hub up under each (90 ms for 500 hubs of 1,000 connections, against 1 ms).
            let rows = try await sql.raw(
                """
                SELECT DISTINCT m.hub FROM location_mappings m WHERE m.hub IN (\(binds: Array(chunk)))
                AND EXISTS (SELECT 1 FROM connections c WHERE c.id = m.connection_id
                    AND c.account_id = \(bind: account.rawValue))
                """
            ).all()
            for row in rows { mapped.insert(try row.decode(column: "hub", as: String.self)) }
        }
        // The account's connections that send MFN stock from one of these hubs: their listings worker sums the
        // hubs again after the write (no join over the listings on the write's path). Such a hub is mapped too.
        let written = Set(hubs)
        let mfn = try await mfnStockSenders(of: account).filter { sender in
            sender.hubs.contains { written.contains($0.rawValue) }
        }
        for sender in mfn { mapped.formUnion(sender.hubs.map(\.rawValue)) }
        let unmapped = hubs.filter { !mapped.contains($0) }.map(HubCode.init(rawValue:))
        // Rows are locked in one order, whatever order the WMS sent them in, so that two writes sharing SKUs wait
        // for each other instead of deadlocking on PostgreSQL.
        order.sort { ($0.hub, $0.sku) < ($1.hub, $1.sku) }
        let now = nowMilliseconds
        let writeID = Int64.random(in: 1...Int64.max)
        var changedLevels = 0
        for chunk in order.chunks(ofCount: 500) {
            let insert = sql.insert(into: "stock_levels").columns(
                "account_id",
                "hub",
                "warehouse_sku",
                "quantity",
                "updated_at",
                "write_id",
                "trace_context"
            )
            for key in chunk {
                insert.values(
                    SQLBind(account.rawValue),
                    SQLBind(key.hub),
                    SQLBind(key.sku),
                    SQLBind(Int64(latest[key]!)),
                    SQLBind(now),
                    SQLBind(writeID),
                    SQLBind(trace?.stored)
                )
            }
            insert.onConflict(with: ["account_id", "hub", "warehouse_sku"]) { update in
                update.set(excludedValueOf: "quantity").set(excludedValueOf: "updated_at").set(
                    excludedValueOf: "write_id"
                ).set(excludedValueOf: "trace_context")
                    .where(SQLColumn("quantity", table: "stock_levels"), .notEqual, SQLExcludedColumn("quantity"))
            }
            // Rows inserted or updated; a level whose quantity is unchanged is skipped by the WHERE and not returned.
            changedLevels += try await insert.returning("hub").all().count
        }
        guard changedLevels > 0 else {
            return StockWrite(changedLevels: 0, changedItems: 0, connections: [], unmappedHubs: unmapped)
        }
        notes.note(.listings, for: mfn.map(\.id))
        let changed = try await spreadStock(filter: "s.write_id = \(bind: writeID)", stockWrite: true)
        return StockWrite(
            changedLevels: changedLevels,
            changedItems: changed.count,
            connections: Set(changed),
            unmappedHubs: unmapped
        )
    }

    /// The account's connections that send MFN stock (to at least one marketplace), with the hubs they sum. Every
    /// stock write reads it: three columns, the JSON decoded once per text.
    func mfnStockSenders(of account: AccountID) async throws -> [(id: ConnectionID, hubs: [HubCode])] {
        try await sql.raw(
            """
            SELECT id, marketplace_ids, settings FROM connections
            WHERE account_id = \(bind: account.rawValue) AND sends_mfn_stock = 1
            """
        ).all().compactMap { row in
            let settings = try Self.decodedSettings.value(for: try row.decode(column: "settings", as: String.self))
            guard !settings.mfnStockHubs.isEmpty else { return nil }
            let marketplaces = try Self.decodedMarketplaces.value(
                for: try row.decode(column: "marketplace_ids", as: String.self)
            )
            guard !Connection.mfnStockMarketplaceIDs(of: marketplaces, settings: settings).isEmpty else { return nil }
            return (ConnectionID(rawValue: try row.decode(column: "id", as: String.self)), settings.mfnStockHubs)
        }
    }

    /// Brings the connection's inventory items in line with its hub mappings and listings: after a hub is mapped or
    /// listings are imported, the stock already recorded for them becomes pending.
    @discardableResult
    public func refreshInventoryItems(connectionID: ConnectionID) async throws -> Int {
        try await spreadStock(filter: "m.connection_id = \(bind: connectionID.rawValue)").count
    }

    /// Inserts or updates the inventory items fed by the stock levels `filter` selects (SQL over `s`, `m` and `l`),
    /// bumping the version of those whose quantity, hub or marketplace changed. Returns the connection of each row
    /// that changed.
    /// A `stockWrite` wakes the inventory workers only; anything else (a mapping, listings) the MFN listings too.
    private func spreadStock(filter: SQLQueryString, stockWrite: Bool = false) async throws -> [ConnectionID] {
        // Rows are locked in the order of `InventoryKey`'s `<`, which compares code points: PostgreSQL's "C"
        // collation, whatever the database's own.
        let binary = kind == .postgres ? #" COLLATE "C""# : ""
        let changed = try await sql.raw(
            """
            INSERT INTO inventory_items (connection_id, location_id, merchant_sku, channel, marketplace_id, hub,
                warehouse_sku, free_quantity, version, changed_at, amazon_sequence, trace_context)
            SELECT m.connection_id, m.location_id, l.merchant_sku, m.channel, l.marketplace_id, s.hub, s.warehouse_sku,
                s.quantity, 1, s.updated_at, f.sequence, \(unsafeRaw: stockWrite ? "s.trace_context" : "NULL")
            FROM stock_levels s
            JOIN location_mappings m ON m.hub = s.hub
            JOIN connections c ON c.id = m.connection_id AND c.account_id = s.account_id
            JOIN listings l ON l.connection_id = m.connection_id AND l.warehouse_sku = s.warehouse_sku
            LEFT JOIN sequence_floors f ON f.connection_id = m.connection_id AND f.location_id = m.location_id
                AND f.merchant_sku = l.merchant_sku AND f.channel = m.channel
            WHERE \(filter)
            ORDER BY m.connection_id\(unsafeRaw: binary), m.location_id\(unsafeRaw: binary), l.merchant_sku\(unsafeRaw: binary), m.channel\(unsafeRaw: binary)
            ON CONFLICT (connection_id, location_id, merchant_sku, channel) DO UPDATE SET
                free_quantity = excluded.free_quantity, hub = excluded.hub, warehouse_sku = excluded.warehouse_sku,
                marketplace_id = excluded.marketplace_id, version = inventory_items.version + 1,
                changed_at = excluded.changed_at, retiring = 0, trace_context = excluded.trace_context
            WHERE inventory_items.free_quantity <> excluded.free_quantity OR inventory_items.hub <> excluded.hub
                OR inventory_items.warehouse_sku <> excluded.warehouse_sku
                OR inventory_items.marketplace_id <> excluded.marketplace_id OR inventory_items.retiring <> 0
            RETURNING connection_id
            """
        ).all().map { ConnectionID(rawValue: try $0.decode(column: "connection_id", as: String.self)) }
        if stockWrite { notes.noteStockWritten(for: changed) } else { notes.note(.inventory, for: changed) }
        return changed
    }

    /// Records the last sequence numbers another connector used (a seller moving to FlexBridge), so that the first
    /// update of each item is above them; items that exist already take the larger number. Returns how many were
    /// recorded.
    public func importSequenceNumbers(_ floors: [(InventoryKey, Int64)]) async throws -> Int {
        for (index, (key, number)) in floors.enumerated() where number < 0 {
            throw ValidationError(
                field: "items[\(index)].sequenceNumber",
                reason: "must be 0 or more, got \(number) for \(key.merchantSKU)"
            )
        }
        for chunk in floors.chunks(ofCount: 500) {
            let insert = sql.insert(into: "sequence_floors").columns(
                "connection_id",
                "location_id",
                "merchant_sku",
                "channel",
                "sequence"
            )
            for (key, number) in chunk {
                insert.values(
                    SQLBind(key.connectionID.rawValue),
                    SQLBind(key.locationID.rawValue),
                    SQLBind(key.merchantSKU.rawValue),
                    SQLBind(key.channel.rawValue),
                    SQLBind(number)
                )
            }
            insert.onConflict(with: ["connection_id", "location_id", "merchant_sku", "channel"]) {
                $0.set(excludedValueOf: "sequence")
            }
            try await insert.run()
        }
        for (key, number) in floors {
            try await sql.raw(
                """
                UPDATE inventory_items SET amazon_sequence = \(bind: number)
                WHERE \(key.predicate) AND (amazon_sequence IS NULL OR amazon_sequence < \(bind: number))
                """
            ).run()
        }
        return floors.count
    }

    /// Makes every item of the connection pending again (settings that change quantities, a full resync). With
    /// `resend`, items are sent even when the quantity is the one Amazon already holds.
    @discardableResult
    public func markInventoryPending(connectionID: ConnectionID, resend: Bool) async throws -> Int {
        let rows = try await sql.raw(
            """
            UPDATE inventory_items SET version = version + 1, changed_at = \(bind: nowMilliseconds),
                retry_at = 0, attempts = 0\(unsafeRaw: resend ? ", sent_quantity = NULL" : "")
            WHERE connection_id = \(bind: connectionID.rawValue)
            RETURNING 1 AS one
            """
        ).all()
        notes.noteInventoryChanged(connectionID)
        return rows.count
    }

    /// How many of the connection's items wait to reach Amazon (refused ones excluded).
    public func pendingInventoryCount(connectionID: ConnectionID) async throws -> Int {
        let row = try await sql.raw(
            """
            SELECT COUNT(*) AS n FROM inventory_items WHERE connection_id = \(bind: connectionID.rawValue)
                AND version > synced_version AND version > failed_version
            """
        ).first()
        return Int(try row?.decode(column: "n", as: Int64.self) ?? 0)
    }

    /// The connection's status and settings, with the time its first pending stock item is due (nil: nothing
    /// pending), in one statement of three columns: what an inventory round looks at before it claims anything, a
    /// thousand times a second on a busy node. Nil when the connection does not exist.
    public func inventorySyncState(
        _ connectionID: ConnectionID
    ) async throws -> (
        sync: ConnectionSyncState, due: Date?
    )? {
        guard
            let row = try await sql.raw(
                """
                SELECT c.status, c.settings,
                    (SELECT MIN(i.retry_at) FROM inventory_items i WHERE i.connection_id = c.id
                        AND i.version > i.synced_version AND i.version > i.failed_version) AS due
                FROM connections c WHERE c.id = \(bind: connectionID.rawValue)
                """
            ).first()
        else { return nil }
        return (
            try Self.decodeSyncState(row),
            try row.decode(column: "due", as: Int64?.self).map(Date.init(millisecondsSince1970:))
        )
    }

    /// The connection's status and settings alone (nil when it does not exist): read inside a claim's transaction.
    public func connectionSyncState(_ connectionID: ConnectionID) async throws -> ConnectionSyncState? {
        try await sql.raw("SELECT status, settings FROM connections WHERE id = \(bind: connectionID.rawValue)")
            .first().map(Self.decodeSyncState)
    }

    /// Claims up to `limit` pending items of the connection, oldest change first, computes what to send from the
    /// settings, and stores each item's new sequence number before returning it. Items whose quantity Amazon holds
    /// already are marked synced without a call.
    public func claimInventory(
        connectionID: ConnectionID,
        settings: ConnectionSettings,
        limit: Int
    ) async throws -> (updates: [InventoryUpdate], examined: Int) {
        let now = nowMilliseconds
        let rows = try await sql.raw(
            """
            SELECT * FROM inventory_items WHERE connection_id = \(bind: connectionID.rawValue)
                AND version > synced_version AND version > failed_version AND retry_at <= \(bind: now)
            ORDER BY changed_at, location_id, merchant_sku, channel
            LIMIT \(literal: Int64(limit))
            """
        ).all()
        var updates: [InventoryUpdate] = []
        let locations = rows.isEmpty ? [:] : try await locationStates(connectionID: connectionID)
        // Written in key order, as stock writes and answers are, so that they wait for each other on PostgreSQL
        // instead of deadlocking.
        for item in try rows.map(InventoryRow.init).sorted(by: { $0.key < $1.key }) {
            let reserved = item.amazonReserved ?? 0
            let offer = locations[item.key.locationID]?.offer(item.key.merchantSKU) ?? .everything
            let quantity =
                item.retiring
                ? 0
                : InventoryRules.quantityToSend(
                    free: item.free,
                    reserved: reserved,
                    hub: item.hub,
                    sku: item.warehouseSKU,
                    settings: settings,
                    offer: offer
                )
            let reservedIncluded = settings.sendZeroForAll || item.retiring || offer == .nothing ? nil : reserved
            let amazonHoldsIt =
                item.sentQuantity == quantity && item.sequence != nil && item.amazonSequence == item.sequence
                && (reservedIncluded == nil || item.sentReserved == reservedIncluded) && item.errorCode == nil
            if amazonHoldsIt {
                try await sql.raw(
                    "UPDATE inventory_items SET synced_version = version WHERE \(item.key.predicate)"
                ).run()
                continue
            }
            guard
                let sequence = InventoryRules.nextSequenceNumber(
                    now: Date(millisecondsSince1970: now),
                    lastUsed: item.sequence,
                    lastSeenAtAmazon: item.amazonSequence
                )
            else {
                // A number stored before imports were bounded leaves no larger one: the item is held with a reason
                // the seller sees, instead of a worker that traps on every start.
                try await sql.raw(
                    """
                    UPDATE inventory_items SET failed_version = version, error_code = 'SEQUENCE_NUMBERS_EXHAUSTED',
                        error_message = \(bind: "The last sequence number used or seen at Amazon for this item is the largest there is, so no newer quantity can be sent. Ask Amazon's support to reset the item's sequence number."),
                        error_actionable = 1, error_at = \(bind: now)
                    WHERE \(item.key.predicate)
                    """
                ).run()
                continue
            }
            try await sql.raw(
                "UPDATE inventory_items SET sequence = \(bind: sequence) WHERE \(item.key.predicate)"
            ).run()
            updates.append(
                InventoryUpdate(
                    key: item.key,
                    marketplaceID: item.marketplaceID,
                    version: item.version,
                    quantity: quantity,
                    reservedIncluded: reservedIncluded,
                    sequenceNumber: sequence,
                    changedAt: Date(millisecondsSince1970: item.changedAt),
                    retiring: item.retiring,
                    trace: item.trace
                )
            )
        }
        return (updates, rows.count)
    }

    /// Records what Amazon answered for each item.
    public func recordInventoryOutcomes(_ outcomes: [InventoryOutcome]) async throws {
        let now = nowMilliseconds
        // In key order, as stock writes lock the same rows (see `spreadStock`).
        for outcome in outcomes.sorted(by: { $0.key < $1.key }) {
            switch outcome {
            case .applied(let update, let stock):
                let reservationMoved = InventoryMachine.reservationMoved(update, stock: stock)
                // The write's trace ends with its push, unless a newer write (with its own) came meanwhile: a later
                // push no write asked for (a resync, a reservation moved) starts a trace of its own.
                try await sql.raw(
                    """
                    UPDATE inventory_items SET
                        synced_version = CASE WHEN synced_version < \(bind: update.version) THEN \(bind: update.version) ELSE synced_version END,
                        version = version + \(bind: reservationMoved ? 1 : 0),
                        sent_quantity = \(bind: Int64(update.quantity)), sent_reserved = \(bind: update.reservedIncluded.map(Int64.init)),
                        sent_at = \(bind: now), amazon_sellable = \(bind: Int64(stock.sellable)),
                        amazon_reserved = \(bind: Int64(stock.reserved)),
                        amazon_sequence = \(bind: stock.sequenceNumber ?? update.sequenceNumber), amazon_at = \(bind: now),
                        error_code = NULL, error_message = NULL, error_actionable = NULL, error_at = NULL,
                        attempts = 0, retry_at = 0,
                        trace_context = CASE WHEN version = \(bind: update.version) THEN NULL ELSE trace_context END
                    WHERE \(update.key.predicate)
                    """
                ).run()
                try await removeRetired(update)
            case .staleSequence(let key, let stock):
                try await sql.raw(
                    """
                    UPDATE inventory_items SET amazon_sellable = \(bind: Int64(stock.sellable)),
                        amazon_reserved = \(bind: Int64(stock.reserved)), amazon_sequence = \(bind: stock.sequenceNumber),
                        amazon_at = \(bind: now), error_code = 'STALE_SEQUENCE_NUMBER',
                        error_message = \(bind: "Amazon holds sequence number \(stock.sequenceNumber.map(String.init) ?? "?"); sending again above it."),
                        error_actionable = 0, error_at = \(bind: now)
                    WHERE \(key.predicate)
                    """
                ).run()
            case .refused(let update, let code, let message):
                try await sql.raw(
                    """
                    UPDATE inventory_items SET failed_version = \(bind: update.version), sent_at = \(bind: now),
                        error_code = \(bind: code), error_message = \(bind: message), error_actionable = 1,
                        error_at = \(bind: now), attempts = 0, retry_at = 0
                    WHERE \(update.key.predicate)
                    """
                ).run()
                try await removeRetired(update)
            case .failed(let key, let code, let message, let retryAt):
                try await sql.raw(
                    """
                    UPDATE inventory_items SET error_code = \(bind: code), error_message = \(bind: message),
                        error_actionable = 0, error_at = \(bind: now), attempts = attempts + 1,
                        retry_at = \(bind: retryAt.millisecondsSince1970)
                    WHERE \(key.predicate)
                    """
                ).run()
            case .fetched(let key, let stock):
                guard let row = try await sql.raw("SELECT * FROM inventory_items WHERE \(key.predicate)").first() else {
                    continue
                }
                let item = try InventoryRow(row)
                let drift = InventoryMachine.drift(
                    of: InventoryMachine.Sent(
                        version: item.version,
                        syncedVersion: item.syncedVersion,
                        sentQuantity: item.sentQuantity,
                        sentReserved: item.sentReserved,
                        amazonSequence: item.amazonSequence
                    ),
                    fetched: stock
                )
                try await sql.raw(
                    """
                    UPDATE inventory_items SET version = version + \(bind: drift.resend ? 1 : 0),
                        sent_quantity = \(bind: drift.foreign ? nil : item.sentQuantity.map(Int64.init)),
                        amazon_sellable = \(bind: Int64(stock.sellable)), amazon_reserved = \(bind: Int64(stock.reserved)),
                        amazon_sequence = \(bind: stock.sequenceNumber ?? item.amazonSequence), amazon_at = \(bind: now)
                    WHERE \(key.predicate)
                    """
                ).run()
            }
        }
    }

    /// Removes a retiring item once the update just recorded was its last: Amazon holds 0 (or refused the 0, so
    /// it sells nothing of it) and nothing changed since.
    private func removeRetired(_ update: InventoryUpdate) async throws {
        guard update.retiring else { return }
        // The item's last sequence number outlives it, so that the same SKU mapped or listed again starts above it.
        try await sql.raw(
            """
            INSERT INTO sequence_floors (connection_id, location_id, merchant_sku, channel, sequence)
            SELECT connection_id, location_id, merchant_sku, channel, sequence FROM inventory_items
            WHERE \(update.key.predicate) AND retiring <> 0 AND version = \(bind: update.version) AND sequence IS NOT NULL
            ON CONFLICT (connection_id, location_id, merchant_sku, channel) DO UPDATE SET sequence = excluded.sequence
            WHERE sequence_floors.sequence < excluded.sequence
            """
        ).run()
        try await sql.raw(
            """
            DELETE FROM inventory_items WHERE \(update.key.predicate) AND retiring <> 0 AND version = \(bind: update.version)
            """
        ).run()
    }

    /// Retires the connection's items that `filter` (SQL over the item's columns) selects, because the hub mapping or
    /// listing that fed them is gone: items Amazon was never sent go at once; the others become pending with 0 to
    /// send, and go when Amazon has applied it. Returns how many items will be sent 0.
    func retireInventoryItems(connectionID: ConnectionID, where filter: SQLQueryString) async throws -> Int {
        try await sql.raw(
            "DELETE FROM inventory_items WHERE connection_id = \(bind: connectionID.rawValue) AND sequence IS NULL AND \(filter)"
        ).run()
        let retired = try await sql.raw(
            """
            UPDATE inventory_items SET retiring = 1, version = version + 1, changed_at = \(bind: nowMilliseconds), retry_at = 0, attempts = 0
            WHERE connection_id = \(bind: connectionID.rawValue) AND \(filter)
            RETURNING 1 AS one
            """
        ).all().count
        if retired > 0 { notes.noteInventoryChanged(connectionID) }
        return retired
    }

    /// Items of the connection that Amazon was told about, in key order after `after`, for reconciliation.
    public func syncedInventoryKeys(
        connectionID: ConnectionID,
        after: InventoryKey?,
        limit: Int
    ) async throws -> [(InventoryKey, MarketplaceID)] {
        var query: SQLQueryString =
            "SELECT * FROM inventory_items WHERE connection_id = \(bind: connectionID.rawValue) AND sequence IS NOT NULL AND retiring = 0"
        if let after {
            query += """
                 AND (location_id, merchant_sku, channel) > (\(bind: after.locationID.rawValue), \(bind: after.merchantSKU.rawValue), \
                \(bind: after.channel.rawValue))
                """
        }
        query += " ORDER BY location_id, merchant_sku, channel LIMIT \(literal: Int64(limit))"
        return try await sql.raw(query).all().map { row in
            let item = try InventoryRow(row)
            return (item.key, item.marketplaceID)
        }
    }

    /// The hubs' levels of a WMS SKU and every inventory item it feeds, with what would be sent now.
    public func stockStatus(of sku: WarehouseSKU, account: AccountID) async throws -> StockStatus {
        let hubs = try await sql.raw(
            """
            SELECT * FROM stock_levels WHERE account_id = \(bind: account.rawValue) AND warehouse_sku = \(bind: sku.rawValue)
            ORDER BY hub
            """
        ).all().map { row in
            StockStatus.HubLevel(
                hub: HubCode(rawValue: try row.decode(column: "hub", as: String.self)),
                quantity: Int(try row.decode(column: "quantity", as: Int64.self)),
                updatedAt: Date(millisecondsSince1970: try row.decode(column: "updated_at", as: Int64.self))
            )
        }
        let items = try await inventoryItems(
            InventoryItemFilter(accountID: account, warehouseSKU: sku),
            after: nil,
            limit: .max
        )
        return StockStatus(warehouseSKU: sku, hubs: hubs, items: items)
    }
}

extension StoreSession {
    /// Which inventory items a list shows.
    public struct InventoryItemFilter: Sendable {
        public enum Status: String, Sendable { case pending, failed, synced }
        /// Only items of this account's connections.
        public var accountID: AccountID?
        public var connectionID: ConnectionID?
        /// Only items of these connections (those a principal may see); any when nil.
        public var within: [ConnectionID]?
        public var locationID: LocationID?
        public var hub: HubCode?
        public var warehouseSKU: WarehouseSKU?
        public var status: Status?

        public init(
            accountID: AccountID? = nil,
            connectionID: ConnectionID? = nil,
            within: [ConnectionID]? = nil,
            locationID: LocationID? = nil,
            hub: HubCode? = nil,
            warehouseSKU: WarehouseSKU? = nil,
            status: Status? = nil
        ) {
            self.accountID = accountID
            self.connectionID = connectionID
            self.within = within
            self.locationID = locationID
            self.hub = hub
            self.warehouseSKU = warehouseSKU
            self.status = status
        }

        static let pending: SQLQueryString = "(version > synced_version AND version > failed_version)"
        static let failed: SQLQueryString = "(error_code IS NOT NULL)"

        /// The WHERE clause, status left out when `withStatus` is false.
        func clause(withStatus: Bool = true) -> SQLQueryString {
            var query: SQLQueryString = "WHERE 1 = 1"
            if let accountID {
                query +=
                    " AND connection_id IN (SELECT id FROM connections WHERE account_id = \(bind: accountID.rawValue))"
            }
            if let connectionID { query += " AND connection_id = \(bind: connectionID.rawValue)" }
            if let within { query += " AND \(StoreSession.within("connection_id", within))" }
            if let locationID { query += " AND location_id = \(bind: locationID.rawValue)" }
            if let hub { query += " AND hub = \(bind: hub.rawValue)" }
            if let warehouseSKU { query += " AND warehouse_sku = \(bind: warehouseSKU.rawValue)" }
            switch withStatus ? status : nil {
            case .pending?: query += " AND \(Self.pending)"
            case .failed?: query += " AND \(Self.failed)"
            case .synced?: query += " AND NOT \(Self.pending) AND NOT \(Self.failed)"
            case nil: break
            }
            return query
        }
    }

    /// Inventory items in key order (connection, location, merchant SKU, channel), after `after`.
    public func inventoryItems(
        _ filter: InventoryItemFilter,
        after: InventoryKey?,
        limit: Int
    ) async throws -> [InventoryItemStatus] {
        var query: SQLQueryString = "SELECT * FROM inventory_items \(filter.clause())"
        if let after {
            query += """
                 AND (connection_id, location_id, merchant_sku, channel) > (\(bind: after.connectionID.rawValue),
                    \(bind: after.locationID.rawValue), \(bind: after.merchantSKU.rawValue), \(bind: after.channel.rawValue))
                """
        }
        query += " ORDER BY connection_id, location_id, merchant_sku, channel LIMIT \(literal: Int64(limit))"
        var settings: [ConnectionID: ConnectionSettings] = [:]
        var locations: [ConnectionID: [LocationID: LocationState]] = [:]
        var items: [InventoryItemStatus] = []
        for row in try await sql.raw(query).all() {
            let item = try InventoryRow(row)
            if settings[item.key.connectionID] == nil {
                settings[item.key.connectionID] =
                    try await connection(item.key.connectionID)?.settings ?? ConnectionSettings()
                locations[item.key.connectionID] = try await locationStates(connectionID: item.key.connectionID)
            }
            let offer = locations[item.key.connectionID]?[item.key.locationID]?.offer(item.key.merchantSKU)
            items.append(item.status(settings: settings[item.key.connectionID]!, offer: offer ?? .everything))
        }
        return items
    }

    /// How many items the filter (its status left out) selects, are pending and failed.
    public func inventoryCounts(_ filter: InventoryItemFilter) async throws -> (total: Int, pending: Int, failed: Int) {
        let pending = InventoryItemFilter.pending
        let failed = InventoryItemFilter.failed
        guard
            let row = try await sql.raw(
                """
                SELECT COUNT(*) AS total, COALESCE(SUM(CASE WHEN \(pending) THEN 1 ELSE 0 END), 0) AS pending,
                    COALESCE(SUM(CASE WHEN \(failed) THEN 1 ELSE 0 END), 0) AS failed
                FROM inventory_items \(filter.clause(withStatus: false))
                """
            ).first()
        else { return (0, 0, 0) }
        return (
            Int(try row.decode(column: "total", as: Int64.self)),
            Int(try row.decode(column: "pending", as: Int64.self)),
            Int(try row.decode(column: "failed", as: Int64.self))
        )
    }
}

private struct StockKey: Hashable {
    var hub: String
    var sku: String
}

/// One row of `inventory_items`, decoded.
struct InventoryRow {
    var key: InventoryKey
    var marketplaceID: MarketplaceID
    var hub: HubCode
    var warehouseSKU: WarehouseSKU
    var free: Int
    var version: Int64
    var changedAt: Int64
    var syncedVersion: Int64
    var failedVersion: Int64
    var sequence: Int64?
    var sentQuantity: Int?
    var sentReserved: Int?
    var sentAt: Int64?
    var amazonSellable: Int?
    var amazonReserved: Int?
    var amazonSequence: Int64?
    var amazonAt: Int64?
    var errorCode: String?
    var errorMessage: String?
    var errorActionable: Bool
    var errorAt: Int64?
    /// The mapping or listing that fed the item is gone: 0 is sent, then the row goes.
    var retiring: Bool
    /// The trace of the stock write that changed the item last.
    var trace: TraceContext?

    init(_ row: any SQLRow) throws {
        let channelName = try row.decode(column: "channel", as: String.self)
        guard let channel = ChannelName(rawValue: channelName) else {
            throw StoreError(
                code: .invalidInput,
                message: "A stored inventory item has an unknown channel \(channelName)."
            )
        }
        key = InventoryKey(
            connectionID: ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self)),
            locationID: LocationID(rawValue: try row.decode(column: "location_id", as: String.self)),
            merchantSKU: MerchantSKU(rawValue: try row.decode(column: "merchant_sku", as: String.self)),
            channel: channel
        )
        marketplaceID = MarketplaceID(rawValue: try row.decode(column: "marketplace_id", as: String.self))
        hub = HubCode(rawValue: try row.decode(column: "hub", as: String.self))
        warehouseSKU = WarehouseSKU(rawValue: try row.decode(column: "warehouse_sku", as: String.self))
        free = Int(try row.decode(column: "free_quantity", as: Int64.self))
        version = try row.decode(column: "version", as: Int64.self)
        changedAt = try row.decode(column: "changed_at", as: Int64.self)
        syncedVersion = try row.decode(column: "synced_version", as: Int64.self)
        failedVersion = try row.decode(column: "failed_version", as: Int64.self)
        sequence = try row.decode(column: "sequence", as: Int64?.self)
        sentQuantity = try row.decode(column: "sent_quantity", as: Int64?.self).map(Int.init)
        sentReserved = try row.decode(column: "sent_reserved", as: Int64?.self).map(Int.init)
        sentAt = try row.decode(column: "sent_at", as: Int64?.self)
        amazonSellable = try row.decode(column: "amazon_sellable", as: Int64?.self).map(Int.init)
        amazonReserved = try row.decode(column: "amazon_reserved", as: Int64?.self).map(Int.init)
        amazonSequence = try row.decode(column: "amazon_sequence", as: Int64?.self)
        amazonAt = try row.decode(column: "amazon_at", as: Int64?.self)
        errorCode = try row.decode(column: "error_code", as: String?.self)
        errorMessage = try row.decode(column: "error_message", as: String?.self)
        errorActionable = (try row.decode(column: "error_actionable", as: Int64?.self) ?? 0) != 0
        errorAt = try row.decode(column: "error_at", as: Int64?.self)
        retiring = try row.decode(column: "retiring", as: Int64.self) != 0
        trace = TraceContext(stored: try row.decode(column: "trace_context", as: String?.self))
    }

    func status(settings: ConnectionSettings, offer: LocationState.Offer) -> InventoryItemStatus {
        InventoryItemStatus(
            connectionID: key.connectionID,
            locationID: key.locationID,
            channel: key.channel,
            marketplaceID: marketplaceID,
            merchantSKU: key.merchantSKU,
            hub: hub,
            warehouseSKU: warehouseSKU,
            desiredQuantity: free,
            changedAt: Date(millisecondsSince1970: changedAt),
            quantityToSend: retiring
                ? 0
                : InventoryRules.quantityToSend(
                    free: free,
                    reserved: amazonReserved ?? 0,
                    hub: hub,
                    sku: warehouseSKU,
                    settings: settings,
                    offer: offer
                ),
            pending: version > syncedVersion && version > failedVersion,
            retiring: retiring,
            lastSentQuantity: sentQuantity,
            lastSequenceNumber: sequence,
            lastSentAt: sentAt.map(Date.init(millisecondsSince1970:)),
            amazonSellableQuantity: amazonSellable,
            amazonReservedQuantity: amazonReserved,
            amazonSequenceNumber: amazonSequence,
            amazonReportedAt: amazonAt.map(Date.init(millisecondsSince1970:)),
            lastError: errorCode.map {
                InventoryError(
                    code: $0,
                    message: errorMessage ?? "",
                    actionable: errorActionable,
                    at: Date(millisecondsSince1970: errorAt ?? changedAt)
                )
            }
        )
    }
}

extension InventoryKey {
    /// The SQL that selects this item's row.
    var predicate: SQLQueryString {
        """
        connection_id = \(bind: connectionID.rawValue) AND location_id = \(bind: locationID.rawValue) \
        AND merchant_sku = \(bind: merchantSKU.rawValue) AND channel = \(bind: channel.rawValue)
        """
    }
}
