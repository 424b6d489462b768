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
    /// The key's request-signing secret, sealed with the secrets key (nil: requests need no signature).
    package var signingSecret: String?
    /// Which pepper its digest was made with (``KeyHasher/id``); nil for keys stored before peppers had ids,
    /// which are the database's first pepper's.
    package var pepperID: String?

    package init(
        id: UUID,
        digest: KeyDigest,
        hashVersion: Int,
        start: String,
        end: String,
        environment: KeyEnvironment,
        status: KeyStatus = .active,
        settings: KeySettings,
        createdAt: Date,
        updatedAt: Date? = nil,
        lastUsedAt: Date? = nil,
        revokedAt: Date? = nil,
        createdBy: String? = nil,
        rotatedFrom: UUID? = nil,
        graceUntil: Date? = nil,
        signingSecret: String? = nil,
        pepperID: String? = nil
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
        self.signingSecret = signingSecret
        self.pepperID = pepperID
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

extension RateLimitPolicy {
    /// Reads `LIMIT/PERIOD` or `LIMIT/PERIOD/BURST` as configuration writes it: `1000/1h`, `5/60`, `100/1m/20`.
    /// The period is a whole number with an optional unit `s`, `m`, `h` or `d` (seconds without one).
    package init?(parsing text: String, name: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false).map { part in
            String(part.filter { $0 != " " })
        }
        guard (2...3).contains(parts.count), let limit = Int64(parts[0]), limit > 0 else { return nil }
        var period = parts[1]
        var unit: Int64 = 1
        if let last = period.last, let multiplier = ["s": 1, "m": 60, "h": 3600, "d": 86_400][String(last)] {
            unit = Int64(multiplier)
            period.removeLast()
        }
        guard let count = Int64(period), count > 0, count <= 366 * 86_400 / unit else { return nil }
        var burst: Int64?
        if parts.count == 3 {
            guard let value = Int64(parts[2]), value > 0 else { return nil }
            burst = value
        }
        self.init(name: name, limit: limit, periodSeconds: count * unit, burst: burst)
    }
}
