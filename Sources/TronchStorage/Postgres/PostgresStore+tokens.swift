package import Foundation
import NIOCore
import PostgresNIO
package import TronchCore

extension PostgresStore: TokenStore {
    static let signingKeyColumns = "kid, algorithm, state, private_key, public_jwk, created_at, deactivated_at, retired_at"
    static let sessionColumns = "id, user_id, created_at, last_seen_at, expires_at, ip, user_agent, amr, revoked_at, revoked_reason"
    static let refreshColumns = "digest, session_id, created_at, expires_at, used_at"

    // MARK: Signing keys

    package func signingKeys() async throws -> [SigningKeyRecord] {
        try await run {
            try await client.rows("SELECT \(unescaped: Self.signingKeyColumns) FROM signing_keys ORDER BY created_at", logger: logger)
                .map(Self.signingKey)
        }
    }

    package func insertFirstSigningKey(_ key: SigningKeyRecord, audit: [AuditEvent]) async throws -> Bool {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                // Nodes starting together queue here; the first inserts, the others see its key.
                try await connection.rows(Self.advisoryLock(Self.signingKeyLock), logger: logger)
                let exists =
                    try await connection.rows("SELECT EXISTS (SELECT 1 FROM signing_keys WHERE state = 'active')", logger: logger)
                    .first?.decode(Bool.self) ?? true
                guard !exists else { return false }
                try await Self.insertSigningKey(key, on: connection, logger: logger)
                for event in audit { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
                return true
            }
        }
    }

    package func rotateSigningKey(to key: SigningKeyRecord, now: Date, audit: [AuditEvent]) async throws {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.rows(Self.advisoryLock(Self.signingKeyLock), logger: logger)
                try await connection.rows(
                    "UPDATE signing_keys SET state = 'passive', deactivated_at = \(pgTime(now))::timestamptz WHERE state = 'active'",
                    logger: logger
                )
                try await Self.insertSigningKey(key, on: connection, logger: logger)
                for event in audit { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
            }
        }
    }

    package func retireSigningKeys(
        deactivatedBefore cutoff: Date,
        now: Date,
        audit: @escaping @Sendable (SigningKeyRecord) -> AuditEvent
    ) async throws -> [SigningKeyRecord] {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                let retired = try await connection.rows(
                    """
                    UPDATE signing_keys SET state = 'retired', retired_at = \(pgTime(now))::timestamptz
                    WHERE state = 'passive' AND deactivated_at <= \(pgTime(cutoff))::timestamptz
                    RETURNING \(unescaped: Self.signingKeyColumns)
                    """,
                    logger: logger
                ).map(Self.signingKey)
                for key in retired { _ = try await Self.appendAudit(audit(key), on: connection, logger: logger) }
                return retired
            }
        }
    }

    // MARK: Sessions

    package func insertSession(_ session: SessionRecord, refreshToken: RefreshTokenRecord, audit: [AuditEvent]) async throws {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.rows(
                    """
                    INSERT INTO sessions (\(unescaped: Self.sessionColumns))
                    VALUES (\(session.id), \(session.userID), \(pgTime(session.createdAt))::timestamptz,
                        \(pgTime(session.lastSeenAt))::timestamptz, \(pgTime(session.expiresAt))::timestamptz, \(session.ip),
                        \(session.userAgent), \(session.amr.joined(separator: " ")), \(pgTime(session.revokedAt))::timestamptz,
                        \(session.revokedReason))
                    """,
                    logger: logger
                )
                try await Self.insertRefreshToken(refreshToken, on: connection, logger: logger)
                for event in audit { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
            }
        }
    }

    package func session(id: UUID) async throws -> SessionRecord? {
        try await run {
            try await client.rows("SELECT \(unescaped: Self.sessionColumns) FROM sessions WHERE id = \(id)", logger: logger)
                .first.map(Self.session)
        }
    }

    package func sessions(userID: UUID?, liveAt now: Date, limit: Int, after: UUID?) async throws -> SessionPage {
        let sessions = try await run {
            try await client.rows(
                """
                SELECT \(unescaped: Self.sessionColumns) FROM sessions
                WHERE revoked_at IS NULL AND expires_at > \(pgTime(now))::timestamptz
                  AND (\(userID)::uuid IS NULL OR user_id = \(userID))
                  AND (\(after)::uuid IS NULL OR id < \(after))
                ORDER BY id DESC LIMIT \(limit + 1)
                """,
                logger: logger
            ).map(Self.session)
        }
        let page = Array(sessions.prefix(limit))
        return SessionPage(sessions: page, nextCursor: sessions.count > limit ? page.last?.id : nil)
    }

    package func refreshToken(digest: KeyDigest) async throws -> (token: RefreshTokenRecord, session: SessionRecord)? {
        let bytes = ByteBuffer(bytes: digest.bytes)
        return try await run {
            guard
                let token = try await client.rows(
                    "SELECT \(unescaped: Self.refreshColumns) FROM refresh_tokens WHERE digest = \(bytes)",
                    logger: logger
                ).first.map(Self.refreshToken),
                let session = try await client.rows(
                    "SELECT \(unescaped: Self.sessionColumns) FROM sessions WHERE id = \(token.sessionID)",
                    logger: logger
                ).first.map(Self.session)
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
        let bytes = ByteBuffer(bytes: digest.bytes)
        return try await run {
            try await client.withTransaction(logger: logger) { connection in
                // FOR UPDATE: two nodes exchanging the same token queue here; the second sees it used (reuse).
                let token = try await connection.rows(
                    "SELECT \(unescaped: Self.refreshColumns) FROM refresh_tokens WHERE digest = \(bytes) FOR UPDATE",
                    logger: logger
                ).first.map(Self.refreshToken)
                var session: SessionRecord?
                if let token {
                    session = try await connection.rows(
                        "SELECT \(unescaped: Self.sessionColumns) FROM sessions WHERE id = \(token.sessionID) FOR UPDATE",
                        logger: logger
                    ).first.map(Self.session)
                }
                let decision = decide(token, session)
                switch decision {
                case .rotate(let next):
                    try await connection.rows(
                        "UPDATE refresh_tokens SET used_at = \(pgTime(now))::timestamptz WHERE digest = \(bytes)",
                        logger: logger
                    )
                    try await Self.insertRefreshToken(next, on: connection, logger: logger)
                    try await connection.rows(
                        "UPDATE sessions SET last_seen_at = \(pgTime(now))::timestamptz WHERE id = \(next.sessionID)",
                        logger: logger
                    )
                    session?.lastSeenAt = now
                case .reused(let ended), .anomaly(let ended):
                    let reason = if case .reused = decision { "refresh_reuse" } else { "anomaly" }
                    session =
                        try await Self.endSessions([ended.id], reason: reason, now: now, denyUntil: denyUntil, on: connection, logger: logger)
                        .first ?? ended
                case .sessionEnded, .invalid:
                    break
                }
                let outcome = RefreshOutcome(decision: decision, session: session)
                for event in audit(outcome) { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
                return outcome
            }
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
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                var targets = ids
                if let userID { targets += try await Self.liveSessionIDs(of: userID, except: except, now: now, on: connection, logger: logger) }
                let ended = try await Self.endSessions(targets, reason: reason, now: now, denyUntil: denyUntil, on: connection, logger: logger)
                for event in audit(ended) { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
                return ended
            }
        }
    }

    package func deny(_ entries: [DenylistEntry], audit: [AuditEvent]) async throws {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                for entry in entries { try await Self.deny(entry, on: connection, logger: logger) }
                for event in audit { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
            }
        }
    }

    package func denylist(activeAt now: Date) async throws -> [DenylistEntry] {
        try await run {
            try await client.rows(
                "SELECT kind, value, expires_at FROM token_denylist WHERE expires_at > \(pgTime(now))::timestamptz",
                logger: logger
            ).compactMap { row in
                let (kind, value, expires) = try row.decode((String, String, Date).self)
                return DenylistEntry.Kind(rawValue: kind).map { DenylistEntry(kind: $0, value: value, expiresAt: Timestamp.truncated(expires)) }
            }
        }
    }

    package func pruneTokens(now: Date, keepEnded: TimeInterval) async throws -> Int {
        try await run {
            let denied = try await client.rows(
                "DELETE FROM token_denylist WHERE expires_at <= \(pgTime(now))::timestamptz RETURNING 1",
                logger: logger
            ).count
            let tokens = try await client.rows(
                "DELETE FROM refresh_tokens WHERE expires_at <= \(pgTime(now))::timestamptz RETURNING 1",
                logger: logger
            ).count
            let sessions = try await client.rows(
                """
                DELETE FROM sessions WHERE COALESCE(revoked_at, expires_at) <= \(pgTime(now.addingTimeInterval(-keepEnded)))::timestamptz
                RETURNING 1
                """,
                logger: logger
            ).count
            return denied + tokens + sessions
        }
    }
}

// MARK: - Shared with the user store

extension PostgresStore {
    static let signingKeyLock: Int64 = 0x7472_6F6E_6368_0003

    static func liveSessionIDs(
        of userID: UUID,
        except: UUID?,
        now: Date,
        on connection: PostgresConnection,
        logger: Logger
    )
        async throws -> [UUID]
    {
        try await connection.rows(
            "SELECT id FROM sessions WHERE user_id = \(userID) AND revoked_at IS NULL AND expires_at > \(pgTime(now))::timestamptz",
            logger: logger
        ).map { try $0.decode(UUID.self) }.filter { $0 != except }
    }

    static func endSessions(
        _ ids: [UUID],
        reason: String,
        now: Date,
        denyUntil: Date,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [SessionRecord] {
        guard !ids.isEmpty else { return [] }
        let ended = try await connection.rows(
            """
            UPDATE sessions SET revoked_at = \(pgTime(now))::timestamptz, revoked_reason = \(reason)
            WHERE id = ANY(\(ids)::uuid[]) AND revoked_at IS NULL RETURNING \(unescaped: sessionColumns)
            """,
            logger: logger
        ).map(session)
        for session in ended {
            try await deny(DenylistEntry(kind: .sid, value: session.id.lowercased, expiresAt: denyUntil), on: connection, logger: logger)
        }
        return ended
    }

    static func deny(_ entry: DenylistEntry, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.rows(
            """
            INSERT INTO token_denylist (kind, value, expires_at) VALUES (\(entry.kind.rawValue), \(entry.value), \(pgTime(entry.expiresAt))::timestamptz)
            ON CONFLICT (kind, value) DO UPDATE SET expires_at = GREATEST(token_denylist.expires_at, excluded.expires_at)
            """,
            logger: logger
        )
    }

    // MARK: Rows

    static func insertSigningKey(_ key: SigningKeyRecord, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.rows(
            """
            INSERT INTO signing_keys (\(unescaped: signingKeyColumns))
            VALUES (\(key.kid), \(key.algorithm.rawValue), \(key.state.rawValue), \(key.sealedPrivateKey), \(key.publicJWK),
                \(pgTime(key.createdAt))::timestamptz, \(pgTime(key.deactivatedAt))::timestamptz, \(pgTime(key.retiredAt))::timestamptz)
            """,
            logger: logger
        )
    }

    static func signingKey(_ row: PostgresRow) throws -> SigningKeyRecord {
        let (kid, algorithm, state, sealed, jwk, created, deactivated, retired) =
            try row.decode((String, String, String, String, String, Date, Date?, Date?).self)
        guard let algorithm = SigningKeyRecord.Algorithm(rawValue: algorithm), let state = SigningKeyRecord.State(rawValue: state) else {
            throw StorageError.corruptRow("signing_keys row \(kid)")
        }
        return SigningKeyRecord(
            kid: kid,
            algorithm: algorithm,
            state: state,
            sealedPrivateKey: sealed,
            publicJWK: jwk,
            createdAt: Timestamp.truncated(created),
            deactivatedAt: deactivated.map(Timestamp.truncated),
            retiredAt: retired.map(Timestamp.truncated)
        )
    }

    static func session(_ row: PostgresRow) throws -> SessionRecord {
        let (id, user, created, seen, expires, ip, agent, amr, revoked, reason) =
            try row.decode((UUID, UUID, Date, Date, Date, String?, String?, String, Date?, String?).self)
        return SessionRecord(
            id: id,
            userID: user,
            createdAt: Timestamp.truncated(created),
            lastSeenAt: Timestamp.truncated(seen),
            expiresAt: Timestamp.truncated(expires),
            ip: ip,
            userAgent: agent,
            amr: amr.split(separator: " ").map(String.init),
            revokedAt: revoked.map(Timestamp.truncated),
            revokedReason: reason
        )
    }

    static func insertRefreshToken(_ token: RefreshTokenRecord, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.rows(
            """
            INSERT INTO refresh_tokens (\(unescaped: refreshColumns))
            VALUES (\(ByteBuffer(bytes: token.digest.bytes)), \(token.sessionID), \(pgTime(token.createdAt))::timestamptz,
                \(pgTime(token.expiresAt))::timestamptz, \(pgTime(token.usedAt))::timestamptz)
            """,
            logger: logger
        )
    }

    static func refreshToken(_ row: PostgresRow) throws -> RefreshTokenRecord {
        let (digest, session, created, expires, used) = try row.decode((ByteBuffer, UUID, Date, Date, Date?).self)
        guard let key = KeyDigest(bytes: Array(digest.readableBytesView)) else { throw StorageError.corruptRow("refresh_tokens row") }
        return RefreshTokenRecord(
            digest: key,
            sessionID: session,
            createdAt: Timestamp.truncated(created),
            expiresAt: Timestamp.truncated(expires),
            usedAt: used.map(Timestamp.truncated)
        )
    }
}
