import Foundation

/// JSON as text with sorted keys: the same value always gives the same text, so stored documents, event payloads
/// and request fingerprints compare byte for byte.
public enum JSONText {
    public static func encode(_ value: some Encodable) throws -> String {
        String(decoding: try data(value), as: UTF8.self)
    }

    public static func data(_ value: some Encodable) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return try encoder.encode(value)
    }
}
