import FlexCore
import FlexStore
import FlexUseCases
import Foundation
import Synchronization

/// Imports CSV files into the store as `flexbridge import` does: the whole file is read and checked first, so a file
/// with a bad row changes nothing; then it is written in one transaction, chunk by chunk, reporting progress.
public struct Importer: Sendable {
    public let store: Store

    public init(store: Store) {
        self.store = store
    }

    /// What an import did.
    public struct Report: Sendable, Hashable {
        public var rows: Int
        /// Amazon items (location × merchant SKU × channel) made pending.
        public var pendingItems: Int
        /// Listings given by ASIN only, whose SKU is looked up at Amazon.
        public var awaitingSKU: Int = 0
    }

    /// Imports listings in the seeds' format for a connection. `progress` gets (rows written, rows in all).
    public func importListings(
        csv text: String,
        connectionID: ConnectionID,
        progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws -> Report {
        guard let connection = try await store.read({ try await $0.connection(connectionID) }) else {
            throw StoreError.notFound("Connection \(connectionID)")
        }
        let listings = try CSVTable(parsing: text).listings(for: connection)
        let result = try await InventoryUseCases(store: store).importListings(
            listings,
            connectionID: connectionID,
            progress: progress
        )
        return Report(rows: result.imported, pendingItems: result.pendingItems, awaitingSKU: result.awaitingSKU)
    }

    /// Imports prices (sku, marketplace, price and the optional columns of `CSVTable.prices`).
    public func importPrices(
        csv text: String,
        progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws -> (rows: Int, changed: Int, unlisted: Int) {
        let prices = try CSVTable(parsing: text).prices()
        progress(0, prices.count)
        let write = try await InventoryUseCases(store: store).recordPrices(prices, account: .default)
        progress(prices.count, prices.count)
        return (prices.count, write.changed, write.unlisted)
    }

    /// Imports stock levels (hub, sku, quantity).
    public func importStock(
        csv text: String,
        progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws -> Report {
        let levels = try CSVTable(parsing: text).stockLevels()
        progress(0, levels.count)
        let write = try await InventoryUseCases(store: store).recordStock(levels, account: .default)
        progress(levels.count, levels.count)
        return Report(rows: levels.count, pendingItems: write.changedItems)
    }
}

/// A progress bar on standard error, redrawn in place when it is a terminal, else one line at the end.
public final class ProgressBar: Sendable {
    let title: String
    let isTerminal = isatty(FileHandle.standardError.fileDescriptor) != 0
    /// Set once the bar reached its end: an import that reports "all done" twice (an empty file) draws it once.
    private let finished = Atomic<Bool>(false)

    public init(title: String) {
        self.title = title
    }

    public func update(_ done: Int, _ total: Int) {
        if done == total, finished.exchange(true, ordering: .relaxed) { return }
        let share = total == 0 ? 1 : Double(done) / Double(total)
        let width = 30
        let filled = Int((share * Double(width)).rounded(.down))
        let line =
            "\(title) [\(String(repeating: "#", count: filled))\(String(repeating: " ", count: width - filled))] \(Int(share * 100))% \(done)/\(total)"
        if isTerminal {
            FileHandle.standardError.write(Data(("\r" + line + (done == total ? "\n" : "")).utf8))
        } else if done == total {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
}
