public import Foundation

/// A key as Tronch shows it (never its secret, except once in ``CreatedKey``).
public struct Key: Sendable, Hashable, Decodable, Identifiable {
    public var id: String
    public var name: String?
    public var ownerId: String?
    public var environment: String
    /// `active`, `expired` or `revoked`.
    public var status: String
    public var enabled: Bool
    public var scopes: [String]
    /// The first and last characters of the secret, to recognise it.
    public var start: String
    public var end: String
    public var createdAt: Date
    public var updatedAt: Date
    public var expiresAt: Date?
    public var lastUsedAt: Date?
    public var revokedAt: Date?
    public var graceUntil: Date?
    public var ratelimits: [RateLimitPolicy]
    public var remaining: Int64?
}

/// A new key and its secret, which Tronch sends only this once.
public struct CreatedKey: Sendable, Hashable, Decodable {
    public var key: Key
    /// The secret to give to the key's holder.
    public var secret: String

    private enum CodingKeys: String, CodingKey { case key }

    public init(from decoder: any Decoder) throws {
        key = try Key(from: decoder)
        secret = try decoder.container(keyedBy: CodingKeys.self).decode(String.self, forKey: .key)
    }
}

public struct RateLimitPolicy: Sendable, Hashable, Codable {
    public var name: String
    public var limit: Int64
    public var periodSeconds: Int64

    public init(name: String, limit: Int64, periodSeconds: Int64) {
        self.name = name
        self.limit = limit
        self.periodSeconds = periodSeconds
    }
}

/// What a new key is made with; everything is optional.
public struct KeyCreation: Sendable, Hashable, Encodable {
    public var name: String?
    public var ownerId: String?
    /// `live` (the default) or `test`.
    public var environment: String?
    public var scopes: [String]?
    public var expiresAt: Date?
    public var ratelimits: [RateLimitPolicy]?
    /// Credits: verifications left before `USAGE_EXCEEDED`.
    public var remaining: Int64?

    public init(
        name: String? = nil,
        ownerId: String? = nil,
        environment: String? = nil,
        scopes: [String]? = nil,
        expiresAt: Date? = nil,
        ratelimits: [RateLimitPolicy]? = nil,
        remaining: Int64? = nil
    ) {
        self.name = name
        self.ownerId = ownerId
        self.environment = environment
        self.scopes = scopes
        self.expiresAt = expiresAt
        self.ratelimits = ratelimits
        self.remaining = remaining
    }
}

/// A page of keys, newest first.
public struct KeyPage: Sendable, Hashable, Decodable {
    public var data: [Key]
    /// Pass it as `cursor` for the next page; nil on the last.
    public var nextCursor: String?
}

/// The answer of a verification: whether the key may be used for this request, and why not.
public struct Verification: Sendable, Hashable, Decodable {
    public var valid: Bool
    /// `VALID`, `NOT_FOUND`, `REVOKED`, `DISABLED`, `EXPIRED`, `FORBIDDEN`, `SIGNATURE_INVALID`,
    /// `SIGNATURE_EXPIRED`, `SIGNATURE_REPLAYED`, `INSUFFICIENT_SCOPES`, `RATE_LIMITED` or `USAGE_EXCEEDED`.
    public var code: String
    public var keyId: String?
    public var name: String?
    public var ownerId: String?
    public var environment: String?
    public var scopes: [String]?
    public var expiresAt: Date?
    /// Credits left (nil: unlimited).
    public var remaining: Int64?
    /// Each rate-limit policy's state after this verification (empty when none applies).
    public var ratelimits: [RateLimitState]?
}

public struct RateLimitState: Sendable, Hashable, Decodable {
    public var name: String
    public var limit: Int64
    public var remaining: Int64
    public var resetSeconds: Int64
}

/// A person's account.
public struct User: Sendable, Hashable, Decodable, Identifiable {
    public var id: String
    public var username: String
    public var email: String
    public var displayName: String?
    /// `admin`, `member` or `viewer`.
    public var role: String
    /// `active` or `disabled`.
    public var status: String
    public var mfaEnabled: Bool
    public var createdAt: Date
    public var lastLoginAt: Date?
}

public struct UserCreation: Sendable, Hashable, Encodable {
    public var username: String
    public var email: String
    public var password: String?
    public var role: String?
    public var displayName: String?

    public init(username: String, email: String, password: String? = nil, role: String? = nil, displayName: String? = nil) {
        self.username = username
        self.email = email
        self.password = password
        self.role = role
        self.displayName = displayName
    }
}

/// A login's (or a refresh's) tokens.
public struct Tokens: Sendable, Hashable, Decodable {
    /// A short-lived JWT for ``TronchClient/Credential/accessToken(_:)``.
    public var accessToken: String
    public var tokenType: String
    /// Seconds until the access token expires.
    public var expiresIn: Int
    /// Gets the next pair from ``TronchClient/refresh(_:)``; used once.
    public var refreshToken: String
    public var sessionId: String
}

/// Whether a principal may do an action on a resource, and the rule that decided.
public struct AuthzDecision: Sendable, Hashable, Decodable {
    public var allowed: Bool
    public var reason: Reason

    public struct Reason: Sendable, Hashable, Decodable {
        /// `acl_deny`, `acl_allow`, `dacl_deny`, `dacl_allow`, `fallback` or `key_scope`.
        public var rule: String
        public var entryId: String?
        public var resource: String?
    }
}
