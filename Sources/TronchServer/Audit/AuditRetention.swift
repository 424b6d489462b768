import Foundation
package import Logging
import ServiceLifecycle
package import TronchCore
package import TronchStorage

/// Removes audit entries older than the retention period, every interval (the first pass one interval after
/// start-up, when migrations have certainly run).
///
/// What is cut leaves a checkpoint (the last removed entry's sequence and hash, which cover everything
/// before it) and an `audit.retention` entry in the chain, so the remaining chain still verifies and the cut
/// itself is on record. Several nodes may run it: each cut holds the chain head, and a cut of nothing
/// records nothing.
package struct AuditRetention: Service {
    let store: any AuditStore
    let retention: Duration
    let interval: Duration
    let clock: WallClock
    let logger: Logger

    package init(store: any AuditStore, retention: Duration, interval: Duration, clock: WallClock, logger: Logger) {
        self.store = store
        self.retention = retention
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    package func run() async throws {
        await Periodic.run(every: interval, logger: logger, failure: "audit retention failed; retrying at the next interval") { try await cutOnce() }
    }

    /// One pass; returns how many entries were removed.
    @discardableResult
    package func cutOnce() async throws -> Int {
        let now = clock.now
        let cutoff = now.addingTimeInterval(-Double(retention.components.seconds))
        let days = retention.components.seconds / 86_400
        let removed = try await store.cutAudit(before: cutoff) { removed, checkpoint in
            AuditEvent(
                time: now,
                actor: .system,
                action: AuditAction.auditRetention,
                targetType: "audit_log",
                details: [
                    "removed": .int(Int64(removed)), "before": .string(Timestamp.format(cutoff)),
                    "retention_days": .int(days), "checkpoint_sequence": .int(checkpoint.sequence),
                    "checkpoint_hash": .string(checkpoint.hash),
                ]
            )
        }
        if removed > 0 { logger.info("removed old audit entries", metadata: ["removed": "\(removed)", "retention_days": "\(days)"]) }
        return removed
    }
}
