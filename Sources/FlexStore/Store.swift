import FlexCore
import Foundation
import Logging
import SQLKit
import ServiceLifecycle
import Synchronization

/// FlexBridge's persistence: the database, the secret box that seals credentials in it, and the clock that stamps
/// its rows. Work happens in sessions: ``transaction(_:)`` for writes, ``read(_:)`` for reads.
///
/// As a `Service` it keeps the database open while the service group runs and closes it on shutdown; place it first
/// in the group so that it closes last.
public final class Store: Service, Sendable {
    public let database: Database
    public let secrets: SecretBox
    public let clock: WallClock
    /// Wakes the engine's workers of a connection when this process records work for them.
    public let wakeUps = WakeUps()
    /// What the sync did, counted in memory and written every few seconds (``flushActivity()``).
    public let activity = SyncActivity()
    let logger: Logger
    /// This store's name in the wake-ups it sends other nodes, so that it skips its own.
    let origin = String(UUID().uuidString.prefix(8))
    /// Listens for other nodes' wake-ups (PostgreSQL) while the store is open.
    private let listener = Mutex<Task<Void, Never>?>(nil)
    static let wakeChannel = "flexbridge_wake"
    /// The trace the calling task works in (nil when untraced): stored with each event, for its webhook deliveries
    /// to continue. The store does not know the tracer; the application gives it this.
    let currentTrace: @Sendable () -> TraceContext?

    init(
        database: Database,
        secrets: SecretBox,
        clock: WallClock,
        logger: Logger,
        currentTrace: @escaping @Sendable () -> TraceContext? = { nil }
    ) {
        self.database = database
        self.secrets = secrets
        self.clock = clock
        self.logger = logger
        self.currentTrace = currentTrace
    }

    /// Takes other nodes' wake-ups: each notification on the wake channel that is not this store's own wakes the
    /// workers, webhook dispatcher or lease keeper it names.
    func listenToOtherNodes() {
        guard database.kind == .postgres else { return }
        let task = Task { [database, wakeUps, origin, logger] in
            await database.listen(on: Self.wakeChannel) { payload in
                guard let space = payload.firstIndex(of: " ") else { return }
                guard payload[..<space] != origin else { return }
                if !TransactionNotes.wake(wakeUps, from: payload[payload.index(after: space)...]) {
                    logger.debug("a wake-up this version cannot read", metadata: ["payload": "\(payload)"])
                }
            }
        }
        listener.withLock { $0 = task }
    }

    /// Says to every other node that `owner` is alive, until the task is cancelled: on PostgreSQL by holding the
    /// advisory lock ``Lease/presenceKey(for:)`` on a connection of its own, which PostgreSQL gives back the moment
    /// the process dies; `held` is called each time the lock is held. Returns at once on SQLite, where one node runs.
    public func holdPresence(of owner: String, held: @escaping @Sendable () -> Void) async {
        await database.holdAdvisoryLock(Lease.presenceNamespace, Lease.presenceKey(for: owner), granted: held)
    }

    /// How to open a store.
    public struct Configuration: Sendable {
        public var databaseURL: DatabaseURL
        /// Where the master key comes from; nil for the default: for SQLite a key file beside the database,
        /// created on first use; PostgreSQL has no default, since every node must share the key.
        public var masterKey: MasterKey.Source?
        /// The most PostgreSQL connections this process opens.
        public var maximumConnections: Int
        /// Apply pending migrations while opening.
        public var migrate: Bool

        public init(
            databaseURL: DatabaseURL,
            masterKey: MasterKey.Source? = nil,
            maximumConnections: Int = 20,
            migrate: Bool = true
        ) {
            self.databaseURL = databaseURL
            self.masterKey = masterKey
            self.maximumConnections = maximumConnections
            self.migrate = migrate
        }
    }

    /// Opens the database, migrates it (unless asked not to), loads the master key and checks that it is the key
    /// the database's secrets were sealed with. `currentTrace` says which trace the calling task works in (nil: none),
    /// for the events it writes to keep.
    public static func open(
        _ configuration: Configuration,
        clock: WallClock = .system,
        logger: Logger = Logger(label: "flexbridge.store"),
        currentTrace: @escaping @Sendable () -> TraceContext? = { nil }
    ) async throws -> Store {
        let database = try await Database.open(
            configuration.databaseURL,
            maximumConnections: configuration.maximumConnections,
            logger: logger
        )
        do {
            if configuration.migrate {
                let report = try await database.migrate()
                for step in report.applied {
                    logger.info("applied migration", metadata: ["version": "\(step.version)", "name": "\(step.name)"])
                }
            }
            let secrets = try await KeyCheck.unlock(database: database, source: configuration.masterKey, logger: logger)
            let store = Store(
                database: database,
                secrets: secrets,
                clock: clock,
                logger: logger,
                currentTrace: currentTrace
            )
            store.listenToOtherNodes()
            return store
        } catch {
            try? await database.close()
            throw error
        }
    }

    /// Runs `body` in one transaction: everything it wrote, events included, commits together or not at all.
    @discardableResult
    public func transaction<T: Sendable>(_ body: (StoreSession) async throws -> T) async throws -> T {
        let notes = TransactionNotes()
        let result = try await database.transaction { [origin] sql in
            let result = try await body(
                StoreSession(
                    sql: sql,
                    kind: database.kind,
                    secrets: secrets,
                    clock: clock,
                    notes: notes,
                    currentTrace: currentTrace
                )
            )
            // Other nodes hear of it at the commit (PostgreSQL delivers a transaction's notifications only then).
            if database.kind == .postgres {
                for message in notes.messages(origin: origin) {
                    try await sql.raw("SELECT pg_notify(\(bind: Self.wakeChannel), \(bind: message))").run()
                }
            }
            return result
        }
        // Committed: the webhook dispatcher sends what was written at once, workers take up their new work.
        notes.wake(wakeUps)
        return result
    }

    /// Runs `body` in one transaction that first checks that `lease` is still held at its epoch, and keeps it held
    /// until the transaction ends (PostgreSQL share-locks the lease row, so a node taking it over waits for the
    /// commit; SQLite's writers are serialised). A write made under a lease that was lost — expired and taken by
    /// another node — is refused with ``StoreError/Code/leaseLost`` and nothing of it is kept.
    /// A nil lease checks nothing (work not tied to a connection's lease: the API's, tests').
    @discardableResult
    public func transaction<T: Sendable>(
        fencedBy lease: Lease?,
        _ body: (StoreSession) async throws -> T
    ) async throws -> T {
        try await transaction { session in
            if let lease { try await session.checkFence(lease) }
            return try await body(session)
        }
    }

    /// Runs `body` for reads outside any transaction.
    public func read<T: Sendable>(_ body: (StoreSession) async throws -> T) async throws -> T {
        try await database.session { sql in
            try await body(
                StoreSession(
                    sql: sql,
                    kind: database.kind,
                    secrets: secrets,
                    clock: clock,
                    notes: TransactionNotes(),
                    currentTrace: currentTrace
                )
            )
        }
    }

    /// Closes the database.
    public func close() async throws {
        if let task = listener.withLock({ $0 }) {
            task.cancel()
            await task.value
        }
        try await database.close()
    }

    /// Keeps the store open until the service group shuts down, writing the sync's activity every five seconds,
    /// then writes what is left and closes it.
    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try await Task.sleep(for: .seconds(5))
                do {
                    try await self.flushActivity()
                } catch {
                    self.logger.warning("could not write the sync's activity", metadata: ["error": "\(error)"])
                }
            }
        }
        try? await flushActivity()
        try await close()
    }
}

/// One session on the store's database, inside a transaction or not; the repositories are its extensions.
public struct StoreSession: Sendable {
    /// SQL on this session; statements here are part of the session's transaction, if any.
    public let sql: any SQLDatabase
    public let kind: DatabaseKind
    let secrets: SecretBox
    let clock: WallClock
    /// What the session did that someone should hear of once it commits.
    let notes: TransactionNotes
    /// The trace the session's task works in, for the events it writes.
    let currentTrace: @Sendable () -> TraceContext?

    /// Now in the store's time unit: milliseconds since the epoch.
    var nowMilliseconds: Int64 { clock.now().millisecondsSince1970 }
}

/// What a transaction made dirty — work for a connection's workers, events to deliver, connections to (re)lease —
/// heard by the workers once it commits, never before (a worker woken early would find nothing yet). The repositories
/// note it where they write; nobody wakes a worker by hand.
final class TransactionNotes: Sendable {
    private struct Dirty {
        var events = false
        var connections = false
        var work: [WakeUps.Work: Set<ConnectionID>] = [:]
    }

    private let dirty = Mutex(Dirty())

    /// Events were written, or webhook deliveries became due.
    func noteEventsWritten() { dirty.withLock { $0.events = true } }
    /// A connection was authorised, disconnected or changed status.
    func noteConnectionsChanged() { dirty.withLock { $0.connections = true } }
    /// A connection's worker of a kind has work.
    func note(_ work: WakeUps.Work, for connectionIDs: some Sequence<ConnectionID>) {
        dirty.withLock {
            $0.work[work, default: []].formUnion(connectionIDs)
            // What changes a location's stock (settings, listings, mappings) may change an MFN listing's too.
            if work == .inventory { $0.work[.listings, default: []].formUnion(connectionIDs) }
        }
    }
    func noteInventoryChanged(_ connectionID: ConnectionID) { note(.inventory, for: [connectionID]) }
    /// New stock levels for these connections' inventory items, and nothing else: their MFN listings are woken by
    /// the stock write itself, for the connections that sum the hubs written (most connections have none, and a
    /// listings round for each stock change was most of a busy node's reads).
    func noteStockWritten(for connectionIDs: some Sequence<ConnectionID>) {
        dirty.withLock { $0.work[.inventory, default: []].formUnion(connectionIDs) }
    }

    /// What the transaction's writes concern, as PostgreSQL notifications for the other nodes: `e` (events), `c`
    /// (connections), `w <work> <id> <id>…` (a kind of worker of these connections), each after `origin` and a space,
    /// none longer than PostgreSQL's 8,000 bytes.
    func messages(origin: String) -> [String] {
        let dirty = dirty.withLock { $0 }
        var messages: [String] = []
        if dirty.events { messages.append("\(origin) e") }
        if dirty.connections { messages.append("\(origin) c") }
        for (work, connectionIDs) in dirty.work.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            var message = "\(origin) w \(work.rawValue)"
            for id in connectionIDs.map(\.rawValue).sorted() {
                if message.utf8.count + id.utf8.count + 1 > 7_000 {
                    messages.append(message)
                    message = "\(origin) w \(work.rawValue)"
                }
                message += " \(id)"
            }
            messages.append(message)
        }
        return messages
    }

    /// Wakes whoever another node's notification (``messages(origin:)``) concerns; false for one it cannot read.
    static func wake(_ wakeUps: WakeUps, from message: Substring) -> Bool {
        let parts = message.split(separator: " ")
        switch parts.first {
        case "e": wakeUps.events.wake()
        case "c": wakeUps.connections.wake()
        case "w":
            guard parts.count >= 2, let work = WakeUps.Work(rawValue: String(parts[1])) else { return false }
            wakeUps.wake(parts.dropFirst(2).map { ConnectionID(rawValue: String($0)) }, work)
        default: return false
        }
        return true
    }

    /// Wakes whoever the transaction's writes concern.
    func wake(_ wakeUps: WakeUps) {
        let dirty = dirty.withLock { $0 }
        if dirty.events { wakeUps.events.wake() }
        if dirty.connections { wakeUps.connections.wake() }
        for (work, connectionIDs) in dirty.work { wakeUps.wake(connectionIDs, work) }
    }
}
