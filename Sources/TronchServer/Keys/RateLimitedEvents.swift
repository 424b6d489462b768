package import Foundation
package import Logging
import Synchronization
package import TronchCore
package import TronchRateLimit
package import TronchStorage

/// Samples verifications refused by a key's rate limit into `key.rate_limited` audit entries (and so webhook
/// events): a key's first refusal writes one; further refusals within `interval` are only counted, and the
/// next entry reports how many there were. At most one entry per key and interval on each node, so a flood
/// of refused requests never becomes a flood of writes.
package final class RateLimitedEvents: Sendable {
    struct State {
        var written: Date
        /// Refusals since `written` that wrote nothing.
        var unreported: Int64
    }

    let store: any AuditStore
    let interval: TimeInterval
    let logger: Logger
    private let states = Mutex<[UUID: State]>([:])
    /// Keys remembered at most; past it, those whose interval is over are forgotten first.
    static let maxKeys = 10_000

    package init(store: any AuditStore, interval: Duration, logger: Logger) {
        self.store = store
        self.interval = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        self.logger = logger
    }

    /// Called for each verification refused by `record`'s rate limit; writes an entry when one is due,
    /// without making the verification wait for it.
    package func refused(_ record: KeyRecord, decision: RateLimitDecision, at now: Date) {
        guard let unreported = due(record.id, at: now) else { return }
        var details = KeyService.auditDetails(record)
        details["refused"] = .int(unreported + 1)
        if let limit = decision.limits.first(where: { $0.retryAfterMicroseconds != nil || $0.remaining == 0 }) ?? decision.limits.first {
            details["policy"] = .object([
                "name": .string(limit.name), "limit": .int(limit.limit), "period_seconds": .int(limit.periodSeconds),
            ])
        }
        let event = AuditEvent(
            time: now,
            actor: .key(record.id),
            action: AuditAction.keyRateLimited,
            targetType: "key",
            targetID: record.id.lowercased,
            outcome: .failure,
            details: details
        )
        let (store, logger) = (store, logger)
        Task {
            do {
                try await store.appendAudit([event])
            } catch {
                logger.warning(
                    "could not record a key.rate_limited audit entry",
                    metadata: ["key_id": "\(record.id.lowercased)", "error": "\(error)"]
                )
            }
        }
    }

    /// The refusals not yet reported when an entry is due for `id` now, or nil when one was written within
    /// the interval (this refusal is then counted for the next).
    func due(_ id: UUID, at now: Date) -> Int64? {
        states.withLock { states in
            if var state = states[id], now.timeIntervalSince(state.written) < interval {
                state.unreported += 1
                states[id] = state
                return nil
            }
            let unreported = states[id]?.unreported ?? 0
            if states.count >= Self.maxKeys {
                states = states.filter { now.timeIntervalSince($0.value.written) < interval }
                if states.count >= Self.maxKeys { states.removeAll() }
            }
            states[id] = State(written: now, unreported: 0)
            return unreported
        }
    }
}
