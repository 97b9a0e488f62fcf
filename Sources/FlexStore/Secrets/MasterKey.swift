import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The key that seals every secret FlexBridge stores: 32 random bytes, written as base64 (or 64 hex digits).
///
/// It comes from `FLEXBRIDGE_MASTER_KEY`, or from a key file. With the embedded SQLite default the key file sits
/// beside the database and is created once, readable by its owner only (mode 0600).
public enum MasterKey {
    /// Where the key comes from.
    public enum Source: Sendable, Hashable {
        /// The key's text itself, from `FLEXBRIDGE_MASTER_KEY`.
        case value(String)
        /// A file holding the key's text.
        case file(path: String, createIfMissing: Bool)
    }

    /// A new random key as base64 text.
    public static func generate() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0).base64EncodedString() }
    }

    /// Parses a key's text: base64 of 32 bytes, or 64 hex digits. `origin` names where the text came from in the
    /// error.
    public static func parse(_ text: String, origin: String) throws -> SymmetricKey {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.count == 64, let bytes = hexBytes(trimmed) {
            return SymmetricKey(data: bytes)
        }
        if let data = Data(base64Encoded: trimmed), data.count == 32 {
            return SymmetricKey(data: data)
        }
        throw StoreError(
            code: .masterKeyInvalid,
            message:
                "The master key in \(origin) is not 32 bytes as base64 or 64 hex digits. Generate one with `flexbridge keygen`."
        )
    }

    /// Reads (or, where allowed, creates) the key. `created` says whether a new key file was written.
    public static func load(_ source: Source) throws -> (key: SymmetricKey, created: Bool) {
        switch source {
        case .value(let text):
            return (try parse(text, origin: "FLEXBRIDGE_MASTER_KEY"), false)
        case .file(let path, let createIfMissing):
            if FileManager.default.fileExists(atPath: path) {
                return (try parse(try readKeyFile(path), origin: "the key file \(path)"), false)
            }
            guard createIfMissing else {
                throw StoreError(
                    code: .masterKeyMissing,
                    message:
                        "The key file \(path) does not exist. Restore it, or set FLEXBRIDGE_MASTER_KEY to the key the database was sealed with."
                )
            }
            let text = generate()
            if try createKeyFile(path, contents: text + "\n") {
                return (try parse(text, origin: "the key file \(path)"), true)
            }
            // Another process created it between our check and our write: use theirs.
            return (try parse(try readKeyFile(path), origin: "the key file \(path)"), false)
        }
    }

    private static func readKeyFile(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw StoreError(
                code: .keyFileUnreadable,
                message:
                    "The key file \(path) cannot be read. Check its owner and permissions (it should be mode 0600, owned by the user running FlexBridge)."
            )
        }
        return text
    }

    /// Creates the file with mode 0600 only if it does not exist; false if it already did.
    private static func createKeyFile(_ path: String, contents: String) throws -> Bool {
        let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY, 0o600)
        if descriptor < 0 {
            if errno == EEXIST { return false }
            throw StoreError(
                code: .keyFileUnreadable,
                message:
                    "Cannot create the key file \(path): \(String(cString: strerror(errno))). Check that its folder is writable."
            )
        }
        defer { close(descriptor) }
        let bytes = Array(contents.utf8)
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(descriptor) == 0 else {
            throw StoreError(
                code: .keyFileUnreadable,
                message: "Cannot write the key file \(path): \(String(cString: strerror(errno)))."
            )
        }
        return true
    }

    private static func hexBytes(_ text: String) -> Data? {
        var data = Data(capacity: text.count / 2)
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            data.append(byte)
            index = next
        }
        return data
    }
}
