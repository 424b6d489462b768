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

    /// A cached answer. A class, so the table holds a reference (a resize or an eviction scan moves 8 bytes
    /// per key, not a whole record); `referenced` is only touched under its shard's lock.
    private final class Entry: @unchecked Sendable {
        let record: KeyRecord?
        let expires: ContinuousClock.Instant
        /// Set by every hit, cleared by an eviction scan: a key used since the last scan survives it.
        var referenced = false

        init(record: KeyRecord?, expires: ContinuousClock.Instant) {
            self.record = record
            self.expires = expires
        }
    }

    private struct State {
        var entries: [KeyDigest: Entry] = [:]
        /// Bumped by every invalidation, so a lookup that raced a write cannot store what it read before it.
        var generation: UInt64 = 0
    }

    /// One lock per shard: an eviction scan holds up only the lookups of its own shard.
    private final class Shard: Sendable {
        let state = Mutex(State())
    }

    private let shards: [Shard]
    private let ttl: Duration
    private let negativeTTL: Duration
    private let maxEntriesPerShard: Int
    private let staleTTL: Duration

    package init(ttl: Duration, negativeTTL: Duration, maxEntries: Int, staleTTL: Duration = .zero) {
        self.ttl = ttl
        self.negativeTTL = negativeTTL
        let shardCount = maxEntries >= 4096 ? 16 : 1
        self.shards = (0..<shardCount).map { _ in Shard() }
        self.maxEntriesPerShard = max(1, maxEntries / shardCount)
        self.staleTTL = staleTTL
    }

    private func shard(_ digest: KeyDigest) -> Shard { shards[Int(truncatingIfNeeded: digest.w3 % UInt64(shards.count))] }

    package func lookup(_ digest: KeyDigest) -> Lookup {
        let now = ContinuousClock.now
        return shard(digest).state.withLock { state in
            guard let entry = state.entries[digest] else { return .miss(generation: state.generation, stale: nil) }
            if entry.expires > now {
                entry.referenced = true
                return .hit(entry.record)
            }
            let stale = entry.expires + staleTTL > now ? StaleAnswer(record: entry.record) : nil
            return .miss(generation: state.generation, stale: stale)
        }
    }

    /// Caches what the store said about `digest`, unless the cache was invalidated since the lookup.
    package func store(_ record: KeyRecord?, for digest: KeyDigest, generation: UInt64) {
        let lifetime = record == nil ? negativeTTL : ttl
        guard lifetime > .zero else { return }
        let now = ContinuousClock.now
        let entry = Entry(record: record, expires: now + lifetime)
        shard(digest).state.withLock { state in
            guard state.generation == generation else { return }
            if state.entries.count >= maxEntriesPerShard && state.entries[digest] == nil { evict(&state, now: now) }
            state.entries[digest] = entry
        }
    }

    /// Frees an eighth of a full shard: answers past their stale period first, then keys not used since the
    /// previous scan (second chance, so a hot key such as the caller's own stays), then any.
    private func evict(_ state: inout State, now: ContinuousClock.Instant) {
        let target = max(1, maxEntriesPerShard / 8)
        var victims = [KeyDigest]()
        victims.reserveCapacity(target)
        var unused = [KeyDigest]()
        for (digest, entry) in state.entries {
            if entry.expires + staleTTL <= now {
                victims.append(digest)
            } else if entry.referenced {
                entry.referenced = false
            } else if victims.count + unused.count < target {
                unused.append(digest)
            }
        }
        for digest in victims + unused { state.entries[digest] = nil }
        let excess = state.entries.count - (maxEntriesPerShard - target)
        if excess > 0 { for digest in Array(state.entries.keys.prefix(excess)) { state.entries[digest] = nil } }
    }

    /// Forgets `digest` (after a write to its key).
    package func invalidate(_ digest: KeyDigest) {
        shard(digest).state.withLock { state in
            state.entries[digest] = nil
            state.generation &+= 1
        }
    }

    package func removeAll() {
        for shard in shards {
            shard.state.withLock { state in
                state.entries.removeAll()
                state.generation &+= 1
            }
        }
    }

    package var count: Int { shards.reduce(0) { $0 + $1.state.withLock { $0.entries.count } } }
}
