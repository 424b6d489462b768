#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// The stored state of a key: active until revoked, and never deleted (a revoked key explains why a
/// verification fails and keeps the audit trail whole).
package enum KeyStatus: String, Sendable, Codable, Hashable {
    case active
    case revoked
}

/// The status a client sees: `expired` is derived from `expires_at` and `grace_until`, never stored.
package enum DisplayStatus: String, Sendable, Codable, Hashable, CaseIterable {
    case active
    case revoked
    case expired
}

/// A rate-limit policy: `limit` requests per `period_seconds`, with bursts up to `burst`.
package struct RateLimitPolicy: Sendable, Hashable, Codable {
    package var name: String
    package var limit: Int64
    package var periodSeconds: Int64
    package var burst: Int64

    package init(name: String, limit: Int64, periodSeconds: Int64, burst: Int64? = nil) {
        self.name = name
        self.limit = limit
        self.periodSeconds = periodSeconds
        self.burst = burst ?? limit
    }

    enum CodingKeys: String, CodingKey {
        case name, limit, burst
        case periodSeconds = "period_seconds"
    }
}

/// How a usage-limited key's `remaining` credits are topped up.
package struct Refill: Sendable, Hashable, Codable {
    package enum Interval: String, Sendable, Hashable, Codable, CaseIterable {
        case daily
        case monthly
    }

    package var interval: Interval
    package var amount: Int64

    package init(interval: Interval, amount: Int64) {
        self.interval = interval
        self.amount = amount
    }
}

/// Everything a client may set on a key; shared by create, update and rotate.
package struct KeySettings: Sendable, Hashable {
    package var name: String?
    package var ownerID: String?
    package var scopes: [String] = []
    package var meta: [String: JSONValue] = [:]
    package var enabled: Bool = true
    package var expiresAt: Date?
    package var allowedIPs: [CIDR] = []
    package var ratelimits: [RateLimitPolicy] = []
    package var remaining: Int64?
    package var refill: Refill?

    package init() {}
}

/// One key as stored.
package struct KeyRecord: Sendable, Hashable {
    package var id: UUID
    package var digest: KeyDigest
    package var hashVersion: Int
    /// Display hint: prefix, environment and the first characters of the random part.
    package var start: String
    /// Display hint: the last four characters.
    package var end: String
    package var environment: KeyEnvironment
    package var status: KeyStatus
    package var settings: KeySettings
    package var createdAt: Date
    package var updatedAt: Date
    package var lastUsedAt: Date?
    package var revokedAt: Date?
    /// The principal that created the key (a key id, or `bootstrap`).
    package var createdBy: String?
    /// The key this one replaced by rotation.
    package var rotatedFrom: UUID?
    /// Set on the old key by a rotation: it keeps working until then.
    package var graceUntil: Date?

    package init(
        id: UUID, digest: KeyDigest, hashVersion: Int, start: String, end: String, environment: KeyEnvironment,
        status: KeyStatus = .active, settings: KeySettings, createdAt: Date, updatedAt: Date? = nil,
        lastUsedAt: Date? = nil, revokedAt: Date? = nil, createdBy: String? = nil, rotatedFrom: UUID? = nil,
        graceUntil: Date? = nil
    ) {
        self.id = id
        self.digest = digest
        self.hashVersion = hashVersion
        self.start = start
        self.end = end
        self.environment = environment
        self.status = status
        self.settings = settings
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.lastUsedAt = lastUsedAt
        self.revokedAt = revokedAt
        self.createdBy = createdBy
        self.rotatedFrom = rotatedFrom
        self.graceUntil = graceUntil
    }

    /// The moment the key stops working without being revoked: its expiry or the end of its rotation grace
    /// period, whichever comes first.
    package var endsAt: Date? {
        switch (settings.expiresAt, graceUntil) {
        case (let expiry?, let grace?): min(expiry, grace)
        case (let expiry?, nil): expiry
        case (nil, let grace?): grace
        case (nil, nil): nil
        }
    }

    package func displayStatus(at now: Date) -> DisplayStatus {
        if status == .revoked { return .revoked }
        if let endsAt, endsAt <= now { return .expired }
        return .active
    }
}
