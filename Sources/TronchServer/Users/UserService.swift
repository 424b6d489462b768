package import Foundation
import Logging
package import TronchCore
package import TronchStorage

/// People: accounts, passwords, locks and logins, with the rules that protect them.
package struct UserService: Sendable {
    package let store: any UserStore & TokenStore & AuditStore
    package let hasher: PasswordHasher
    package let tokens: TokenService
    package let keys: KeyService
    package let directory: UserDirectory
    package let mfa: MFAService
    let settings: AccountSettings
    let policy: PasswordPolicy
    var clock: WallClock { keys.clock }

    package init(
        store: any UserStore & TokenStore & AuditStore,
        hasher: PasswordHasher,
        tokens: TokenService,
        keys: KeyService,
        directory: UserDirectory,
        mfa: MFAService,
        settings: AccountSettings
    ) {
        self.store = store
        self.hasher = hasher
        self.tokens = tokens
        self.keys = keys
        self.directory = directory
        self.mfa = mfa
        self.settings = settings
        self.policy = PasswordPolicy(minLength: settings.passwordMinLength)
    }

    // MARK: Accounts

    /// What a create request carries, already read from JSON.
    package struct NewUser: Sendable {
        package var username: String
        package var email: String
        package var password: String?
        package var displayName: String?
        package var role: Role = .member

        package init(username: String, email: String, password: String? = nil, displayName: String? = nil, role: Role = .member) {
            self.username = username
            self.email = email
            self.password = password
            self.displayName = displayName
            self.role = role
        }
    }

    package func create(_ new: NewUser, by principal: Principal, origin: RequestOrigin) async throws -> UserRecord {
        try Self.requireManager(principal)
        if new.role == .admin { try Self.requireAdmin(principal) }
        var problems = [FieldError]()
        let username = Username.normalize(new.username)
        let email = EmailAddress.parse(new.email)
        if case .failure(let problem) = username { problems.append(problem) }
        if case .failure(let problem) = email { problems.append(problem) }
        if let name = new.displayName, let problem = DisplayName.problem(name) {
            problems.append(FieldError(field: "display_name", message: problem))
        }
        if let password = new.password, case .success(let name) = username,
            let problem = policy.problem(password, username: name, email: try? email.get())
        {
            problems.append(problem)
        }
        guard problems.isEmpty, case .success(let name) = username, case .success(let address) = email else {
            throw DomainError.validation(problems)
        }
        if new.role == .admin { try await stepUp.require(principal, for: "making an administrator", origin: origin) }
        let now = clock.now
        var user = UserRecord(
            id: UUIDv7.make(at: now),
            username: name,
            email: address,
            displayName: new.displayName,
            role: new.role,
            createdAt: now
        )
        if let password = new.password { user.passwordHash = try await hasher.hash(password) }
        let audit = AuditEvent(
            time: now,
            actor: principal.auditActor,
            action: AuditAction.userCreated,
            targetType: "user",
            targetID: user.id.lowercased,
            origin: origin,
            details: ["username": .string(name), "role": .string(user.role.rawValue), "password_set": .bool(new.password != nil)]
        )
        try await store.insertUser(user, audit: [audit])
        return user
    }

    package func users(matching query: UserQuery, by principal: Principal) async throws -> UserPage {
        try Self.requireManager(principal)
        return try await store.users(matching: query)
    }

    /// A user `principal` may see: themselves, or anyone for a manager (another's id is "not found" otherwise).
    package func user(id: UUID, by principal: Principal) async throws -> UserRecord {
        guard principal.user?.id == id || principal.allows(.usersManage) else { throw DomainError.userNotFound(id.lowercased) }
        guard let user = try await store.user(id: id) else { throw DomainError.userNotFound(id.lowercased) }
        return user
    }

    /// The caller's own account.
    package func me(_ principal: Principal) async throws -> UserRecord {
        guard let id = principal.user?.id else {
            throw DomainError(.notFound, "this credential belongs to no user (a key no user owns); log in, or use a key a user owns")
        }
        guard let user = try await store.user(id: id) else { throw DomainError.userNotFound(id.lowercased) }
        return user
    }

    /// A change to an account. Managers may change everything; a user may change their own display name.
    package struct Change: Sendable {
        package var username: String?
        package var email: String?
        package var displayName: Patch<String> = .unchanged
        package var role: Role?
        package var status: UserRecord.Status?
        /// A password set by a manager (a reset): it ends every session of the user.
        package var password: String?

        package init() {}

        var touchesMoreThanDisplayName: Bool { username != nil || email != nil || role != nil || status != nil || password != nil }
    }

    package func update(id: UUID, _ change: Change, by principal: Principal, origin: RequestOrigin) async throws -> UserRecord {
        let manager = principal.allows(.usersManage)
        guard manager || principal.user?.id == id else { throw DomainError.userNotFound(id.lowercased) }
        guard manager || !change.touchesMoreThanDisplayName else {
            throw DomainError(.forbidden, "you can change only your own display_name; the rest needs an administrator")
        }
        guard let current = try await store.user(id: id) else { throw DomainError.userNotFound(id.lowercased) }
        // Making or changing an administrator takes an administrator: `users:manage` alone cannot mint one.
        if current.role == .admin || change.role == .admin { try Self.requireAdmin(principal) }
        var problems = [FieldError]()
        var username = current.username
        var email = current.email
        if let text = change.username {
            switch Username.normalize(text) {
            case .success(let name): username = name
            case .failure(let problem): problems.append(problem)
            }
        }
        if let text = change.email {
            switch EmailAddress.parse(text) {
            case .success(let address): email = address
            case .failure(let problem): problems.append(problem)
            }
        }
        if case .set(let name) = change.displayName, let problem = DisplayName.problem(name) {
            problems.append(FieldError(field: "display_name", message: problem))
        }
        if let password = change.password, let problem = policy.problem(password, username: username, email: email) {
            problems.append(problem)
        }
        guard problems.isEmpty else { throw DomainError.validation(problems) }
        if change.role == .admin, current.role != .admin {
            try await stepUp.require(principal, for: "making an administrator", origin: origin)
        }
        let (newUsername, newEmail) = (username, email)
        let newHash = try await change.password.asyncMap { try await hasher.hash($0) }
        let now = clock.now
        let actor = principal.auditActor
        let ending = SessionEnding(denyUntil: tokens.denyUntil, all: newHash == nil ? nil : ("password_reset", nil))
        let result = try await store.updateUser(
            id: id,
            now: now,
            sessions: ending,
            { user in
                user.username = newUsername
                user.email = newEmail
                user.displayName = change.displayName.applied(to: user.displayName)
                if let role = change.role { user.role = role }
                if let status = change.status { user.status = status }
                if let newHash { user.passwordHash = newHash }
                user.updatedAt = now
            },
            audit: { change in Self.auditChange(change, actor: actor, origin: origin, now: now) }
        )
        afterChange(result)
        return result.after
    }

    package func delete(id: UUID, by principal: Principal, origin: RequestOrigin) async throws -> UserRecord {
        try Self.requireManager(principal)
        if try await store.user(id: id)?.role == .admin { try Self.requireAdmin(principal) }
        let now = clock.now
        let actor = principal.auditActor
        let result = try await store.deleteUser(id: id, now: now, denyUntil: tokens.denyUntil) { change in
            [
                AuditEvent(
                    time: now,
                    actor: actor,
                    action: AuditAction.userDeleted,
                    targetType: "user",
                    targetID: id.lowercased,
                    origin: origin,
                    details: ["username": .string(change.before.username)]
                )
            ] + Self.consequences(change, actor: actor, origin: origin, now: now)
                + (change.forgottenAuthzRows > 0
                    ? [
                        AuditEvent(
                            time: now,
                            actor: actor,
                            action: AuditAction.authzPrincipalForgotten,
                            targetType: "user",
                            targetID: id.lowercased,
                            origin: origin,
                            details: ["rows": .int(Int64(change.forgottenAuthzRows))]
                        )
                    ] : [])
        }
        afterChange(result)
        return result.before
    }

    /// Clears a lock and the failure count (an administrator's unlock).
    package func unlock(id: UUID, by principal: Principal, origin: RequestOrigin) async throws -> UserRecord {
        try Self.requireManager(principal)
        let now = clock.now
        let actor = principal.auditActor
        let policy = settings.lockout
        let result = try await store.updateUser(
            id: id,
            now: now,
            sessions: SessionEnding(denyUntil: tokens.denyUntil),
            { user in
                user.lockout = policy.unlocked(user.lockout)
                user.updatedAt = now
            },
            audit: { change in
                [
                    AuditEvent(
                        time: now,
                        actor: actor,
                        action: AuditAction.userUnlocked,
                        targetType: "user",
                        targetID: id.lowercased,
                        origin: origin,
                        details: ["was_locked_until": change.before.lockout.lockedUntil.map { .string(Timestamp.format($0)) } ?? .null]
                    )
                ]
            }
        )
        return result.after
    }

    /// `POST /users/me/password`: needs the current password; ends the user's other sessions.
    package func changePassword(current: String, new: String, by principal: Principal, origin: RequestOrigin) async throws {
        let user = try await me(principal)
        guard try await hasher.verify(current, against: user.passwordHash) else {
            throw DomainError.invalid("current_password", "is not your current password")
        }
        if let problem = policy.problem(new, username: user.username, email: user.email, field: "new_password") {
            throw DomainError.validation([problem])
        }
        let hash = try await hasher.hash(new)
        let now = clock.now
        let actor = principal.auditActor
        let ending = SessionEnding(denyUntil: tokens.denyUntil, all: ("password_changed", principal.sessionID))
        let result = try await store.updateUser(
            id: user.id,
            now: now,
            sessions: ending,
            { user in
                user.passwordHash = hash
                user.updatedAt = now
            },
            audit: { change in
                [
                    AuditEvent(
                        time: now,
                        actor: actor,
                        action: AuditAction.userPasswordChanged,
                        targetType: "user",
                        targetID: user.id.lowercased,
                        origin: origin,
                        details: ["sessions_ended": .int(Int64(change.endedSessions.count))]
                    )
                ]
            }
        )
        afterChange(result)
    }

    // MARK: Rules

    static func requireAdmin(_ principal: Principal) throws(APIError) {
        guard principal.isAdmin else {
            throw APIError(.forbidden, "only an administrator (role admin, or a key with the scope admin) may make or change an administrator")
        }
    }

    static func requireManager(_ principal: Principal) throws(APIError) {
        guard principal.allows(.usersManage) else {
            throw APIError(.forbidden, "managing users needs an administrator (role admin), or a key with the scope admin or users:manage")
        }
    }

    /// The caches and the denylist hear of a change on this node at once.
    func afterChange(_ change: UserChange) {
        directory.invalidate(change.after.id)
        for key in change.revokedKeys { keys.invalidate(key.digest) }
        let until = tokens.denyUntil
        tokens.denyEverywhere(change.endedSessions.map { DenylistEntry(kind: .sid, value: $0.id.lowercased, expiresAt: until) })
    }

    /// The `user.locked` entry (actor `system`) when `change` set a new lock: failed passwords and failed second
    /// factors lock alike, and say so alike.
    static func lockEvent(_ change: UserChange, origin: RequestOrigin, now: Date) -> AuditEvent? {
        guard let until = change.after.lockout.lockedUntil, change.before.lockout.lockedUntil != until else { return nil }
        return AuditEvent(
            time: now,
            actor: .system,
            action: AuditAction.userLocked,
            targetType: "user",
            targetID: change.after.id.lowercased,
            origin: origin,
            details: ["until": .string(Timestamp.format(until)), "lockouts": .int(Int64(change.after.lockout.lockouts))]
        )
    }

    /// The audit entries of an account change: what changed (never a password or an e-mail address), a role
    /// change and a disabling on their own, and what they took with them.
    static func auditChange(_ change: UserChange, actor: AuditActor, origin: RequestOrigin, now: Date) -> [AuditEvent] {
        let (before, after) = (change.before, change.after)
        let id = after.id.lowercased
        var fields = [String]()
        if before.username != after.username { fields.append("username") }
        if before.email != after.email { fields.append("email") }
        if before.displayName != after.displayName { fields.append("display_name") }
        if before.passwordHash != after.passwordHash { fields.append("password") }
        if before.status != after.status { fields.append("status") }
        if before.role != after.role { fields.append("role") }
        var events = [
            AuditEvent(
                time: now,
                actor: actor,
                action: AuditAction.userUpdated,
                targetType: "user",
                targetID: id,
                origin: origin,
                details: ["fields": .array(fields.map(JSONValue.string))]
            )
        ]
        if before.role != after.role {
            events.append(
                AuditEvent(
                    time: now,
                    actor: actor,
                    action: AuditAction.userRoleChanged,
                    targetType: "user",
                    targetID: id,
                    origin: origin,
                    details: ["from": .string(before.role.rawValue), "to": .string(after.role.rawValue)]
                )
            )
        }
        if before.status != after.status && after.status == .disabled {
            events.append(AuditEvent(time: now, actor: actor, action: AuditAction.userDisabled, targetType: "user", targetID: id, origin: origin))
        }
        if before.passwordHash != after.passwordHash {
            events.append(
                AuditEvent(
                    time: now,
                    actor: actor,
                    action: AuditAction.userPasswordChanged,
                    targetType: "user",
                    targetID: id,
                    origin: origin,
                    details: ["reset": true]
                )
            )
        }
        return events + consequences(change, actor: actor, origin: origin, now: now)
    }

    /// A key revoked and a session ended because of a user change, each on its own line.
    static func consequences(_ change: UserChange, actor: AuditActor, origin: RequestOrigin, now: Date) -> [AuditEvent] {
        change.revokedKeys.map { key in
            AuditEvent(
                time: now,
                actor: actor,
                action: AuditAction.keyRevoked,
                targetType: "key",
                targetID: key.id.lowercased,
                origin: origin,
                details: ["reason": .string(change.after.status == .disabled ? "owner_disabled" : "owner_deleted")]
            )
        }
            + change.endedSessions.map { session in
                AuditEvent(
                    time: now,
                    actor: actor,
                    action: AuditAction.sessionRevoked,
                    targetType: "session",
                    targetID: session.id.lowercased,
                    origin: origin,
                    details: ["reason": .string(session.revokedReason ?? "revoked")]
                )
            }
    }
}

extension Optional where Wrapped: Sendable {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
