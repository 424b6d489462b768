import GRDB
package import TronchCore

extension SQLiteStore {
    package func keyCountsByPepper() async throws -> [PepperCount] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT pepper_id, status = 'revoked' AS revoked, COUNT(*) AS n FROM api_keys WHERE hash_version = ?
                    GROUP BY pepper_id, status = 'revoked' ORDER BY pepper_id, revoked
                    """,
                arguments: [KeyHasher.hmacVersion]
            ).map { PepperCount(pepperID: $0["pepper_id"], revoked: $0["revoked"], count: $0["n"]) }
        }
    }

    package func recordPepperRotation(previousID: String, fingerprint: (name: String, value: String), audit: AuditEvent) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE api_keys SET pepper_id = ? WHERE pepper_id IS NULL AND hash_version = ?",
                arguments: [previousID, KeyHasher.hmacVersion]
            )
            try db.execute(
                sql: "INSERT INTO tronch_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                arguments: [fingerprint.name, fingerprint.value]
            )
            _ = try Self.appendAudit(audit, db)
        }
    }
}
