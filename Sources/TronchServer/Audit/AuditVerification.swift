package import Logging
package import TronchCore
package import TronchStorage

/// Checks the whole audit log: every link of the hash chain, the keyed checkpoints (their HMACs and their
/// list), that the entries they signed still have the hashes they signed, and that checkpoints exported
/// earlier are all still there. What `tronch audit verify` runs.
package enum AuditVerification {
    package struct Report: Sendable, Hashable {
        /// Entries walked.
        package var entries: Int
        package var head: AuditHead
        /// Keyed checkpoints checked, and those of them whose entries are still in the log.
        package var checkpoints: Int
        package var checkpointsMatched: Int
    }

    /// `signer` is asked for only when there are checkpoints to check (a log without any needs no key).
    package static func run(
        store: any AuditStore,
        exported: [AuditCheckpoint] = [],
        signer: () async throws -> AuditCheckpointSigner
    ) async throws -> Result<Report, AuditChain.Break> {
        let checkpoints = try await store.auditCheckpoints()
        if !checkpoints.isEmpty, case .failure(let problem) = try await signer().verify(checkpoints) { return .failure(problem) }
        let signed = Dictionary(checkpoints.map { ($0.sequence, $0) }) { first, _ in first }
        for kept in exported where signed[kept.sequence] != kept {
            return .failure(.checkpointDropped(sequence: kept.sequence))
        }
        let bounds = try await store.auditBounds()
        var matched = 0
        let walked = try await walk(store, from: bounds.checkpoint, to: bounds.head) { entry in
            guard let checkpoint = signed[entry.sequence] else { return nil }
            guard checkpoint.hash == entry.hash else { return .rewritten(sequence: entry.sequence) }
            matched += 1
            return nil
        }
        switch walked {
        case .failure(let problem):
            return .failure(problem)
        case .success(let (head, count)):
            if let last = checkpoints.last, last.sequence > head.sequence {
                return .failure(.rolledBack(checkpoint: last.sequence, head: head.sequence))
            }
            return .success(Report(entries: count, head: head, checkpoints: checkpoints.count, checkpointsMatched: matched))
        }
    }

    /// The signer of this node's configuration (the secrets keys, from the environment or the data
    /// directory), for a command that reads the database directly.
    package static func signer(settings: Settings, store: any Store, logger: Logger) async throws -> AuditCheckpointSigner {
        let pepper = try await loadPepper(settings, store: store, logger: logger)
        return AuditCheckpointSigner(secrets: try await SecretsKey.load(settings, pepper: pepper, store: store, logger: logger))
    }

    /// Walks the chain from `start` up to `end` (a head recorded before the walk: entries appended meanwhile
    /// are for the next one), checking every link and handing each entry to `each`, which may refuse it.
    /// Returns the head reached and the number of entries walked.
    static func walk(
        _ store: any AuditStore,
        from start: AuditHead,
        to end: AuditHead,
        each: (AuditEntry) -> AuditChain.Break? = { _ in nil }
    ) async throws -> Result<(AuditHead, Int), AuditChain.Break> {
        var head = start
        var count = 0
        while head.sequence < end.sequence {
            let batch = try await store.auditChain(after: head.sequence, limit: 1000).filter { $0.sequence <= end.sequence }
            guard !batch.isEmpty else { break }
            switch AuditChain.verify(batch, from: head) {
            case .success(let next):
                if let problem = batch.lazy.compactMap(each).first { return .failure(problem) }
                head = next
                count += batch.count
            case .failure(let problem):
                // Retention may have cut the chain while this walked it: go on from its new checkpoint.
                let moved = try await store.auditBounds().checkpoint
                guard case .gap = problem, moved.sequence > head.sequence else { return .failure(problem) }
                head = moved
            }
        }
        // Entries removed from the end leave a chain that links up; the recorded head shows them.
        guard head == end else { return .failure(.truncated(found: head.sequence, recorded: end.sequence)) }
        return .success((head, count))
    }
}
