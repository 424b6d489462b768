package import HTTPTypes
import TronchCore
package import TronchRateLimit

extension RateLimitDecision {
    /// The IETF httpapi draft's `RateLimit-Policy` and `RateLimit` fields (one item per policy) and the
    /// common `X-RateLimit-*` trio for the most restrictive policy; `Retry-After` when refused.
    /// `X-RateLimit-Reset` is in seconds from now, like the draft's `t`.
    package var headers: HTTPFields {
        var fields = HTTPFields()
        guard !limits.isEmpty else {
            if !allowed { fields[.retryAfter] = String(retryAfterSeconds) }
            return fields
        }
        fields[.rateLimitPolicy] = limits.map { #""\#($0.name)";q=\#($0.limit);w=\#($0.periodSeconds)"# }
            .joined(separator: ", ")
        fields[.rateLimit] = limits.map { #""\#($0.name)";r=\#($0.remaining);t=\#($0.resetSeconds)"# }
            .joined(separator: ", ")
        let tightest = limits.min { ($0.remaining, -$0.resetAfterMicroseconds) < ($1.remaining, -$1.resetAfterMicroseconds) }!
        fields[.xRateLimitLimit] = String(tightest.limit)
        fields[.xRateLimitRemaining] = String(tightest.remaining)
        fields[.xRateLimitReset] = String(tightest.resetSeconds)
        if !allowed { fields[.retryAfter] = String(retryAfterSeconds) }
        return fields
    }
}

extension HTTPField.Name {
    static let rateLimitPolicy = Self("RateLimit-Policy")!
    static let rateLimit = Self("RateLimit")!
    static let xRateLimitLimit = Self("X-RateLimit-Limit")!
    static let xRateLimitRemaining = Self("X-RateLimit-Remaining")!
    static let xRateLimitReset = Self("X-RateLimit-Reset")!
}

extension APIError {
    /// The answer to a request a rate limit refused: 429 with the limit's headers, or 503 when the limiter
    /// could not decide and the deployment fails closed.
    package static func rateLimited(_ decision: RateLimitDecision, _ detail: String) -> APIError {
        if decision.fallback == .closed {
            return APIError(
                .serviceUnavailable,
                "the rate limiter is unavailable; try again shortly",
                headers: [.retryAfter: "1"]
            )
        }
        return APIError(.rateLimited, "\(detail); retry in \(decision.retryAfterSeconds) s", headers: decision.headers)
    }
}
