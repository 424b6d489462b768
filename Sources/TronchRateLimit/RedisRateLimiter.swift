package import TronchCore
package import TronchRedis

/// GCRA in Redis: the same arithmetic as ``GCRA`` in one Lua script, so every node shares one limit and
/// each decision is one atomic round trip.
///
/// The script reads the time from Redis itself (`TIME`), so nodes whose clocks disagree still share one
/// clock per decision. Each policy's instant lives under `tronch:rl:{subject}:policy` (the braces keep a
/// subject's keys in one Redis Cluster slot) and expires when it no longer matters.
package struct RedisRateLimiter: RateLimiter {
    private let client: RedisClient
    private let clock: MicrosecondClock?

    /// `clock` replaces Redis's `TIME` (tests compare both implementations on the same instants).
    package init(client: RedisClient, clock: MicrosecondClock? = nil) {
        self.client = client
        self.clock = clock
    }

    package static func key(subject: String, policy: String) -> String { "tronch:rl:{\(subject)}:\(policy)" }

    package func decide(_ subject: String, policies: [GCRA.Parameters], cost: Int64) async throws -> RateLimitDecision {
        guard !policies.isEmpty else { return RateLimitDecision(allowed: true, limits: []) }
        var arguments = [clock.map { String($0()) } ?? "", String(cost)]
        for policy in policies {
            // Swift prints the shortest text that reads back as the same double, so Lua sees the same numbers.
            arguments += [String(policy.emissionInterval), String(policy.burstOffset), String(policy.burst)]
        }
        let answer = try await client.evaluate(
            Self.script,
            keys: policies.map { Self.key(subject: subject, policy: $0.name) },
            arguments: arguments
        )
        guard let values = answer.array?.map(\.integer), values.count == 1 + 3 * policies.count,
            let allowed = values[0]
        else { throw RedisError.protocolError("unexpected rate-limit script answer") }
        var limits = [RateLimitDecision.Limit]()
        for (index, policy) in policies.enumerated() {
            guard let remaining = values[1 + 3 * index], let reset = values[2 + 3 * index],
                let retry = values[3 + 3 * index]
            else { throw RedisError.protocolError("unexpected rate-limit script answer") }
            limits.append(
                RateLimitDecision.Limit(
                    name: policy.name,
                    limit: policy.limit,
                    periodSeconds: policy.periodSeconds,
                    remaining: remaining,
                    resetAfterMicroseconds: reset,
                    retryAfterMicroseconds: retry < 0 ? nil : retry
                )
            )
        }
        return RateLimitDecision(allowed: allowed == 1, limits: limits)
    }

    /// `GCRA.decide` in Lua. ARGV: now (µs, empty for Redis's clock), cost, then per policy its emission
    /// interval, burst offset and burst. Answers allowed (1/0), then per policy remaining, reset and retry
    /// (µs, truncated; retry -1 when none).
    static let script = RedisScript(
        """
        local now
        local slack = 0
        if ARGV[1] == '' then
          local t = redis.call('TIME')
          now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        else
          now = tonumber(ARGV[1])
          -- A caller's clock need not run with Redis's, which expires the keys: give them a minute more.
          slack = 60000
        end
        local cost = tonumber(ARGV[2])
        local n = #KEYS
        local tats, newtats, oks = {}, {}, {}
        local allowed = 1
        for i = 1, n do
          local interval, offset = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1])
          local stored = redis.call('GET', KEYS[i])
          local tat = now
          if stored then tat = math.max(tonumber(stored), now) end
          tats[i] = tat
          newtats[i] = tat + interval * cost
          oks[i] = newtats[i] - offset <= now
          if not oks[i] then allowed = 0 end
        end
        local result = {allowed}
        for i = 1, n do
          local interval, offset, burst = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1]), tonumber(ARGV[3 * i + 2])
          local ahead, retry
          if allowed == 1 then
            ahead = newtats[i] - now
            retry = -1
            redis.call('SET', KEYS[i], string.format('%.17g', newtats[i]), 'PX', math.max(1, math.ceil(ahead / 1000)) + slack)
          else
            ahead = tats[i] - now
            if oks[i] or cost > burst then retry = -1 else retry = newtats[i] - offset - now end
          end
          local remaining = math.floor((offset - ahead) / interval + 1e-9)
          if remaining < 0 then remaining = 0 end
          result[#result + 1] = remaining
          result[#result + 1] = ahead
          result[#result + 1] = retry
        end
        return result
        """
    )
}
