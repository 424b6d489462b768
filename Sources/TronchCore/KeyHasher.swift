import Crypto

/// HMAC-SHA-256 of a key under the server's pepper.
///
/// Keys are high-entropy random secrets, so a fast keyed hash is the right tool (NIST SP 800-63B look-up
/// secrets); a slow password hash would only slow verification. The HMAC is keyed once and the keyed state is
/// copied for each key, which halves the cost of a hash.
package struct KeyHasher: Sendable {
    /// Identifies the hashing scheme and pepper, stored with each key so the pepper can later be rotated.
    package let version: Int
    private let keyed: HMAC<SHA256>
    /// Names the pepper without revealing it: the first 16 hex digits of its fingerprint, stored with each
    /// key so a rotation can tell which keys still need the old pepper.
    package let id: String

    package init(pepper: some Sequence<UInt8>, version: Int = 1) {
        self.version = version
        let keyed = HMAC<SHA256>(key: SymmetricKey(data: Array(pepper)))
        self.keyed = keyed
        var hmac = keyed
        hmac.update(data: Array(Self.fingerprintText.utf8))
        self.fingerprint = hmac.finalize().hexEncoded
        self.id = String(fingerprint.prefix(16))
    }

    /// HMAC of a fixed text under the pepper: kept in the database to recognise the pepper at start-up.
    package let fingerprint: String
    package static let fingerprintText = "tronch pepper fingerprint v1"

    package func digest(_ key: String) -> KeyDigest {
        var hmac = keyed
        var key = key
        key.withUTF8 { hmac.update(data: UnsafeRawBufferPointer($0)) }
        let code = hmac.finalize()
        return code.withUnsafeBytes { raw in
            KeyDigest(
                w0: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                w1: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                w2: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                w3: UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            )
        }
    }
}

extension KeyHasher {
    /// Tronch's own scheme: HMAC-SHA-256 under the pepper.
    package static let hmacVersion = 1
    /// A plain SHA-256 of the key, as another system stored it: kept only for imported keys until their first
    /// successful verification, which replaces it with Tronch's HMAC.
    package static let importedSHA256Version = 2

    /// The unkeyed SHA-256 of a key, the form an imported hash takes.
    package static func sha256(_ key: String) -> KeyDigest {
        var key = key
        let hash = key.withUTF8 { SHA256.hash(data: UnsafeRawBufferPointer($0)) }
        return KeyDigest(bytes: Array(hash))!
    }
}
