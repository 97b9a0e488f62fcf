import Foundation

/// What a principal may do, by role. Each API operation needs one permission; reading needs `read`, which every role
/// has.
public enum Permission: String, Sendable, Hashable, CaseIterable {
    /// GET: orders, stock, events, settings, connections it may see.
    case read
    /// Add, authorise, test and disconnect connections.
    case manageConnections
    /// API keys and operators.
    case manageAccess
    /// A connection's settings and location mappings.
    case changeSettings
    /// Stock levels, listings, sequence numbers, resyncs.
    case writeStock
    /// Commands, manifests, handovers, fetch requests.
    case workOrders
    /// Register, retry and remove webhooks.
    case manageWebhooks
}

/// A principal's role: `admin` does everything; `operator` works orders and stock and changes its connections'
/// settings; `wms` writes stock and works orders and webhooks; `read` only reads.
public enum Role: String, Sendable, Hashable, Codable, CaseIterable {
    case admin
    case `operator`
    case wms
    case read

    public var permissions: Set<Permission> {
        switch self {
        case .admin: Set(Permission.allCases)
        case .operator: [.read, .changeSettings, .writeStock, .workOrders]
        case .wms: [.read, .writeStock, .workOrders, .manageWebhooks]
        case .read: [.read]
        }
    }
}

/// The connections a principal may touch: all of its account's, or some of them.
public enum ConnectionScope: Sendable, Hashable {
    case all
    case only(Set<ConnectionID>)

    public func contains(_ connection: ConnectionID) -> Bool {
        switch self {
        case .all: true
        case .only(let connections): connections.contains(connection)
        }
    }

    /// The connections, or nil for all.
    public var connections: Set<ConnectionID>? {
        switch self {
        case .all: nil
        case .only(let connections): connections
        }
    }

    /// The connections' ids in order, or nil for all: as the API lists them.
    public var sortedIDs: [String]? { connections.map { $0.map(\.rawValue).sorted() } }

    /// `all`, or the ids joined by commas: as the change log and the command line say it.
    public var summary: String { sortedIDs?.joined(separator: ",") ?? "all" }

    /// Whether everything `other` may touch, this may touch.
    public func covers(_ other: ConnectionScope) -> Bool {
        switch (self, other) {
        case (.all, _): true
        case (.only, .all): false
        case (.only(let mine), .only(let theirs)): theirs.isSubset(of: mine)
        }
    }
}

/// Who makes a request: an API key, an operator, or the node itself (its command line). Every change records it.
public struct Principal: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        case apiKey = "key"
        case `operator`
        case node
    }

    public var kind: Kind
    /// The key's or operator's id; the node's name for the node.
    public var id: String
    /// How the change log names it: `key wms-berlin (fbk_1a2b3c4d)`, `operator anna`, `node`.
    public var name: String
    public var account: AccountID
    public var role: Role
    public var scope: ConnectionScope

    public init(
        kind: Kind,
        id: String,
        name: String,
        account: AccountID,
        role: Role,
        scope: ConnectionScope
    ) {
        self.kind = kind
        self.id = id
        self.name = name
        self.account = account
        self.role = role
        self.scope = scope
    }

    /// The node's own command line: an admin of the account over all of its connections.
    public static func node(account: AccountID = .default, _ name: String = "node") -> Principal {
        Principal(kind: .node, id: name, name: name, account: account, role: .admin, scope: .all)
    }

    /// How changes made by this principal are signed in the change log.
    public var actor: String {
        switch kind {
        case .apiKey: "key \(name)"
        case .operator: "operator \(name)"
        case .node: name
        }
    }

    public func may(_ permission: Permission) -> Bool { role.permissions.contains(permission) }

    /// Whether the principal may see the connection; what it may not see does not exist for it.
    public func sees(_ connection: ConnectionID) -> Bool { scope.contains(connection) }
}

/// An API key as stored: never the key itself, only its hash and its public prefix.
public struct APIKey: Sendable, Hashable {
    public var id: String
    public var account: AccountID
    public var name: String
    /// The key's public start (`fbk_1a2b3c4d`), shown in lists and logs to tell keys apart.
    public var prefix: String
    public var role: Role
    public var scope: ConnectionScope
    public var createdAt: Date
    public var createdBy: String
    public var lastUsedAt: Date?
    public var revokedAt: Date?

    public init(
        id: String,
        account: AccountID,
        name: String,
        prefix: String,
        role: Role,
        scope: ConnectionScope,
        createdAt: Date,
        createdBy: String,
        lastUsedAt: Date? = nil,
        revokedAt: Date? = nil
    ) {
        self.id = id
        self.account = account
        self.name = name
        self.prefix = prefix
        self.role = role
        self.scope = scope
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
    }

    /// The principal a request made with this key is.
    public var principal: Principal {
        Principal(kind: .apiKey, id: id, name: "\(name) (\(prefix))", account: account, role: role, scope: scope)
    }

    /// The shape of a key: `fbk_` + 8 lowercase hex characters (the public prefix) + `_` + 43 base64url characters
    /// (256 random bits). Returns the prefix when `text` has that shape.
    public static func prefix(of text: String) -> String? {
        let parts = text.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "fbk", parts[1].count == 8,
            parts[1].allSatisfy({ $0.isHexDigit && !$0.isUppercase }), parts[2].count == 43,
            parts[2].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") })
        else { return nil }
        return "fbk_" + parts[1]
    }

    /// A key's name: 1 to 100 printable characters.
    public static func validate(name: String) throws(ValidationError) -> String {
        let name = name.trimmingCharacters(in: .whitespaces)
        guard (1...100).contains(name.count),
            !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw ValidationError(field: "name", reason: "must be 1 to 100 printable characters, got \(name.count)")
        }
        return name
    }
}

/// A person who works in the operators' panel: a name, a password (stored only as a slow hash), a role and the
/// connections they may touch. Repeated wrong passwords lock the account for a while.
public struct Operator: Sendable, Hashable {
    public var id: String
    public var account: AccountID
    public var name: String
    public var role: Role
    public var scope: ConnectionScope
    public var createdAt: Date
    public var createdBy: String
    public var lastLoginAt: Date?
    /// Wrong passwords since the last good one.
    public var failedAttempts: Int
    /// Until when logins are refused after too many wrong passwords.
    public var lockedUntil: Date?
    public var disabledAt: Date?

    public init(
        id: String,
        account: AccountID,
        name: String,
        role: Role,
        scope: ConnectionScope,
        createdAt: Date,
        createdBy: String,
        lastLoginAt: Date? = nil,
        failedAttempts: Int = 0,
        lockedUntil: Date? = nil,
        disabledAt: Date? = nil
    ) {
        self.id = id
        self.account = account
        self.name = name
        self.role = role
        self.scope = scope
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.lastLoginAt = lastLoginAt
        self.failedAttempts = failedAttempts
        self.lockedUntil = lockedUntil
        self.disabledAt = disabledAt
    }

    /// The principal an operator's session is.
    public var principal: Principal {
        Principal(kind: .operator, id: id, name: name, account: account, role: role, scope: scope)
    }

    /// Wrong passwords in a row that lock the operator, and for how long.
    public static let lockoutThreshold = 5
    public static let lockoutDuration: TimeInterval = 15 * 60

    /// After a wrong password at `now`: the new count, and the lock it brings, if any.
    public func failing(at now: Date) -> (failedAttempts: Int, lockedUntil: Date?) {
        let failures = failedAttempts + 1
        return failures >= Self.lockoutThreshold
            ? (0, now.addingTimeInterval(Self.lockoutDuration)) : (failures, lockedUntil)
    }

    /// Whether logins are refused at `now`.
    public func isLocked(at now: Date) -> Bool { lockedUntil.map { $0 > now } ?? false }

    /// An operator's name: 1 to 64 letters, digits, `.`, `_`, `-` or `@` (an e-mail address will do).
    public static func validate(name: String) throws(ValidationError) -> String {
        let name = name.trimmingCharacters(in: .whitespaces)
        guard (1...64).contains(name.count),
            name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-@".contains($0)) })
        else {
            throw ValidationError(
                field: "name",
                reason: "must be 1 to 64 letters, digits, '.', '_', '-' or '@', got \"\(name.prefix(80))\""
            )
        }
        return name
    }

    /// A password: 12 to 200 characters.
    public static func validate(password: String) throws(ValidationError) {
        guard (12...200).contains(password.count) else {
            throw ValidationError(field: "password", reason: "must be 12 to 200 characters, got \(password.count)")
        }
    }
}
