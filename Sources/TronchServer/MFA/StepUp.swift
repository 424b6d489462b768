package import TronchCore
import TronchStorage

/// Step-up: a few actions (making an administrator, a key with the scope `admin`, resetting another person's
/// second factor) need more than a password from a person. Their access token must name a second factor in
/// `amr`; a person who has one is asked for it (401 `MFA_REQUIRED` with an `mfa_token` bound to the session),
/// one who has none must enrol first (403 `MFA_ENROLLMENT_REQUIRED`). Keys are not asked: they are not people.
/// `TRONCH_MFA_STEP_UP=false` turns it off.
package struct StepUp: Sendable {
    let enabled: Bool
    let mfa: MFAService

    package func require(_ principal: Principal, for action: String, origin: RequestOrigin) async throws {
        guard enabled, principal.keyID == nil, let person = principal.user, let session = principal.sessionID else { return }
        let secondFactors = Set(mfa.factors.values.map(\.amr))
        guard !principal.amr.contains(where: secondFactors.contains) else { return }
        guard let user = try await mfa.store.user(id: person.id), user.mfaEnabled else {
            throw APIError(
                .mfaEnrollmentRequired,
                "\(action) needs a second factor: enrol one with POST /api/v1/users/me/mfa/totp and confirm it, then repeat the request"
            )
        }
        let token = try await mfa.challenge(for: user, origin: origin, stepUpSession: session)
        try await mfa.store.appendAudit([
            AuditEvent(
                time: mfa.clock.now,
                actor: .user(user.id),
                action: AuditAction.mfaChallenged,
                targetType: "session",
                targetID: session.lowercased,
                origin: origin,
                details: ["step_up": .string(action)]
            )
        ])
        var error = APIError.unauthorized(
            .mfaRequired,
            "\(action) needs a second factor: send a code with this mfa_token to POST /api/v1/auth/mfa, then repeat the request with the new access token"
        )
        error.members = ["mfa_token": .string(token), "methods": mfa.methods]
        throw error
    }
}

extension UserService {
    package var stepUp: StepUp { StepUp(enabled: settings.mfaStepUp, mfa: mfa) }
}
