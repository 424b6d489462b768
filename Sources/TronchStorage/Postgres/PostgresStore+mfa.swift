package import Foundation
import NIOCore
import PostgresNIO
package import TronchCore

extension PostgresStore: MFAStore {
    static let factorColumns = "user_id, kind, sealed_secret, confirmed_at, last_step, created_at"

    package func mfaFactor(userID: UUID, kind: MFAFactorKind) async throws -> MFAFactorRecord? {
        try await run {
            try await client.rows(
                "SELECT \(unescaped: Self.factorColumns) FROM mfa_factors WHERE user_id = \(userID) AND kind = \(kind.rawValue)",
                logger: logger
            ).first.map(Self.factor)
        }
    }

    package func savePendingFactor(_ factor: MFAFactorRecord, audit: [AuditEvent]) async throws {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                let confirmed = try await connection.rows(
                    """
                    SELECT confirmed_at IS NOT NULL FROM mfa_factors WHERE user_id = \(factor.userID) AND kind = \(factor.kind.rawValue)
                    FOR UPDATE
                    """,
                    logger: logger
                ).first?.decode(Bool.self)
                if confirmed == true { throw DomainError(.conflict, "a second factor of this kind is already enabled; disable it first") }
                try await connection.rows(
                    "DELETE FROM mfa_factors WHERE user_id = \(factor.userID) AND kind = \(factor.kind.rawValue)",
                    logger: logger
                )
                try await connection.rows(
                    """
                    INSERT INTO mfa_factors (\(unescaped: Self.factorColumns))
                    VALUES (\(factor.userID), \(factor.kind.rawValue), \(factor.sealedSecret), NULL, NULL, \(pgTime(factor.createdAt))::timestamptz)
                    """,
                    logger: logger
                )
                for event in audit { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
            }
        }
    }

    package func confirmFactor(
        userID: UUID,
        kind: MFAFactorKind,
        step: Int64,
        now: Date,
        recoveryDigests: [KeyDigest],
        audit: [AuditEvent]
    ) async throws -> Bool {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                let updated = try await connection.rows(
                    """
                    UPDATE mfa_factors SET confirmed_at = \(pgTime(now))::timestamptz, last_step = \(step)
                    WHERE user_id = \(userID) AND kind = \(kind.rawValue) AND confirmed_at IS NULL RETURNING 1
                    """,
                    logger: logger
                ).count
                guard updated == 1 else { return false }
                try await connection.rows("UPDATE users SET mfa_enabled = true WHERE id = \(userID)", logger: logger)
                try await Self.replaceRecoveryCodes(userID: userID, digests: recoveryDigests, on: connection, logger: logger)
                for event in audit { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
                return true
            }
        }
    }

    package func useStep(userID: UUID, kind: MFAFactorKind, step: Int64) async throws -> Bool {
        try await run {
            try await client.rows(
                """
                UPDATE mfa_factors SET last_step = \(step)
                WHERE user_id = \(userID) AND kind = \(kind.rawValue) AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < \(step))
                RETURNING 1
                """,
                logger: logger
            ).count == 1
        }
    }

    package func replaceRecoveryCodes(userID: UUID, digests: [KeyDigest], audit: [AuditEvent]) async throws {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                try await Self.replaceRecoveryCodes(userID: userID, digests: digests, on: connection, logger: logger)
                for event in audit { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
            }
        }
    }

    static func replaceRecoveryCodes(userID: UUID, digests: [KeyDigest], on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.rows("DELETE FROM recovery_codes WHERE user_id = \(userID)", logger: logger)
        for digest in digests {
            try await connection.rows(
                "INSERT INTO recovery_codes (user_id, digest, used_at) VALUES (\(userID), \(ByteBuffer(bytes: digest.bytes)), NULL)",
                logger: logger
            )
        }
    }

    package func useRecoveryCode(userID: UUID, digest: KeyDigest, now: Date) async throws -> Bool {
        try await run {
            try await client.rows(
                """
                UPDATE recovery_codes SET used_at = \(pgTime(now))::timestamptz
                WHERE user_id = \(userID) AND digest = \(ByteBuffer(bytes: digest.bytes)) AND used_at IS NULL RETURNING 1
                """,
                logger: logger
            ).count == 1
        }
    }

    package func unusedRecoveryCodes(userID: UUID) async throws -> Int {
        try await run {
            try await client.rows(
                "SELECT COUNT(*)::bigint FROM recovery_codes WHERE user_id = \(userID) AND used_at IS NULL",
                logger: logger
            ).first.map { Int(try $0.decode(Int64.self)) } ?? 0
        }
    }

    package func removeFactors(userID: UUID, audit: [AuditEvent]) async throws {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.rows("DELETE FROM mfa_factors WHERE user_id = \(userID)", logger: logger)
                try await connection.rows("DELETE FROM recovery_codes WHERE user_id = \(userID)", logger: logger)
                try await connection.rows("UPDATE users SET mfa_enabled = false WHERE id = \(userID)", logger: logger)
                for event in audit { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
            }
        }
    }

    package func insertChallenge(_ challenge: MFAChallengeRecord) async throws {
        try await run {
            try await client.rows(
                """
                INSERT INTO mfa_challenges (digest, user_id, created_at, expires_at, failures, ip, user_agent, session_id)
                VALUES (\(ByteBuffer(bytes: challenge.digest.bytes)), \(challenge.userID), \(pgTime(challenge.createdAt))::timestamptz,
                    \(pgTime(challenge.expiresAt))::timestamptz, \(challenge.failures), \(challenge.ip), \(challenge.userAgent),
                    \(challenge.sessionID))
                """,
                logger: logger
            )
        }
    }

    package func challenge(digest: KeyDigest) async throws -> MFAChallengeRecord? {
        try await run {
            try await client.rows(
                """
                SELECT user_id, created_at, expires_at, failures, ip, user_agent, session_id FROM mfa_challenges
                WHERE digest = \(ByteBuffer(bytes: digest.bytes))
                """,
                logger: logger
            ).first.map { row in
                let (user, created, expires, failures, ip, agent, session) = try row.decode((UUID, Date, Date, Int, String?, String?, UUID?).self)
                return MFAChallengeRecord(
                    digest: digest,
                    userID: user,
                    createdAt: Timestamp.truncated(created),
                    expiresAt: Timestamp.truncated(expires),
                    failures: failures,
                    ip: ip,
                    userAgent: agent,
                    sessionID: session
                )
            }
        }
    }

    package func failChallenge(digest: KeyDigest) async throws -> Int {
        let bytes = ByteBuffer(bytes: digest.bytes)
        return try await run {
            try await client.withTransaction(logger: logger) { connection in
                let failures =
                    try await connection.rows(
                        "UPDATE mfa_challenges SET failures = failures + 1 WHERE digest = \(bytes) RETURNING failures",
                        logger: logger
                    ).first.map { try $0.decode(Int.self) } ?? MFAChallengeRecord.maxFailures
                if failures >= MFAChallengeRecord.maxFailures {
                    try await connection.rows("DELETE FROM mfa_challenges WHERE digest = \(bytes)", logger: logger)
                }
                return failures
            }
        }
    }

    package func deleteChallenge(digest: KeyDigest) async throws {
        try await run {
            try await client.rows("DELETE FROM mfa_challenges WHERE digest = \(ByteBuffer(bytes: digest.bytes))", logger: logger)
        }
    }

    package func pruneChallenges(now: Date) async throws -> Int {
        try await run {
            try await client.rows("DELETE FROM mfa_challenges WHERE expires_at <= \(pgTime(now))::timestamptz RETURNING 1", logger: logger).count
        }
    }

    package func sealedSecrets() async throws -> [SealedSecret] {
        try await run {
            let keys = try await client.rows("SELECT kid, private_key FROM signing_keys", logger: logger).map { row in
                let (kid, sealed) = try row.decode((String, String).self)
                return SealedSecret(location: .signingKey(kid: kid), sealed: sealed)
            }
            let factors = try await client.rows("SELECT user_id, kind, sealed_secret FROM mfa_factors", logger: logger).compactMap { row in
                let (user, kind, sealed) = try row.decode((UUID, String, String).self)
                return MFAFactorKind(rawValue: kind).map { SealedSecret(location: .factor(userID: user, kind: $0), sealed: sealed) }
            }
            let answers = try await client.rows(
                "SELECT caller, key, answer FROM idempotency_keys WHERE answer IS NOT NULL",
                logger: logger
            ).map { row in
                let (caller, key, sealed) = try row.decode((String, String, String).self)
                return SealedSecret(location: .idempotentAnswer(caller: caller, key: key), sealed: sealed)
            }
            let signing = try await client.rows(
                "SELECT id, signing_secret FROM api_keys WHERE signing_secret IS NOT NULL",
                logger: logger
            ).map { row in
                let (id, sealed) = try row.decode((UUID, String).self)
                return SealedSecret(location: .keySigningSecret(keyID: id), sealed: sealed)
            }
            return keys + factors + answers + signing
        }
    }

    package func replaceSealedSecrets(
        _ changes: [SealedSecret.Change],
        setting: (name: String, value: String),
        audit: [AuditEvent]
    )
        async throws -> Int
    {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                var replaced = 0
                for change in changes {
                    switch change.location {
                    case .signingKey(let kid):
                        replaced += try await connection.rows(
                            "UPDATE signing_keys SET private_key = \(change.to) WHERE kid = \(kid) AND private_key = \(change.from) RETURNING 1",
                            logger: logger
                        ).count
                    case .factor(let user, let kind):
                        replaced += try await connection.rows(
                            """
                            UPDATE mfa_factors SET sealed_secret = \(change.to)
                            WHERE user_id = \(user) AND kind = \(kind.rawValue) AND sealed_secret = \(change.from) RETURNING 1
                            """,
                            logger: logger
                        ).count
                    case .idempotentAnswer(let caller, let key):
                        replaced += try await connection.rows(
                            """
                            UPDATE idempotency_keys SET answer = \(change.to)
                            WHERE caller = \(caller) AND key = \(key) AND answer = \(change.from) RETURNING 1
                            """,
                            logger: logger
                        ).count
                    case .keySigningSecret(let id):
                        replaced += try await connection.rows(
                            "UPDATE api_keys SET signing_secret = \(change.to) WHERE id = \(id) AND signing_secret = \(change.from) RETURNING 1",
                            logger: logger
                        ).count
                    }
                }
                try await connection.rows(
                    """
                    INSERT INTO tronch_settings (name, value) VALUES (\(setting.name), \(setting.value))
                    ON CONFLICT (name) DO UPDATE SET value = excluded.value
                    """,
                    logger: logger
                )
                for event in audit { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
                return replaced
            }
        }
    }

    static func factor(_ row: PostgresRow) throws -> MFAFactorRecord {
        let (user, kind, sealed, confirmed, step, created) = try row.decode((UUID, String, String, Date?, Int64?, Date).self)
        guard let kind = MFAFactorKind(rawValue: kind) else { throw StorageError.corruptRow("mfa_factors row") }
        return MFAFactorRecord(
            userID: user,
            kind: kind,
            sealedSecret: sealed,
            confirmedAt: confirmed.map(Timestamp.truncated),
            lastStep: step,
            createdAt: Timestamp.truncated(created)
        )
    }
}
