package import Foundation
import PostgresNIO
package import TronchCore

extension PostgresStore: UserStore {
    static let userColumns = """
        id, username, email, display_name, role, status, password_hash, failed_logins, lockouts, locked_until,
        mfa_enabled, created_at, updated_at, last_login_at
        """

    package func insertUser(_ user: UserRecord, audit: [AuditEvent]) async throws {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.rows(
                    """
                    INSERT INTO users (id, username, email, email_key, display_name, role, status, password_hash,
                        failed_logins, lockouts, locked_until, mfa_enabled, search_text, created_at, updated_at, last_login_at)
                    VALUES (\(user.id), \(user.username), \(user.email.value), \(user.email.key), \(user.displayName),
                        \(user.role.rawValue), \(user.status.rawValue), \(user.passwordHash), \(user.lockout.failures),
                        \(user.lockout.lockouts), \(pgTime(user.lockout.lockedUntil))::timestamptz, \(user.mfaEnabled),
                        \(user.searchText), \(pgTime(user.createdAt))::timestamptz, \(pgTime(user.updatedAt))::timestamptz,
                        \(pgTime(user.lastLoginAt))::timestamptz)
                    """,
                    logger: logger
                )
                for event in audit { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
            }
        }
    }

    package func user(id: UUID) async throws -> UserRecord? {
        try await run {
            try await client.rows("SELECT \(unescaped: Self.userColumns) FROM users WHERE id = \(id)", logger: logger)
                .first.map(Self.user)
        }
    }

    package func user(username: String) async throws -> UserRecord? {
        try await run {
            try await client.rows("SELECT \(unescaped: Self.userColumns) FROM users WHERE username = \(username)", logger: logger)
                .first.map(Self.user)
        }
    }

    package func user(emailKey: String) async throws -> UserRecord? {
        try await run {
            try await client.rows("SELECT \(unescaped: Self.userColumns) FROM users WHERE email_key = \(emailKey)", logger: logger)
                .first.map(Self.user)
        }
    }

    package func users(matching query: UserQuery) async throws -> UserPage {
        let size = query.limit
        let rows = try await run {
            // NULL parameters switch a filter off: one statement for every combination.
            try await client.rows(
                """
                SELECT \(unescaped: Self.userColumns) FROM users
                WHERE (\(query.role?.rawValue)::text IS NULL OR role = \(query.role?.rawValue))
                  AND (\(query.status?.rawValue)::text IS NULL OR status = \(query.status?.rawValue))
                  AND (\(query.search?.lowercased())::text IS NULL OR strpos(search_text, \(query.search?.lowercased())) > 0)
                  AND (\(query.after)::uuid IS NULL OR id < \(query.after))
                ORDER BY id DESC LIMIT \(size + 1)
                """,
                logger: logger
            )
        }
        let users = try rows.map(Self.user)
        let page = Array(users.prefix(size))
        return UserPage(users: page, nextCursor: users.count > size ? page.last?.id : nil)
    }

    package func updateUser(
        id: UUID,
        now: Date,
        sessions: SessionEnding,
        _ change: @escaping @Sendable (inout UserRecord) throws -> Void,
        audit: @escaping @Sendable (UserChange) -> [AuditEvent]
    ) async throws -> UserChange {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                guard
                    let before = try await connection.rows(
                        "SELECT \(unescaped: Self.userColumns) FROM users WHERE id = \(id) FOR UPDATE",
                        logger: logger
                    ).first.map(Self.user)
                else { throw DomainError.userNotFound(id.lowercased) }
                var after = before
                try change(&after)
                try await connection.rows(
                    """
                    UPDATE users SET username = \(after.username), email = \(after.email.value), email_key = \(after.email.key),
                        display_name = \(after.displayName), role = \(after.role.rawValue), status = \(after.status.rawValue),
                        password_hash = \(after.passwordHash), failed_logins = \(after.lockout.failures),
                        lockouts = \(after.lockout.lockouts), locked_until = \(pgTime(after.lockout.lockedUntil))::timestamptz,
                        mfa_enabled = \(after.mfaEnabled), search_text = \(after.searchText),
                        updated_at = \(pgTime(after.updatedAt))::timestamptz, last_login_at = \(pgTime(after.lastLoginAt))::timestamptz
                    WHERE id = \(id)
                    """,
                    logger: logger
                )
                var revoked = [KeyRecord]()
                var ended = [SessionRecord]()
                if after.status == .disabled {
                    revoked = try await Self.revokeKeys(of: after, at: now, on: connection, logger: logger)
                    let live = try await Self.liveSessionIDs(of: id, except: nil, now: now, on: connection, logger: logger)
                    ended = try await Self.endSessions(
                        live,
                        reason: "user_disabled",
                        now: now,
                        denyUntil: sessions.denyUntil,
                        on: connection,
                        logger: logger
                    )
                } else if let all = sessions.all {
                    let live = try await Self.liveSessionIDs(of: id, except: all.except, now: now, on: connection, logger: logger)
                    ended = try await Self.endSessions(
                        live,
                        reason: all.reason,
                        now: now,
                        denyUntil: sessions.denyUntil,
                        on: connection,
                        logger: logger
                    )
                }
                let result = UserChange(before: before, after: after, revokedKeys: revoked, endedSessions: ended)
                for event in audit(result) { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
                return result
            }
        }
    }

    package func deleteUser(
        id: UUID,
        now: Date,
        denyUntil: Date,
        audit: @escaping @Sendable (UserChange) -> [AuditEvent]
    )
        async throws -> UserChange
    {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                guard
                    let user = try await connection.rows(
                        "DELETE FROM users WHERE id = \(id) RETURNING \(unescaped: Self.userColumns)",
                        logger: logger
                    ).first.map(Self.user)
                else { throw DomainError.userNotFound(id.lowercased) }
                for table in ["mfa_factors", "recovery_codes", "mfa_challenges"] {
                    try await connection.rows("DELETE FROM \(unescaped: table) WHERE user_id = \(id)", logger: logger)
                }
                let revoked = try await Self.revokeKeys(of: user, at: now, on: connection, logger: logger)
                let live = try await Self.liveSessionIDs(of: id, except: nil, now: now, on: connection, logger: logger)
                let ended = try await Self.endSessions(
                    live,
                    reason: "user_deleted",
                    now: now,
                    denyUntil: denyUntil,
                    on: connection,
                    logger: logger
                )
                var result = UserChange(before: user, after: user, revokedKeys: revoked, endedSessions: ended)
                // No membership or entry outlives its user (a new user can never inherit them).
                result.forgottenAuthzRows =
                    try await connection.rows("DELETE FROM group_members WHERE member = \(user.reference) RETURNING 1", logger: logger).count
                    + connection.rows("DELETE FROM acl_entries WHERE principal = \(user.reference) RETURNING 1", logger: logger).count
                if result.forgottenAuthzRows > 0 { try await Self.bumpAuthzVersion(connection, logger: logger) }
                for event in audit(result) { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
                return result
            }
        }
    }

    /// Revokes every active key the user owns; returns them as stored.
    static func revokeKeys(of user: UserRecord, at now: Date, on connection: PostgresConnection, logger: Logger) async throws -> [KeyRecord] {
        try await connection.rows(
            """
            UPDATE api_keys SET status = 'revoked', revoked_at = \(pgTime(now))::timestamptz, updated_at = \(pgTime(now))::timestamptz
            WHERE owner_id = \(user.reference) AND status = 'active' RETURNING \(unescaped: selectColumns)
            """,
            logger: logger
        ).map(record)
    }

    static func user(_ row: PostgresRow) throws -> UserRecord {
        let cells = row.makeRandomAccess()
        func date(_ index: Int) throws -> Date? { try cells[index].decode(Date?.self).map(Timestamp.truncated) }
        let id = try cells[0].decode(UUID.self)
        guard let role = Role(rawValue: try cells[4].decode(String.self)),
            let status = UserRecord.Status(rawValue: try cells[5].decode(String.self)),
            let created = try date(11)
        else { throw StorageError.corruptRow("users row \(id)") }
        return UserRecord(
            id: id,
            username: try cells[1].decode(String.self),
            email: EmailAddress(stored: try cells[2].decode(String.self)),
            displayName: try cells[3].decode(String?.self),
            role: role,
            status: status,
            passwordHash: try cells[6].decode(String?.self),
            lockout: LockoutState(
                failures: try cells[7].decode(Int.self),
                lockouts: try cells[8].decode(Int.self),
                lockedUntil: try date(9)
            ),
            mfaEnabled: try cells[10].decode(Bool.self),
            createdAt: created,
            updatedAt: try date(12),
            lastLoginAt: try date(13)
        )
    }
}
