import Synchronization
package import TronchCore

/// Key records by digest, kept for a short time so a verification of a known key needs no I/O.
///
/// Misses are cached too, for less time, so a flood of unknown keys does not reach the database. Writes made
/// through this node invalidate at once; the TTL bounds staleness for writes made elsewhere.
package final class KeyCache: Sendable {
    package enum Lookup: Sendable {
        /// Found in the cache: the record, or nil for a cached "no such key".
        case hit(KeyRecord?)
        /// Not cached (or expired); pass `generation` back to ``store(_:for:generation:)``. `stale` is the
        /// expired answer still within the stale period, for use only when the store cannot be reached.
        case miss(generation: UInt64, stale: StaleAnswer?)
    }

    /// An expired cache answer: the record, or nil for "no such key".
    package struct StaleAnswer: Sendable {
        package var record: KeyRecord?
    }

    private struct Entry {
        var record: KeyRecord?
        var expires: ContinuousClock.Instant
    }

    private struct State {
        var entries: [KeyDigest: Entry] = [:]
        /// Bumped by every invalidation, so a lookup that raced a write cannot store what it read before it.
        var generation: UInt64 = 0
    }

    private let state = Mutex(State())
    private let ttl: Duration
    private let negativeTTL: Duration
    private let maxEntries: Int
    private let staleTTL: Duration

    package init(ttl: Duration, negativeTTL: Duration, maxEntries: Int, staleTTL: Duration = .zero) {
        self.ttl = ttl
        self.negativeTTL = negativeTTL
        self.maxEntries = max(1, maxEntries)
        self.staleTTL = staleTTL
    }

    package func lookup(_ digest: KeyDigest) -> Lookup {
        let now = ContinuousClock.now
        return state.withLock { state in
            guard let entry = state.entries[digest] else { return .miss(generation: state.generation, stale: nil) }
            if entry.expires > now { return .hit(entry.record) }
            let stale = entry.expires + staleTTL > now ? StaleAnswer(record: entry.record) : nil
            return .miss(generation: state.generation, stale: stale)
        }
    }

    /// Caches what the store said about `digest`, unless the cache was invalidated since the lookup.
    package func store(_ record: KeyRecord?, for digest: KeyDigest, generation: UInt64) {
        let lifetime = record == nil ? negativeTTL : ttl
        guard lifetime > .zero else { return }
        let now = ContinuousClock.now
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.entries.count >= maxEntries && state.entries[digest] == nil {
                let staleTTL = self.staleTTL
                state.entries = state.entries.filter { $0.value.expires + staleTTL > now }
                if state.entries.count >= maxEntries {
                    // Still full of live entries: drop an arbitrary eighth rather than scan for the oldest.
                    let victims = state.entries.keys.prefix(max(1, maxEntries / 8))
                    for victim in Array(victims) { state.entries[victim] = nil }
                }
            }
            state.entries[digest] = Entry(record: record, expires: now + lifetime)
        }
    }

    /// Forgets `digest` (after a write to its key).
    package func invalidate(_ digest: KeyDigest) {
        state.withLock { state in
            state.entries[digest] = nil
            state.generation &+= 1
        }
    }

    package func removeAll() {
        state.withLock { state in
            state.entries.removeAll()
            state.generation &+= 1
        }
    }

    package var count: Int { state.withLock { $0.entries.count } }
}
