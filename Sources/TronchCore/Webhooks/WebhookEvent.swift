#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// The events a webhook can subscribe to: audit actions, since the audit log is written in the same
/// transaction as each change and so serves as the transactional outbox.
package enum WebhookEvent {
    package static let types: [String] = [
        "key.created", "key.imported", "key.updated", "key.revoked", "key.rotated", "key.expiring", "key.rate_limited", "user.created",
        "user.updated",
        "user.deleted", "user.role_changed", "user.disabled", "user.password_changed", "user.locked", "user.unlocked",
        "mfa.enabled", "mfa.disabled", "mfa.reset", "mfa.recovery_codes_regenerated", "auth.refresh_reuse",
        "auth.session_anomaly", "group.created", "group.updated", "group.deleted", "group.member_added",
        "group.member_removed", "acl.entry_created", "acl.entry_deleted",
    ]
    static let typeSet = Set(types)
    package static let families = ["key", "user", "mfa", "auth", "group", "acl"]

    /// Whether `pattern` (a type, `*`, or `family.*`) is one a subscription may name.
    package static func isPattern(_ pattern: String) -> Bool {
        pattern == "*" || typeSet.contains(pattern) || families.contains { pattern == $0 + ".*" }
    }

    package static func isType(_ type: String) -> Bool { typeSet.contains(type) }

    /// Whether a subscription to `patterns` receives `type`.
    package static func matches(_ patterns: [String], _ type: String) -> Bool {
        guard typeSet.contains(type) else { return false }
        return patterns.contains { $0 == "*" || $0 == type || ($0.hasSuffix(".*") && type.hasPrefix($0.dropLast())) }
    }

    /// When attempt `attempts + 1` is due after `attempts` failed ones (Standard Webhooks' schedule: 5 s,
    /// 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), or nil when `attempts` is the last one allowed.
    package static func retryDelay(after attempts: Int, maxAttempts: Int) -> TimeInterval? {
        guard attempts < maxAttempts else { return nil }
        let schedule: [TimeInterval] = [5, 300, 1800, 7200, 18_000, 36_000]
        return schedule[min(max(attempts - 1, 0), schedule.count - 1)]
    }
}
