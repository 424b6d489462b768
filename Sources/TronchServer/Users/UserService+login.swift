import Foundation
package import TronchCore
import TronchStorage

extension UserService {
    /// How a person names themselves at login.
    package enum LoginName: Sendable {
        case username(String)
        case email(String)
    }

    /// `POST /api/v1/auth/login`: a password login, answered the same way whatever is wrong.
    ///
    /// Unknown users, wrong passwords, disabled and locked accounts all get one `INVALID_CREDENTIALS` and
    /// cost one password hash, so neither the answer nor its timing tells which. `lockout.threshold`
    /// consecutive failures lock the account (Keycloak's brute-force detection); attempts while locked change
    /// nothing; a success clears the count and the doubling, records the login, upgrades an old hash and
    /// starts a session.
    package func login(_ name: LoginName, password: String, origin: RequestOrigin) async throws -> TokenService.TokenPair {
        let user: UserRecord? =
            switch name {
            case .username(let text):
                if case .success(let username) = Username.normalize(text) { try await store.user(username: username) } else { nil }
            case .email(let text):
                if case .success(let address) = EmailAddress.parse(text) { try await store.user(emailKey: address.key) } else { nil }
            }
        let matches = try await hasher.verify(password, against: user?.passwordHash)
        let now = clock.now
        guard let user else {
            try await record(failure: "unknown_user", user: nil, origin: origin, now: now)
            throw Self.invalidCredentials
        }
        guard user.status == .active else {
            try await record(failure: "disabled", user: user, origin: origin, now: now)
            throw Self.invalidCredentials
        }
        guard !user.lockout.isLocked(at: now) else {
            // While locked even the right password fails, and the attempt neither counts nor extends the lock.
            try await record(failure: "locked", user: user, origin: origin, now: now)
            throw Self.invalidCredentials
        }
        guard matches else {
            try await recordWrongPassword(user, origin: origin, now: now)
            throw Self.invalidCredentials
        }
        // Parameters raised since this hash was made: store a new one, now that the password is at hand.
        let upgraded = hasher.needsRehash(user.passwordHash) ? try await hasher.hash(password) : nil
        let policy = settings.lockout
        let result = try await store.updateUser(id: user.id, now: now, { user in
            user.lockout = policy.succeeded(user.lockout)
            user.lastLoginAt = now
            if let upgraded { user.passwordHash = upgraded }
        }, audit: { _ in [] })
        return try await tokens.startSession(for: result.after, amr: ["pwd"], origin: origin) { session in
            [
                AuditEvent(
                    time: now, actor: .user(user.id), action: AuditAction.login, targetType: "session",
                    targetID: session.id.lowercased, origin: origin,
                    details: ["amr": .array(session.amr.map(JSONValue.string)), "hash_upgraded": .bool(upgraded != nil)]
                )
            ]
        }
    }

    static var invalidCredentials: APIError {
        .unauthorized(.invalidCredentials, "the username or e-mail address and password do not match an account that may log in")
    }

    /// A wrong password: counted toward the lock (in the same transaction as its audit entries).
    private func recordWrongPassword(_ user: UserRecord, origin: RequestOrigin, now: Date) async throws {
        let policy = settings.lockout
        _ = try await store.updateUser(id: user.id, now: now, { user in
            user.lockout = policy.failed(user.lockout, at: now).state
        }, audit: { change in
            var events = [Self.failure("wrong_password", userID: user.id, origin: origin, now: now)]
            if let until = change.after.lockout.lockedUntil, change.before.lockout.lockedUntil != until {
                events.append(
                    AuditEvent(
                        time: now, actor: .system, action: AuditAction.userLocked, targetType: "user", targetID: user.id.lowercased,
                        origin: origin,
                        details: ["until": .string(Timestamp.format(until)), "lockouts": .int(Int64(change.after.lockout.lockouts))]
                    )
                )
            }
            return events
        })
    }

    private func record(failure reason: String, user: UserRecord?, origin: RequestOrigin, now: Date) async throws {
        try await store.appendAudit([Self.failure(reason, userID: user?.id, origin: origin, now: now)])
    }

    /// A failed login in the audit log: why, and the account when there is one (never what was typed).
    static func failure(_ reason: String, userID: UUID?, origin: RequestOrigin, now: Date) -> AuditEvent {
        AuditEvent(
            time: now, actor: .anonymous, action: AuditAction.loginFailed, targetType: userID == nil ? nil : "user",
            targetID: userID?.lowercased, outcome: .failure, origin: origin, details: ["reason": .string(reason)]
        )
    }
}
