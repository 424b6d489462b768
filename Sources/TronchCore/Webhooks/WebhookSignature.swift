import Crypto

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Standard Webhooks signatures (standardwebhooks.com, as Svix and others send them): `webhook-signature:
/// v1,<base64 HMAC-SHA256 of "{webhook-id}.{webhook-timestamp}.{body}">`, keyed with the bytes of a
/// `whsec_<base64>` secret.
package enum WebhookSignature {
    package static let secretPrefix = "whsec_"

    /// A new secret: `whsec_` and 32 random bytes in base64.
    package static func newSecret() -> (text: String, bytes: [UInt8]) {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return (secretPrefix + Data(bytes).base64EncodedString(), bytes)
    }

    /// The key bytes of a `whsec_…` secret.
    package static func key(of secret: String) -> [UInt8]? {
        guard secret.hasPrefix(secretPrefix) else { return nil }
        return Data(base64Encoded: String(secret.dropFirst(secretPrefix.count))).map(Array.init)
    }

    /// The `webhook-signature` value for one attempt.
    package static func sign(id: String, timestamp: Int64, body: [UInt8], key: [UInt8]) -> String {
        let content = Array("\(id).\(timestamp).".utf8) + body
        return "v1," + Data(HMAC<SHA256>.authenticationCode(for: content, using: SymmetricKey(data: key))).base64EncodedString()
    }
}
