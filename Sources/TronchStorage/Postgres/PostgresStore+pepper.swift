import PostgresNIO
package import TronchCore

extension PostgresStore {
    package func keyCountsByPepper() async throws -> [PepperCount] {
        try await run {
            try await client.rows(
                """
                SELECT pepper_id, status = 'revoked', COUNT(*)::bigint FROM api_keys WHERE hash_version = \(KeyHasher.hmacVersion)
                GROUP BY 1, 2 ORDER BY 1, 2
                """,
                logger: logger
            ).map { row in
                let (pepper, revoked, count) = try row.decode((String?, Bool, Int64).self)
                return PepperCount(pepperID: pepper, revoked: revoked, count: Int(count))
            }
        }
    }

    package func recordPepperRotation(previousID: String, fingerprint: (name: String, value: String), audit: AuditEvent) async throws {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.rows(
                    "UPDATE api_keys SET pepper_id = \(previousID) WHERE pepper_id IS NULL AND hash_version = \(KeyHasher.hmacVersion)",
                    logger: logger
                )
                try await connection.rows(
                    """
                    INSERT INTO tronch_settings (name, value) VALUES (\(fingerprint.name), \(fingerprint.value))
                    ON CONFLICT (name) DO UPDATE SET value = excluded.value
                    """,
                    logger: logger
                )
                _ = try await Self.appendAudit(audit, on: connection, logger: logger)
            }
        }
    }
}
