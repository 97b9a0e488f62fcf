import FlexCore
import FlexStore
import FlexStoreTesting
import FlexUseCases
import Foundation
import Testing

@Suite("Operators: made by an admin, logged in by password, locked after wrong ones")
struct OperatorTests {
    /// Cheap hashing for tests (scrypt N = 2^10); the format and the check are the same.
    static let hashing = PasswordHashing(logN: 10, blockSize: 8, parallelism: 1)

    @Test("a password is kept as a salted scrypt hash, checked in full, and never matches another shape")
    func passwordHashing() async throws {
        let first = try await Self.hashing.hash("correct horse battery")
        let second = try await Self.hashing.hash("correct horse battery")
        #expect(first.hasPrefix("scrypt$10$8$1$") && first != second, "salted: \(first) \(second)")
        #expect(!first.contains("correct"))
        #expect(try await Self.hashing.verify("correct horse battery", against: first))
        #expect(try await !Self.hashing.verify("correct horse batterY", against: first))
        #expect(try await !Self.hashing.verify("correct horse battery", against: "plain"))
        #expect(try await !Self.hashing.verify("x", against: "scrypt$40$8$1$AA$AA"), "an absurd cost is refused")
        #expect(try await PasswordHashing.standard.hash("x").hasPrefix("scrypt$15$8$1$"))
    }

    @Test("made with a checked name and password, once per name, never reaching further than the admin who made them")
    func create() async throws {
        try await TestDatabase.withStore(.sqlite) { store, _ in
            let operators = OperatorUseCases(store: store, hashing: Self.hashing)
            let anna = try await operators.create(
                name: "anna@acme.in",
                password: "twelve chars!",
                role: .operator,
                connections: nil,
                by: .node()
            )
            #expect(anna.role == .operator && anna.scope == .all && anna.createdBy == "node")
            await #expect(throws: StoreError.self) {
                try await operators.create(
                    name: "anna@acme.in",
                    password: "another password",
                    role: .read,
                    connections: nil,
                    by: .node()
                )
            }
            await #expect(throws: ValidationError(field: "password", reason: "must be 12 to 200 characters, got 5")) {
                try await operators.create(name: "bob", password: "short", role: .read, connections: nil, by: .node())
            }
            await #expect(throws: ValidationError.self) {
                try await operators.create(
                    name: "bob smith",
                    password: "long enough pw",
                    role: .read,
                    connections: nil,
                    by: .node()
                )
            }
            let limited = Principal(
                kind: .apiKey,
                id: "k",
                name: "limited",
                account: .default,
                role: .admin,
                scope: .only(["C1"])
            )
            await #expect(throws: ValidationError.self, "no further than its maker") {
                try await operators.create(
                    name: "carl",
                    password: "long enough pw",
                    role: .read,
                    connections: nil,
                    by: limited
                )
            }
            let wms = Principal(kind: .apiKey, id: "w", name: "wms", account: .default, role: .wms, scope: .all)
            await #expect(throws: AccessUseCases.Refusal.forbidden(role: .wms, needs: .manageAccess)) {
                try await operators.create(
                    name: "dora",
                    password: "long enough pw",
                    role: .read,
                    connections: nil,
                    by: wms
                )
            }
            #expect(try await operators.operators(by: .node()).map(\.name) == ["anna@acme.in"])
            #expect(try await operators.operators(by: limited).isEmpty, "a limited admin sees only operators within")
            let log = try await store.read { try await $0.configChanges(limit: 10) }
            #expect(log.map(\.setting) == ["operator.created"] && log.first?.actor == "node")
        }
    }

    @Test(
        "the right password logs in; five wrong ones lock for 15 minutes, even against the right one; disabled is out"
    )
    func logInAndLockout() async throws {
        let clock = TestClock()
        try await TestDatabase.withStore(.sqlite, clock: clock.wallClock) { store, _ in
            let operators = OperatorUseCases(store: store, hashing: Self.hashing)
            let anna = try await operators.create(
                name: "anna",
                password: "right password",
                role: .operator,
                connections: nil,
                by: .node()
            )
            let principal = try await operators.logIn(name: "anna", password: "right password")
            #expect(principal.kind == .operator && principal.role == .operator && principal.actor == "operator anna")
            #expect(
                try await store.read { try await $0.operator(anna.id, account: .default) }?.lastLoginAt == clock.now
            )
            // Unknown names and wrong passwords say the same thing.
            await #expect(throws: OperatorUseCases.LoginRefusal.wrongNameOrPassword) {
                try await operators.logIn(name: "nobody", password: "right password")
            }
            for _ in 1...4 {
                await #expect(throws: OperatorUseCases.LoginRefusal.wrongNameOrPassword) {
                    try await operators.logIn(name: "anna", password: "wrong password")
                }
            }
            let until = clock.now.addingTimeInterval(Operator.lockoutDuration)
            await #expect(throws: OperatorUseCases.LoginRefusal.locked(until: until)) {
                try await operators.logIn(name: "anna", password: "wrong password")
            }
            await #expect(throws: OperatorUseCases.LoginRefusal.locked(until: until), "even the right password") {
                try await operators.logIn(name: "anna", password: "right password")
            }
            clock.advance(by: .seconds(15 * 60))
            #expect(try await operators.logIn(name: "anna", password: "right password").id == anna.id)
            // A good login clears the count: four more wrong ones do not lock.
            for _ in 1...4 {
                await #expect(throws: OperatorUseCases.LoginRefusal.wrongNameOrPassword) {
                    try await operators.logIn(name: "anna", password: "wrong password")
                }
            }
            #expect(try await operators.logIn(name: "anna", password: "right password").id == anna.id)
            #expect(try await operators.disable(anna.id, by: .node())?.disabledAt != nil)
            await #expect(throws: OperatorUseCases.LoginRefusal.wrongNameOrPassword) {
                try await operators.logIn(name: "anna", password: "right password")
            }
        }
    }

    @Test("a session ends after two idle hours: a page refreshing itself or the live stream does not keep it alive")
    func idleSessions() async throws {
        let clock = TestClock()
        try await TestDatabase.withStore(.sqlite, clock: clock.wallClock) { store, _ in
            let operators = OperatorUseCases(store: store, hashing: Self.hashing)
            _ = try await operators.create(
                name: "anna",
                password: "right password",
                role: .operator,
                connections: nil,
                by: .node()
            )
            let (token, _, _) = try await operators.startSession(name: "anna", password: "right password")
            clock.advance(by: .seconds(90 * 60))
            #expect(try await operators.session(token: token, touch: false) != nil, "still within two idle hours")
            clock.advance(by: .seconds(40 * 60))
            #expect(try await operators.session(token: token, touch: false) == nil, "refreshes did not keep it alive")

            let (used, _, _) = try await operators.startSession(name: "anna", password: "right password")
            clock.advance(by: .seconds(90 * 60))
            #expect(try await operators.session(token: used) != nil)
            clock.advance(by: .seconds(90 * 60))
            #expect(try await operators.session(token: used) != nil, "the operator's own use keeps it alive")
            clock.advance(by: .seconds(11 * 3600))
            #expect(try await operators.session(token: used) == nil, "never past twelve hours")
        }
    }
}

@Suite("Connections as a principal sees them")
struct ConnectionUseCaseTests {
    @Test(
        "another account's or another connection's connection does not exist for a principal; a limited one adds none"
    )
    func scope() async throws {
        try await TestDatabase.withStore(.sqlite) { store, _ in
            let connections = ConnectionUseCases(store: store, outbound: .production)
            func connection(_ seller: SellingPartnerID, endpoint: URL? = nil) -> Connection {
                Connection(
                    name: "C",
                    sellingPartnerID: seller,
                    region: .eu,
                    marketplaceIDs: ["A21TJRUUN4KGV"],
                    applicationClientID: "c",
                    endpointOverride: endpoint,
                    createdAt: Date()
                )
            }
            let a = connection("A1A")
            let b = connection("A1B")
            try await connections.create(a, clientSecret: "s", by: .node())
            try await connections.create(b, clientSecret: "s", by: .node())
            let onlyA = Principal(
                kind: .apiKey,
                id: "k",
                name: "a",
                account: .default,
                role: .admin,
                scope: .only([a.id])
            )
            let otherAccount = Principal.node(account: "acct_other")
            #expect(try await connections.visibleIDs(by: onlyA) == [a.id])
            #expect(try await connections.visibleIDs(by: otherAccount).isEmpty)
            #expect(try await connections.connection(b.id, by: onlyA) == nil)
            #expect(try await connections.disconnect(b.id, by: onlyA) == nil)
            #expect(try await connections.disconnect(b.id, by: otherAccount) == nil)
            #expect(try await connections.connection(b.id, by: .node())?.status == .pendingAuthorization, "untouched")
            await #expect(throws: ConnectionUseCases.Refusal.limitedScope) {
                try await connections.create(connection("A1C"), clientSecret: "s", by: onlyA)
            }
            await #expect(throws: ValidationError.self, "a production node sends no secret to the simulator") {
                try await connections.create(
                    connection("A1D", endpoint: URL(string: "http://127.0.0.1:8090")),
                    clientSecret: "s",
                    by: .node()
                )
            }
            let read = Principal(kind: .apiKey, id: "r", name: "r", account: .default, role: .read, scope: .all)
            await #expect(throws: AccessUseCases.Refusal.forbidden(role: .read, needs: .changeSettings)) {
                try await connections.updateSettings(of: a.id, to: ConnectionSettings(), by: read)
            }
        }
    }
}
