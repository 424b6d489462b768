package import Foundation
import Synchronization
package import TronchCore
package import TronchStorage

/// Who the owner of a key is, for authentication: a key a user owns acts with at most that user's role.
///
/// Looked up on every authentication by such a key, so answers are cached briefly (a role change reaches
/// every node within `ttl`; disabling or deleting a user revokes their keys, which the key cache hears of
/// at once). Nil for a user who does not exist or is disabled.
package final class UserDirectory: Sendable {
    private struct Entry {
        var identity: UserIdentity?
        var mfaEnabled: Bool
        var until: ContinuousClock.Instant
    }

    private struct State {
        var entries: [UUID: Entry] = [:]
        /// Moves on every invalidation: a read that began before one must not cache what it read.
        var generation: UInt64 = 0
    }

    private let read: @Sendable (UUID) async throws -> UserRecord?
    private let ttl: Duration
    private let state = Mutex(State())

    package convenience init(store: any UserStore, ttl: Duration = .seconds(5)) {
        self.init(ttl: ttl) { id in try await store.user(id: id) }
    }

    init(ttl: Duration = .seconds(5), reading read: @escaping @Sendable (UUID) async throws -> UserRecord?) {
        self.read = read
        self.ttl = ttl
    }

    package func identity(of id: UUID) async throws -> UserIdentity? { try await entry(id).identity }

    /// Whether the user has a second factor (for `TRONCH_MFA_REQUIRED_ROLES`).
    package func mfaEnabled(_ id: UUID) async throws -> Bool { try await entry(id).mfaEnabled }

    private func entry(_ id: UUID) async throws -> (identity: UserIdentity?, mfaEnabled: Bool) {
        let now = ContinuousClock.now
        let (cached, generation) = state.withLock { ($0.entries[id], $0.generation) }
        if let cached, cached.until > now { return (cached.identity, cached.mfaEnabled) }
        let user = try await read(id)
        let identity = user.flatMap { $0.status == .active ? UserIdentity(id: $0.id, role: $0.role) : nil }
        let mfa = user?.mfaEnabled ?? false
        state.withLock { state in
            // A change made here while this read was under way (a demotion, a second factor reset): what was
            // read may predate it, so it answers this one request and is not kept for the next ones.
            guard state.generation == generation else { return }
            if state.entries.count > 10_000 { state.entries.removeAll(keepingCapacity: true) }
            state.entries[id] = Entry(identity: identity, mfaEnabled: mfa, until: now + ttl)
        }
        return (identity, mfa)
    }

    /// Forgets a user here at once (after a change on this node), and whatever a read under way would keep.
    package func invalidate(_ id: UUID) {
        state.withLock { state in
            state.entries.removeValue(forKey: id)
            state.generation &+= 1
        }
    }
}
