import Foundation
import Testing
import TronchCore
import TronchRateLimit

struct LocalRateLimiterTests {
    @Test func memoryStaysBounded() {
        let clock = ManualClock()
        let limiter = LocalRateLimiter(maxEntries: 64, clock: clock.read)
        let policy = parameters(limit: 10, period: 60)
        for index in 0..<5_000 {
            _ = limiter.decide("subject:\(index)", policies: [policy], cost: 1)
        }
        #expect(limiter.count <= 64)
    }

    @Test func expiredStateIsDroppedFirst() {
        let clock = ManualClock()
        let limiter = LocalRateLimiter(maxEntries: 16, clock: clock.read)
        let policy = parameters(limit: 1, period: 60)
        // One subject per shard would be ideal; with many subjects some shard fills and must evict.
        for index in 0..<200 { _ = limiter.decide("old:\(index)", policies: [policy], cost: 1) }
        clock.advance(seconds: 61)
        let fresh = (0..<200).map { "new:\($0)" }
        for subject in fresh { _ = limiter.decide(subject, policies: [policy], cost: 1) }
        #expect(limiter.count <= 16)
    }

    @Test func aRefusedRequestStoresNothing() {
        let clock = ManualClock()
        let limiter = LocalRateLimiter(clock: clock.read)
        let policy = parameters(limit: 1, period: 60, burst: 1)
        #expect(!limiter.decide("big", policies: [policy], cost: 5).allowed)
        #expect(limiter.count == 0)
    }
}

struct FallbackRateLimiterTests {
    struct Broken: RateLimiter {
        func decide(_ subject: String, policies: [GCRA.Parameters], cost: Int64) async throws -> RateLimitDecision {
            throw CancellationError()
        }
    }

    @Test(arguments: RateLimitFailureMode.allCases) func eachModeDecidesWhenThePrimaryFails(mode: RateLimitFailureMode) async {
        let clock = ManualClock()
        let limiter = FallbackRateLimiter(primary: Broken(), local: LocalRateLimiter(clock: clock.read), mode: mode) { _ in }
        let policy = parameters(limit: 1, period: 60)
        let first = await limiter.decide("s", policies: [policy], cost: 1)
        let second = await limiter.decide("s", policies: [policy], cost: 1)
        #expect(first.fallback == mode && second.fallback == mode)
        #expect(limiter.fallbacks == 2)
        switch mode {
        case .open: #expect(first.allowed && second.allowed && first.limits.isEmpty)
        case .closed: #expect(!first.allowed && !second.allowed)
        case .local:
            #expect(first.allowed && !second.allowed, "the in-process limiter enforces the same policy")
            #expect(second.limits.first?.limit == 1)
        }
    }
}
