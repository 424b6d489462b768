package import Foundation
import PostgresNIO
package import TronchCore

extension PostgresStore {
    package func keysDueExpiryReminder(now: Date, horizon: Date, limit: Int) async throws -> [KeyRecord] {
        try await run {
            try await client.rows(
                """
                SELECT \(unescaped: Self.selectColumns) FROM api_keys
                WHERE status = 'active' AND expires_at > \(pgTime(now))::timestamptz AND expires_at <= \(pgTime(horizon))::timestamptz
                    AND (grace_until IS NULL OR grace_until > \(pgTime(now))::timestamptz)
                    AND expiry_reminded_for IS DISTINCT FROM expires_at
                ORDER BY expires_at, id LIMIT \(limit)
                """,
                logger: logger
            ).map(Self.record)
        }
    }

    package func recordExpiryReminder(id: UUID, expiresAt: Date, audit: AuditEvent) async throws -> Bool {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                let updated = try await connection.rows(
                    """
                    UPDATE api_keys SET expiry_reminded_for = expires_at
                    WHERE id = \(id) AND status = 'active' AND expires_at = \(pgTime(expiresAt))::timestamptz
                        AND expiry_reminded_for IS DISTINCT FROM expires_at
                    RETURNING id
                    """,
                    logger: logger
                )
                guard updated.count == 1 else { return false }
                _ = try await Self.appendAudit(audit, on: connection, logger: logger)
                return true
            }
        }
    }
}
