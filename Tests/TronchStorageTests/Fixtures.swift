import Foundation
import TronchCore

/// Records for store tests, with distinct digests and controllable creation times.
enum Fixtures {
    static let hasher = KeyHasher(pepper: Array("conformance-suite-pepper-0123456789".utf8))
    static let format = KeyFormat(prefix: "tronch")!
    static let base = Timestamp.date(milliseconds: 1_800_000_000_000)

    static func record(
        at offset: Int64 = 0,
        owner: String? = "owner-1",
        name: String? = "key",
        environment: KeyEnvironment = .live,
        _ change: (inout KeyRecord) -> Void = { _ in }
    ) -> KeyRecord {
        let created = Timestamp.date(milliseconds: Timestamp.milliseconds(base) + offset)
        let secret = format.generate(environment: environment)
        let hints = KeyFormat.hints(for: secret)
        var settings = KeySettings()
        settings.name = name
        settings.ownerID = owner
        var record = KeyRecord(
            id: UUIDv7.make(at: created),
            digest: hasher.digest(secret),
            hashVersion: 1,
            start: hints.start,
            end: hints.end,
            environment: environment,
            settings: settings,
            createdAt: created,
            createdBy: "tests"
        )
        change(&record)
        return record
    }

    /// A record with every optional field set, to prove they all round-trip.
    static func fullRecord() throws -> KeyRecord {
        let allowed = [try CIDR(parsing: "10.0.0.0/8"), try CIDR(parsing: "2001:db8::/32")]
        return record(owner: "cus_ñ/√", name: "Full – “quoted” 🔑") { record in
            record.settings.scopes = ["orders:read", "billing:*", "*"]
            record.settings.meta = [
                "plan": .string("pro"), "seats": .int(12), "ratio": .double(0.25), "flags": .array([.bool(true), .null]),
                "nested": .object(["a": .object(["b": .string("c")])]), "big": .int(9_007_199_254_740_993),
            ]
            record.settings.enabled = false
            record.settings.expiresAt = Timestamp.truncated(base.addingTimeInterval(86_400.123))
            record.settings.allowedIPs = allowed
            record.settings.ratelimits = [
                RateLimitPolicy(name: "default", limit: 100, periodSeconds: 60, burst: 150),
                RateLimitPolicy(name: "daily", limit: 10_000, periodSeconds: 86_400),
            ]
            record.settings.remaining = 42
            record.settings.refill = Refill(interval: .monthly, amount: 1000)
            record.lastUsedAt = base.addingTimeInterval(5)
            record.rotatedFrom = UUIDv7.make(at: base)
            record.graceUntil = base.addingTimeInterval(3600)
            record.signingSecret = "v1.0123456789abcdef.c2VhbGVkIHNpZ25pbmcgc2VjcmV0"
            record.pepperID = "0123456789abcdef"
            record.updatedAt = base.addingTimeInterval(1)
        }
    }
}
