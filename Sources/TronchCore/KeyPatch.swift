#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// One field of a partial update: left alone, cleared (JSON `null`), or set.
package enum Patch<Value: Sendable & Hashable>: Sendable, Hashable {
    case unchanged
    case clear
    case set(Value)

    package func applied(to value: Value?) -> Value? {
        switch self {
        case .unchanged: value
        case .clear: nil
        case .set(let new): new
        }
    }

    package var isUnchanged: Bool { self == .unchanged }
}

/// The changes a PATCH asks for; fields it does not mention stay as they are.
package struct KeyPatch: Sendable, Hashable {
    package var name: Patch<String> = .unchanged
    package var ownerID: Patch<String> = .unchanged
    package var scopes: [String]?
    package var meta: [String: JSONValue]?
    package var enabled: Bool?
    package var expiresAt: Patch<Date> = .unchanged
    package var allowedIPs: [CIDR]?
    package var ratelimits: [RateLimitPolicy]?
    package var remaining: Patch<Int64> = .unchanged
    package var refill: Patch<Refill> = .unchanged

    package init() {}

    package func applied(to settings: KeySettings) -> KeySettings {
        var result = settings
        result.name = name.applied(to: settings.name)
        result.ownerID = ownerID.applied(to: settings.ownerID)
        result.scopes = scopes ?? settings.scopes
        result.meta = meta ?? settings.meta
        result.enabled = enabled ?? settings.enabled
        result.expiresAt = expiresAt.applied(to: settings.expiresAt)
        result.allowedIPs = allowedIPs ?? settings.allowedIPs
        result.ratelimits = ratelimits ?? settings.ratelimits
        result.remaining = remaining.applied(to: settings.remaining)
        result.refill = refill.applied(to: settings.refill)
        return result
    }
}

extension KeyPatch {
    /// The API names of the fields this patch sets, for the audit trail (values stay out: meta may be private).
    package var fieldNames: [String] {
        var names = [String]()
        if !name.isUnchanged { names.append("name") }
        if !ownerID.isUnchanged { names.append("owner_id") }
        if scopes != nil { names.append("scopes") }
        if meta != nil { names.append("meta") }
        if enabled != nil { names.append("enabled") }
        if !expiresAt.isUnchanged { names.append("expires_at") }
        if allowedIPs != nil { names.append("allowed_ips") }
        if ratelimits != nil { names.append("ratelimits") }
        if !remaining.isUnchanged { names.append("remaining") }
        if !refill.isUnchanged { names.append("refill") }
        return names
    }
}
