import Foundation
import Logging
import PostgresNIO
package import TronchCore

extension PostgresStore {
    private static let checkpointColumns = "sequence, hash, previous_sequence, key_id, time, mac"

    package func auditCheckpoints() async throws -> [AuditCheckpoint] {
        try await run {
            try await client.rows(
                "SELECT \(unescaped: Self.checkpointColumns) FROM audit_checkpoints ORDER BY sequence",
                logger: logger
            ).map(Self.auditCheckpoint)
        }
    }

    package func lastAuditCheckpoint() async throws -> AuditCheckpoint? {
        try await run {
            try await client.rows(
                "SELECT \(unescaped: Self.checkpointColumns) FROM audit_checkpoints ORDER BY sequence DESC LIMIT 1",
                logger: logger
            ).first.map(Self.auditCheckpoint)
        }
    }

    package func appendAuditCheckpoint(_ checkpoint: AuditCheckpoint) async throws -> Bool {
        try await run {
            // The unique `previous_sequence` lets one checkpoint follow each; the condition refuses one that
            // follows an older checkpoint than the newest (or none when there is one).
            let inserted = try await client.rows(
                """
                INSERT INTO audit_checkpoints (sequence, hash, previous_sequence, key_id, time, mac)
                SELECT \(checkpoint.sequence), \(checkpoint.hash), \(checkpoint.previousSequence), \(checkpoint.keyID),
                    \(pgTime(checkpoint.time))::timestamptz, \(checkpoint.mac)
                WHERE COALESCE((SELECT MAX(sequence) FROM audit_checkpoints), 0) = \(checkpoint.previousSequence)
                ON CONFLICT DO NOTHING
                RETURNING 1
                """,
                logger: logger
            )
            return !inserted.isEmpty
        }
    }

    static func auditCheckpoint(_ row: PostgresRow) throws -> AuditCheckpoint {
        let (sequence, hash, previous, keyID, time, mac) = try row.decode((Int64, String, Int64, String, Date, String).self)
        return AuditCheckpoint(
            sequence: sequence,
            hash: hash,
            previousSequence: previous,
            keyID: keyID,
            time: Timestamp.truncated(time),
            mac: mac
        )
    }
}
