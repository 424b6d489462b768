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
    /// The key signs its requests (RFC 9421) and this one's signature is missing, malformed or wrong.
    case signatureInvalid = "SIGNATURE_INVALID"
    /// The signature was made more than five minutes from now, or past its `expires`.
    case signatureExpired = "SIGNATURE_EXPIRED"
    /// The signature's nonce was seen before for this key: a replay.
    case signatureReplayed = "SIGNATURE_REPLAYED"
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

/// The verification rules, free of I/O: status, expiry, IP allowlist, scopes. A key that signs its requests
/// has its signature checked between the address and the scopes (``RequestSignature``; the nonce needs I/O).
///
/// Rate limits and credits (`RATE_LIMITED`, `USAGE_EXCEEDED`) are enforced by the rate limiter, which runs
/// after these checks pass; until then they are stored and returned but not enforced.
package enum KeyVerifier {
    package static func evaluate(_ record: KeyRecord?, _ requirements: VerifyRequirements) -> VerifyCode {
        let code = evaluateKey(record, requirements)
        guard code == .valid, let record else { return code }
        return evaluateScopes(record, requirements)
    }

    /// The checks before a request signature's: status, expiry and address.
    package static func evaluateKey(_ record: KeyRecord?, _ requirements: VerifyRequirements) -> VerifyCode {
        guard let record else { return .notFound }
        if record.status == .revoked { return .revoked }
        if !record.settings.enabled { return .disabled }
        if let endsAt = record.endsAt, endsAt <= requirements.now { return .expired }
        if !record.settings.allowedIPs.isEmpty {
            guard let ip = requirements.clientIP, record.settings.allowedIPs.contains(where: { $0.contains(ip) }) else {
                return .forbidden
            }
        }
        return .valid
    }

    /// The checks after a request signature's: scopes.
    package static func evaluateScopes(_ record: KeyRecord, _ requirements: VerifyRequirements) -> VerifyCode {
        for scope in requirements.scopes where !Scope.isCovered(scope, by: record.settings.scopes) {
            return .insufficientScopes
        }
        return .valid
    }
}
