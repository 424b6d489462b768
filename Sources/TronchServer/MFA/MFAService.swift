package import Foundation
package import TronchCore
package import TronchStorage

/// A second factor as the login flow sees it: one method name (also its `amr` value) and a check. TOTP and
/// recovery codes implement it; WebAuthn or e-mail codes would too, without touching the login flow.
package protocol SecondFactor: Sendable {
    /// The name in `methods` of an `MFA_REQUIRED` answer.
    var method: String { get }
    /// The `amr` value a login with this factor gets (RFC 8176).
    var amr: String { get }
    /// Whether `answer` is right for `user` now; a right answer is used up (a code accepted once).
    func verify(_ answer: String, user: UUID, now: Date) async throws -> SecondFactorVerdict
}

/// What a second factor made of an answer. A replay (a right code already used) is refused like a wrong one
/// but audited as what it is: someone else may have seen the code.
package enum SecondFactorVerdict: String, Sendable {
    case accepted, rejected, replayed
}

/// TOTP (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step), its last accepted step kept so a code works once.
struct TOTPFactor: SecondFactor {
    let store: any MFAStore
    let secrets: SecretBox
    var method: String { "totp" }
    var amr: String { "otp" }

    func verify(_ answer: String, user: UUID, now: Date) async throws -> SecondFactorVerdict {
        guard let factor = try await store.mfaFactor(userID: user, kind: .totp), factor.confirmedAt != nil else { return .rejected }
        let secret = try secrets.open(factor.sealedSecret, context: MFAFactorRecord.context(kind: .totp, userID: user))
        let code = answer.filter { $0 != " " }
        let totp = TOTP(secret: secret)
        let seconds = Int64(now.timeIntervalSince1970)
        guard let step = totp.accept(code, at: seconds, lastUsed: factor.lastStep) else {
            return totp.accept(code, at: seconds, lastUsed: nil) == nil ? .rejected : .replayed
        }
        // Conditional on the step: two nodes given the same code at once accept it once.
        return try await store.useStep(userID: user, kind: .totp, step: step) ? .accepted : .replayed
    }
}

/// Recovery codes: single use, stored as HMACs.
struct RecoveryCodeFactor: SecondFactor {
    let store: any MFAStore
    let hasher: KeyHasher
    /// During a pepper rotation: codes made before it are stored under the previous pepper.
    var previousHasher: KeyHasher?
    var method: String { "recovery_code" }
    var amr: String { "recovery_code" }

    func verify(_ answer: String, user: UUID, now: Date) async throws -> SecondFactorVerdict {
        let code = RecoveryCodes.normalize(answer)
        for hasher in [hasher] + (previousHasher.map { [$0] } ?? []) {
            if try await store.useRecoveryCode(userID: user, digest: hasher.digest(code), now: now) { return .accepted }
        }
        return .rejected
    }
}

/// Multi-factor authentication: enrolment, confirmation, recovery codes, disabling, and the second step of a
/// login.
package struct MFAService: Sendable {
    package let store: any MFAStore & UserStore & AuditStore
    let secrets: SecretBox
    let hasher: KeyHasher
    let clock: WallClock
    /// The name authenticator apps show for the account (`issuer` of the otpauth URI).
    let issuerName: String
    let totp: TOTPFactor
    let recovery: RecoveryCodeFactor
    /// Wrong codes count toward the account's lock, wherever they are sent (login, confirm, regenerate, disable).
    let lockout: LockoutPolicy

    package init(
        store: any MFAStore & UserStore & AuditStore,
        secrets: SecretBox,
        hasher: KeyHasher,
        clock: WallClock,
        issuerName: String,
        lockout: LockoutPolicy = LockoutPolicy(),
        previousHasher: KeyHasher? = nil
    ) {
        self.store = store
        self.lockout = lockout
        self.secrets = secrets
        self.hasher = hasher
        self.clock = clock
        self.issuerName = issuerName
        totp = TOTPFactor(store: store, secrets: secrets)
        recovery = RecoveryCodeFactor(store: store, hasher: hasher, previousHasher: previousHasher)
    }

    /// The factors a login may finish with, by method name.
    package var factors: [String: any SecondFactor] { [totp.method: totp, recovery.method: recovery] }
    /// `methods` of an `MFA_REQUIRED` answer, in DESIGN.md's order.
    package var methods: JSONValue { .array([totp.method, recovery.method].map(JSONValue.string)) }

    // MARK: Enrolment

    package struct Enrolment: Sendable {
        package var secret: String
        package var uri: String
    }

    /// `POST /users/me/mfa/totp`: a new pending TOTP secret (160 bits) for the caller's authenticator app.
    package func enrolTOTP(_ user: UserRecord, origin: RequestOrigin) async throws -> Enrolment {
        let secret = newTOTPSecret()
        let now = clock.now
        let factor = MFAFactorRecord(
            userID: user.id,
            kind: .totp,
            sealedSecret: try secrets.seal(secret, context: MFAFactorRecord.context(kind: .totp, userID: user.id)),
            createdAt: now
        )
        try await store.savePendingFactor(
            factor,
            audit: [
                AuditEvent(
                    time: now,
                    actor: .user(user.id),
                    action: AuditAction.mfaEnrolmentStarted,
                    targetType: "user",
                    targetID: user.id.lowercased,
                    origin: origin,
                    details: ["method": "totp"]
                )
            ]
        )
        return Enrolment(secret: Base32.encode(secret), uri: TOTP(secret: secret).uri(issuer: issuerName, account: user.username))
    }

    /// `POST /users/me/mfa/totp/confirm`: the first code proves the app has the secret; MFA is on, and the
    /// recovery codes are shown, this once. The confirming code counts as used.
    package func confirmTOTP(_ user: UserRecord, code: String, origin: RequestOrigin) async throws -> [String] {
        guard let factor = try await store.mfaFactor(userID: user.id, kind: .totp) else {
            throw DomainError(.conflict, "no TOTP enrolment is pending: start one with POST /api/v1/users/me/mfa/totp")
        }
        guard factor.confirmedAt == nil else { throw DomainError(.conflict, "TOTP is already enabled") }
        let secret = try secrets.open(factor.sealedSecret, context: MFAFactorRecord.context(kind: .totp, userID: user.id))
        let now = clock.now
        try requireUnlocked(user, now: now)
        guard let step = TOTP(secret: secret).accept(code.filter { $0 != " " }, at: Int64(now.timeIntervalSince1970), lastUsed: nil)
        else { throw try await refuse(user, method: "totp", during: "confirm", verdict: .rejected, origin: origin, now: now) }
        let codes = RecoveryCodes.generate()
        let confirmed = try await store.confirmFactor(
            userID: user.id,
            kind: .totp,
            step: step,
            now: now,
            recoveryDigests: codes.map { hasher.digest(RecoveryCodes.normalize($0)) },
            audit: [
                AuditEvent(
                    time: now,
                    actor: .user(user.id),
                    action: AuditAction.mfaEnabled,
                    targetType: "user",
                    targetID: user.id.lowercased,
                    origin: origin,
                    details: ["method": "totp"]
                )
            ]
        )
        guard confirmed else { throw DomainError(.conflict, "the enrolment was confirmed or replaced meanwhile") }
        return codes
    }

    /// `POST /users/me/mfa/recovery-codes`: a new set (the old one dies), for a current TOTP code.
    package func regenerateRecoveryCodes(_ user: UserRecord, code: String, origin: RequestOrigin) async throws -> [String] {
        let now = clock.now
        try requireUnlocked(user, now: now)
        guard user.mfaEnabled else { throw Self.invalid }
        let verdict = try await totp.verify(code, user: user.id, now: now)
        guard verdict == .accepted else {
            throw try await refuse(user, method: "totp", during: "regenerate", verdict: verdict, origin: origin, now: now)
        }
        let codes = RecoveryCodes.generate()
        try await store.replaceRecoveryCodes(
            userID: user.id,
            digests: codes.map { hasher.digest(RecoveryCodes.normalize($0)) },
            audit: [
                AuditEvent(
                    time: clock.now,
                    actor: .user(user.id),
                    action: AuditAction.mfaRecoveryCodesRegenerated,
                    targetType: "user",
                    targetID: user.id.lowercased,
                    origin: origin
                )
            ]
        )
        return codes
    }

    /// `DELETE /users/me/mfa/totp`: needs a current TOTP code (or a recovery code: a lost phone).
    package func disable(_ user: UserRecord, code: String?, recoveryCode: String?, origin: RequestOrigin) async throws {
        let now = clock.now
        try requireUnlocked(user, now: now)
        guard user.mfaEnabled else { throw Self.invalid }
        let (factor, answer): (any SecondFactor, String) = if let code { (totp, code) } else { (recovery, recoveryCode ?? "") }
        let verdict = try await factor.verify(answer, user: user.id, now: now)
        guard verdict == .accepted else {
            throw try await refuse(user, method: factor.method, during: "disable", verdict: verdict, origin: origin, now: now)
        }
        try await store.removeFactors(
            userID: user.id,
            audit: [
                AuditEvent(
                    time: now,
                    actor: .user(user.id),
                    action: AuditAction.mfaDisabled,
                    targetType: "user",
                    targetID: user.id.lowercased,
                    origin: origin,
                    details: ["by": code != nil ? "totp" : "recovery_code"]
                )
            ]
        )
    }

    /// An administrator's reset (the user lost every factor): audited as such.
    package func reset(userID: UUID, by principal: Principal, origin: RequestOrigin) async throws {
        guard let user = try await store.user(id: userID) else { throw DomainError.userNotFound(userID.lowercased) }
        // Nothing to reset (no factor, not even a pending one): nothing changes, nothing is audited.
        let pending = try await store.mfaFactor(userID: userID, kind: .totp)
        guard user.mfaEnabled || pending != nil else { return }
        try await store.removeFactors(
            userID: userID,
            audit: [
                AuditEvent(
                    time: clock.now,
                    actor: principal.auditActor,
                    action: AuditAction.mfaReset,
                    targetType: "user",
                    targetID: userID.lowercased,
                    origin: origin
                )
            ]
        )
    }

    // MARK: Failures

    /// While the account is locked no code is even looked at: the lock stops guessing through these routes too.
    func requireUnlocked(_ user: UserRecord, now: Date) throws(APIError) {
        guard !user.lockout.isLocked(at: now) else { throw Self.invalid }
    }

    /// A wrong (or replayed) code: counted toward the account's lock and audited; returns the error to throw.
    package func refuse(
        _ user: UserRecord,
        method: String,
        during: String,
        verdict: SecondFactorVerdict,
        origin: RequestOrigin,
        now: Date
    )
        async throws -> APIError
    {
        let policy = lockout
        _ = try await store.updateUser(
            id: user.id,
            now: now,
            { user in
                user.lockout = policy.failed(user.lockout, at: now).state
            },
            audit: { change in
                var events = [
                    AuditEvent(
                        time: now,
                        actor: .user(user.id),
                        action: AuditAction.mfaFailed,
                        targetType: "user",
                        targetID: user.id.lowercased,
                        outcome: .failure,
                        origin: origin,
                        details: ["method": .string(method), "during": .string(during), "replay": .bool(verdict == .replayed)]
                    )
                ]
                if let locked = UserService.lockEvent(change, origin: origin, now: now) { events.append(locked) }
                return events
            }
        )
        return Self.invalid
    }

    static var invalid: APIError { .unauthorized(.mfaInvalid, "the code is not valid (wrong, expired or already used)") }

    // MARK: Login

    /// A second step for `user`: the `mfa_token` (single use, five minutes), stored as an HMAC.
    /// For a step-up, `stepUpSession` is the session to replace with one that has the second factor.
    package func challenge(for user: UserRecord, origin: RequestOrigin, stepUpSession: UUID? = nil) async throws -> String {
        let token = "\(Self.tokenPrefix)\(Base64URL.encode((0..<32).map { _ in UInt8.random(in: .min ... .max) }))"
        let now = clock.now
        try await store.insertChallenge(
            MFAChallengeRecord(
                digest: hasher.digest(token),
                userID: user.id,
                createdAt: now,
                expiresAt: now.addingTimeInterval(MFAChallengeRecord.lifetime),
                ip: origin.clientIP,
                userAgent: origin.userAgent,
                sessionID: stepUpSession
            )
        )
        return token
    }

    static let tokenPrefix = "mfa_"
}
