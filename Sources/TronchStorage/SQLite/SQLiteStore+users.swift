package import Foundation
import GRDB
package import TronchCore

extension SQLiteStore: UserStore {
    package func insertUser(_ user: UserRecord, audit: [AuditEvent]) async throws {
        try await writer.write { db in
            try Self.insertUser(user, db)
            for event in audit { _ = try Self.appendAudit(event, db) }
        }
    }

    package func user(id: UUID) async throws -> UserRecord? {
        try await fetchUser("id = ?", id.lowercased)
    }

    package func user(username: String) async throws -> UserRecord? {
        try await fetchUser("username = ?", username)
    }

    package func user(emailKey: String) async throws -> UserRecord? {
        try await fetchUser("email_key = ?", emailKey)
    }

    private func fetchUser(_ condition: String, _ value: String) async throws -> UserRecord? {
        try await writer.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM users WHERE \(condition)"), arguments: [value])
                .map(Self.user)
        }
    }

    package func users(matching query: UserQuery) async throws -> UserPage {
        var conditions = [String]()
        var arguments = StatementArguments()
        if let role = query.role {
            conditions.append("role = ?")
            _ = arguments.append(contentsOf: [role.rawValue])
        }
        if let status = query.status {
            conditions.append("status = ?")
            _ = arguments.append(contentsOf: [status.rawValue])
        }
        if let search = query.search {
            // instr on a lower-cased copy, not LIKE: no wildcards, and the same as PostgreSQL's strpos.
            conditions.append("instr(search_text, ?) > 0")
            _ = arguments.append(contentsOf: [search.lowercased()])
        }
        if let after = query.after {
            conditions.append("id < ?")
            _ = arguments.append(contentsOf: [after.lowercased])
        }
        let size = query.limit
        _ = arguments.append(contentsOf: [size + 1])
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT * FROM users \(filter) ORDER BY id DESC LIMIT ?"
        let finalArguments = arguments
        let users = try await writer.read { db in try Row.fetchAll(db, sql: sql, arguments: finalArguments).map(Self.user) }
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
        try await writer.write { db in
            guard let before = try Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id.lowercased]).map(Self.user)
            else { throw DomainError.userNotFound(id.lowercased) }
            var after = before
            try change(&after)
            try Self.writeUser(after, db)
            var revoked = [KeyRecord]()
            var ended = [SessionRecord]()
            if after.status == .disabled {
                revoked = try Self.revokeKeys(of: after, at: now, db)
                let live = try Self.liveSessionIDs(of: id, except: nil, now: now, db)
                ended = try Self.endSessions(live, reason: "user_disabled", now: now, denyUntil: sessions.denyUntil, db)
            } else if let all = sessions.all {
                let live = try Self.liveSessionIDs(of: id, except: all.except, now: now, db)
                ended = try Self.endSessions(live, reason: all.reason, now: now, denyUntil: sessions.denyUntil, db)
            }
            let result = UserChange(before: before, after: after, revokedKeys: revoked, endedSessions: ended)
            for event in audit(result) { _ = try Self.appendAudit(event, db) }
            return result
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
        try await writer.write { db in
            guard let user = try Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id.lowercased]).map(Self.user)
            else { throw DomainError.userNotFound(id.lowercased) }
            try db.execute(sql: "DELETE FROM users WHERE id = ?", arguments: [id.lowercased])
            for table in ["mfa_factors", "recovery_codes", "mfa_challenges"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE user_id = ?", arguments: [id.lowercased])
            }
            let live = try Self.liveSessionIDs(of: id, except: nil, now: now, db)
            var result = UserChange(
                before: user,
                after: user,
                revokedKeys: try Self.revokeKeys(of: user, at: now, db),
                endedSessions: try Self.endSessions(live, reason: "user_deleted", now: now, denyUntil: denyUntil, db)
            )
            // No membership or entry outlives its user (a new user can never inherit them).
            try db.execute(sql: "DELETE FROM group_members WHERE member = ?", arguments: [user.reference])
            result.forgottenAuthzRows = db.changesCount
            try db.execute(sql: "DELETE FROM acl_entries WHERE principal = ?", arguments: [user.reference])
            result.forgottenAuthzRows += db.changesCount
            if result.forgottenAuthzRows > 0 { try Self.bumpAuthzVersion(db) }
            for event in audit(result) { _ = try Self.appendAudit(event, db) }
            return result
        }
    }

    /// Revokes every active key the user owns; returns them as stored.
    static func revokeKeys(of user: UserRecord, at now: Date, _ db: Database) throws -> [KeyRecord] {
        let active = try Row.fetchAll(
            db,
            sql: "SELECT * FROM api_keys WHERE owner_id = ? AND status = 'active'",
            arguments: [user.reference]
        ).map(Self.record)
        return try active.map { key in
            let revoked = key.revoked(at: now)
            try Self.write(revoked, db)
            return revoked
        }
    }
}

// MARK: - Rows

extension SQLiteStore {
    static let userColumns = [
        "id", "username", "email", "email_key", "display_name", "role", "status", "password_hash", "failed_logins",
        "lockouts", "locked_until", "mfa_enabled", "search_text", "created_at", "updated_at", "last_login_at",
    ]

    static func userValues(_ user: UserRecord) -> [(any DatabaseValueConvertible)?] {
        [
            user.id.lowercased, user.username, user.email.value, user.email.key, user.displayName, user.role.rawValue,
            user.status.rawValue, user.passwordHash, user.lockout.failures, user.lockout.lockouts,
            user.lockout.lockedUntil.map(Timestamp.milliseconds), user.mfaEnabled, user.searchText,
            Timestamp.milliseconds(user.createdAt), Timestamp.milliseconds(user.updatedAt),
            user.lastLoginAt.map(Timestamp.milliseconds),
        ]
    }

    static func insertUser(_ user: UserRecord, _ db: Database) throws {
        let sql =
            "INSERT INTO users (\(userColumns.joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: userColumns.count).joined(separator: ", ")))"
        do {
            try db.cachedStatement(sql: sql).execute(arguments: StatementArguments(userValues(user)))
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw userConflict(error.message ?? "")
        }
    }

    static func writeUser(_ user: UserRecord, _ db: Database) throws {
        let assignments = userColumns.dropFirst().map { "\($0) = ?" }.joined(separator: ", ")
        let values = Array(userValues(user).dropFirst()) + [user.id.lowercased]
        do {
            try db.execute(sql: "UPDATE users SET \(assignments) WHERE id = ?", arguments: StatementArguments(values))
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw userConflict(error.message ?? "")
        }
    }

    /// The conflict a unique index reports, naming the field.
    static func userConflict(_ message: String) -> DomainError {
        if message.contains("users.username") { return .userConflict("username") }
        if message.contains("users.email_key") { return .userConflict("email") }
        return DomainError(.conflict, "a user with this id already exists")
    }

    static func user(_ row: Row) throws -> UserRecord {
        func date(_ column: String) -> Date? { (row[column] as Int64?).map(Timestamp.date(milliseconds:)) }
        guard let id = UUID(uuidString: row["id"]), let role = Role(rawValue: row["role"]),
            let status = UserRecord.Status(rawValue: row["status"]), let created = date("created_at"),
            let updated = date("updated_at")
        else { throw StorageError.corruptRow("users row \(row["id"] as String? ?? "?")") }
        return UserRecord(
            id: id,
            username: row["username"],
            email: EmailAddress(stored: row["email"]),
            displayName: row["display_name"],
            role: role,
            status: status,
            passwordHash: row["password_hash"],
            lockout: LockoutState(failures: row["failed_logins"], lockouts: row["lockouts"], lockedUntil: date("locked_until")),
            mfaEnabled: row["mfa_enabled"],
            createdAt: created,
            updatedAt: updated,
            lastLoginAt: date("last_login_at")
        )
    }
}
