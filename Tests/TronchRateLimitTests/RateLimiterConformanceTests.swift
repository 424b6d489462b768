import Foundation
import Synchronization
import Testing
import TronchCore
import TronchRateLimit
import TronchRedis
import TronchTestSupport

/// A clock the test moves by hand, in microseconds since the epoch.
final class ManualClock: Sendable {
    private let value = Mutex<Double>(1_764_000_000_000_000)
    var now: Double { value.withLock { $0 } }
    func advance(seconds: Double) { value.withLock { $0 += seconds * 1_000_000 } }
    var read: MicrosecondClock { { self.now } }
}

/// Which implementation a conformance test runs against.
enum LimiterBackend: String, CaseIterable, CustomTestStringConvertible {
    case local, redis
    /// Redis Cluster: the script's keys share their subject's hash tag, so one slot and one master decide.
    case redisCluster

    var testDescription: String { rawValue }

    static var available: [LimiterBackend] {
        [.local] + (TestRedis.enabled ? [.redis] : []) + (TestRedis.clusterEnabled ? [.redisCluster] : [])
    }

    /// Runs `body` with a limiter on `clock`, and a subject no other test uses.
    func withLimiter(clock: ManualClock, _ body: @Sendable (any RateLimiter, String) async throws -> Void) async throws {
        let subject = "test:\(UUID().uuidString)"
        switch self {
        case .local:
            try await body(LocalRateLimiter(clock: clock.read), subject)
        case .redis:
            try await RedisClient.withConnected(try #require(TestRedis.url)) { client async throws in
                try await body(RedisRateLimiter(client: client, clock: clock.read), subject)
            }
        case .redisCluster:
            try await RedisClient.withConnected(try #require(TestRedis.clusterURL)) { client async throws in
                try await body(RedisRateLimiter(client: client, clock: clock.read), subject)
            }
        }
    }
}

func parameters(_ name: String = "default", limit: Int64, period: Int64, burst: Int64? = nil) -> GCRA.Parameters {
    GCRA.Parameters(RateLimitPolicy(name: name, limit: limit, periodSeconds: period, burst: burst))
}

/// Every limiter gives the same answers: these run against the in-process limiter and the Redis script.
@Suite(.serialized) struct RateLimiterConformanceTests {
    @Test(arguments: LimiterBackend.available) func aBurstThenTheSteadyRate(backend: LimiterBackend) async throws {
        let clock = ManualClock()
        try await backend.withLimiter(clock: clock) { limiter, subject async throws in
            let policy = parameters(limit: 10, period: 10)
            for expected in (0..<10).reversed() {
                let decision = try await limiter.decide(subject, policies: [policy], cost: 1)
                #expect(decision.allowed)
                #expect(decision.limits.first?.remaining == Int64(expected))
            }
            let refused = try await limiter.decide(subject, policies: [policy], cost: 1)
            #expect(!refused.allowed)
            #expect(refused.limits.first?.remaining == 0)
            #expect(refused.limits.first?.retryAfterMicroseconds == 1_000_000)
            #expect(refused.limits.first?.resetAfterMicroseconds == 10_000_000)
            #expect(refused.retryAfterSeconds == 1)
            clock.advance(seconds: 1)
            #expect(try await limiter.decide(subject, policies: [policy], cost: 1).allowed)
            #expect(try await !limiter.decide(subject, policies: [policy], cost: 1).allowed)
            clock.advance(seconds: 10)
            let rested = try await limiter.decide(subject, policies: [policy], cost: 1)
            #expect(rested.limits.first?.remaining == 9, "a quiet spell restores the whole burst")
        }
    }

    @Test(arguments: LimiterBackend.available) func costsAboveOneAndAboveTheBurst(backend: LimiterBackend) async throws {
        let clock = ManualClock()
        try await backend.withLimiter(clock: clock) { limiter, subject async throws in
            let policy = parameters(limit: 10, period: 10, burst: 5)
            let first = try await limiter.decide(subject, policies: [policy], cost: 3)
            #expect(first.allowed && first.limits.first?.remaining == 2)
            let second = try await limiter.decide(subject, policies: [policy], cost: 3)
            #expect(!second.allowed)
            #expect(second.limits.first?.retryAfterMicroseconds == 1_000_000)
            let never = try await limiter.decide(subject, policies: [policy], cost: 6)
            #expect(!never.allowed)
            #expect(never.limits.first?.retryAfterMicroseconds == nil, "a cost above the burst can never pass")
            let peek = try await limiter.decide(subject, policies: [policy], cost: 0)
            #expect(peek.allowed && peek.limits.first?.remaining == 2, "cost 0 reads the state without spending")
        }
    }

    @Test(arguments: LimiterBackend.available) func allPoliciesDecideTogether(backend: LimiterBackend) async throws {
        let clock = ManualClock()
        try await backend.withLimiter(clock: clock) { limiter, subject async throws in
            let perSecond = parameters("second", limit: 2, period: 1)
            let perHour = parameters("hour", limit: 100, period: 3600)
            for _ in 0..<2 { #expect(try await limiter.decide(subject, policies: [perSecond, perHour], cost: 1).allowed) }
            let refused = try await limiter.decide(subject, policies: [perSecond, perHour], cost: 1)
            #expect(!refused.allowed)
            #expect(refused.limits.map(\.name) == ["second", "hour"])
            #expect(refused.limits.map(\.remaining) == [0, 98], "the refused request spent nothing of the hourly limit")
            #expect(refused.limits[1].retryAfterMicroseconds == nil)
            #expect(refused.retryAfterSeconds == 1)
        }
    }

    @Test(arguments: LimiterBackend.available) func subjectsAreIndependent(backend: LimiterBackend) async throws {
        let clock = ManualClock()
        try await backend.withLimiter(clock: clock) { limiter, subject async throws in
            let policy = parameters(limit: 1, period: 60)
            #expect(try await limiter.decide(subject, policies: [policy], cost: 1).allowed)
            #expect(try await !limiter.decide(subject, policies: [policy], cost: 1).allowed)
            #expect(try await limiter.decide(subject + ":other", policies: [policy], cost: 1).allowed)
        }
    }

    @Test(arguments: LimiterBackend.available) func concurrentRequestsAreAdmittedExactly(backend: LimiterBackend) async throws {
        let clock = ManualClock()
        try await backend.withLimiter(clock: clock) { limiter, subject async throws in
            let policy = parameters(limit: 50, period: 3600)
            let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<300 { group.addTask { try await limiter.decide(subject, policies: [policy], cost: 1).allowed } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(admitted == 50)
        }
    }

    /// The two implementations agree decision by decision on an irregular sequence, fractional intervals
    /// (7 per minute) included.
    @Test(.enabled(if: TestRedis.enabled)) func localAndRedisAgreeExactly() async throws {
        let clock = ManualClock()
        let local = LocalRateLimiter(clock: clock.read)
        try await RedisClient.withConnected(try #require(TestRedis.url)) { client async throws in
            let redis = RedisRateLimiter(client: client, clock: clock.read)
            let subject = "agree:\(UUID().uuidString)"
            let policies = [parameters("minute", limit: 7, period: 60, burst: 3), parameters("day", limit: 40, period: 86_400)]
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<200 {
                clock.advance(seconds: Double(Int.random(in: 0...9_000, using: &generator)) / 1000)
                let cost = Int64.random(in: 0...2, using: &generator)
                let fromLocal = local.decide(subject, policies: policies, cost: cost)
                let fromRedis = try await redis.decide(subject, policies: policies, cost: cost)
                #expect(fromLocal == fromRedis)
            }
        }
    }

    @Test(.enabled(if: TestRedis.enabled)) func redisUsesItsOwnClockByDefault() async throws {
        try await RedisClient.withConnected(try #require(TestRedis.url)) { client async throws in
            let limiter = RedisRateLimiter(client: client)
            let subject = "time:\(UUID().uuidString)"
            let policy = parameters(limit: 3, period: 60)
            for _ in 0..<3 { #expect(try await limiter.decide(subject, policies: [policy], cost: 1).allowed) }
            let refused = try await limiter.decide(subject, policies: [policy], cost: 1)
            #expect(!refused.allowed)
            #expect((15...20).contains(refused.retryAfterSeconds))
            let ttl = try await client.send(["PTTL", .string(RedisRateLimiter.key(subject: subject, policy: "default"))])
            #expect((59_000...60_000).contains(try #require(ttl.integer)), "state expires when it stops mattering")
        }
    }
}
