#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// Where an account stands with failed logins.
package struct LockoutState: Sendable, Hashable {
    /// Consecutive failures since the last success or the last lock.
    package var failures: Int
    /// Locks since the last success: each doubles the next one's duration.
    package var lockouts: Int
    package var lockedUntil: Date?

    package init(failures: Int = 0, lockouts: Int = 0, lockedUntil: Date? = nil) {
        self.failures = failures
        self.lockouts = lockouts
        self.lockedUntil = lockedUntil
    }

    package func isLocked(at now: Date) -> Bool { lockedUntil.map { $0 > now } ?? false }
}

/// Keycloak-style brute-force protection: `threshold` consecutive failures lock the account for `duration`,
/// doubling with each further lock up to `maxDuration`; attempts while locked change nothing (they neither
/// extend the lock nor count); a success clears the count and the doubling.
package struct LockoutPolicy: Sendable, Hashable {
    package var threshold: Int
    package var duration: Duration
    package var maxDuration: Duration

    package init(threshold: Int = 5, duration: Duration = .seconds(60), maxDuration: Duration = .seconds(3600)) {
        self.threshold = threshold
        self.duration = duration
        self.maxDuration = maxDuration
    }

    /// The state after a failed attempt at `now`, and whether this attempt set a lock.
    package func failed(_ state: LockoutState, at now: Date) -> (state: LockoutState, locked: Bool) {
        guard !state.isLocked(at: now) else { return (state, false) }
        var next = state
        next.failures += 1
        guard next.failures >= threshold else { return (next, false) }
        next.lockedUntil = now.addingTimeInterval(lockDuration(after: state.lockouts))
        next.lockouts += 1
        next.failures = 0
        return (next, true)
    }

    /// The state after a successful login.
    package func succeeded(_ state: LockoutState) -> LockoutState { LockoutState() }

    /// An administrator's unlock clears everything, as a success does (Keycloak's "unlock user").
    package func unlocked(_ state: LockoutState) -> LockoutState { LockoutState() }

    /// Seconds of the lock set after `previous` earlier locks: duration × 2^previous, at most maxDuration.
    package func lockDuration(after previous: Int) -> TimeInterval {
        let base = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        let cap = Double(maxDuration.components.seconds) + Double(maxDuration.components.attoseconds) / 1e18
        return min(base * Double(UInt64(1) << UInt64(min(max(previous, 0), 40))), cap)
    }
}
