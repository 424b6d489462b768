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

    package init(before: UserRecord, after: UserRecord, revokedKeys: [KeyRecord]) {
        self.before = before
        self.after = after
        self.revokedKeys = revokedKeys
    }
}

/// Where people live. Every backend passes the same conformance suite; each method is one transaction.
///
/// Usernames and e-mail keys are unique (``DomainError`` `.conflict` naming the field); a missing user is
/// `.notFound`. The store keeps one invariant of its own: a user who is disabled or deleted has no active
/// key (`owner_id` `user:<id>`), so a change that disables a user revokes their keys in the same transaction.
package protocol UserStore: Sendable {
    /// Stores a new user, and `audit` in the same transaction.
    func insertUser(_ user: UserRecord, audit: [AuditEvent]) async throws

    func user(id: UUID) async throws -> UserRecord?

    /// The user with this (lower-cased) username.
    func user(username: String) async throws -> UserRecord?

    /// The user whose e-mail address has this key (``EmailAddress/key``).
    func user(emailKey: String) async throws -> UserRecord?

    func users(matching query: UserQuery) async throws -> UserPage

    /// Reads a user, lets `change` modify it, writes it back; revokes the user's active keys (at `now`) when the
    /// user ends disabled; appends what `audit` returns for the change. `change` may throw to abort.
    func updateUser(
        id: UUID, now: Date, _ change: @escaping @Sendable (inout UserRecord) throws -> Void,
        audit: @escaping @Sendable (UserChange) -> [AuditEvent]
    ) async throws -> UserChange

    /// Deletes a user and revokes their active keys (at `now`), with what `audit` returns, in one transaction.
    func deleteUser(id: UUID, now: Date, audit: @escaping @Sendable (UserChange) -> [AuditEvent]) async throws -> UserChange
}

extension UserRecord {
    /// What `q` searches: the username, the e-mail address and the display name, lower-cased, one per line.
    package var searchText: String {
        [username, email.value, displayName ?? ""].joined(separator: "\n").lowercased()
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
