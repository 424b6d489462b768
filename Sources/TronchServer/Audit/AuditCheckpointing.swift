import Foundation
package import Logging
import Metrics
import ServiceLifecycle
package import TronchCore
package import TronchStorage

/// Writes a keyed checkpoint of the audit chain every `every` entries, and at least every `interval` while
/// entries arrive, after checking that the chain links up from the previous checkpoint (a checkpoint signs
/// only a chain this node has verified). Several nodes may run it: the store keeps one list, and a node that
/// loses the race writes nothing.
///
/// Each checkpoint is also logged (`audit checkpoint`, with its sequence, hash and HMAC), so that the log
/// pipeline keeps a copy outside the database.
package struct AuditCheckpointing: Service {
    let store: any AuditStore
    let signer: AuditCheckpointSigner
    let every: Int64
    let interval: Duration
    let clock: WallClock
    let logger: Logger
    private let broken = Counter(label: "tronch_audit_chain_broken_total")

    package init(
        store: any AuditStore,
        signer: AuditCheckpointSigner,
        every: Int64,
        interval: Duration,
        clock: WallClock,
        logger: Logger
    ) {
        self.store = store
        self.signer = signer
        self.every = every
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    package func run() async throws {
        // Often enough to keep to `every` under load, rarely enough to cost nothing when idle.
        let poll = min(interval, .seconds(10))
        await Periodic.run(every: poll, logger: logger, failure: "audit checkpoint failed; retrying") { try await checkpointOnce() }
    }

    /// One pass: the checkpoint written, or nil when none was due (or another node wrote it).
    @discardableResult
    package func checkpointOnce() async throws -> AuditCheckpoint? {
        let now = clock.now
        let last = try await store.lastAuditCheckpoint()
        let bounds = try await store.auditBounds()
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        guard AuditCheckpoint.isDue(head: bounds.head, last: last, now: now, every: every, interval: seconds) else { return nil }
        var start = bounds.checkpoint
        if let last, last.sequence >= bounds.checkpoint.sequence {
            guard last.sequence <= bounds.head.sequence else {
                return refuse(.rolledBack(checkpoint: last.sequence, head: bounds.head.sequence))
            }
            start = last.head
        }
        if case .failure(let problem) = try await AuditVerification.walk(store, from: start, to: bounds.head) {
            return refuse(problem)
        }
        let checkpoint = signer.sign(bounds.head, after: last, at: now)
        guard try await store.appendAuditCheckpoint(checkpoint) else { return nil }
        logger.notice(
            "audit checkpoint",
            metadata: [
                "sequence": "\(checkpoint.sequence)", "hash": "\(checkpoint.hash)", "previous_sequence": "\(checkpoint.previousSequence)",
                "key_id": "\(checkpoint.keyID)", "mac": "\(checkpoint.mac)",
            ]
        )
        return checkpoint
    }

    private func refuse(_ problem: AuditChain.Break) -> AuditCheckpoint? {
        broken.increment()
        logger.error("audit chain broken; no checkpoint written until it is looked at", metadata: ["problem": "\(problem)"])
        return nil
    }
}
