import Synchronization
package import TronchCore
package import TronchRateLimit

/// The rate limits Tronch enforces: each key's policies on verification, failed authentications per client
/// address and key creation per principal on its own API.
package final class RateLimits: Sendable {
    package let limiter: any RateLimiter
    package let settings: RateLimitSettings
    private let defaultPolicy: [GCRA.Parameters]
    private let authFailurePolicy: [GCRA.Parameters]
    private let keyCreationPolicy: [GCRA.Parameters]
    private let loginPolicy: [GCRA.Parameters]
    private let apiPolicy: [GCRA.Parameters]
    /// Addresses refused for failing authentication too often, until when (ContinuousClock). Checked before
    /// any other work, so a refused address costs no limiter round trip; bounded like the limiter.
    private let blocked = Mutex<[String: ContinuousClock.Instant]>([:])
    /// Whether `blocked` may hold an entry: read without the lock on every request, so the common case (no
    /// address blocked) costs one atomic load instead of a lock and an address formatted as text.
    private let anyBlocked = Atomic<Bool>(false)

    package init(limiter: any RateLimiter, settings: RateLimitSettings) {
        self.limiter = limiter
        self.settings = settings
        defaultPolicy = settings.defaultPolicy.map { [GCRA.Parameters($0)] } ?? []
        authFailurePolicy = settings.authFailures.map { [GCRA.Parameters($0)] } ?? []
        keyCreationPolicy = settings.keyCreation.map { [GCRA.Parameters($0)] } ?? []
        loginPolicy = settings.login.map { [GCRA.Parameters($0)] } ?? []
        apiPolicy = settings.api.map { [GCRA.Parameters($0)] } ?? []
    }

    /// Counts a login attempt from `address` (every attempt, good or bad, as seed 004 asks); nil when logins
    /// are not limited. Shared across nodes through the Redis limiter like every other limit.
    package func login(from address: IPAddress?) async throws -> RateLimitDecision? {
        guard !loginPolicy.isEmpty else { return nil }
        return try await limiter.decide("login:\(Self.addressSubject(address))", policies: loginPolicy, cost: 1)
    }

    /// A key's own policies, or the default when it has none; nil when neither applies.
    package func verification(of record: KeyRecord, cost: Int64) async throws -> RateLimitDecision? {
        let policies = record.settings.ratelimits.isEmpty ? defaultPolicy : record.settings.ratelimits.map(GCRA.Parameters.init)
        guard !policies.isEmpty else { return nil }
        return try await limiter.decide("key:\(record.id.lowercased)", policies: policies, cost: cost)
    }

    /// Counts a call on Tronch's own API: a key with policies of its own spends them (the budget its
    /// verifications spend: one key, one budget); any other key, and a person, the API policy. Nil when
    /// nothing applies.
    package func apiCall(by principal: Principal) async throws -> RateLimitDecision? {
        if let keyID = principal.keyID, !principal.keyPolicies.isEmpty {
            return try await limiter.decide("key:\(keyID.lowercased)", policies: principal.keyPolicies.map(GCRA.Parameters.init), cost: 1)
        }
        guard !apiPolicy.isEmpty else { return nil }
        return try await limiter.decide("api:\(principal.reference)", policies: apiPolicy, cost: 1)
    }

    /// Counts a key created by `principal`; nil when creation is not limited.
    package func keyCreation(by principal: Principal) async throws -> RateLimitDecision? {
        guard !keyCreationPolicy.isEmpty else { return nil }
        return try await limiter.decide("key-creation:\(principal.reference)", policies: keyCreationPolicy, cost: 1)
    }

    /// Counts a failed authentication from `address`; when the count is over the limit the address is
    /// refused outright until the limit allows it again. Nil when failures are not limited.
    package func authenticationFailure(from address: IPAddress?) async throws -> RateLimitDecision? {
        guard !authFailurePolicy.isEmpty else { return nil }
        let subject = Self.addressSubject(address)
        let decision = try await limiter.decide("auth-failures:\(subject)", policies: authFailurePolicy, cost: 1)
        // Only a real refusal blocks the address; a limiter that could not decide (closed mode) must not.
        if !decision.allowed && decision.fallback == nil {
            let until = ContinuousClock.now + .seconds(decision.retryAfterSeconds)
            let capacity = settings.localMaxEntries
            blocked.withLock { blocked in
                if blocked.count >= capacity {
                    let now = ContinuousClock.now
                    blocked = blocked.filter { $0.value > now }
                    if blocked.count >= capacity { blocked.removeAll() }
                }
                blocked[subject] = until
                anyBlocked.store(true, ordering: .releasing)
            }
        }
        return decision
    }

    /// Seconds until `address` may try to authenticate again; nil when it may now.
    package func blockedFor(_ address: IPAddress?) -> Int64? {
        guard !authFailurePolicy.isEmpty, anyBlocked.load(ordering: .acquiring) else { return nil }
        let subject = Self.addressSubject(address)
        let now = ContinuousClock.now
        return blocked.withLock { blocked in
            guard let until = blocked[subject] else { return nil }
            guard until > now else {
                blocked[subject] = nil
                if blocked.isEmpty { anyBlocked.store(false, ordering: .releasing) }
                return nil
            }
            let left = until - now
            return max(1, left.components.seconds + (left.components.attoseconds > 0 ? 1 : 0))
        }
    }

    private static func addressSubject(_ address: IPAddress?) -> String { address?.description ?? "unknown" }
}

/// A request a rate limit refused; answered 429 with the limit's headers.
package struct RateLimitRefusal: Error, Sendable {
    package var decision: RateLimitDecision
    package var detail: String
}
