import Algorithms
import FlexCore
import Foundation
import SQLKit

extension StoreSession {
    /// An arbitrary constant naming the outbox's append lock among PostgreSQL advisory locks.
    static let outboxLockKey: Int64 = 0x466C_6578_4F75_7462  // "FlexOutb"

    /// Appends events to the outbox; call it in the transaction that makes the change the events describe.
    ///
    /// Readers page through the feed by sequence, so sequences must become visible in order. On PostgreSQL two
    /// transactions could commit their sequences out of order and a reader could skip the lower one; appending
    /// therefore takes a transaction-scoped lock, held to commit. SQLite has one writer and needs none.
    @discardableResult
    public func appendEvents(_ events: [NewEvent]) async throws -> [OutboxEvent] {
        guard !events.isEmpty else { return [] }
        notes.noteEventsWritten()
        if kind == .postgres {
            try await sql.raw("SELECT pg_advisory_xact_lock(\(bind: Self.outboxLockKey))").run()
        }
        let now = nowMilliseconds
        let trace = currentTrace()?.stored
        var written: [OutboxEvent] = []
        for event in events {
            let id = UUID()
            let row = try await sql.raw(
                """
                INSERT INTO events (id, account_id, type, connection_id, subject, payload, created_at, trace_context)
                VALUES (\(bind: id.uuidString.lowercased()),
                    COALESCE((SELECT account_id FROM connections WHERE id = \(bind: event.connectionID?.rawValue)),
                        \(bind: (event.accountID ?? .default).rawValue)),
                    \(bind: event.type), \(bind: event.connectionID?.rawValue), \(bind: event.subject), \(bind: event.payload),
                    \(bind: now), \(bind: trace))
                RETURNING sequence, account_id
                """
            ).first()
            guard let row, let sequence = try row.decode(column: "sequence", as: Int64?.self) else {
                throw StoreError(code: .conflict, message: "The outbox did not return a sequence for a new event.")
            }
            written.append(
                OutboxEvent(
                    sequence: sequence,
                    accountID: AccountID(rawValue: try row.decode(column: "account_id", as: String.self)),
                    id: id,
                    type: event.type,
                    connectionID: event.connectionID,
                    subject: event.subject,
                    payload: event.payload,
                    createdAt: Date(millisecondsSince1970: now)
                )
            )
        }
        return written
    }

    /// The traces the events of `sequences` were written in, by sequence; an event written untraced has none.
    public func eventTraces(_ sequences: [Int64]) async throws -> [Int64: TraceContext] {
        guard !sequences.isEmpty else { return [:] }
        var traces: [Int64: TraceContext] = [:]
        for chunk in sequences.chunks(ofCount: 500) {
            let rows = try await sql.raw(
                """
                SELECT sequence, trace_context FROM events WHERE sequence IN (\(binds: Array(chunk)))
                    AND trace_context IS NOT NULL
                """
            ).all()
            for row in rows {
                let stored = try row.decode(column: "trace_context", as: String?.self)
                if let trace = TraceContext(stored: stored) {
                    traces[try row.decode(column: "sequence", as: Int64.self)] = trace
                }
            }
        }
        return traces
    }

    /// The newest event's sequence visible to the account (0 when there is none): where a live stream starts.
    public func latestEventSequence(account: AccountID) async throws -> Int64 {
        try await sql.raw(
            "SELECT COALESCE(MAX(sequence), 0) AS latest FROM events WHERE account_id = \(bind: account.rawValue)"
        ).first()?.decode(column: "latest", as: Int64.self) ?? 0
    }

    /// The account's events after the cursor `after` (a sequence; 0 for the start), oldest first. Sequences are
    /// installation-wide, so an account's feed has gaps where other accounts' events are.
    /// `within` keeps only the events of those connections (and those of none, such as a hub's stock).
    public func events(
        after: Int64,
        account: AccountID,
        within: [ConnectionID]? = nil,
        limit: Int = 100
    ) async throws -> [OutboxEvent] {
        var query: SQLQueryString = "SELECT * FROM events WHERE account_id = \(bind: account.rawValue)"
        query += " AND sequence > \(bind: after)"
        if let within { query += " AND (connection_id IS NULL OR \(Self.within("connection_id", within)))" }
        query += " ORDER BY sequence LIMIT \(literal: limit)"
        return try await sql.raw(query)
            .all()
            .map { row in
                let idText = try row.decode(column: "id", as: String.self)
                guard let id = UUID(uuidString: idText) else {
                    throw StoreError(code: .invalidInput, message: "A stored event has a malformed id \(idText).")
                }
                return OutboxEvent(
                    sequence: try row.decode(column: "sequence", as: Int64.self),
                    accountID: AccountID(rawValue: try row.decode(column: "account_id", as: String.self)),
                    id: id,
                    type: try row.decode(column: "type", as: String.self),
                    connectionID: try row.decode(column: "connection_id", as: String?.self).map(
                        ConnectionID.init(rawValue:)
                    ),
                    subject: try row.decode(column: "subject", as: String?.self),
                    payload: try row.decode(column: "payload", as: String.self),
                    createdAt: Date(millisecondsSince1970: try row.decode(column: "created_at", as: Int64.self))
                )
            }
    }
}
