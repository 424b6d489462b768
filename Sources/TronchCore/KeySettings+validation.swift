#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// Bounds on what a key may hold; `metaMaxBytes` comes from configuration.
package struct KeyLimits: Sendable, Hashable {
    package var metaMaxBytes: Int = 8192
    package var maxNameLength = 255
    package var maxOwnerLength = 255
    package var maxAllowedIPs = 100
    package var maxRateLimits = 16
    package var maxPeriodSeconds: Int64 = 366 * 86_400
    package var maxLimit: Int64 = 1_000_000_000

    package init(metaMaxBytes: Int = 8192) { self.metaMaxBytes = metaMaxBytes }
}

extension KeySettings {
    /// Every problem with these settings, field by field; empty when they may be stored.
    /// `now` decides whether `expires_at` is in the past; nil skips that check (an update that leaves an
    /// existing expiry alone).
    package func problems(now: Date?, limits: KeyLimits) -> [FieldError] {
        var errors = [FieldError]()
        func add(_ field: String, _ message: String) { errors.append(FieldError(field: field, message: message)) }

        if let name {
            if name.isEmpty { add("name", "must not be empty (omit it or send null)") }
            if name.unicodeScalars.count > limits.maxNameLength { add("name", "must be at most \(limits.maxNameLength) characters") }
            if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                add("name", "must not contain control characters")
            }
        }
        if let ownerID {
            if ownerID.isEmpty { add("owner_id", "must not be empty (omit it or send null)") }
            if ownerID.unicodeScalars.count > limits.maxOwnerLength { add("owner_id", "must be at most \(limits.maxOwnerLength) characters") }
            if ownerID.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                add("owner_id", "must not contain control characters")
            }
        }
        if scopes.count > Scope.maxCount { add("scopes", "at most \(Scope.maxCount) scopes") }
        for (index, scope) in scopes.enumerated() {
            if let problem = Scope.problem(with: scope) { add("scopes[\(index)]", problem) }
        }
        if Set(scopes).count != scopes.count { add("scopes", "must not repeat a scope") }
        if let size = try? JSONValue.encodeCanonical(meta).utf8.count, size > limits.metaMaxBytes {
            add("meta", "is \(size) bytes as JSON; the limit is \(limits.metaMaxBytes)")
        }
        if let expiresAt, let now, expiresAt <= now { add("expires_at", "must be in the future") }
        if allowedIPs.count > limits.maxAllowedIPs { add("allowed_ips", "at most \(limits.maxAllowedIPs) entries") }
        if ratelimits.count > limits.maxRateLimits { add("ratelimits", "at most \(limits.maxRateLimits) policies") }
        var names = Set<String>()
        for (index, policy) in ratelimits.enumerated() {
            let field = "ratelimits[\(index)]"
            let nameOK =
                (1...64).contains(policy.name.utf8.count)
                && policy.name.utf8.allSatisfy { byte in
                    (97...122).contains(byte) || (48...57).contains(byte) || byte == 95 || byte == 45 || byte == 46
                }
            if !nameOK { add("\(field).name", "must be 1-64 characters of a-z 0-9 _ - .") }
            if !names.insert(policy.name).inserted { add("\(field).name", "'\(policy.name)' is used twice") }
            if !(1...limits.maxLimit).contains(policy.limit) { add("\(field).limit", "must be between 1 and \(limits.maxLimit)") }
            if !(1...limits.maxPeriodSeconds).contains(policy.periodSeconds) {
                add("\(field).period_seconds", "must be between 1 and \(limits.maxPeriodSeconds)")
            }
            if !(1...limits.maxLimit).contains(policy.burst) { add("\(field).burst", "must be between 1 and \(limits.maxLimit)") }
        }
        if let remaining, remaining < 0 { add("remaining", "must not be negative") }
        if let refill {
            if refill.amount < 1 { add("refill.amount", "must be at least 1") }
            if remaining == nil { add("refill", "needs remaining: a refill tops up a usage-limited key") }
        }
        return errors
    }

    /// Throws ``DomainError/validation(_:)`` listing every problem.
    package func validate(now: Date?, limits: KeyLimits) throws(DomainError) {
        let errors = problems(now: now, limits: limits)
        if !errors.isEmpty { throw .validation(errors) }
    }
}
