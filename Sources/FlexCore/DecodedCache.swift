import Foundation
import Synchronization

/// Values decoded from JSON text, kept by the text: a pure function's answers, so a stale entry cannot exist. Emptied
/// whole when it reaches its capacity, which bounds its memory without bookkeeping per entry.
package final class DecodedCache<Value: Decodable & Sendable>: Sendable {
    private let capacity: Int
    private let values = Mutex<[String: Value]>([:])

    package init(capacity: Int) { self.capacity = capacity }

    package func value(for text: String) throws -> Value {
        if let value = values.withLock({ $0[text] }) { return value }
        let value = try JSONDecoder().decode(Value.self, from: Data(text.utf8))
        remember(value, for: text)
        return value
    }

    /// Keeps `value` as what `text` decodes to: for text just encoded from it, which is read back soon.
    package func remember(_ value: Value, for text: String) {
        values.withLock { values in
            if values.count >= capacity { values.removeAll(keepingCapacity: true) }
            values[text] = value
        }
    }
}
