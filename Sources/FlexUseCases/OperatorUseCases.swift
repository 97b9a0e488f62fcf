import Crypto
import CryptoExtras
import Dispatch
import FlexCore
import FlexStore
import Foundation

/// Operators, the people of the panel: made, listed and disabled by an admin, and logged in by name and password,
/// with a lock after repeated wrong passwords. The panel's sessions hold the principal a login gives.
public struct OperatorUseCases: Sendable {
    let store: Store
    let hashing: PasswordHashing

    public init(store: Store, hashing: PasswordHashing = .standard) {
        self.store = store
        self.hashing = hashing
    }

    /// Why a login is refused. The wording never tells a wrong name from a wrong password.
    public enum LoginRefusal: Error, Sendable, Hashable, CustomStringConvertible {
        case wrongNameOrPassword
        case locked(until: Date)

        public var description: String {
            switch self {
            case .wrongNameOrPassword: "Wrong name or password."
            case .locked(let until):
                "Too many wrong passwords: this operator is locked until \(ISO8601DateFormatter().string(from: until))."
            }
        }
    }

    /// A new operator of the principal's account; needs `manageAccess`, and reaches no further than its maker.
    public func create(
        name: String,
        password: String,
        role: Role,
        connections: [ConnectionID]?,
        by principal: Principal
    ) async throws -> Operator {
        try AccessUseCases.require(.manageAccess, of: principal)
        let name = try Operator.validate(name: name)
        try Operator.validate(password: password)
        let scope = try AccessUseCases.scope(connections, within: principal)
        let hash = try await hashing.hash(password)
        let person = Operator(
            id: "op_" + UUID().uuidString.lowercased(),
            account: principal.account,
            name: name,
            role: role,
            scope: scope,
            createdAt: store.clock.now(),
            createdBy: principal.actor
        )
        try await store.transaction { session in
            try await AccessUseCases.checkExists(scope, of: principal, in: session)
            try await session.insertOperator(person, passwordHash: hash)
            try await session.recordChanges(
                [SettingChange(setting: "operator.created", oldValue: nil, newValue: Self.describe(person))],
                connectionID: nil,
                account: principal.account,
                actor: principal.actor
            )
        }
        return person
    }

    /// The account's operators the principal may see.
    public func operators(by principal: Principal) async throws -> [Operator] {
        try AccessUseCases.require(.manageAccess, of: principal)
        return try await store.read { try await $0.operators(account: principal.account) }
            .filter { principal.scope.covers($0.scope) }
    }

    /// Disables an operator: every later login is refused. Nil when the principal sees no such operator.
    public func disable(_ id: String, by principal: Principal) async throws -> Operator? {
        try AccessUseCases.require(.manageAccess, of: principal)
        return try await store.transaction { session in
            guard let person = try await session.operator(id, account: principal.account),
                principal.scope.covers(person.scope)
            else { return nil }
            guard person.disabledAt == nil else { return person }
            let disabled = try await session.disableOperator(id, account: principal.account)
            try await session.endPanelSessions(operatorID: id)
            try await session.recordChanges(
                [SettingChange(setting: "operator.disabled", oldValue: Self.describe(person), newValue: nil)],
                connectionID: nil,
                account: principal.account,
                actor: principal.actor
            )
            return disabled
        }
    }

    /// The principal of an operator who gave the right name and password. A wrong password counts; the fifth in a
    /// row locks the operator for 15 minutes, during which even the right one is refused. An unknown name costs
    /// the same time as a known one, so that timing tells nothing.
    public func logIn(name: String, password: String, account: AccountID = .default) async throws -> Principal {
        let found = try await store.read { try await $0.operator(named: name, account: account) }
        guard let (person, hash) = found, person.disabledAt == nil else {
            _ = try? await hashing.verify(password, against: hashing.decoy)
            throw LoginRefusal.wrongNameOrPassword
        }
        let now = store.clock.now()
        if person.isLocked(at: now), let until = person.lockedUntil { throw LoginRefusal.locked(until: until) }
        guard try await hashing.verify(password, against: hash) else {
            let (failures, lock) = person.failing(at: now)
            try await store.transaction {
                try await $0.recordLogin(person.id, failedAttempts: failures, lockedUntil: lock, loggedInAt: nil)
            }
            if let lock, lock > now { throw LoginRefusal.locked(until: lock) }
            throw LoginRefusal.wrongNameOrPassword
        }
        try await store.transaction {
            try await $0.recordLogin(person.id, failedAttempts: 0, lockedUntil: nil, loggedInAt: now)
        }
        return person.principal
    }

    /// How long a panel session lasts at most, and without use.
    public static let sessionLifetime: TimeInterval = 12 * 3600
    public static let sessionIdleTimeout: TimeInterval = 2 * 3600

    /// Logs the operator in (``logIn(name:password:account:)``) and starts a panel session: its token for the
    /// cookie, and the session with its CSRF token.
    public func startSession(
        name: String,
        password: String,
        account: AccountID = .default
    ) async throws -> (token: String, session: PanelSession, principal: Principal) {
        let principal = try await logIn(name: name, password: password, account: account)
        let (token, session) = try await store.transaction {
            try await $0.startPanelSession(
                operatorID: principal.id,
                account: principal.account,
                lifetime: Self.sessionLifetime
            )
        }
        return (token, session, principal)
    }

    /// The operator and session behind a session token, while the session lasts and the operator is enabled. A
    /// request the operator did not make (a page refreshing itself, the live stream) passes `touch: false`, so
    /// that an open tab does not keep an idle session alive.
    public func session(
        token: String,
        touch: Bool = true
    ) async throws -> (principal: Principal, session: PanelSession)? {
        try await store.transaction { store in
            guard
                let session = try await store.panelSession(token: token, idle: Self.sessionIdleTimeout, touch: touch),
                let person = try await store.operator(session.operatorID, account: session.account),
                person.disabledAt == nil
            else { return nil }
            return (person.principal, session)
        }
    }

    public func endSession(token: String) async throws {
        try await store.transaction { try await $0.endPanelSession(token: token) }
    }

    static func describe(_ person: Operator) -> String {
        "\(person.name), role \(person.role.rawValue), connections \(person.scope.summary)"
    }
}

/// Passwords kept as scrypt hashes (`scrypt$LOG2N$R$P$SALT$HASH`, salt and hash in base64url): memory-hard, so a
/// stolen database does not give up its passwords to a graphics card. The work runs off Swift's cooperative pool.
public struct PasswordHashing: Sendable {
    /// log2 of scrypt's N, its r and p.
    public var logN: Int
    public var blockSize: Int
    public var parallelism: Int

    /// N = 2^15, r = 8, p = 1: 32 MiB and tens of milliseconds per hash.
    public static let standard = PasswordHashing(logN: 15, blockSize: 8, parallelism: 1)

    public init(logN: Int, blockSize: Int, parallelism: Int) {
        self.logN = logN
        self.blockSize = blockSize
        self.parallelism = parallelism
    }

    /// A hash of no password, checked against when the name is unknown.
    var decoy: String {
        "scrypt$\(logN)$\(blockSize)$\(parallelism)$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    }

    public func hash(_ password: String) async throws -> String {
        var generator = SystemRandomNumberGenerator()
        let salt = Data((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let derived = try await Self.derive(password, salt: salt, logN: logN, r: blockSize, p: parallelism)
        return "scrypt$\(logN)$\(blockSize)$\(parallelism)$\(salt.base64URLEncodedString())$"
            + derived.base64URLEncodedString()
    }

    /// Whether `password` is the one `stored` was made of; a stored value of another shape never matches.
    public func verify(_ password: String, against stored: String) async throws -> Bool {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "scrypt", let logN = Int(parts[1]), (10...20).contains(logN),
            let r = Int(parts[2]), (1...32).contains(r), let p = Int(parts[3]), (1...16).contains(p),
            let salt = Data(base64URLEncoded: String(parts[4])),
            let expected = Data(base64URLEncoded: String(parts[5])),
            expected.count == 32
        else { return false }
        let derived = try await Self.derive(password, salt: salt, logN: logN, r: r, p: p)
        var difference: UInt8 = 0
        for (a, b) in zip(derived, expected) { difference |= a ^ b }
        return difference == 0
    }

    static func derive(_ password: String, salt: Data, logN: Int, r: Int, p: Int) async throws -> Data {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(
                    with: Result {
                        try KDF.Scrypt.deriveKey(
                            from: Data(password.utf8),
                            salt: salt,
                            outputByteCount: 32,
                            rounds: 1 << logN,
                            blockSize: r,
                            parallelism: p
                        ).withUnsafeBytes { Data($0) }
                    }
                )
            }
        }
    }
}
