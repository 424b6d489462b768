package import Foundation
import PostgresNIO
import TronchCore

extension PostgresStore: IdempotencyStore {
    package func claimIdempotencyKey(_ claim: IdempotencyClaim) async throws -> IdempotencyClaim.Outcome {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                // A new key is inserted at once; otherwise the row is locked, so two nodes racing for it queue here.
                let inserted = try await connection.rows(
                    """
                    INSERT INTO idempotency_keys (caller, key, fingerprint, status, answer, lease_until, created_at, expires_at)
                    VALUES (\(claim.caller), \(claim.key), \(claim.fingerprint), NULL, NULL, \(pgTime(claim.leaseUntil))::timestamptz,
                        \(pgTime(claim.now))::timestamptz, \(pgTime(claim.expiresAt))::timestamptz)
                    ON CONFLICT (caller, key) DO NOTHING RETURNING 1
                    """,
                    logger: logger
                ).count
                if inserted == 1 { return .claimed }
                guard
                    let row = try await connection.rows(
                        """
                        SELECT fingerprint, status, answer, lease_until <= \(pgTime(claim.now))::timestamptz,
                            expires_at <= \(pgTime(claim.now))::timestamptz
                        FROM idempotency_keys WHERE caller = \(claim.caller) AND key = \(claim.key) FOR UPDATE
                        """,
                        logger: logger
                    ).first
                else { return .inProgress }
                let (fingerprint, status, answer, leaseOver, expired) = try row.decode((String, Int?, String?, Bool, Bool).self)
                if !expired {
                    guard fingerprint == claim.fingerprint else { return .mismatch }
                    if let status, let answer { return .completed(status: status, sealedAnswer: answer) }
                    guard leaseOver else { return .inProgress }
                }
                try await connection.rows(
                    """
                    UPDATE idempotency_keys SET fingerprint = \(claim.fingerprint), status = NULL, answer = NULL,
                        lease_until = \(pgTime(claim.leaseUntil))::timestamptz, created_at = \(pgTime(claim.now))::timestamptz,
                        expires_at = \(pgTime(claim.expiresAt))::timestamptz
                    WHERE caller = \(claim.caller) AND key = \(claim.key)
                    """,
                    logger: logger
                )
                return .claimed
            }
        }
    }

    package func completeIdempotencyKey(caller: String, key: String, status: Int, sealedAnswer: String) async throws {
        try await run {
            try await client.rows(
                """
                UPDATE idempotency_keys SET status = \(status), answer = \(sealedAnswer)
                WHERE caller = \(caller) AND key = \(key) AND status IS NULL
                """,
                logger: logger
            )
        }
    }

    package func releaseIdempotencyKey(caller: String, key: String) async throws {
        try await run {
            try await client.rows("DELETE FROM idempotency_keys WHERE caller = \(caller) AND key = \(key) AND status IS NULL", logger: logger)
        }
    }

    package func pruneIdempotencyKeys(now: Date) async throws -> Int {
        try await run {
            try await client.rows("DELETE FROM idempotency_keys WHERE expires_at <= \(pgTime(now))::timestamptz RETURNING 1", logger: logger).count
        }
    }
}
