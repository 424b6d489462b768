import Synchronization
package import TronchCore

/// The shared limiter with a failure mode: when it throws (Redis down, or slower than its time box), the
/// configured mode decides instead, and the fallback is reported.
package final class FallbackRateLimiter: RateLimiter {
    private let primary: any RateLimiter
    private let local: LocalRateLimiter
    package let mode: RateLimitFailureMode
    private let onFallback: @Sendable (any Error) -> Void
    private let fallbackCount = Atomic<Int>(0)

    /// `onFallback` runs on every fallback (count it in a metric; log it throttled).
    package init(
        primary: any RateLimiter,
        local: LocalRateLimiter,
        mode: RateLimitFailureMode,
        onFallback: @escaping @Sendable (any Error) -> Void
    ) {
        self.primary = primary
        self.local = local
        self.mode = mode
        self.onFallback = onFallback
    }

    /// Decisions made by the failure mode since start.
    package var fallbacks: Int { fallbackCount.load(ordering: .relaxed) }

    package func decide(_ subject: String, policies: [GCRA.Parameters], cost: Int64) async -> RateLimitDecision {
        do {
            return try await primary.decide(subject, policies: policies, cost: cost)
        } catch {
            fallbackCount.add(1, ordering: .relaxed)
            onFallback(error)
            switch mode {
            case .open:
                // Nothing is known about the limits' state, so none is reported.
                return RateLimitDecision(allowed: true, limits: [], fallback: .open)
            case .closed:
                return RateLimitDecision(allowed: false, limits: [], fallback: .closed)
            case .local:
                var decision = local.decide(subject, policies: policies, cost: cost)
                decision.fallback = .local
                return decision
            }
        }
    }
}
