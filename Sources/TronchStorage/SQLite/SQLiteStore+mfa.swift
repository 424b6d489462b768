package import Foundation
import GRDB
package import TronchCore

extension SQLiteStore: MFAStore {
    package func mfaFactor(userID: UUID, kind: MFAFactorKind) async throws -> MFAFactorRecord? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM mfa_factors WHERE user_id = ? AND kind = ?", arguments: [userID.lowercased, kind.rawValue])
                .map(Self.factor)
        }
    }

    package func savePendingFactor(_ factor: MFAFactorRecord, audit: [AuditEvent]) async throws {
        try await writer.write { db in
            let confirmed = try Bool.fetchOne(
                db,
                sql: "SELECT confirmed_at IS NOT NULL FROM mfa_factors WHERE user_id = ? AND kind = ?",
                arguments: [factor.userID.lowercased, factor.kind.rawValue]
            )
            if confirmed == true { throw DomainError(.conflict, "a second factor of this kind is already enabled; disable it first") }
            try db.execute(
                sql: "DELETE FROM mfa_factors WHERE user_id = ? AND kind = ?",
                arguments: [factor.userID.lowercased, factor.kind.rawValue]
            )
            try db.execute(
                sql: "INSERT INTO mfa_factors (user_id, kind, sealed_secret, confirmed_at, last_step, created_at) VALUES (?, ?, ?, NULL, NULL, ?)",
                arguments: [factor.userID.lowercased, factor.kind.rawValue, factor.sealedSecret, Timestamp.milliseconds(factor.createdAt)]
            )
            for event in audit { _ = try Self.appendAudit(event, db) }
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
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE mfa_factors SET confirmed_at = ?, last_step = ? WHERE user_id = ? AND kind = ? AND confirmed_at IS NULL",
                arguments: [Timestamp.milliseconds(now), step, userID.lowercased, kind.rawValue]
            )
            guard db.changesCount == 1 else { return false }
            try db.execute(sql: "UPDATE users SET mfa_enabled = 1 WHERE id = ?", arguments: [userID.lowercased])
            try Self.replaceRecoveryCodes(userID: userID, digests: recoveryDigests, db)
            for event in audit { _ = try Self.appendAudit(event, db) }
            return true
        }
    }

    package func useStep(userID: UUID, kind: MFAFactorKind, step: Int64) async throws -> Bool {
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE mfa_factors SET last_step = ?
                    WHERE user_id = ? AND kind = ? AND confirmed_at IS NOT NULL AND (last_step IS NULL OR last_step < ?)
                    """,
                arguments: [step, userID.lowercased, kind.rawValue, step]
            )
            return db.changesCount == 1
        }
    }

    package func replaceRecoveryCodes(userID: UUID, digests: [KeyDigest], audit: [AuditEvent]) async throws {
        try await writer.write { db in
            try Self.replaceRecoveryCodes(userID: userID, digests: digests, db)
            for event in audit { _ = try Self.appendAudit(event, db) }
        }
    }

    static func replaceRecoveryCodes(userID: UUID, digests: [KeyDigest], _ db: Database) throws {
        try db.execute(sql: "DELETE FROM recovery_codes WHERE user_id = ?", arguments: [userID.lowercased])
        for digest in digests {
            try db.execute(
                sql: "INSERT INTO recovery_codes (user_id, digest, used_at) VALUES (?, ?, NULL)",
                arguments: [userID.lowercased, digest.hex]
            )
        }
    }

    package func useRecoveryCode(userID: UUID, digest: KeyDigest, now: Date) async throws -> Bool {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND digest = ? AND used_at IS NULL",
                arguments: [Timestamp.milliseconds(now), userID.lowercased, digest.hex]
            )
            return db.changesCount == 1
        }
    }

    package func unusedRecoveryCodes(userID: UUID) async throws -> Int {
        try await writer.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL", arguments: [userID.lowercased])
                ?? 0
        }
    }

    package func removeFactors(userID: UUID, audit: [AuditEvent]) async throws {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM mfa_factors WHERE user_id = ?", arguments: [userID.lowercased])
            try db.execute(sql: "DELETE FROM recovery_codes WHERE user_id = ?", arguments: [userID.lowercased])
            try db.execute(sql: "UPDATE users SET mfa_enabled = 0 WHERE id = ?", arguments: [userID.lowercased])
            for event in audit { _ = try Self.appendAudit(event, db) }
        }
    }

    package func insertChallenge(_ challenge: MFAChallengeRecord) async throws {
        try await writer.write { db in
            try db.execute(
                sql:
                    "INSERT INTO mfa_challenges (digest, user_id, created_at, expires_at, failures, ip, user_agent, session_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [
                    challenge.digest.hex, challenge.userID.lowercased, Timestamp.milliseconds(challenge.createdAt),
                    Timestamp.milliseconds(challenge.expiresAt), challenge.failures, challenge.ip, challenge.userAgent,
                    challenge.sessionID?.lowercased,
                ]
            )
        }
    }

    package func challenge(digest: KeyDigest) async throws -> MFAChallengeRecord? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM mfa_challenges WHERE digest = ?", arguments: [digest.hex]).flatMap { row in
                guard let user = UUID(uuidString: row["user_id"]) else { return nil }
                return MFAChallengeRecord(
                    digest: digest,
                    userID: user,
                    createdAt: Timestamp.date(milliseconds: row["created_at"]),
                    expiresAt: Timestamp.date(milliseconds: row["expires_at"]),
                    failures: row["failures"],
                    ip: row["ip"],
                    userAgent: row["user_agent"],
                    sessionID: (row["session_id"] as String?).flatMap(UUID.init(uuidString:))
                )
            }
        }
    }

    package func failChallenge(digest: KeyDigest) async throws -> Int {
        try await writer.write { db in
            try db.execute(sql: "UPDATE mfa_challenges SET failures = failures + 1 WHERE digest = ?", arguments: [digest.hex])
            let failures =
                try Int.fetchOne(db, sql: "SELECT failures FROM mfa_challenges WHERE digest = ?", arguments: [digest.hex])
                ?? MFAChallengeRecord.maxFailures
            if failures >= MFAChallengeRecord.maxFailures {
                try db.execute(sql: "DELETE FROM mfa_challenges WHERE digest = ?", arguments: [digest.hex])
            }
            return failures
        }
    }

    package func deleteChallenge(digest: KeyDigest) async throws {
        try await writer.write { db in try db.execute(sql: "DELETE FROM mfa_challenges WHERE digest = ?", arguments: [digest.hex]) }
    }

    package func pruneChallenges(now: Date) async throws -> Int {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM mfa_challenges WHERE expires_at <= ?", arguments: [Timestamp.milliseconds(now)])
            return db.changesCount
        }
    }

    package func sealedSecrets() async throws -> [SealedSecret] {
        try await writer.read { db in
            let keys = try Row.fetchAll(db, sql: "SELECT kid, private_key FROM signing_keys").map {
                SealedSecret(location: .signingKey(kid: $0["kid"]), sealed: $0["private_key"])
            }
            let factors = try Row.fetchAll(db, sql: "SELECT user_id, kind, sealed_secret FROM mfa_factors").compactMap { row -> SealedSecret? in
                guard let user = UUID(uuidString: row["user_id"]), let kind = MFAFactorKind(rawValue: row["kind"]) else { return nil }
                return SealedSecret(location: .factor(userID: user, kind: kind), sealed: row["sealed_secret"])
            }
            let answers = try Row.fetchAll(db, sql: "SELECT caller, key, answer FROM idempotency_keys WHERE answer IS NOT NULL").map {
                SealedSecret(location: .idempotentAnswer(caller: $0["caller"], key: $0["key"]), sealed: $0["answer"])
            }
            let signing = try Row.fetchAll(db, sql: "SELECT id, signing_secret FROM api_keys WHERE signing_secret IS NOT NULL").compactMap { row in
                UUID(uuidString: row["id"]).map { SealedSecret(location: .keySigningSecret(keyID: $0), sealed: row["signing_secret"]) }
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
        try await writer.write { db in
            var replaced = 0
            for change in changes {
                switch change.location {
                case .signingKey(let kid):
                    try db.execute(
                        sql: "UPDATE signing_keys SET private_key = ? WHERE kid = ? AND private_key = ?",
                        arguments: [change.to, kid, change.from]
                    )
                case .factor(let user, let kind):
                    try db.execute(
                        sql: "UPDATE mfa_factors SET sealed_secret = ? WHERE user_id = ? AND kind = ? AND sealed_secret = ?",
                        arguments: [change.to, user.lowercased, kind.rawValue, change.from]
                    )
                case .idempotentAnswer(let caller, let key):
                    try db.execute(
                        sql: "UPDATE idempotency_keys SET answer = ? WHERE caller = ? AND key = ? AND answer = ?",
                        arguments: [change.to, caller, key, change.from]
                    )
                case .keySigningSecret(let id):
                    try db.execute(
                        sql: "UPDATE api_keys SET signing_secret = ? WHERE id = ? AND signing_secret = ?",
                        arguments: [change.to, id.lowercased, change.from]
                    )
                }
                replaced += db.changesCount
            }
            try db.execute(
                sql: "INSERT INTO tronch_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                arguments: [setting.name, setting.value]
            )
            for event in audit { _ = try Self.appendAudit(event, db) }
            return replaced
        }
    }

    static func factor(_ row: Row) throws -> MFAFactorRecord {
        guard let user = UUID(uuidString: row["user_id"]), let kind = MFAFactorKind(rawValue: row["kind"]) else {
            throw StorageError.corruptRow("mfa_factors row")
        }
        return MFAFactorRecord(
            userID: user,
            kind: kind,
            sealedSecret: row["sealed_secret"],
            confirmedAt: (row["confirmed_at"] as Int64?).map(Timestamp.date(milliseconds:)),
            lastStep: row["last_step"],
            createdAt: Timestamp.date(milliseconds: row["created_at"])
        )
    }
}
