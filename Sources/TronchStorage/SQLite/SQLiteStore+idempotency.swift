package import Foundation
import GRDB
import TronchCore

extension SQLiteStore: IdempotencyStore {
    package func claimIdempotencyKey(_ claim: IdempotencyClaim) async throws -> IdempotencyClaim.Outcome {
        try await writer.write { db in
            let now = Timestamp.milliseconds(claim.now)
            if let row = try Row.fetchOne(
                db,
                sql: "SELECT fingerprint, status, answer, lease_until, expires_at FROM idempotency_keys WHERE caller = ? AND key = ?",
                arguments: [claim.caller, claim.key]
            ), (row["expires_at"] as Int64) > now {
                guard (row["fingerprint"] as String) == claim.fingerprint else { return .mismatch }
                if let status: Int = row["status"], let answer: String = row["answer"] { return .completed(status: status, sealedAnswer: answer) }
                guard (row["lease_until"] as Int64) <= now else { return .inProgress }
                // The request that held it stopped without an answer: this one takes it over.
            }
            try db.execute(
                sql: """
                    INSERT INTO idempotency_keys (caller, key, fingerprint, status, answer, lease_until, created_at, expires_at)
                    VALUES (?, ?, ?, NULL, NULL, ?, ?, ?)
                    ON CONFLICT (caller, key) DO UPDATE SET fingerprint = excluded.fingerprint, status = NULL, answer = NULL,
                        lease_until = excluded.lease_until, created_at = excluded.created_at, expires_at = excluded.expires_at
                    """,
                arguments: [
                    claim.caller, claim.key, claim.fingerprint, Timestamp.milliseconds(claim.leaseUntil), now,
                    Timestamp.milliseconds(claim.expiresAt),
                ]
            )
            return .claimed
        }
    }

    package func completeIdempotencyKey(caller: String, key: String, status: Int, sealedAnswer: String) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE idempotency_keys SET status = ?, answer = ? WHERE caller = ? AND key = ? AND status IS NULL",
                arguments: [status, sealedAnswer, caller, key]
            )
        }
    }

    package func releaseIdempotencyKey(caller: String, key: String) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM idempotency_keys WHERE caller = ? AND key = ? AND status IS NULL", arguments: [caller, key])
        }
    }

    package func pruneIdempotencyKeys(now: Date) async throws -> Int {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM idempotency_keys WHERE expires_at <= ?", arguments: [Timestamp.milliseconds(now)])
            return db.changesCount
        }
    }
}
