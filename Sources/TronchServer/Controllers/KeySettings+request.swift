import Foundation
import TronchCore

/// Reading key settings from a request body, shared by create (absent and null mean "default") and update
/// (absent means "leave", null means "clear" where a field may be empty).
extension JSONObjectReader {
    static let settingsFields: Set<String> = [
        "name", "owner_id", "scopes", "meta", "enabled", "expires_at", "allowed_ips", "ratelimits", "remaining",
        "refill",
    ]

    /// The patch the body describes; `null` on a field that cannot be empty is an error.
    mutating func keyPatch() -> KeyPatch {
        var patch = KeyPatch()
        patch.name = string("name")
        patch.ownerID = string("owner_id")
        patch.scopes = nonNull("scopes", stringArray("scopes"))
        patch.meta = nonNull("meta", object("meta"))
        patch.enabled = nonNull("enabled", bool("enabled"))
        patch.expiresAt = timestamp("expires_at")
        patch.allowedIPs = nonNull("allowed_ips", allowedIPs())
        patch.ratelimits = nonNull("ratelimits", ratelimits())
        patch.remaining = integer("remaining")
        patch.refill = refill()
        return patch
    }

    private mutating func nonNull<T>(_ key: String, _ value: Patch<T>) -> T? {
        switch value {
        case .unchanged: return nil
        case .clear:
            fail(key, "must not be null (send an empty value instead)")
            return nil
        case .set(let value): return value
        }
    }

    private mutating func allowedIPs() -> Patch<[CIDR]> {
        switch stringArray("allowed_ips") {
        case .unchanged: return .unchanged
        case .clear: return .clear
        case .set(let texts):
            var ranges = [CIDR]()
            for (index, text) in texts.enumerated() {
                do {
                    ranges.append(try CIDR(parsing: text))
                } catch {
                    fail("allowed_ips[\(index)]", error.description)
                }
            }
            return .set(ranges)
        }
    }

    private mutating func ratelimits() -> Patch<[RateLimitPolicy]> {
        switch array("ratelimits") {
        case .unchanged: return .unchanged
        case .clear: return .clear
        case .set(let items):
            var policies = [RateLimitPolicy]()
            for (index, item) in items.enumerated() {
                var policy = JSONObjectReader(
                    item,
                    allowed: ["name", "limit", "period_seconds", "burst"],
                    path: field("ratelimits[\(index)]")
                )
                let name = policy.string("name")
                let limit = policy.integer("limit")
                let period = policy.integer("period_seconds")
                let burst = policy.integer("burst")
                for (key, value) in [("limit", limit), ("period_seconds", period)] where value.isUnchanged || value == .clear {
                    policy.fail(key, "is required")
                }
                absorb(policy.errors)
                if case .set(let limit) = limit, case .set(let period) = period {
                    let burstValue: Int64? = if case .set(let value) = burst { value } else { nil }
                    let nameValue: String = if case .set(let value) = name { value } else { "default" }
                    policies.append(RateLimitPolicy(name: nameValue, limit: limit, periodSeconds: period, burst: burstValue))
                }
            }
            return .set(policies)
        }
    }

    private mutating func refill() -> Patch<Refill> {
        switch raw("refill") {
        case .unchanged: return .unchanged
        case .clear: return .clear
        case .set(let value):
            var reader = JSONObjectReader(value, allowed: ["interval", "amount"], path: field("refill"))
            let interval = reader.string("interval")
            let amount = reader.integer("amount")
            var result: Patch<Refill> = .unchanged
            switch (interval, amount) {
            case (.set(let text), .set(let amount)):
                if let interval = Refill.Interval(rawValue: text) {
                    result = .set(Refill(interval: interval, amount: amount))
                } else {
                    reader.fail("interval", "must be daily or monthly")
                }
            default:
                if case .set = interval {} else { reader.fail("interval", "is required (daily or monthly)") }
                if case .set = amount {} else { reader.fail("amount", "is required") }
            }
            absorb(reader.errors)
            return result
        }
    }
}
