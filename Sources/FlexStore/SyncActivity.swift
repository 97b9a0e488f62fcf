import FlexCore
import Foundation
import Synchronization

/// Counts what the sync does per connection and minute in memory (a call to record costs no database write), and
/// hands the counts over to be added to `sync_activity` by ``Store/flushActivity()`` — every few seconds while the
/// store runs as a service, and before the dashboard reads them.
public final class SyncActivity: Sendable {
    private struct Key: Hashable {
        var connectionID: ConnectionID
        var minute: Int64
    }

    private let pending = Mutex<[Key: SyncMinute]>([:])

    public init() {}

    public func record(_ event: SyncMinute.Event, for connectionID: ConnectionID, at date: Date) {
        let key = Key(connectionID: connectionID, minute: SyncMinute.minute(of: date))
        pending.withLock { $0[key, default: SyncMinute(minute: key.minute)].add(event, at: date) }
    }

    /// The counts not yet written, taken out.
    func take() -> [(ConnectionID, SyncMinute)] {
        pending.withLock { counts in
            defer { counts = [:] }
            return counts.map { ($0.key.connectionID, $0.value) }
        }
    }

    /// Puts counts that could not be written back, to go with the next flush.
    func giveBack(_ counts: [(ConnectionID, SyncMinute)]) {
        pending.withLock { pending in
            for (connectionID, minute) in counts {
                pending[
                    Key(connectionID: connectionID, minute: minute.minute),
                    default: SyncMinute(minute: minute.minute)
                ]
                .add(minute)
            }
        }
    }
}
