package import Foundation
package import TronchCore

/// Which audit entries a read returns, newest first; every filter is optional and they combine with AND.
package struct AuditQuery: Sendable, Hashable {
    package var actorID: String?
    package var action: String?
    package var targetType: String?
    package var targetID: String?
    package var outcome: AuditEvent.Outcome?
    /// Entries at or after this instant.
    package var from: Date?
    /// Entries before this instant.
    package var to: Date?
    package var limit = 50
    /// Continue below this sequence number (the previous page's `nextCursor`).
    package var before: Int64?

    package init() {}
}

package struct AuditPage: Sendable {
    package var entries: [AuditEntry]
    package var nextCursor: Int64?

    package init(entries: [AuditEntry], nextCursor: Int64?) {
        self.entries = entries
        self.nextCursor = nextCursor
    }
}

/// The audit log: append-only and hash-chained.
///
/// Entries of changes to keys are appended by the ``KeyStore`` write that makes the change, in its
/// transaction; this protocol appends the rest (failed authentication, denials, start-up) and reads.
/// Every backend serialises appends on the chain head, so several nodes writing at once still build one
/// valid chain.
package protocol AuditStore: Sendable {
    /// Appends events that change nothing else, in one transaction; returns them as chained.
    @discardableResult
    func appendAudit(_ events: [AuditEvent]) async throws -> [AuditEntry]

    func auditEntries(matching query: AuditQuery) async throws -> AuditPage

    /// Up to `limit` entries in chain order after sequence `after`: what `tronch audit verify` walks.
    func auditChain(after sequence: Int64, limit: Int) async throws -> [AuditEntry]

    /// Removes the oldest entries, all of those before `cutoff` up to the first that is not, and moves the
    /// checkpoint to the last one removed (its sequence and hash, which cover everything before it); then
    /// appends `record` (made from what was cut) in the same transaction, so the cut is itself in the chain.
    /// Returns the number of entries removed.
    func cutAudit(
        before cutoff: Date,
        record: @escaping @Sendable (_ removed: Int, _ checkpoint: AuditHead) -> AuditEvent
    )
        async throws -> Int

    /// Where verification starts (the genesis, or the last entry a retention cut removed) and where it must
    /// end (the head the last append recorded, so removing entries from the end shows too).
    func auditBounds() async throws -> (checkpoint: AuditHead, head: AuditHead)

    /// Every keyed checkpoint, oldest first (one per thousand entries or so: few rows).
    func auditCheckpoints() async throws -> [AuditCheckpoint]

    /// The newest keyed checkpoint, if any.
    func lastAuditCheckpoint() async throws -> AuditCheckpoint?

    /// Stores `checkpoint` when it follows the newest one (its `previousSequence` is that one's sequence, or
    /// 0 when there is none); false when another node's checkpoint got there first. Checkpoints are never
    /// changed or removed.
    func appendAuditCheckpoint(_ checkpoint: AuditCheckpoint) async throws -> Bool
}
