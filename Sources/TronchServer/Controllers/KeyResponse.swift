import Foundation
import TronchCore

/// A key as the API returns it; `key` (the secret) and `signing_secret` only in the answer to create and rotate.
struct KeyResponse: Encodable {
    var record: KeyRecord
    var now: Date
    var secret: String?
    var signingSecret: String?

    init(record: KeyRecord, now: Date, secret: String? = nil, signingSecret: String? = nil) {
        self.record = record
        self.now = now
        self.secret = secret
        self.signingSecret = signingSecret
    }

    enum CodingKeys: String, CodingKey {
        case id, name, environment, status, enabled, scopes, meta, start, end, remaining, refill, ratelimits, key, signing
        case signingSecret = "signing_secret"
        case ownerID = "owner_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case expiresAt = "expires_at"
        case lastUsedAt = "last_used_at"
        case revokedAt = "revoked_at"
        case createdBy = "created_by"
        case rotatedFrom = "rotated_from"
        case graceUntil = "grace_until"
        case allowedIPs = "allowed_ips"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let settings = record.settings
        // Optionals are encoded explicitly so that absent values appear as null: every field, every time.
        try container.encode(record.id.lowercased, forKey: .id)
        try container.encode(settings.name, forKey: .name)
        try container.encode(settings.ownerID, forKey: .ownerID)
        try container.encode(record.environment.rawValue, forKey: .environment)
        try container.encode(record.displayStatus(at: now).rawValue, forKey: .status)
        try container.encode(settings.enabled, forKey: .enabled)
        try container.encode(settings.scopes, forKey: .scopes)
        try container.encode(settings.meta, forKey: .meta)
        try container.encode(record.start, forKey: .start)
        try container.encode(record.end, forKey: .end)
        try container.encode(Timestamp.format(record.createdAt), forKey: .createdAt)
        try container.encode(Timestamp.format(record.updatedAt), forKey: .updatedAt)
        try container.encode(settings.expiresAt.map(Timestamp.format), forKey: .expiresAt)
        try container.encode(record.lastUsedAt.map(Timestamp.format), forKey: .lastUsedAt)
        try container.encode(record.revokedAt.map(Timestamp.format), forKey: .revokedAt)
        try container.encode(record.createdBy, forKey: .createdBy)
        try container.encode(record.rotatedFrom?.lowercased, forKey: .rotatedFrom)
        try container.encode(record.graceUntil.map(Timestamp.format), forKey: .graceUntil)
        try container.encode(settings.allowedIPs.map(\.description), forKey: .allowedIPs)
        try container.encode(settings.ratelimits, forKey: .ratelimits)
        try container.encode(settings.remaining, forKey: .remaining)
        try container.encode(settings.refill, forKey: .refill)
        try container.encode(record.signingSecret != nil, forKey: .signing)
        if let secret { try container.encode(secret, forKey: .key) }
        if let signingSecret { try container.encode(signingSecret, forKey: .signingSecret) }
    }
}
