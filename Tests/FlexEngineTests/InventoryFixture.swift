import AmazonSimulator
import FlexCore
import FlexEngine
import FlexStore
import FlexStoreTesting
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import SellingPartner

/// A seller connected to a simulated Amazon over real HTTP, with one hub mapped to one MFN location and SKUs listed
/// on both sides: the stage for inventory sync tests.
struct InventoryFixture: Sendable {
    static let merchant = "A1INVSELLER"
    static let marketplace = "A21TJRUUN4KGV"
    static let hub = HubCode(rawValue: "HUB1")

    let simulator: Simulator
    let base: URL
    let store: Store
    let clock: TestClock
    let connection: Connection
    let refreshToken: String
    let locationID: String

    /// Runs `body` with a fresh simulator (no throttling unless asked) and a fresh store of `engine`; `skus` are
    /// listed in the store (warehouse SKU `W-x` ↔ merchant SKU `x`) and, unless in `unknownAtAmazon`, at Amazon.
    static func run(
        engine: TestEngine = .sqlite,
        skus: [String] = ["SKU-A", "SKU-B"],
        unknownAtAmazon: Set<String> = [],
        otherMarketplaces: [String] = [],
        simulator configuration: Simulator.Configuration = Simulator.Configuration(throttling: false),
        _ body: @Sendable (InventoryFixture) async throws -> Void
    ) async throws {
        let simulator = Simulator(configuration: configuration)
        let app = try await SimulatorServer.makeApplication(
            simulator: simulator,
            host: "127.0.0.1",
            port: 0,
            logger: Logger(label: "simulator")
        )
        try await app.test(.live) { client in
            let base = URL(string: "http://127.0.0.1:\(client.port!)")!
            try await TestDatabase.with(engine) { database in
                let clock = TestClock(Date())
                let store = try await Store.open(
                    Store.Configuration(databaseURL: database.url, masterKey: .value(MasterKey.generate())),
                    clock: clock.wallClock
                )
                do {
                    let locationID = await simulator.ensureLocation(
                        merchantID: merchant,
                        name: "Hub one",
                        marketplaceID: marketplace,
                        channel: "MFN"
                    )
                    try await simulator.addListings(
                        merchantID: merchant,
                        marketplaceID: marketplace,
                        skus: skus.filter { !unknownAtAmazon.contains($0) }
                    )
                    let refreshToken = try await simulator.authorize(merchantID: merchant)
                    let connection = Connection(
                        name: "Inventory test",
                        sellingPartnerID: SellingPartnerID(rawValue: merchant),
                        region: .eu,
                        marketplaceIDs: ([marketplace] + otherMarketplaces).map(MarketplaceID.init(rawValue:)),
                        applicationClientID: configuration.clientID,
                        endpointOverride: base,
                        createdAt: clock.now
                    )
                    try await store.transaction { session in
                        try await session.insertConnection(
                            connection,
                            clientSecret: configuration.clientSecret,
                            actor: "test"
                        )
                        try await session.authorize(connection.id, refreshToken: refreshToken, actor: "test")
                        try await session.setLocationMapping(
                            LocationMapping(
                                connectionID: connection.id,
                                hub: hub,
                                locationID: LocationID(rawValue: locationID),
                                channel: .mfn,
                                createdAt: clock.now
                            ),
                            actor: "test"
                        )
                        try await session.upsertListings(
                            skus.enumerated().map { index, sku in
                                Listing(
                                    connectionID: connection.id,
                                    marketplaceID: MarketplaceID(rawValue: marketplace),
                                    warehouseSKU: WarehouseSKU(rawValue: "W-\(sku)"),
                                    merchantSKU: MerchantSKU(rawValue: sku),
                                    asin: ASIN(rawValue: String(format: "B%09d", index)),
                                    updatedAt: clock.now
                                )
                            }
                        )
                    }
                    try await body(
                        InventoryFixture(
                            simulator: simulator,
                            base: base,
                            store: store,
                            clock: clock,
                            connection: connection,
                            refreshToken: refreshToken,
                            locationID: locationID
                        )
                    )
                    try await store.close()
                } catch {
                    try? await store.close()
                    throw error
                }
            }
        }
    }

    /// A worker for the connection, on a client made the way the engine makes it.
    func worker() async throws -> InventoryWorker {
        let client = try await AmazonClients().client(for: connection.id, store: store)
        return InventoryWorker(
            connectionID: connection.id,
            store: store,
            client: client,
            logger: Logger(label: "test.inventory")
        )
    }

    /// Files Amazon's notification of a change of the seller's shipment `id`, as the notification endpoint does;
    /// returns the connections it was filed under.
    @discardableResult
    func notify(_ id: String, status: String? = nil) async throws -> [ConnectionID] {
        try await store.transaction {
            try await $0.requestShipmentFetch(
                sellingPartnerID: Self.merchant,
                shipmentID: ShipmentID(rawValue: id),
                status: status
            )
        }
    }

    /// Records WMS stock for warehouse SKUs `W-x` at the hub.
    @discardableResult
    func stock(_ levels: [String: Int], hub: HubCode = hub) async throws -> StockWrite {
        try await store.transaction { session in
            try await session.recordStock(
                levels.sorted { $0.key < $1.key }.map {
                    StockLevel(hub: hub, warehouseSKU: WarehouseSKU(rawValue: "W-\($0.key)"), quantity: $0.value)
                },
                account: .default
            )
        }
    }

    /// Amazon's ground truth for a merchant SKU at the fixture's location.
    func amazon(_ sku: String) async -> SimulatedStock? {
        await simulator.groundTruth().stock.first { $0.locationId == locationID && $0.skuId == sku }
            .map {
                SimulatedStock(
                    quantity: $0.quantity,
                    reserved: $0.reservedQuantity,
                    sequence: Int64($0.clientSequenceNumber)
                )
            }
    }

    /// The batchInventory calls the simulator has received.
    func inventoryCalls() async -> Int {
        await simulator.recordedRequests().filter { $0.operation == "batchInventory" }.count
    }

    func settings(_ change: @escaping @Sendable (inout ConnectionSettings) -> Void) async throws {
        _ = try await store.transaction { session in
            try await session.updateSettings(of: connection.id, actor: "test", change)
        }
    }

    func item(_ sku: String) async throws -> InventoryItemStatus? {
        try await store.read { session in
            try await session.stockStatus(of: WarehouseSKU(rawValue: "W-\(sku)"), account: .default).items.first {
                $0.merchantSKU.rawValue == sku
            }
        }
    }
}

struct SimulatedStock: Sendable, Hashable {
    var quantity: Int
    var reserved: Int
    var sequence: Int64
}
