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
    private let store: any UserStore
    private let ttl: Duration
    private let cache = Mutex<[UUID: (identity: UserIdentity?, mfaEnabled: Bool, until: ContinuousClock.Instant)]>([:])

    package init(store: any UserStore, ttl: Duration = .seconds(5)) {
        self.store = store
        self.ttl = ttl
    }

    package func identity(of id: UUID) async throws -> UserIdentity? { try await entry(id).identity }

    /// Whether the user has a second factor (for `TRONCH_MFA_REQUIRED_ROLES`).
    package func mfaEnabled(_ id: UUID) async throws -> Bool { try await entry(id).mfaEnabled }

    private func entry(_ id: UUID) async throws -> (identity: UserIdentity?, mfaEnabled: Bool) {
        let now = ContinuousClock.now
        if let cached = cache.withLock({ $0[id] }), cached.until > now { return (cached.identity, cached.mfaEnabled) }
        let user = try await store.user(id: id)
        let identity = user.flatMap { $0.status == .active ? UserIdentity(id: $0.id, role: $0.role) : nil }
        let mfa = user?.mfaEnabled ?? false
        cache.withLock { entries in
            if entries.count > 10_000 { entries.removeAll(keepingCapacity: true) }
            entries[id] = (identity, mfa, now + ttl)
        }
        return (identity, mfa)
    }

    /// Forgets a user here at once (after a change on this node).
    package func invalidate(_ id: UUID) { _ = cache.withLock { $0.removeValue(forKey: id) } }
}
