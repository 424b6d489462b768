package import Foundation
package import Logging
import ServiceLifecycle
import Synchronization
package import TronchCore
package import TronchStorage

/// This node's authorization snapshot and decision cache.
///
/// A change made here reaches the snapshot before its request is answered (applied in place when the stored
/// version is the next one, otherwise reloaded), so the next check on this node
/// sees it (never a stale allow after a revoke). Another node's change arrives through Redis at once, or,
/// without Redis, when ``Refresher`` sees the stored version move (every `TRONCH_AUTHZ_REFRESH_INTERVAL`).
/// Decisions are cached per principal, action and resource for the life of a snapshot: a new snapshot starts
/// an empty cache, which is the whole of invalidation.
package final class AuthzDirectory: Sendable {
    struct DecisionKey: Hashable {
        var principal: PrincipalReference
        var action: String
        var resource: ResourceName
    }

    private struct State {
        var snapshot: AuthzSnapshot
        var version: Int64
        var decisions: [DecisionKey: AuthzDecision] = [:]
        /// After ``failClosed()``: reads numbered up to this one began before the change that could not be read
        /// back, so what they read may predate it; they install nothing.
        var staleReads: UInt64 = 0
    }

    static let maxCachedDecisions = 100_000

    let store: any AuthzStore
    let fallbackAllows: Bool
    private let state: Mutex<State>
    /// Numbers the reads of the stored state in the order they begin.
    private let reads = Atomic<UInt64>(0)
    /// Tells the other nodes (through Redis) after a change made here.
    private let announce = Mutex<(@Sendable () -> Void)?>(nil)

    func onChange(_ announce: @escaping @Sendable () -> Void) { self.announce.withLock { $0 = announce } }

    package init(store: any AuthzStore, fallbackAllows: Bool) {
        self.store = store
        self.fallbackAllows = fallbackAllows
        state = Mutex(State(snapshot: AuthzSnapshot(groups: [], memberships: [], entries: [], fallbackAllows: fallbackAllows), version: -1))
    }

    package var snapshot: AuthzSnapshot { state.withLock { $0.snapshot } }
    package var version: Int64 { state.withLock { $0.version } }

    /// Reads everything again and swaps it in, unless a newer snapshot got there first.
    package func reload() async throws {
        let number = reads.add(1, ordering: .sequentiallyConsistent).newValue
        let loaded = try await store.authzState()
        let snapshot = AuthzSnapshot(groups: loaded.groups, memberships: loaded.memberships, entries: loaded.entries, fallbackAllows: fallbackAllows)
        state.withLock { state in
            guard loaded.version > state.version, number > state.staleReads else { return }
            state = State(snapshot: snapshot, version: loaded.version, staleReads: state.staleReads)
        }
    }

    /// After a change made here that could not be read back: deny everything until the next reload succeeds,
    /// rather than answer from a snapshot that may still allow what was just revoked.
    package func failClosed() {
        state.withLock { state in
            // A reload under way may have read the state before the change: it must not end the denial.
            let begun = reads.load(ordering: .sequentiallyConsistent)
            state = State(snapshot: AuthzSnapshot(groups: [], memberships: [], entries: [], fallbackAllows: false), version: -1, staleReads: begun)
        }
    }

    /// After a change made here: the next check must see it. When the stored version is exactly one past the
    /// held one, that one change is this one, and it is applied in memory; otherwise (another node changed
    /// something too) everything is read again.
    package func applyAfterChange(_ change: AuthzSnapshot.Change) async {
        do {
            let stored = try await store.authzVersion()
            let applied = state.withLock { state in
                // Nothing was written (a forgotten principal who named nothing): nothing to apply.
                if stored == state.version { return true }
                guard stored == state.version + 1 else { return false }
                state.snapshot.apply(change)
                state.version = stored
                state.decisions = [:]
                return true
            }
            if !applied { try await reload() }
        } catch {
            failClosed()
        }
        announce.withLock { $0 }?()
    }

    /// Reloads when the stored version is not the one held.
    package func reloadIfStale() async throws {
        if try await store.authzVersion() != version { try await reload() }
    }

    package func check(_ principal: PrincipalReference, action: String, resource: ResourceName) -> AuthzDecision {
        let key = DecisionKey(principal: principal, action: action, resource: resource)
        return state.withLock { state in
            if let known = state.decisions[key] { return known }
            let decision = state.snapshot.check(principal, action: action, resource: resource)
            if state.decisions.count >= Self.maxCachedDecisions { state.decisions.removeAll(keepingCapacity: true) }
            state.decisions[key] = decision
            return decision
        }
    }

    /// The ids of every group the user is in, directly or through nesting, sorted (the `groups` claim).
    package func groupIDs(ofUser id: UUID) -> [String] {
        snapshot.groups(of: .user(id)).map(\.lowercased).sorted()
    }

    /// Whether one of the user's groups requires a second factor.
    package func requiresMFA(user id: UUID) -> Bool {
        let snapshot = self.snapshot
        return snapshot.groups(of: .user(id)).contains { snapshot.groups[$0]?.mfaRequired == true }
    }

    /// Notices other nodes' changes without Redis: compares the stored version every `interval`.
    package struct Refresher: Service {
        let directory: AuthzDirectory
        let interval: Duration
        let logger: Logger

        package init(directory: AuthzDirectory, interval: Duration, logger: Logger) {
            self.directory = directory
            self.interval = interval
            self.logger = logger
        }

        package func run() async throws {
            await Periodic.run(
                every: interval,
                immediately: true,
                logger: logger,
                level: .debug,
                failure: "could not refresh the authorization snapshot"
            ) {
                try await directory.reloadIfStale()
            }
        }
    }
}
