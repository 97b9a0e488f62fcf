import FlexCore
import Foundation
import SQLKit

extension StoreSession {
    /// Stores a command for an order under the caller's idempotency key. The same key with the same request
    /// returns the command stored first (`created` false); with another request it is refused.
    public func submitCommand(
        _ request: CommandRequest,
        fingerprint: String,
        for order: Order,
        idempotencyKey: String,
        requestedBy: String? = nil,
        trace: TraceContext? = nil
    ) async throws -> (command: FulfilmentCommand, created: Bool) {
        notes.note(.fulfilment, for: [order.connectionID])
        if let existing = try await existingCommand(
            idempotencyKey: idempotencyKey,
            fingerprint: fingerprint,
            for: order
        ) {
            return (existing, false)
        }
        let id = CommandID.generate()
        let now = nowMilliseconds
        // Insert or fetch: the same key sent twice at once inserts once; the second insert does nothing (on
        // PostgreSQL it waits for the first to commit) and then finds the first command.
        let inserted = try await sql.raw(
            """
            INSERT INTO order_commands (id, connection_id, shipment_id, idempotency_key, type, request, fingerprint, status,
                attempts, retry_at, created_at, updated_at, requested_by, trace_context)
            VALUES (\(bind: id), \(bind: order.connectionID.rawValue), \(bind: order.shipmentID), \(bind: idempotencyKey),
                \(bind: request.type.rawValue), \(bind: try Self.json(request)), \(bind: fingerprint), 'queued', 0, 0, \(bind: now), \(bind: now),
                \(bind: requestedBy), \(bind: trace?.stored))
            ON CONFLICT (connection_id, idempotency_key) DO NOTHING
            RETURNING id
            """
        ).first()
        guard inserted != nil else {
            guard
                let existing = try await existingCommand(
                    idempotencyKey: idempotencyKey,
                    fingerprint: fingerprint,
                    for: order
                )
            else {
                throw StoreError(
                    code: .conflict,
                    message:
                        "Idempotency key \(idempotencyKey) is taken by a command that cannot be read; send the request again."
                )
            }
            return (existing, false)
        }
        guard let stored = try await command(id) else {
            throw StoreError(code: .conflict, message: "Command \(id) vanished after it was stored.")
        }
        return (stored, true)
    }

    /// The command stored before under this key, if any; a conflict if it was stored for another request.
    public func existingCommand(
        idempotencyKey: String,
        fingerprint: String,
        for order: Order
    ) async throws -> FulfilmentCommand? {
        guard let existing = try await command(idempotencyKey: idempotencyKey, connectionID: order.connectionID) else {
            return nil
        }
        guard existing.fingerprint == fingerprint, existing.command.shipmentID == order.shipmentID else {
            throw StoreError(
                code: .conflict,
                message:
                    "Idempotency key \(idempotencyKey) was used for another request (command \(existing.command.id) on order \(existing.command.shipmentID)); use a new key for a new request."
            )
        }
        return existing.command
    }

    public func command(_ id: CommandID) async throws -> FulfilmentCommand? {
        try await sql.raw("SELECT * FROM order_commands WHERE id = \(bind: id)").first().map(Self.decodeCommand)
    }

    func command(
        idempotencyKey: String,
        connectionID: ConnectionID
    ) async throws -> (command: FulfilmentCommand, fingerprint: String)? {
        guard
            let row = try await sql.raw(
                "SELECT * FROM order_commands WHERE connection_id = \(bind: connectionID.rawValue) AND idempotency_key = \(bind: idempotencyKey)"
            ).first()
        else { return nil }
        return (try Self.decodeCommand(row), try row.decode(column: "fingerprint", as: String.self))
    }

    /// An order's commands, in the order they run.
    public func commands(shipmentID: ShipmentID, connectionID: ConnectionID) async throws -> [FulfilmentCommand] {
        try await sql.raw(
            """
            SELECT * FROM order_commands WHERE connection_id = \(bind: connectionID.rawValue) AND shipment_id = \(bind: shipmentID)
            ORDER BY sequence
            """
        ).all().map(Self.decodeCommand)
    }

    /// The commands due to run now: per order, only the first unfinished one, so that an order's commands run in
    /// the order given while different orders run side by side.
    public func dueCommands(
        connectionID: ConnectionID,
        types: [CommandType] = CommandType.allCases,
        limit: Int
    ) async throws -> [FulfilmentCommand] {
        guard !types.isEmpty else { return [] }
        return try await sql.raw(
            """
            SELECT c.* FROM order_commands c
            WHERE c.connection_id = \(bind: connectionID.rawValue) AND c.status IN ('queued', 'running') AND c.retry_at <= \(bind: nowMilliseconds)
                AND c.type IN (\(binds: types.map(\.rawValue)))
                AND NOT EXISTS (
                    SELECT 1 FROM order_commands e
                    WHERE e.connection_id = c.connection_id AND e.shipment_id = c.shipment_id
                        AND e.status IN ('queued', 'running') AND e.sequence < c.sequence)
            ORDER BY c.sequence LIMIT \(literal: Int64(limit))
            """
        ).all().map(Self.decodeCommand)
    }

    /// When the next command may run, if any is open: of each order only the first unfinished command counts, as
    /// in ``dueCommands(connectionID:types:limit:)`` — a command queued behind one waiting for its retry waits
    /// with it (it counted on its own, and the worker looked again every 50 ms until that retry).
    public func nextCommandRetry(connectionID: ConnectionID) async throws -> Date? {
        try await sql.raw(
            """
            SELECT MIN(c.retry_at) AS next FROM order_commands c
            WHERE c.connection_id = \(bind: connectionID.rawValue) AND c.status IN ('queued', 'running')
                AND NOT EXISTS (
                    SELECT 1 FROM order_commands e
                    WHERE e.connection_id = c.connection_id AND e.shipment_id = c.shipment_id
                        AND e.status IN ('queued', 'running') AND e.sequence < c.sequence)
            """
        ).first()?.decode(column: "next", as: Int64?.self).map(Date.init(millisecondsSince1970:))
    }

    /// Marks an attempt as started, committed before Amazon is called: an attempt that finds `attempts` above 1
    /// knows an earlier one may have reached Amazon. Returns the attempt's number, or nil when the command is no
    /// longer open (the order was cancelled).
    public func startCommand(_ id: CommandID) async throws -> Int? {
        try await sql.raw(
            """
            UPDATE order_commands SET status = 'running', attempts = attempts + 1, updated_at = \(bind: nowMilliseconds)
            WHERE id = \(bind: id) AND status IN ('queued', 'running')
            RETURNING attempts
            """
        ).first()?.decode(column: "attempts", as: Int.self)
    }

    /// Records how an attempt ended, with the order's error and the event. A command no longer running (cancelled
    /// meanwhile) is left as it is.
    public func finishCommand(_ command: FulfilmentCommand, _ outcome: CommandOutcome) async throws {
        let now = nowMilliseconds
        let connection = command.connectionID.rawValue
        let finish = CommandMachine.finish(command, outcome)
        if let retryAt = finish.retryAt {
            try await sql.raw(
                """
                UPDATE order_commands SET status = 'queued', retry_at = \(bind: retryAt.millisecondsSince1970), error_message = \(bind: finish.errorMessage),
                    updated_at = \(bind: now)
                WHERE id = \(bind: command.id) AND status = 'running'
                """
            ).run()
            return
        }
        guard
            try await close(
                command,
                status: finish.status,
                code: finish.errorCode,
                message: finish.errorMessage,
                result: finish.result
            )
        else { return }
        switch finish.orderError {
        case .keep:
            break
        case .clear:
            try await sql.raw(
                """
                UPDATE orders SET error_code = NULL, error_message = NULL, error_at = NULL, error_command_id = NULL, updated_at = \(bind: now)
                WHERE connection_id = \(bind: connection) AND shipment_id = \(bind: command.shipmentID)
                """
            ).run()
        case .set(let code, let message):
            try await sql.raw(
                """
                UPDATE orders SET error_code = \(bind: code), error_message = \(bind: message), error_at = \(bind: now),
                    error_command_id = \(bind: command.id), updated_at = \(bind: now)
                WHERE connection_id = \(bind: connection) AND shipment_id = \(bind: command.shipmentID)
                """
            ).run()
        }
        var payload = finish.payload
        if let later = finish.failsLater {
            let skipped = try await sql.raw(
                """
                UPDATE order_commands SET status = 'failed', error_code = \(bind: later.code),
                    error_message = \(bind: later.message), updated_at = \(bind: now)
                WHERE connection_id = \(bind: connection) AND shipment_id = \(bind: command.shipmentID) AND status = 'queued'
                    AND sequence > \(bind: command.sequence)
                RETURNING id
                """
            ).all().map { try $0.decode(column: "id", as: String.self) }
            payload["skippedCommandIds"] = .array(skipped.map(JSONValue.string))
        }
        if let event = finish.event {
            try await appendEvents([
                NewEvent(
                    event,
                    connectionID: command.connectionID,
                    subject: command.shipmentID.rawValue,
                    payload: try Self.json(payload)
                )
            ])
        }
    }

    private func close(
        _ command: FulfilmentCommand,
        status: CommandStatus,
        code: String?,
        message: String?,
        result: String?
    ) async throws -> Bool {
        try await sql.raw(
            """
            UPDATE order_commands SET status = \(bind: status.rawValue), error_code = \(bind: code), error_message = \(bind: message),
                result = \(bind: result), updated_at = \(bind: nowMilliseconds)
            WHERE id = \(bind: command.id) AND status = 'running'
            RETURNING id
            """
        ).first() != nil
    }

    /// Cancels every open command of an order cancelled at Amazon — but a rejection under way, which is what
    /// cancelled it; returns their ids and types.
    func cancelOpenCommands(
        connectionID: ConnectionID,
        shipmentID: ShipmentID
    ) async throws -> [(id: CommandID, type: String)] {
        try await sql.raw(
            """
            UPDATE order_commands SET status = 'cancelled', error_code = 'order_cancelled',
                error_message = 'The order was cancelled at Amazon before this command ran.', updated_at = \(bind: nowMilliseconds)
            WHERE connection_id = \(bind: connectionID.rawValue) AND shipment_id = \(bind: shipmentID) AND status IN ('queued', 'running')
                AND NOT (type = 'reject' AND status = 'running')
            RETURNING id, type
            """
        ).all().map {
            (try $0.decode(column: "id", as: CommandID.self), try $0.decode(column: "type", as: String.self))
        }
    }

    // MARK: Documents

    /// Stores a file; a label replaces the earlier label of the same package, which stays readable but superseded.
    public func saveDocument(_ document: StoredDocument) async throws {
        if document.kind == .label, let shipmentID = document.shipmentID, kind == .postgres {
            // The order row first, as upsertOrder takes it: see promoteIfLabelled.
            try await sql.raw(
                """
                SELECT 1 FROM orders WHERE connection_id = \(bind: document.connectionID.rawValue)
                    AND shipment_id = \(bind: shipmentID) FOR UPDATE
                """
            ).run()
        }
        if let packageID = document.packageID, let shipmentID = document.shipmentID {
            try await sql.raw(
                """
                UPDATE documents SET superseded_at = \(bind: nowMilliseconds)
                WHERE connection_id = \(bind: document.connectionID.rawValue) AND shipment_id = \(bind: shipmentID)
                    AND kind = \(bind: document.kind.rawValue) AND package_id = \(bind: packageID) AND superseded_at IS NULL
                """
            ).run()
        } else if let shipmentID = document.shipmentID, document.kind == .invoice {
            try await sql.raw(
                """
                UPDATE documents SET superseded_at = \(bind: nowMilliseconds)
                WHERE connection_id = \(bind: document.connectionID.rawValue) AND shipment_id = \(bind: shipmentID)
                    AND kind = 'invoice' AND superseded_at IS NULL
                """
            ).run()
        }
        try await sql.raw(
            """
            INSERT INTO documents (id, connection_id, shipment_id, kind, package_id, tracking_id, carrier_name, content_type, data, created_at)
            VALUES (\(bind: document.id), \(bind: document.connectionID.rawValue), \(bind: document.shipmentID), \(bind: document.kind.rawValue),
                \(bind: document.packageID), \(bind: document.trackingID), \(bind: document.carrierName), \(bind: document.contentType),
                \(bind: document.data.base64EncodedString()), \(bind: document.createdAt.millisecondsSince1970))
            """
        ).run()
        if document.kind == .label, let shipmentID = document.shipmentID {
            try await promoteIfLabelled(connectionID: document.connectionID, shipmentID: shipmentID)
        }
    }

    /// An order's current files (superseded labels left out), oldest first.
    public func documents(shipmentID: ShipmentID, connectionID: ConnectionID) async throws -> [StoredDocument] {
        try await sql.raw(
            """
            SELECT * FROM documents WHERE connection_id = \(bind: connectionID.rawValue) AND shipment_id = \(bind: shipmentID)
                AND superseded_at IS NULL
            ORDER BY created_at, id
            """
        ).all().map(Self.decodeDocument)
    }

    /// The kinds and packages of an order's current files, without their contents.
    public func heldDocuments(
        shipmentID: ShipmentID,
        connectionID: ConnectionID
    ) async throws -> [(kind: StoredDocument.Kind, packageID: PackageID?)] {
        try await sql.raw(
            """
            SELECT kind, package_id FROM documents WHERE connection_id = \(bind: connectionID.rawValue) AND shipment_id = \(bind: shipmentID)
                AND superseded_at IS NULL
            """
        ).all().compactMap { row in
            guard let kind = StoredDocument.Kind(rawValue: try row.decode(column: "kind", as: String.self)) else {
                return nil
            }
            return (kind, try row.decode(column: "package_id", as: PackageID?.self))
        }
    }

    public func document(_ id: DocumentID) async throws -> StoredDocument? {
        try await sql.raw("SELECT * FROM documents WHERE id = \(bind: id)").first().map(Self.decodeDocument)
    }

    // MARK: Orders at risk

    /// Open orders whose expected ship time is before `before`, or that hold a failed command; soonest first.
    public func ordersAtRisk(
        connectionID: ConnectionID?,
        within: [ConnectionID]? = nil,
        before: Date,
        limit: Int
    ) async throws -> [Order] {
        var query: SQLQueryString = "\(Self.orderColumns) WHERE \(Self.atRisk("o", before: before))"
        if let connectionID { query += " AND o.connection_id = \(bind: connectionID.rawValue)" }
        if let within { query += " AND \(Self.within("o.connection_id", within))" }
        query += " ORDER BY o.expected_ship_at, o.shipment_id LIMIT \(literal: Int64(limit))"
        return try await sql.raw(query).all().map(Self.decodeOrder)
    }

    /// Open orders (not yet shipped) due to ship before `before`, or holding a failed command: the one rule of
    /// "at risk" for the API, the dashboard and the panel's filter.
    static func atRisk(_ table: String, before: Date) -> SQLQueryString {
        """
        \(unsafeRaw: table).state IN ('awaiting_confirmation', 'confirmed', 'packed', 'ready_to_ship')
            AND (\(unsafeRaw: table).expected_ship_at < \(bind: before.millisecondsSince1970) OR \(unsafeRaw: table).error_code IS NOT NULL)
        """
    }

    // MARK: Decoding

    static func decodeCommand(_ row: any SQLRow) throws -> FulfilmentCommand {
        let id = try row.decode(column: "id", as: String.self)
        let requestText = try row.decode(column: "request", as: String.self)
        let statusText = try row.decode(column: "status", as: String.self)
        guard let status = CommandStatus(rawValue: statusText) else {
            throw StoreError(code: .invalidInput, message: "Command \(id) has an unknown status \(statusText).")
        }
        return FulfilmentCommand(
            id: CommandID(rawValue: id),
            connectionID: ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self)),
            shipmentID: try row.decode(column: "shipment_id", as: ShipmentID.self),
            sequence: try row.decode(column: "sequence", as: Int64.self),
            idempotencyKey: try row.decode(column: "idempotency_key", as: String.self),
            request: try JSONDecoder().decode(CommandRequest.self, from: Data(requestText.utf8)),
            status: status,
            attempts: try row.decode(column: "attempts", as: Int.self),
            errorCode: try row.decode(column: "error_code", as: String?.self),
            errorMessage: try row.decode(column: "error_message", as: String?.self),
            result: try row.decode(column: "result", as: String?.self),
            requestedBy: try row.decode(column: "requested_by", as: String?.self),
            createdAt: Date(millisecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Date(millisecondsSince1970: try row.decode(column: "updated_at", as: Int64.self)),
            trace: TraceContext(stored: try row.decode(column: "trace_context", as: String?.self))
        )
    }

    static func decodeDocument(_ row: any SQLRow) throws -> StoredDocument {
        let id = try row.decode(column: "id", as: String.self)
        let kindText = try row.decode(column: "kind", as: String.self)
        guard let kind = StoredDocument.Kind(rawValue: kindText),
            let data = Data(base64Encoded: try row.decode(column: "data", as: String.self))
        else {
            throw StoreError(code: .invalidInput, message: "Document \(id) is unreadable.")
        }
        return StoredDocument(
            id: DocumentID(rawValue: id),
            connectionID: ConnectionID(rawValue: try row.decode(column: "connection_id", as: String.self)),
            shipmentID: try row.decode(column: "shipment_id", as: ShipmentID?.self),
            kind: kind,
            packageID: try row.decode(column: "package_id", as: PackageID?.self),
            trackingID: try row.decode(column: "tracking_id", as: String?.self),
            carrierName: try row.decode(column: "carrier_name", as: String?.self),
            contentType: try row.decode(column: "content_type", as: String.self),
            data: data,
            createdAt: Date(millisecondsSince1970: try row.decode(column: "created_at", as: Int64.self))
        )
    }
}
