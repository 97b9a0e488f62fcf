import Foundation
import Synchronization

/// Values decoded from JSON text, kept by the text: a pure function's answers, so a stale entry cannot exist. Emptied
/// whole when it reaches its capacity, which bounds its memory without bookkeeping per entry.
final class DecodedCache<Value: Decodable & Sendable>: Sendable {
    private let capacity: Int
    private let values = Mutex<[String: Value]>([:])

    init(capacity: Int) { self.capacity = capacity }

    func value(for text: String) throws -> Value {
        if let value = values.withLock({ $0[text] }) { return value }
        let value = try JSONDecoder().decode(Value.self, from: Data(text.utf8))
        values.withLock { values in
            if values.count >= capacity { values.removeAll(keepingCapacity: true) }
            values[text] = value
        }
        return value
    }
}
