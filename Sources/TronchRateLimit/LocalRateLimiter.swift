import Synchronization
package import TronchCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// GCRA in this process: one stored instant per subject and policy, in bounded memory.
///
/// State is split over shards by subject, each behind its own lock, so concurrent decisions on different
/// subjects rarely contend and all policies of one subject are decided under one lock. An instant in the
/// past means the same as no state, so such entries are dropped whenever a shard fills up; when a shard is
/// full of live entries the ones nearest to expiry go first (which can only make the limiter more lenient).
package final class LocalRateLimiter: RateLimiter {
    private struct PolicyKey: Hashable {
        var subject: String
        var policy: String
    }

    private final class Shard: Sendable {
        let state = Mutex<[PolicyKey: Double]>([:])
    }

    private let shards: [Shard]
    private let shardCapacity: Int
    private let clock: MicrosecondClock

    /// `maxEntries` bounds the stored instants (one per subject and policy) across all shards.
    package init(maxEntries: Int = 100_000, clock: @escaping MicrosecondClock = LocalRateLimiter.wallClock) {
        let count = 16
        shards = (0..<count).map { _ in Shard() }
        shardCapacity = max(1, maxEntries / count)
        self.clock = clock
    }

    /// The system's real-time clock in microseconds.
    package static let wallClock: MicrosecondClock = {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Double(time.tv_sec) * 1_000_000 + Double(time.tv_nsec / 1000)
    }

    package func decide(_ subject: String, policies: [GCRA.Parameters], cost: Int64) -> RateLimitDecision {
        let now = clock()
        let shard = shards[Int(UInt(bitPattern: subject.hashValue) % UInt(shards.count))]
        let capacity = shardCapacity
        let decision = shard.state.withLock { state in
            let keys = policies.map { PolicyKey(subject: subject, policy: $0.name) }
            let decision = GCRA.decide(Array(zip(policies, keys.map { state[$0] })), now: now, cost: cost)
            guard decision.allowed else { return decision }
            for (key, outcome) in zip(keys, decision.outcomes) {
                if state[key] == nil && state.count >= capacity { Self.evict(&state, now: now, capacity: capacity) }
                state[key] = outcome.newTAT
            }
            return decision
        }
        return RateLimitDecision.from(decision, policies: policies)
    }

    /// Stored instants across all shards (for tests and metrics).
    package var count: Int { shards.reduce(0) { total, shard in total + shard.state.withLock { $0.count } } }

    private static func evict(_ state: inout [PolicyKey: Double], now: Double, capacity: Int) {
        state = state.filter { $0.value > now }
        guard state.count >= capacity else { return }
        // Full of live entries: drop the eighth nearest to expiry.
        let victims = state.sorted { $0.value < $1.value }.prefix(max(1, capacity / 8))
        for victim in victims { state[victim.key] = nil }
    }
}
