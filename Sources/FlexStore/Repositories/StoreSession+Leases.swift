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
            var values: SQLQueryString = ""
            for (index, name) in chunk.enumerated() {
                if index > 0 { values += ", " }
                values += "(\(bind: name), \(bind: owner), 0, 0)"
            }
            try await sql.raw(
                "INSERT INTO leases (name, owner, epoch, expires_at) VALUES " + values
                    + " ON CONFLICT (name) DO NOTHING"
            ).run()
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

    /// Gives the lease up at once, if `owner` still holds it at `epoch`, so that another node can take it without
    /// waiting for it to expire.
    public func releaseLease(_ lease: Lease) async throws {
        try await sql.raw(
            """
            UPDATE leases SET expires_at = 0
            WHERE name = \(bind: lease.name) AND owner = \(bind: lease.owner) AND epoch = \(bind: lease.epoch)
            """
        ).run()
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
