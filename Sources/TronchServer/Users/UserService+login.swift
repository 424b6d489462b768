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
        if user.mfaEnabled {
            // A password accepted for an MFA user is not a success until the second factor is.
            if let upgraded {
                _ = try await store.updateUser(id: user.id, now: now, { $0.passwordHash = upgraded }, audit: { _ in [] })
            }
            let token = try await mfa.challenge(for: user, origin: origin)
            try await store.appendAudit([
                AuditEvent(
                    time: now,
                    actor: .user(user.id),
                    action: AuditAction.mfaChallenged,
                    targetType: "user",
                    targetID: user.id.lowercased,
                    origin: origin
                )
            ])
            var error = APIError.unauthorized(.mfaRequired, "the password is right; now send a code of your second factor to POST /api/v1/auth/mfa")
            error.members = ["mfa_token": .string(token), "methods": mfa.methods]
            throw error
        }
        let policy = settings.lockout
        let result = try await store.updateUser(
            id: user.id,
            now: now,
            { user in
                user.lockout = policy.succeeded(user.lockout)
                user.lastLoginAt = now
                if let upgraded { user.passwordHash = upgraded }
            },
            audit: { _ in [] }
        )
        return try await tokens.startSession(for: result.after, amr: ["pwd"], origin: origin) { session in
            [
                AuditEvent(
                    time: now,
                    actor: .user(user.id),
                    action: AuditAction.login,
                    targetType: "session",
                    targetID: session.id.lowercased,
                    origin: origin,
                    details: ["amr": .array(session.amr.map(JSONValue.string)), "hash_upgraded": .bool(upgraded != nil)]
                )
            ]
        }
    }

    /// `POST /api/v1/auth/mfa`: the second step. A right code ends the challenge and logs in (`amr` names
    /// both factors); a wrong one counts toward the account's lock, and five kill the challenge.
    package func completeLogin(
        mfaToken: String,
        method: String,
        answer: String,
        origin: RequestOrigin
    ) async throws
        -> TokenService.TokenPair
    {
        let digest = keys.hasher.digest(mfaToken)
        let now = clock.now
        guard let challenge = try await mfa.store.challenge(digest: digest), challenge.expiresAt > now,
            let factor = mfa.factors[method]
        else { throw MFAService.invalid }
        guard let user = try await store.user(id: challenge.userID), user.status == .active, !user.lockout.isLocked(at: now) else {
            try await mfa.store.deleteChallenge(digest: digest)
            throw MFAService.invalid
        }
        let verdict = try await factor.verify(answer, user: user.id, now: now)
        guard verdict == .accepted else {
            _ = try await mfa.store.failChallenge(digest: digest)
            throw try await mfa.refuse(
                user,
                method: method,
                during: challenge.sessionID == nil ? "login" : "step_up",
                verdict: verdict,
                origin: origin,
                now: now
            )
        }
        try await mfa.store.deleteChallenge(digest: digest)
        if let sessionID = challenge.sessionID { return try await stepUp(user, from: sessionID, factor: factor, origin: origin, now: now) }
        let policy = settings.lockout
        let result = try await store.updateUser(
            id: user.id,
            now: now,
            { user in
                user.lockout = policy.succeeded(user.lockout)
                user.lastLoginAt = now
            },
            audit: { _ in [] }
        )
        return try await tokens.startSession(for: result.after, amr: ["pwd", factor.amr], origin: origin) { session in
            [
                AuditEvent(
                    time: now,
                    actor: .user(user.id),
                    action: AuditAction.login,
                    targetType: "session",
                    targetID: session.id.lowercased,
                    origin: origin,
                    details: ["amr": .array(session.amr.map(JSONValue.string))]
                )
            ]
        }
    }

    /// The second factor of a step-up: a new session with it replaces the one that lacked it (still live, and
    /// the same person's), so the client carries on with one pair of tokens.
    private func stepUp(
        _ user: UserRecord,
        from sessionID: UUID,
        factor: any SecondFactor,
        origin: RequestOrigin,
        now: Date
    ) async throws
        -> TokenService.TokenPair
    {
        guard let old = try await tokens.store.session(id: sessionID), old.userID == user.id, old.revokedAt == nil, old.expiresAt > now
        else { throw MFAService.invalid }
        let amr = old.amr.contains(factor.amr) ? old.amr : old.amr + [factor.amr]
        // A success, as a login is: the count of failures starts again.
        let policy = settings.lockout
        _ = try await store.updateUser(id: user.id, now: now, { $0.lockout = policy.succeeded($0.lockout) }, audit: { _ in [] })
        // The stronger session ends when the one it replaces would have.
        let pair = try await tokens.startSession(for: user, amr: amr, origin: origin, expiresAt: old.expiresAt) { session in
            [
                AuditEvent(
                    time: now,
                    actor: .user(user.id),
                    action: AuditAction.stepUp,
                    targetType: "session",
                    targetID: session.id.lowercased,
                    origin: origin,
                    details: ["amr": .array(session.amr.map(JSONValue.string)), "replaces": .string(sessionID.lowercased)]
                )
            ]
        }
        _ = try await tokens.endSessions([sessionID], reason: "step_up", action: AuditAction.sessionRevoked, actor: .user(user.id), origin: origin)
        return pair
    }

    static var invalidCredentials: APIError {
        .unauthorized(.invalidCredentials, "the username or e-mail address and password do not match an account that may log in")
    }

    /// A wrong password: counted toward the lock (in the same transaction as its audit entries).
    private func recordWrongPassword(_ user: UserRecord, origin: RequestOrigin, now: Date) async throws {
        let policy = settings.lockout
        _ = try await store.updateUser(
            id: user.id,
            now: now,
            { user in
                user.lockout = policy.failed(user.lockout, at: now).state
            },
            audit: { change in
                var events = [Self.failure("wrong_password", userID: user.id, origin: origin, now: now)]
                if let locked = Self.lockEvent(change, origin: origin, now: now) { events.append(locked) }
                return events
            }
        )
    }

    private func record(failure reason: String, user: UserRecord?, origin: RequestOrigin, now: Date) async throws {
        try await store.appendAudit([Self.failure(reason, userID: user?.id, origin: origin, now: now)])
    }

    /// A failed login in the audit log: why, and the account when there is one (never what was typed).
    static func failure(_ reason: String, userID: UUID?, origin: RequestOrigin, now: Date) -> AuditEvent {
        AuditEvent(
            time: now,
            actor: .anonymous,
            action: AuditAction.loginFailed,
            targetType: userID == nil ? nil : "user",
            targetID: userID?.lowercased,
            outcome: .failure,
            origin: origin,
            details: ["reason": .string(reason)]
        )
    }
}
