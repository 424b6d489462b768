package import Foundation
package import TronchCore

/// Which users a list returns: every filter is optional and they combine with AND.
package struct UserQuery: Sendable, Hashable {
    package var role: Role?
    package var status: UserRecord.Status?
    /// A case-insensitive substring of the username, the e-mail address or the display name.
    package var search: String?
    package var limit: Int = 50
    /// Continue after this user (the previous page's `nextCursor`).
    package var after: UUID?

    package init(role: Role? = nil, status: UserRecord.Status? = nil, search: String? = nil, limit: Int = 50, after: UUID? = nil) {
        self.role = role
        self.status = status
        self.search = search
        self.limit = limit
        self.after = after
    }
}

/// One page of users, newest first.
package struct UserPage: Sendable, Hashable {
    package var users: [UserRecord]
    package var nextCursor: UUID?

    package init(users: [UserRecord], nextCursor: UUID?) {
        self.users = users
        self.nextCursor = nextCursor
    }
}

/// A user change and what came with it in the same transaction.
package struct UserChange: Sendable {
    package var before: UserRecord
    package var after: UserRecord
    /// The user's keys revoked because the user was disabled or deleted (as stored after revocation).
    package var revokedKeys: [KeyRecord]
    /// The user's sessions ended with the change (as stored after ending).
    package var endedSessions: [SessionRecord]
    /// A deleted user's group memberships and ACL entries, removed in the same transaction.
    package var forgottenAuthzRows = 0

    package init(before: UserRecord, after: UserRecord, revokedKeys: [KeyRecord], endedSessions: [SessionRecord] = []) {
        self.before = before
        self.after = after
        self.revokedKeys = revokedKeys
        self.endedSessions = endedSessions
    }
}

/// Sessions a user change ends besides those a disabled or deleted user loses anyway: a password change
/// ends every other session.
package struct SessionEnding: Sendable, Hashable {
    /// Until when the ended sessions' ids stay on the access-token denylist (now + the access-token lifetime).
    package var denyUntil: Date
    /// End every live session of the user but `except`, for `reason`; nil ends none (unless the user is disabled).
    package var all: (reason: String, except: UUID?)?

    package init(denyUntil: Date, all: (reason: String, except: UUID?)? = nil) {
        self.denyUntil = denyUntil
        self.all = all
    }

    package static func == (lhs: SessionEnding, rhs: SessionEnding) -> Bool {
        lhs.denyUntil == rhs.denyUntil && lhs.all?.reason == rhs.all?.reason && lhs.all?.except == rhs.all?.except
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(denyUntil)
        hasher.combine(all?.reason)
        hasher.combine(all?.except)
    }
}

/// Where people live. Every backend passes the same conformance suite; each method is one transaction.
///
/// Usernames and e-mail keys are unique (``DomainError`` `.conflict` naming the field); a missing user is
/// `.notFound`. The store keeps one invariant of its own: a user who is disabled or deleted has no active
/// key (`owner_id` `user:<id>`) and no live session, so a change that disables a user revokes their keys and
/// ends their sessions (their ids on the denylist) in the same transaction.
package protocol UserStore: Sendable {
    /// Stores a new user, and `audit` in the same transaction.
    func insertUser(_ user: UserRecord, audit: [AuditEvent]) async throws

    func user(id: UUID) async throws -> UserRecord?

    /// The user with this (lower-cased) username.
    func user(username: String) async throws -> UserRecord?

    /// The user whose e-mail address has this key (``EmailAddress/key``).
    func user(emailKey: String) async throws -> UserRecord?

    func users(matching query: UserQuery) async throws -> UserPage

    /// Reads a user, lets `change` modify it, writes it back; when the user ends disabled, revokes their active
    /// keys and ends their sessions (reason `user_disabled`); ends the sessions `sessions` names; appends what
    /// `audit` returns for the change. `change` may throw to abort.
    func updateUser(
        id: UUID,
        now: Date,
        sessions: SessionEnding,
        _ change: @escaping @Sendable (inout UserRecord) throws -> Void,
        audit: @escaping @Sendable (UserChange) -> [AuditEvent]
    ) async throws -> UserChange

    /// Deletes a user, revokes their active keys and ends their sessions (reason `user_deleted`, ids denied until
    /// `denyUntil`), with what `audit` returns, in one transaction.
    func deleteUser(
        id: UUID,
        now: Date,
        denyUntil: Date,
        audit: @escaping @Sendable (UserChange) -> [AuditEvent]
    )
        async throws -> UserChange
}

extension UserRecord {
    /// What `q` searches: the username, the e-mail address and the display name, lower-cased, one per line.
    package var searchText: String {
        [username, email.value, displayName ?? ""].joined(separator: "\n").lowercased()
    }
}

extension UserStore {
    /// A change that ends no session beyond what disabling does (sessions of a disabled user are denied for an hour
    /// at most, the longest access-token lifetime callers use without saying).
    package func updateUser(
        id: UUID,
        now: Date,
        _ change: @escaping @Sendable (inout UserRecord) throws -> Void,
        audit: @escaping @Sendable (UserChange) -> [AuditEvent]
    ) async throws -> UserChange {
        try await updateUser(id: id, now: now, sessions: SessionEnding(denyUntil: now.addingTimeInterval(3600)), change, audit: audit)
    }
}

extension KeyRecord {
    /// The key revoked at `now` (a user's key, when the user is disabled or deleted).
    package func revoked(at now: Date) -> KeyRecord {
        var record = self
        record.status = .revoked
        record.revokedAt = now
        record.updatedAt = now
        return record
    }
}
