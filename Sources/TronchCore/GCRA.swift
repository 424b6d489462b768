/// The generic cell rate algorithm: one stored instant per limited thing, exact, with bursts built in.
///
/// A policy of `limit` requests per `period` spaces requests `period / limit` apart (the emission interval
/// `T`); the state is the theoretical arrival time (TAT) of the next request. A request of cost `c` at `now`
/// moves the TAT to `max(TAT, now) + c·T` and is allowed when that is at most `burst·T` ahead of `now`, so up
/// to `burst` requests may arrive at once after a quiet spell, and the steady rate is never exceeded.
///
/// Instants are microseconds since the Unix epoch as `Double`, the same arithmetic as the Redis script in
/// `RedisRateLimiter` (Lua numbers are doubles), so both give the same answers for the same inputs.
package enum GCRA {
    /// A policy in the units of the algorithm.
    package struct Parameters: Sendable, Hashable {
        package var name: String
        package var limit: Int64
        package var burst: Int64
        package var periodSeconds: Int64
        /// Microseconds between requests at the steady rate.
        package var emissionInterval: Double
        /// How far ahead of now the TAT may run: `burst · T`.
        package var burstOffset: Double

        package init(_ policy: RateLimitPolicy) {
            name = policy.name
            limit = policy.limit
            burst = policy.burst
            periodSeconds = policy.periodSeconds
            emissionInterval = Double(policy.periodSeconds) * 1_000_000 / Double(policy.limit)
            burstOffset = emissionInterval * Double(policy.burst)
        }
    }

    /// What one policy says about one request.
    package struct Outcome: Sendable, Hashable {
        package var name: String
        package var limit: Int64
        package var allowed: Bool
        /// Requests (of cost 1) still allowed right now, after this one if it was allowed.
        package var remaining: Int64
        /// Microseconds until the policy is back to its full burst.
        package var resetAfter: Double
        /// Microseconds until this request would be allowed; nil when allowed, or when it never can be
        /// (its cost is larger than the burst).
        package var retryAfter: Double?
        /// The TAT to store when the whole decision allows the request.
        package var newTAT: Double
    }

    /// One policy's verdict on a request of `cost` at `now`, given its stored TAT (nil when none).
    package static func evaluate(_ parameters: Parameters, tat stored: Double?, now: Double, cost: Int64) -> Outcome {
        let tat = max(stored ?? now, now)
        let newTAT = tat + parameters.emissionInterval * Double(cost)
        let allowAt = newTAT - parameters.burstOffset
        if allowAt <= now {
            return Outcome(
                name: parameters.name,
                limit: parameters.limit,
                allowed: true,
                remaining: remaining(parameters, ahead: newTAT - now),
                resetAfter: newTAT - now,
                retryAfter: nil,
                newTAT: newTAT
            )
        }
        return Outcome(
            name: parameters.name,
            limit: parameters.limit,
            allowed: false,
            remaining: remaining(parameters, ahead: tat - now),
            resetAfter: tat - now,
            retryAfter: cost > parameters.burst ? nil : allowAt - now,
            newTAT: tat
        )
    }

    /// Several policies decide together: the request is allowed only if every one allows it, and only then
    /// does any state move. Returns one outcome per policy, in order.
    package static func decide(_ policies: [(Parameters, Double?)], now: Double, cost: Int64) -> (allowed: Bool, outcomes: [Outcome]) {
        var outcomes = policies.map { evaluate($0.0, tat: $0.1, now: now, cost: cost) }
        let allowed = outcomes.allSatisfy(\.allowed)
        if !allowed {
            // A refused request consumes nothing: report each policy as it stands.
            for index in outcomes.indices where outcomes[index].allowed {
                let (parameters, stored) = policies[index]
                let tat = max(stored ?? now, now)
                outcomes[index].allowed = false
                outcomes[index].remaining = remaining(parameters, ahead: tat - now)
                outcomes[index].resetAfter = tat - now
                outcomes[index].newTAT = tat
            }
        }
        return (allowed, outcomes)
    }

    private static func remaining(_ parameters: Parameters, ahead: Double) -> Int64 {
        // The epsilon keeps 3.9999… (floating error on an exact 4) from reading as 3; the Lua script adds the same.
        max(0, Int64(((parameters.burstOffset - ahead) / parameters.emissionInterval + 1e-9).rounded(.down)))
    }
}
