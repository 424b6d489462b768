import Foundation
import GRDB
package import TronchCore

extension SQLiteStore {
    package func auditCheckpoints() async throws -> [AuditCheckpoint] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM audit_checkpoints ORDER BY sequence").map(Self.auditCheckpoint)
        }
    }

    package func lastAuditCheckpoint() async throws -> AuditCheckpoint? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM audit_checkpoints ORDER BY sequence DESC LIMIT 1").map(Self.auditCheckpoint)
        }
    }

    package func appendAuditCheckpoint(_ checkpoint: AuditCheckpoint) async throws -> Bool {
        try await writer.write { db in
            // One writer at a time: the newest checkpoint read here is still the newest at the insert.
            let last = try Int64.fetchOne(db, sql: "SELECT MAX(sequence) FROM audit_checkpoints") ?? 0
            guard checkpoint.previousSequence == last, checkpoint.sequence > last else { return false }
            try db.execute(
                sql: "INSERT INTO audit_checkpoints (sequence, hash, previous_sequence, key_id, time, mac) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    checkpoint.sequence, checkpoint.hash, checkpoint.previousSequence, checkpoint.keyID,
                    Timestamp.milliseconds(checkpoint.time), checkpoint.mac,
                ]
            )
            return true
        }
    }

    static func auditCheckpoint(_ row: Row) -> AuditCheckpoint {
        AuditCheckpoint(
            sequence: row["sequence"],
            hash: row["hash"],
            previousSequence: row["previous_sequence"],
            keyID: row["key_id"],
            time: Timestamp.date(milliseconds: row["time"]),
            mac: row["mac"]
        )
    }
}
