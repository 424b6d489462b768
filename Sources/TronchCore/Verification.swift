#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// The outcome of verifying a key, checked in this order (Unkey's), and part of the public API.
package enum VerifyCode: String, Sendable, Codable, CaseIterable {
    case valid = "VALID"
    case notFound = "NOT_FOUND"
    case revoked = "REVOKED"
    case disabled = "DISABLED"
    case expired = "EXPIRED"
    case forbidden = "FORBIDDEN"
    case insufficientScopes = "INSUFFICIENT_SCOPES"
    case rateLimited = "RATE_LIMITED"
    case usageExceeded = "USAGE_EXCEEDED"
}

/// What a verification asks of a key besides existing.
package struct VerifyRequirements: Sendable {
    package var scopes: [String]
    /// The caller's address; a key with an allowlist fails closed when it is unknown.
    package var clientIP: IPAddress?
    package var now: Date

    package init(scopes: [String] = [], clientIP: IPAddress? = nil, now: Date) {
        self.scopes = scopes
        self.clientIP = clientIP
        self.now = now
    }
}

/// The verification rules, free of I/O: status, expiry, IP allowlist, scopes.
///
/// Rate limits and credits (`RATE_LIMITED`, `USAGE_EXCEEDED`) are enforced by the rate limiter, which runs
/// after these checks pass; until then they are stored and returned but not enforced.
package enum KeyVerifier {
    package static func evaluate(_ record: KeyRecord?, _ requirements: VerifyRequirements) -> VerifyCode {
        guard let record else { return .notFound }
        if record.status == .revoked { return .revoked }
        if !record.settings.enabled { return .disabled }
        if let endsAt = record.endsAt, endsAt <= requirements.now { return .expired }
        if !record.settings.allowedIPs.isEmpty {
            guard let ip = requirements.clientIP, record.settings.allowedIPs.contains(where: { $0.contains(ip) }) else {
                return .forbidden
            }
        }
        for scope in requirements.scopes where !Scope.isCovered(scope, by: record.settings.scopes) {
            return .insufficientScopes
        }
        return .valid
    }
}
