#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// One login: the refresh tokens of one family live and die with it.
package struct SessionRecord: Sendable, Hashable {
    package var id: UUID
    package var userID: UUID
    package var createdAt: Date
    package var lastSeenAt: Date
    /// The absolute end (login + TRONCH_REFRESH_TOKEN_TTL).
    package var expiresAt: Date
    package var ip: String?
    package var userAgent: String?
    /// Authentication methods of the login (`pwd`, `otp`, `recovery_code`).
    package var amr: [String]
    package var revokedAt: Date?
    /// Why it ended: `logout`, `revoked`, `refresh_reuse`, `anomaly`, `user_deleted`, `password_changed`, ….
    package var revokedReason: String?

    package init(
        id: UUID,
        userID: UUID,
        createdAt: Date,
        lastSeenAt: Date? = nil,
        expiresAt: Date,
        ip: String?,
        userAgent: String?,
        amr: [String],
        revokedAt: Date? = nil,
        revokedReason: String? = nil
    ) {
        self.id = id
        self.userID = userID
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt ?? createdAt
        self.expiresAt = expiresAt
        self.ip = ip
        self.userAgent = userAgent
        self.amr = amr
        self.revokedAt = revokedAt
        self.revokedReason = revokedReason
    }

    /// Whether the session can still be refreshed at `now` with `idle` as the idle timeout.
    package func isLive(at now: Date, idleTimeout: TimeInterval) -> Bool {
        revokedAt == nil && expiresAt > now && lastSeenAt.addingTimeInterval(idleTimeout) > now
    }

    /// The anomaly rule: a refresh from another client address *and* another user agent than the login's
    /// looks like a stolen refresh token used elsewhere. Either alone is ordinary (mobile networks, updates).
    package func isAnomalous(ip otherIP: String?, userAgent otherAgent: String?) -> Bool {
        otherIP != ip && otherAgent != userAgent
    }
}

/// A refresh token as stored: only its HMAC.
package struct RefreshTokenRecord: Sendable, Hashable {
    package var digest: KeyDigest
    package var sessionID: UUID
    package var createdAt: Date
    package var expiresAt: Date
    /// When it was exchanged for a new pair; presenting it again afterwards is reuse.
    package var usedAt: Date?

    package init(digest: KeyDigest, sessionID: UUID, createdAt: Date, expiresAt: Date, usedAt: Date? = nil) {
        self.digest = digest
        self.sessionID = sessionID
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
    }
}

/// Opaque refresh tokens: `{prefix}_rt_` and 43 base64url characters (256 random bits), a shape secret
/// scanners can recognise, told apart from keys (`_sk_`) and JWTs (dots) by its look alone.
package enum RefreshTokenFormat {
    package static func generate(prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return "\(prefix)_rt_\(Base64URL.encode(bytes))"
    }

    /// Whether `token` has the shape of a refresh token (any prefix): `_rt_` then 43 base64url characters at
    /// its end. Every API key a request carries is asked this, so it reads bytes at fixed offsets (a string
    /// search here cost 5% of a verification's CPU).
    package static func looksLikeRefreshToken(_ token: String) -> Bool {
        var token = token
        return token.withUTF8 { bytes in
            let start = bytes.count - 47
            guard start >= 1, bytes[start] == UInt8(ascii: "_"), bytes[start + 1] == UInt8(ascii: "r"),
                bytes[start + 2] == UInt8(ascii: "t"), bytes[start + 3] == UInt8(ascii: "_")
            else { return false }
            for byte in bytes[(start + 4)...] {
                switch byte {
                case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                    UInt8(ascii: "-"), UInt8(ascii: "_"):
                    continue
                default: return false
                }
            }
            return true
        }
    }
}

/// An entry of the access-token denylist: a session id (`sid`) or a token id (`jti`) whose tokens are refused
/// until `expiresAt`, when every token it could cover has expired anyway.
package struct DenylistEntry: Sendable, Hashable {
    package enum Kind: String, Sendable, Hashable { case sid, jti }

    package var kind: Kind
    package var value: String
    package var expiresAt: Date

    package init(kind: Kind, value: String, expiresAt: Date) {
        self.kind = kind
        self.value = value
        self.expiresAt = expiresAt
    }
}

/// A signing key of access tokens. `active` signs; `passive` only verifies (the previous active key, until
/// every token it signed has expired); `retired` is kept for the record and verifies nothing.
package struct SigningKeyRecord: Sendable, Hashable {
    package enum State: String, Sendable, Hashable { case active, passive, retired }
    package enum Algorithm: String, Sendable, Hashable {
        case es256 = "ES256"
        case rs256 = "RS256"
    }

    package var kid: String
    package var algorithm: Algorithm
    package var state: State
    /// The private key (PEM), sealed with the secrets key (``SecretBox``), context `signing-key:<kid>`.
    package var sealedPrivateKey: String
    /// The public key as a JWK (JSON text), for the JWKS.
    package var publicJWK: String
    package var createdAt: Date
    /// When it stopped signing (became passive).
    package var deactivatedAt: Date?
    package var retiredAt: Date?

    package init(
        kid: String,
        algorithm: Algorithm,
        state: State,
        sealedPrivateKey: String,
        publicJWK: String,
        createdAt: Date,
        deactivatedAt: Date? = nil,
        retiredAt: Date? = nil
    ) {
        self.kid = kid
        self.algorithm = algorithm
        self.state = state
        self.sealedPrivateKey = sealedPrivateKey
        self.publicJWK = publicJWK
        self.createdAt = createdAt
        self.deactivatedAt = deactivatedAt
        self.retiredAt = retiredAt
    }
}

/// What presenting a refresh token does, decided from the stored token and its session alone.
package enum RefreshDecision: Sendable, Hashable {
    /// Good: the presented token dies, `next` is stored, the session is seen now.
    case rotate(next: RefreshTokenRecord)
    /// The token was already exchanged: someone replays it. Its whole family dies with the session.
    case reused(SessionRecord)
    /// Another address and another user agent than the login's: the session ends.
    case anomaly(SessionRecord)
    /// The session has ended (logout, revocation, idle or absolute timeout, its user gone).
    case sessionEnded(SessionRecord)
    /// No such token, or it expired: nothing changes.
    case invalid

    /// RFC 6819 §5.2.2.3 refresh-token rotation with reuse detection, and Tronch's session rules.
    package static func decide(
        token: RefreshTokenRecord?,
        session: SessionRecord?,
        now: Date,
        idleTimeout: TimeInterval,
        checkAnomaly: Bool,
        ip: String?,
        userAgent: String?,
        next: () -> RefreshTokenRecord
    ) -> RefreshDecision {
        guard let token, let session else { return .invalid }
        // A used token is reuse even after its session ended: that is when a thief tries it.
        if token.usedAt != nil { return session.revokedAt == nil ? .reused(session) : .sessionEnded(session) }
        guard token.expiresAt > now else { return .invalid }
        guard session.isLive(at: now, idleTimeout: idleTimeout) else { return .sessionEnded(session) }
        if checkAnomaly && session.isAnomalous(ip: ip, userAgent: userAgent) { return .anomaly(session) }
        return .rotate(next: next())
    }
}
