import Crypto

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Encryption at rest for the secrets Tronch must be able to read back (token signing keys, TOTP
/// seeds): AES-256-GCM under the secrets key, with the key's id on every ciphertext so that the key can be
/// rotated, and a context bound in as associated data so that a ciphertext copied to another row or purpose
/// does not decrypt.
///
/// Text form: `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`.
package struct SecretBox: Sendable {
    package struct Key: Sendable {
        package let id: String
        let key: SymmetricKey
        /// The raw key, for writing it to the key file.
        package let bytes: [UInt8]

        /// A 32-byte key; its id is the first 8 bytes of SHA-256 over it, in hex (it reveals nothing useful).
        package init?(bytes: [UInt8]) {
            guard bytes.count == 32 else { return nil }
            key = SymmetricKey(data: bytes)
            self.bytes = bytes
            id = SHA256.hash(data: Array("tronch secrets key id".utf8) + bytes).prefix(8).hexEncoded
        }
    }

    package struct OpenError: Error, CustomStringConvertible {
        package var description: String
    }

    /// Seals with this key.
    package let current: Key
    /// Older keys that still open what they sealed (during a rotation).
    package let previous: [Key]

    package init(current: Key, previous: [Key] = []) {
        self.current = current
        self.previous = previous
    }

    package func seal(_ plaintext: [UInt8], context: String) throws -> String {
        let box = try AES.GCM.seal(plaintext, using: current.key, authenticating: Array(context.utf8))
        guard let combined = box.combined else { throw OpenError(description: "AES-GCM produced no combined form") }
        return "v1.\(current.id).\(Base64URL.encode(Array(combined)))"
    }

    package func open(_ text: String, context: String) throws -> [UInt8] {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "v1", let combined = Base64URL.decode(String(parts[2])) else {
            throw OpenError(description: "not a Tronch ciphertext")
        }
        guard let key = ([current] + previous).first(where: { $0.id == parts[1] }) else {
            throw OpenError(description: "sealed with secrets key \(parts[1]), which this node does not have")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: combined)
            return Array(try AES.GCM.open(box, using: key.key, authenticating: Array(context.utf8)))
        } catch {
            throw OpenError(description: "the ciphertext does not open with secrets key \(key.id) (tampered, or another context)")
        }
    }

    /// `text` opened with whichever key sealed it and sealed again with the current one.
    package func reseal(_ text: String, context: String) throws -> String {
        SecretBox.keyID(of: text) == current.id ? text : try seal(try open(text, context: context), context: context)
    }

    /// Which key sealed `text`.
    package static func keyID(of text: String) -> String? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3 && parts[0] == "v1" ? String(parts[1]) : nil
    }
}

/// base64url without padding (RFC 4648 §5), as JOSE and Tronch's tokens use it.
package enum Base64URL {
    package static func encode(_ bytes: [UInt8]) -> String {
        var text = Data(bytes).base64EncodedString()
        text = text.replacing("+", with: "-").replacing("/", with: "_")
        while text.last == "=" { text.removeLast() }
        return text
    }

    package static func decode(_ text: String) -> [UInt8]? {
        guard
            text.utf8.allSatisfy({ byte in
                (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
            })
        else { return nil }
        var padded = text.replacing("-", with: "+").replacing("_", with: "/")
        while padded.utf8.count % 4 != 0 { padded += "=" }
        return Data(base64Encoded: padded).map(Array.init)
    }
}
