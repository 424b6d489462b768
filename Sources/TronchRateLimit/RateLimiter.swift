package import TronchCore

/// Decides whether a request may go ahead under a subject's rate-limit policies.
///
/// A subject is what is limited (`key:<id>`, `auth-failures:<ip>`); every policy of a subject is decided
/// together: the request is allowed only when all allow it, and only then does any state move.
package protocol RateLimiter: Sendable {
    func decide(_ subject: String, policies: [GCRA.Parameters], cost: Int64) async throws -> RateLimitDecision
}

/// The verdict on one request and the state of each policy afterwards.
package struct RateLimitDecision: Sendable, Hashable {
    /// One policy's state, in whole microseconds (both implementations truncate the same way).
    package struct Limit: Sendable, Hashable {
        package var name: String
        package var limit: Int64
        package var periodSeconds: Int64
        package var remaining: Int64
        /// Until the policy is back to its full burst.
        package var resetAfterMicroseconds: Int64
        /// Until this request would be allowed; nil when it was, or when it never can be (cost above burst).
        package var retryAfterMicroseconds: Int64?

        package init(
            name: String,
            limit: Int64,
            periodSeconds: Int64,
            remaining: Int64,
            resetAfterMicroseconds: Int64,
            retryAfterMicroseconds: Int64?
        ) {
            self.name = name
            self.limit = limit
            self.periodSeconds = periodSeconds
            self.remaining = remaining
            self.resetAfterMicroseconds = resetAfterMicroseconds
            self.retryAfterMicroseconds = retryAfterMicroseconds
        }

        /// Whole seconds until full, rounded up (what `RateLimit: t=` and `X-RateLimit-Reset` carry).
        package var resetSeconds: Int64 { (resetAfterMicroseconds + 999_999) / 1_000_000 }
    }

    package var allowed: Bool
    package var limits: [Limit]
    /// Set when the shared limiter failed and the configured failure mode decided instead.
    package var fallback: RateLimitFailureMode?

    package init(allowed: Bool, limits: [Limit], fallback: RateLimitFailureMode? = nil) {
        self.allowed = allowed
        self.limits = limits
        self.fallback = fallback
    }

    /// Seconds a refused client should wait (`Retry-After`): the longest wait among the refusing policies,
    /// rounded up, at least one.
    package var retryAfterSeconds: Int64 {
        let waits = limits.compactMap(\.retryAfterMicroseconds)
        let longest = waits.max() ?? limits.map(\.resetAfterMicroseconds).max() ?? 1_000_000
        return max(1, (longest + 999_999) / 1_000_000)
    }

    /// The decision GCRA makes, in the decision's units.
    package static func from(
        _ decision: (allowed: Bool, outcomes: [GCRA.Outcome]),
        policies: [GCRA.Parameters]
    ) -> RateLimitDecision {
        RateLimitDecision(
            allowed: decision.allowed,
            limits: zip(decision.outcomes, policies).map { outcome, policy in
                Limit(
                    name: outcome.name,
                    limit: outcome.limit,
                    periodSeconds: policy.periodSeconds,
                    remaining: outcome.remaining,
                    resetAfterMicroseconds: Int64(outcome.resetAfter),
                    retryAfterMicroseconds: outcome.retryAfter.map { Int64($0) }
                )
            }
        )
    }
}

/// What to do when the shared (Redis) limiter cannot answer in time.
package enum RateLimitFailureMode: String, Sendable, Hashable, CaseIterable {
    /// Allow the request (Stripe's choice: a limiter outage must not become an API outage).
    case open
    /// Refuse the request.
    case closed
    /// Decide with this node's in-process limiter.
    case local
}

/// Microseconds since the Unix epoch, the unit of GCRA instants.
package typealias MicrosecondClock = @Sendable () -> Double
