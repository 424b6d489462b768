package import Foundation
import GRDB
package import TronchCore

extension SQLiteStore: TokenStore {
    // MARK: Signing keys

    package func signingKeys() async throws -> [SigningKeyRecord] {
        try await writer.read { db in try Row.fetchAll(db, sql: "SELECT * FROM signing_keys ORDER BY created_at").map(Self.signingKey) }
    }

    package func insertFirstSigningKey(_ key: SigningKeyRecord, audit: [AuditEvent]) async throws -> Bool {
        try await writer.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM signing_keys WHERE state = 'active')") == false else {
                return false
            }
            try Self.insertSigningKey(key, db)
            for event in audit { _ = try Self.appendAudit(event, db) }
            return true
        }
    }

    package func rotateSigningKey(to key: SigningKeyRecord, now: Date, audit: [AuditEvent]) async throws {
        try await writer.write { db in
            try db.execute(
                sql: "UPDATE signing_keys SET state = 'passive', deactivated_at = ? WHERE state = 'active'",
                arguments: [Timestamp.milliseconds(now)]
            )
            try Self.insertSigningKey(key, db)
            for event in audit { _ = try Self.appendAudit(event, db) }
        }
    }

    package func retireSigningKeys(
        deactivatedBefore cutoff: Date,
        now: Date,
        audit: @escaping @Sendable (SigningKeyRecord) -> AuditEvent
    ) async throws -> [SigningKeyRecord] {
        try await writer.write { db in
            let due = try Row.fetchAll(
                db,
                sql: "SELECT * FROM signing_keys WHERE state = 'passive' AND deactivated_at <= ?",
                arguments: [Timestamp.milliseconds(cutoff)]
            ).map(Self.signingKey)
            return try due.map { key in
                var retired = key
                retired.state = .retired
                retired.retiredAt = now
                try db.execute(
                    sql: "UPDATE signing_keys SET state = 'retired', retired_at = ? WHERE kid = ?",
                    arguments: [Timestamp.milliseconds(now), key.kid]
                )
                _ = try Self.appendAudit(audit(retired), db)
                return retired
            }
        }
    }

    // MARK: Sessions

    package func insertSession(_ session: SessionRecord, refreshToken: RefreshTokenRecord, audit: [AuditEvent]) async throws {
        try await writer.write { db in
            try Self.insertSession(session, db)
            try Self.insertRefreshToken(refreshToken, db)
            for event in audit { _ = try Self.appendAudit(event, db) }
        }
    }

    package func session(id: UUID) async throws -> SessionRecord? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ?", arguments: [id.lowercased]).map(Self.session)
        }
    }

    package func sessions(userID: UUID?, liveAt now: Date, limit: Int, after: UUID?) async throws -> SessionPage {
        var conditions = ["revoked_at IS NULL", "expires_at > ?"]
        var arguments: StatementArguments = [Timestamp.milliseconds(now)]
        if let userID {
            conditions.append("user_id = ?")
            _ = arguments.append(contentsOf: [userID.lowercased])
        }
        if let after {
            conditions.append("id < ?")
            _ = arguments.append(contentsOf: [after.lowercased])
        }
        _ = arguments.append(contentsOf: [limit + 1])
        let sql = "SELECT * FROM sessions WHERE \(conditions.joined(separator: " AND ")) ORDER BY id DESC LIMIT ?"
        let finalArguments = arguments
        let sessions = try await writer.read { db in try Row.fetchAll(db, sql: sql, arguments: finalArguments).map(Self.session) }
        let page = Array(sessions.prefix(limit))
        return SessionPage(sessions: page, nextCursor: sessions.count > limit ? page.last?.id : nil)
    }

    package func refreshToken(digest: KeyDigest) async throws -> (token: RefreshTokenRecord, session: SessionRecord)? {
        try await writer.read { db in
            guard
                let token = try Row.fetchOne(db, sql: "SELECT * FROM refresh_tokens WHERE digest = ?", arguments: [digest.hex])
                    .map(Self.refreshToken),
                let session = try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ?", arguments: [token.sessionID.lowercased])
                    .map(Self.session)
            else { return nil }
            return (token, session)
        }
    }

    package func exchangeRefreshToken(
        digest: KeyDigest,
        now: Date,
        denyUntil: Date,
        decide: @escaping @Sendable (RefreshTokenRecord?, SessionRecord?) -> RefreshDecision,
        audit: @escaping @Sendable (RefreshOutcome) -> [AuditEvent]
    ) async throws -> RefreshOutcome {
        try await writer.write { db in
            let token = try Row.fetchOne(db, sql: "SELECT * FROM refresh_tokens WHERE digest = ?", arguments: [digest.hex])
                .map(Self.refreshToken)
            var session = try token.flatMap { token in
                try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ?", arguments: [token.sessionID.lowercased])
                    .map(Self.session)
            }
            let decision = decide(token, session)
            switch decision {
            case .rotate(let next):
                // The write lock SQLite holds for this transaction serialises exchanges: the token is unused here.
                try db.execute(sql: "UPDATE refresh_tokens SET used_at = ? WHERE digest = ?", arguments: [Timestamp.milliseconds(now), digest.hex])
                try Self.insertRefreshToken(next, db)
                try db.execute(
                    sql: "UPDATE sessions SET last_seen_at = ? WHERE id = ?",
                    arguments: [Timestamp.milliseconds(now), next.sessionID.lowercased]
                )
                session?.lastSeenAt = now
            case .reused(let ended), .anomaly(let ended):
                let reason = if case .reused = decision { "refresh_reuse" } else { "anomaly" }
                session = try Self.endSessions([ended.id], reason: reason, now: now, denyUntil: denyUntil, db).first ?? ended
            case .sessionEnded, .invalid:
                break
            }
            let outcome = RefreshOutcome(decision: decision, session: session)
            for event in audit(outcome) { _ = try Self.appendAudit(event, db) }
            return outcome
        }
    }

    package func endSessions(
        ids: [UUID],
        userID: UUID?,
        except: UUID?,
        reason: String,
        now: Date,
        denyUntil: Date,
        audit: @escaping @Sendable ([SessionRecord]) -> [AuditEvent]
    ) async throws -> [SessionRecord] {
        try await writer.write { db in
            var targets = ids
            if let userID { targets += try Self.liveSessionIDs(of: userID, except: except, now: now, db) }
            let ended = try Self.endSessions(targets, reason: reason, now: now, denyUntil: denyUntil, db)
            for event in audit(ended) { _ = try Self.appendAudit(event, db) }
            return ended
        }
    }

    package func deny(_ entries: [DenylistEntry], audit: [AuditEvent]) async throws {
        try await writer.write { db in
            for entry in entries { try Self.deny(entry, db) }
            for event in audit { _ = try Self.appendAudit(event, db) }
        }
    }

    package func denylist(activeAt now: Date) async throws -> [DenylistEntry] {
        try await writer.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM token_denylist WHERE expires_at > ?", arguments: [Timestamp.milliseconds(now)])
                .compactMap { row in
                    DenylistEntry.Kind(rawValue: row["kind"]).map {
                        DenylistEntry(kind: $0, value: row["value"], expiresAt: Timestamp.date(milliseconds: row["expires_at"]))
                    }
                }
        }
    }

    package func pruneTokens(now: Date, keepEnded: TimeInterval) async throws -> Int {
        let nowMillis = Timestamp.milliseconds(now)
        let endedBefore = Timestamp.milliseconds(now.addingTimeInterval(-keepEnded))
        return try await writer.write { db in
            try db.execute(sql: "DELETE FROM token_denylist WHERE expires_at <= ?", arguments: [nowMillis])
            var deleted = db.changesCount
            try db.execute(sql: "DELETE FROM refresh_tokens WHERE expires_at <= ?", arguments: [nowMillis])
            deleted += db.changesCount
            try db.execute(
                sql: "DELETE FROM sessions WHERE COALESCE(revoked_at, expires_at) <= ?",
                arguments: [endedBefore]
            )
            deleted += db.changesCount
            return deleted
        }
    }
}

// MARK: - Shared with the user store

extension SQLiteStore {
    static func liveSessionIDs(of userID: UUID, except: UUID?, now: Date, _ db: Database) throws -> [UUID] {
        try String.fetchAll(
            db,
            sql: "SELECT id FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?",
            arguments: [userID.lowercased, Timestamp.milliseconds(now)]
        ).compactMap(UUID.init(uuidString:)).filter { $0 != except }
    }

    /// Ends the live sessions among `ids`, drops their refresh tokens' usefulness (the session is what a
    /// refresh checks) and denies their ids until `denyUntil`; returns them as stored.
    static func endSessions(_ ids: [UUID], reason: String, now: Date, denyUntil: Date, _ db: Database) throws -> [SessionRecord] {
        var ended = [SessionRecord]()
        for id in ids {
            try db.execute(
                sql: "UPDATE sessions SET revoked_at = ?, revoked_reason = ? WHERE id = ? AND revoked_at IS NULL",
                arguments: [Timestamp.milliseconds(now), reason, id.lowercased]
            )
            guard db.changesCount == 1,
                let session = try Row.fetchOne(db, sql: "SELECT * FROM sessions WHERE id = ?", arguments: [id.lowercased]).map(session)
            else { continue }
            try deny(DenylistEntry(kind: .sid, value: id.lowercased, expiresAt: denyUntil), db)
            ended.append(session)
        }
        return ended
    }

    static func deny(_ entry: DenylistEntry, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO token_denylist (kind, value, expires_at) VALUES (?, ?, ?)
                ON CONFLICT (kind, value) DO UPDATE SET expires_at = MAX(expires_at, excluded.expires_at)
                """,
            arguments: [entry.kind.rawValue, entry.value, Timestamp.milliseconds(entry.expiresAt)]
        )
    }

    // MARK: Rows

    static func insertSigningKey(_ key: SigningKeyRecord, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO signing_keys (kid, algorithm, state, private_key, public_jwk, created_at, deactivated_at, retired_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                key.kid, key.algorithm.rawValue, key.state.rawValue, key.sealedPrivateKey, key.publicJWK,
                Timestamp.milliseconds(key.createdAt), key.deactivatedAt.map(Timestamp.milliseconds),
                key.retiredAt.map(Timestamp.milliseconds),
            ]
        )
    }

    static func signingKey(_ row: Row) throws -> SigningKeyRecord {
        guard let algorithm = SigningKeyRecord.Algorithm(rawValue: row["algorithm"]),
            let state = SigningKeyRecord.State(rawValue: row["state"])
        else { throw StorageError.corruptRow("signing_keys row \(row["kid"] as String? ?? "?")") }
        return SigningKeyRecord(
            kid: row["kid"],
            algorithm: algorithm,
            state: state,
            sealedPrivateKey: row["private_key"],
            publicJWK: row["public_jwk"],
            createdAt: Timestamp.date(milliseconds: row["created_at"]),
            deactivatedAt: (row["deactivated_at"] as Int64?).map(Timestamp.date(milliseconds:)),
            retiredAt: (row["retired_at"] as Int64?).map(Timestamp.date(milliseconds:))
        )
    }

    static func insertSession(_ session: SessionRecord, _ db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at, ip, user_agent, amr, revoked_at, revoked_reason)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                session.id.lowercased, session.userID.lowercased, Timestamp.milliseconds(session.createdAt),
                Timestamp.milliseconds(session.lastSeenAt), Timestamp.milliseconds(session.expiresAt), session.ip,
                session.userAgent, session.amr.joined(separator: " "), session.revokedAt.map(Timestamp.milliseconds),
                session.revokedReason,
            ]
        )
    }

    static func session(_ row: Row) throws -> SessionRecord {
        guard let id = UUID(uuidString: row["id"]), let user = UUID(uuidString: row["user_id"]) else {
            throw StorageError.corruptRow("sessions row \(row["id"] as String? ?? "?")")
        }
        return SessionRecord(
            id: id,
            userID: user,
            createdAt: Timestamp.date(milliseconds: row["created_at"]),
            lastSeenAt: Timestamp.date(milliseconds: row["last_seen_at"]),
            expiresAt: Timestamp.date(milliseconds: row["expires_at"]),
            ip: row["ip"],
            userAgent: row["user_agent"],
            amr: (row["amr"] as String).split(separator: " ").map(String.init),
            revokedAt: (row["revoked_at"] as Int64?).map(Timestamp.date(milliseconds:)),
            revokedReason: row["revoked_reason"]
        )
    }

    static func insertRefreshToken(_ token: RefreshTokenRecord, _ db: Database) throws {
        try db.execute(
            sql: "INSERT INTO refresh_tokens (digest, session_id, created_at, expires_at, used_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [
                token.digest.hex, token.sessionID.lowercased, Timestamp.milliseconds(token.createdAt),
                Timestamp.milliseconds(token.expiresAt), token.usedAt.map(Timestamp.milliseconds),
            ]
        )
    }

    static func refreshToken(_ row: Row) throws -> RefreshTokenRecord {
        guard let digest = KeyDigest(hex: row["digest"]), let session = UUID(uuidString: row["session_id"]) else {
            throw StorageError.corruptRow("refresh_tokens row")
        }
        return RefreshTokenRecord(
            digest: digest,
            sessionID: session,
            createdAt: Timestamp.date(milliseconds: row["created_at"]),
            expiresAt: Timestamp.date(milliseconds: row["expires_at"]),
            usedAt: (row["used_at"] as Int64?).map(Timestamp.date(milliseconds:))
        )
    }
}
