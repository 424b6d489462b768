import Crypto

#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// A second factor enrolled by a user. TOTP today; the same record and ``MFAFactorKind`` leave room for
/// WebAuthn or e-mail codes without touching the login flow.
package struct MFAFactorRecord: Sendable, Hashable {
    package var userID: UUID
    package var kind: MFAFactorKind
    /// The factor's secret sealed with the secrets key (``SecretBox``), context `mfa:<kind>:<user id>`.
    package var sealedSecret: String
    /// Nil while pending (enrolled, not yet confirmed with a code).
    package var confirmedAt: Date?
    /// The last TOTP step accepted: a code is accepted once.
    package var lastStep: Int64?
    package var createdAt: Date

    package init(userID: UUID, kind: MFAFactorKind, sealedSecret: String, confirmedAt: Date? = nil, lastStep: Int64? = nil, createdAt: Date) {
        self.userID = userID
        self.kind = kind
        self.sealedSecret = sealedSecret
        self.confirmedAt = confirmedAt
        self.lastStep = lastStep
        self.createdAt = createdAt
    }

    /// The associated data a factor's sealed secret is bound to.
    package static func context(kind: MFAFactorKind, userID: UUID) -> String { "mfa:\(kind.rawValue):\(userID.lowercased)" }
}

package enum MFAFactorKind: String, Sendable, Hashable, CaseIterable {
    case totp
}

/// The second step of a login: a password accepted for a user with MFA gives this, not tokens.
package struct MFAChallengeRecord: Sendable, Hashable {
    package var digest: KeyDigest
    package var userID: UUID
    package var createdAt: Date
    package var expiresAt: Date
    /// Wrong codes so far; the challenge dies at ``maxFailures``.
    package var failures: Int
    package var ip: String?
    package var userAgent: String?
    /// For a step-up: the session whose access token lacked a second factor (nil for a login).
    package var sessionID: UUID?

    package static let maxFailures = 5
    package static let lifetime: TimeInterval = 300

    package init(
        digest: KeyDigest,
        userID: UUID,
        createdAt: Date,
        expiresAt: Date,
        failures: Int = 0,
        ip: String?,
        userAgent: String?,
        sessionID: UUID? = nil
    ) {
        self.digest = digest
        self.userID = userID
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.failures = failures
        self.ip = ip
        self.userAgent = userAgent
        self.sessionID = sessionID
    }
}

/// Recovery codes: ten single-use codes of 80 random bits each (NIST SP 800-63B look-up secrets), shown
/// once as `xxxx-xxxx-xxxx-xxxx` (base32, lower case), stored as HMACs like keys.
package enum RecoveryCodes {
    package static let count = 10

    package static func generate() -> [String] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in
            let bytes = (0..<10).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            let text = Base32.encode(bytes).lowercased()
            return stride(from: 0, to: 16, by: 4).map { start in
                String(text.dropFirst(start).prefix(4))
            }.joined(separator: "-")
        }
    }

    /// The code as hashed: lower case, without dashes or spaces, so `ABCD EFGH…` and `abcd-efgh-…` are one.
    package static func normalize(_ code: String) -> String {
        code.lowercased().filter { $0 != "-" && $0 != " " }
    }
}

/// A new TOTP secret: 160 random bits (RFC 4226 §4 recommends at least 160 for SHA-1).
package func newTOTPSecret() -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<20).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
}
