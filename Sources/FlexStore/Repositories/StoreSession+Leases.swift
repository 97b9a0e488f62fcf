import Algorithms
import FlexCore
import Foundation
import SQLKit

extension StoreSession {
    /// Takes or renews the lease `name` for `owner` until `ttl` from now.
    ///
    /// Returns the lease if `owner` holds it afterwards: renewed when it held it already (same epoch), taken with
    /// the epoch raised when it was free or expired. Returns nil while another owner's lease is still valid.
    ///
    /// `replacing` names an owner known to be dead (a process of this host that no longer runs): its lease is taken
    /// at once instead of after it expires, with the epoch raised as for an expired one.
    public func acquireLease(
        _ name: String,
        owner: String,
        ttl: Duration,
        replacing deadOwner: String? = nil
    ) async throws -> Lease? {
        let now = nowMilliseconds
        let expiresAt = now + ttl.milliseconds
        try await sql.raw(
            """
            INSERT INTO leases (name, owner, epoch, expires_at) VALUES (\(bind: name), \(bind: owner), 0, 0)
            ON CONFLICT (name) DO NOTHING
            """
        ).run()
        // One statement decides, so that two nodes racing for an expired lease cannot both win: the row's owner
        // and expiry are re-checked by the database as it updates.
        let row = try await sql.raw(
            """
            UPDATE leases SET
                epoch = CASE WHEN owner = \(bind: owner) AND expires_at > \(bind: now) THEN epoch ELSE epoch + 1 END,
                owner = \(bind: owner),
                expires_at = \(bind: expiresAt)
            WHERE name = \(bind: name) AND (owner = \(bind: owner) OR expires_at <= \(bind: now) OR owner = \(bind: deadOwner ?? owner))
            RETURNING epoch
            """
        ).first()
        guard let epoch = try row?.decode(column: "epoch", as: Int64.self) else { return nil }
        return Lease(name: name, owner: owner, epoch: epoch, expiresAt: Date(millisecondsSince1970: expiresAt))
    }

    /// ``acquireLease(_:owner:ttl:replacing:)`` for many leases in two statements per 500 (a node's round: one
    /// transaction, not one per connection), with the same rule per lease: renewed at its epoch when `owner` holds
    /// it, taken with the epoch raised when it is free, expired or held by one of `deadOwners`. Returns the leases
    /// `owner` holds afterwards, by name.
    public func acquireLeases(
        _ names: [String],
        owner: String,
        ttl: Duration,
        replacing deadOwners: Set<String> = []
    ) async throws -> [String: Lease] {
        let now = nowMilliseconds
        let expiresAt = now + ttl.milliseconds
        let dead = deadOwners.isEmpty ? [owner] : Array(deadOwners)
        var held: [String: Lease] = [:]
        for chunk in names.sorted().chunks(ofCount: 500) {
            let chunk = Array(chunk)
            try await insertFreeLeases(chunk, owner: owner)
            // The rows are locked in name order on PostgreSQL, so that two nodes' rounds never deadlock.
            let locked: SQLQueryString =
                kind == .postgres
                ? "SELECT name FROM leases WHERE name IN (\(binds: chunk)) ORDER BY name FOR UPDATE"
                : "SELECT name FROM leases WHERE name IN (\(binds: chunk))"
            let update: SQLQueryString =
                """
                UPDATE leases SET
                    epoch = CASE WHEN owner = \(bind: owner) AND expires_at > \(bind: now) THEN epoch ELSE epoch + 1 END,
                    owner = \(bind: owner),
                    expires_at = \(bind: expiresAt)
                WHERE name IN (
                """ + locked
                    + """
                        ) AND (owner = \(bind: owner) OR expires_at <= \(bind: now) OR owner IN (\(binds: dead)))
                    RETURNING name, epoch
                    """
            let rows = try await sql.raw(update).all()
            for row in rows {
                let name = try row.decode(column: "name", as: String.self)
                held[name] = Lease(
                    name: name,
                    owner: owner,
                    epoch: try row.decode(column: "epoch", as: Int64.self),
                    expiresAt: Date(millisecondsSince1970: expiresAt)
                )
            }
        }
        return held
    }

    /// A node's whole round in one transaction: renews `renewing` (the leases `owner` holds, and its node lease) as
    /// ``acquireLeases(_:owner:ttl:replacing:)`` does, then takes at most `limit` of `candidates` that are free,
    /// expired or held by one of `deadOwners`, with the epoch raised. On PostgreSQL the takes skip rows another node's
    /// round has locked, so that nodes starting together split the free leases in one round instead of queueing for
    /// the same ones. Node leases expired for over an hour are deleted. Returns the leases `owner` holds afterwards.
    public func acquireShare(
        renewing: [String],
        candidates: [String],
        limit: Int,
        owner: String,
        ttl: Duration,
        replacing deadOwners: Set<String> = []
    ) async throws -> [String: Lease] {
        var held = try await acquireLeases(renewing, owner: owner, ttl: ttl, replacing: deadOwners)
        let now = nowMilliseconds
        let expiresAt = now + ttl.milliseconds
        let dead = deadOwners.isEmpty ? [owner] : Array(deadOwners)
        var remaining = limit
        for chunk in candidates.chunks(ofCount: 500) where remaining > 0 {
            let chunk = Array(chunk)
            try await insertFreeLeases(chunk, owner: owner)
            let free: SQLQueryString = "(expires_at <= \(bind: now) OR owner IN (\(binds: dead)))"
            let lock: SQLQueryString = kind == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
            let update: SQLQueryString =
                "UPDATE leases SET epoch = epoch + 1, owner = \(bind: owner), expires_at = \(bind: expiresAt) "
                + "WHERE name IN (SELECT name FROM leases WHERE name IN (\(binds: chunk)) AND " + free
                + " ORDER BY name LIMIT \(literal: remaining)" + lock + ") AND " + free + " RETURNING name, epoch"
            for row in try await sql.raw(update).all() {
                let name = try row.decode(column: "name", as: String.self)
                held[name] = Lease(
                    name: name,
                    owner: owner,
                    epoch: try row.decode(column: "epoch", as: Int64.self),
                    expiresAt: Date(millisecondsSince1970: expiresAt)
                )
                remaining -= 1
            }
        }
        try await sql.raw(
            "DELETE FROM leases WHERE name LIKE 'node:%' AND expires_at < \(bind: now - 3_600_000)"
        ).run()
        return held
    }

    /// Announces `owner` as a live node until `ttl` from now, with the key of the presence lock it holds (nil
    /// when it holds none). Returns true when the node was not announced before (or its announcement had expired):
    /// it joins, and every node's keeper is woken when the transaction commits, since the shares changed.
    @discardableResult
    public func announceNode(_ owner: String, presenceKey: Int32?, ttl: Duration) async throws -> Bool {
        let now = nowMilliseconds
        let name = Lease.node(owner)
        let previous = try await sql.raw("SELECT expires_at FROM leases WHERE name = \(bind: name)").first()
        let joined = try previous.map { try $0.decode(column: "expires_at", as: Int64.self) <= now } ?? true
        let key = presenceKey.map(Int64.init)
        try await sql.raw(
            """
            INSERT INTO leases (name, owner, epoch, expires_at, presence_key)
            VALUES (\(bind: name), \(bind: owner), 1, \(bind: now + ttl.milliseconds), \(bind: key))
            ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at,
                presence_key = excluded.presence_key
            """
        ).run()
        if joined { notes.noteConnectionsChanged() }
        return joined
    }

    /// A node as it announced itself: its name, until when, and its presence lock's key.
    public struct NodeAnnouncement: Sendable, Hashable {
        public var owner: String
        public var expiresAt: Date
        public var presenceKey: Int32?
    }

    /// The nodes whose announcement has not expired at `now`.
    public func announcedNodes() async throws -> [NodeAnnouncement] {
        let rows = try await sql.raw(
            "SELECT owner, expires_at, presence_key FROM leases WHERE name LIKE 'node:%' AND expires_at > \(bind: nowMilliseconds)"
        ).all()
        return try rows.map { row in
            NodeAnnouncement(
                owner: try row.decode(column: "owner", as: String.self),
                expiresAt: Date(millisecondsSince1970: try row.decode(column: "expires_at", as: Int64.self)),
                presenceKey: try row.decode(column: "presence_key", as: Int64?.self).map {
                    Int32(truncatingIfNeeded: $0)
                }
            )
        }
    }

    /// The presence keys (``Lease/presenceKey(for:)``) whose advisory lock some session of this database holds now:
    /// the nodes that are alive as far as PostgreSQL knows. Nil on SQLite, which has no such locks.
    public func presentNodeKeys() async throws -> Set<Int32>? {
        guard kind == .postgres else { return nil }
        let rows = try await sql.raw(
            """
            SELECT objid::bigint AS key FROM pg_locks
            WHERE locktype = 'advisory' AND classid::bigint = \(bind: Int64(Lease.presenceNamespace)) AND objsubid = 2
                AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """
        ).all()
        return Set(try rows.map { Int32(truncatingIfNeeded: try $0.decode(column: "key", as: Int64.self)) })
    }

    /// Inserts the leases of `names` that have no row yet, free (expired since the epoch), so that the update that
    /// follows finds a row to take.
    private func insertFreeLeases(_ names: [String], owner: String) async throws {
        var values: SQLQueryString = ""
        for (index, name) in names.enumerated() {
            if index > 0 { values += ", " }
            values += "(\(bind: name), \(bind: owner), 0, 0)"
        }
        try await sql.raw(
            "INSERT INTO leases (name, owner, epoch, expires_at) VALUES " + values + " ON CONFLICT (name) DO NOTHING"
        ).run()
    }

    /// Gives the lease up at once, if `owner` still holds it at `epoch`, so that another node can take it without
    /// waiting for it to expire; the other nodes' keepers are woken when the transaction commits.
    public func releaseLease(_ lease: Lease) async throws {
        try await sql.raw(
            """
            UPDATE leases SET expires_at = 0
            WHERE name = \(bind: lease.name) AND owner = \(bind: lease.owner) AND epoch = \(bind: lease.epoch)
            """
        ).run()
        notes.noteConnectionsChanged()
    }

    /// Refuses to go on unless `lease` is still held by its owner at its epoch. On PostgreSQL the lease row is
    /// share-locked until the transaction ends, so the lease cannot change hands before this transaction commits.
    public func checkFence(_ lease: Lease) async throws {
        let lock: SQLQueryString = kind == .postgres ? " FOR SHARE" : ""
        let row = try await sql.raw(
            """
            SELECT epoch FROM leases
            WHERE name = \(bind: lease.name) AND owner = \(bind: lease.owner) AND epoch = \(bind: lease.epoch)
            """ + lock
        ).first()
        guard row != nil else { throw StoreError.leaseLost(lease) }
    }

    /// Every lease as stored, by name.
    public func leases() async throws -> [String: Lease] {
        var leases: [String: Lease] = [:]
        for row in try await sql.raw("SELECT * FROM leases").all() {
            let lease = Lease(
                name: try row.decode(column: "name", as: String.self),
                owner: try row.decode(column: "owner", as: String.self),
                epoch: try row.decode(column: "epoch", as: Int64.self),
                expiresAt: Date(millisecondsSince1970: try row.decode(column: "expires_at", as: Int64.self))
            )
            leases[lease.name] = lease
        }
        return leases
    }

    /// The lease as stored, whoever holds it.
    public func lease(_ name: String) async throws -> Lease? {
        try await sql.raw("SELECT * FROM leases WHERE name = \(bind: name)").first().map { row in
            Lease(
                name: try row.decode(column: "name", as: String.self),
                owner: try row.decode(column: "owner", as: String.self),
                epoch: try row.decode(column: "epoch", as: Int64.self),
                expiresAt: Date(millisecondsSince1970: try row.decode(column: "expires_at", as: Int64.self))
            )
        }
    }
}

extension Duration {
    /// The duration in whole milliseconds.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}
