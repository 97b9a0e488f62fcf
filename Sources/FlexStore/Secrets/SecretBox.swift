import Crypto
import Foundation

/// Seals and opens secrets at rest with AES-GCM under the master key.
///
/// Each secret is sealed with the place it belongs to as associated data (such as
/// `connection:ID:refresh_token`), so a sealed value copied to another row or column does not open.
public struct SecretBox: Sendable {
    private let key: SymmetricKey

    public init(key: SymmetricKey) {
        self.key = key
    }

    /// Seals `secret` for `context`, returning base64 text of nonce, ciphertext and tag.
    public func seal(_ secret: String, context: String) throws -> String {
        let box = try AES.GCM.seal(Data(secret.utf8), using: key, authenticating: Data(context.utf8))
        guard let combined = box.combined else {
            throw StoreError(code: .secretUnreadable, message: "Sealing a secret for \(context) failed.")
        }
        return combined.base64EncodedString()
    }

    /// Opens a value sealed for `context`; fails when the key or the context is not the one it was sealed with.
    public func open(_ sealed: String, context: String) throws -> String {
        guard
            let data = Data(base64Encoded: sealed),
            let box = try? AES.GCM.SealedBox(combined: data),
            let plain = try? AES.GCM.open(box, using: key, authenticating: Data(context.utf8)),
            let text = String(data: plain, encoding: .utf8)
        else {
            throw StoreError(
                code: .secretUnreadable,
                message:
                    "The secret stored for \(context) does not open with the master key: the key is not the one it was sealed with, or the value was altered."
            )
        }
        return text
    }
}
