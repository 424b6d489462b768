import Testing

@testable import TronchCore

@Suite struct GCRATests {
    /// 10 requests per second, bursts of 5.
    let policy = GCRA.Parameters(RateLimitPolicy(name: "default", limit: 10, periodSeconds: 1, burst: 5))
    let start = 1_800_000_000_000_000.0

    /// Runs requests at the given offsets (µs) from `start`, carrying the state, and returns the verdicts.
    func run(_ offsets: [Double], cost: Int64 = 1, parameters: GCRA.Parameters? = nil) -> [GCRA.Outcome] {
        var tat: Double?
        return offsets.map { offset in
            let outcome = GCRA.evaluate(parameters ?? policy, tat: tat, now: start + offset, cost: cost)
            if outcome.allowed { tat = outcome.newTAT }
            return outcome
        }
    }

    @Test func aBurstIsAllowedThenTheRateHolds() {
        let outcomes = run(Array(repeating: 0, count: 7))
        #expect(outcomes.map(\.allowed) == [true, true, true, true, true, false, false])
        #expect(outcomes.map(\.remaining) == [4, 3, 2, 1, 0, 0, 0])
        #expect(outcomes[5].retryAfter == 100_000, "one emission interval until the next slot")
        #expect(outcomes[4].resetAfter == 500_000, "back to a full burst after five intervals")
    }

    @Test func theSteadyRateIsExact() {
        // After the burst, exactly one request per 100 ms passes, and one arriving early is refused.
        let burst = Array(repeating: 0.0, count: 5)
        let outcomes = run(burst + [100_000, 199_999, 200_000, 300_000, 350_000, 400_000])
        #expect(outcomes.suffix(6).map(\.allowed) == [true, false, true, true, false, true])
        #expect(outcomes[6].retryAfter == 1)
    }

    @Test func overAPeriodTheLimitIsNeverExceeded() {
        // 1000 evenly spread attempts over 10 s: the limit allows the burst plus 10 per second.
        let offsets = (0..<1000).map { Double($0) * 10_000 }
        let allowed = run(offsets).filter(\.allowed).count
        #expect(allowed == 5 + 99)
    }

    @Test func costCountsAsThatManyRequests() {
        let outcomes = run([0, 0, 0], cost: 2)
        #expect(outcomes.map(\.allowed) == [true, true, false])
        #expect(outcomes.map(\.remaining) == [3, 1, 1])
        #expect(outcomes[2].retryAfter == 100_000)
    }

    @Test func aCostAboveTheBurstNeverPasses() {
        let outcome = run([0], cost: 6)[0]
        #expect(!outcome.allowed)
        #expect(outcome.retryAfter == nil)
        #expect(outcome.remaining == 5)
    }

    @Test func costZeroOnlyReadsTheState() {
        let outcomes = run([0, 0, 0, 0, 0, 0], cost: 1)
        var tat = outcomes[4].newTAT
        let peek = GCRA.evaluate(policy, tat: tat, now: start, cost: 0)
        #expect(peek.allowed)
        #expect(peek.remaining == 0)
        #expect(peek.newTAT == tat)
        tat = peek.newTAT
        #expect(GCRA.evaluate(policy, tat: tat, now: start + 100_000, cost: 0).remaining == 1)
    }

    @Test func theStateDrainsBackToAFullBurst() {
        var outcomes = run(Array(repeating: 0, count: 5))
        let tat = outcomes[4].newTAT
        let later = GCRA.evaluate(policy, tat: tat, now: start + 10_000_000, cost: 1)
        #expect(later.allowed)
        #expect(later.remaining == 4)
        outcomes.append(later)
    }

    @Test func aClockThatStepsBackwardsNeverGrantsExtra() {
        var tat: Double?
        var allowed = 0
        // The clock jumps back a second halfway: the stored TAT still rules.
        for now in [0.0, 0, 0, 0, 0, -1_000_000, -1_000_000, -500_000] {
            let outcome = GCRA.evaluate(policy, tat: tat, now: start + now, cost: 1)
            if outcome.allowed {
                tat = outcome.newTAT
                allowed += 1
            }
        }
        #expect(allowed == 5)
    }

    @Test func slowPoliciesUseLongIntervals() {
        // 1000 per hour, burst 1000: 3.6 s apart.
        let hourly = GCRA.Parameters(RateLimitPolicy(name: "hourly", limit: 1000, periodSeconds: 3600))
        #expect(hourly.emissionInterval == 3_600_000)
        let outcomes = run(Array(repeating: 0, count: 1001), parameters: hourly)
        #expect(outcomes.filter(\.allowed).count == 1000)
        #expect(outcomes[1000].retryAfter == 3_600_000)
    }

    @Test func severalPoliciesDecideTogether() {
        let perSecond = GCRA.Parameters(RateLimitPolicy(name: "second", limit: 10, periodSeconds: 1, burst: 10))
        let perMinute = GCRA.Parameters(RateLimitPolicy(name: "minute", limit: 3, periodSeconds: 60, burst: 3))
        var tats: [Double?] = [nil, nil]
        var verdicts = [Bool]()
        for _ in 0..<5 {
            let decision = GCRA.decide([(perSecond, tats[0]), (perMinute, tats[1])], now: start, cost: 1)
            verdicts.append(decision.allowed)
            if decision.allowed { tats = decision.outcomes.map(\.newTAT) }
        }
        #expect(verdicts == [true, true, true, false, false])
        // The refused requests consumed nothing from the per-second policy either.
        let check = GCRA.decide([(perSecond, tats[0]), (perMinute, tats[1])], now: start, cost: 1)
        #expect(check.outcomes[0].remaining == 7)
        #expect(check.outcomes[1].remaining == 0)
        #expect(check.outcomes[1].retryAfter == 20_000_000)
    }
}
