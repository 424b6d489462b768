/// A key brought from another system: its secret in plain text (hashed on arrival, never stored), or only the
/// SHA-256 hash that system kept.
package enum ImportedSecret: Sendable, Hashable {
    case plaintext(String)
    case sha256(KeyDigest)

    /// Bounds on an imported plain-text key: short secrets are guessable, and keys travel in headers.
    package static let minLength = 20
    package static let maxLength = 256

    /// Nil when `key` can be imported, otherwise why not.
    package static func problem(withPlaintext key: String) -> String? {
        let count = key.utf8.count
        guard count >= minLength else { return "must be at least \(minLength) characters: a shorter secret is guessable" }
        guard count <= maxLength else { return "must be at most \(maxLength) characters" }
        guard key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            return "must be printable ASCII without spaces (keys travel in HTTP headers)"
        }
        return nil
    }

    /// The display hints (`start`, `end`) of an imported key. A Tronch-format key gets its usual ones; any
    /// other shows at most a quarter of itself, so the hints never give much of a foreign secret away.
    package static func hints(forPlaintext key: String) -> (start: String, end: String) {
        if KeyFormat.parse(key) != nil { return KeyFormat.hints(for: key) }
        let bytes = Array(key.utf8)
        let start = min(8, bytes.count / 4)
        let end = min(4, bytes.count / 8)
        return (String(decoding: bytes.prefix(start), as: UTF8.self), String(decoding: bytes.suffix(end), as: UTF8.self))
    }
}
