package import Foundation
import GRDB
package import TronchCore

extension SQLiteStore {
    package func keysDueExpiryReminder(now: Date, horizon: Date, limit: Int) async throws -> [KeyRecord] {
        let (now, horizon) = (Timestamp.milliseconds(now), Timestamp.milliseconds(horizon))
        return try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM api_keys
                    WHERE status = 'active' AND expires_at > ? AND expires_at <= ? AND (grace_until IS NULL OR grace_until > ?)
                        AND (expiry_reminded_for IS NULL OR expiry_reminded_for <> expires_at)
                    ORDER BY expires_at, id LIMIT ?
                    """,
                arguments: [now, horizon, now, limit]
            ).map(Self.record)
        }
    }

    package func recordExpiryReminder(id: UUID, expiresAt: Date, audit: AuditEvent) async throws -> Bool {
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE api_keys SET expiry_reminded_for = expires_at
                    WHERE id = ? AND status = 'active' AND expires_at = ?
                        AND (expiry_reminded_for IS NULL OR expiry_reminded_for <> expires_at)
                    """,
                arguments: [id.lowercased, Timestamp.milliseconds(expiresAt)]
            )
            guard db.changesCount == 1 else { return false }
            _ = try Self.appendAudit(audit, db)
            return true
        }
    }
}
