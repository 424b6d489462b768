package import Foundation
package import TronchCore

/// Second factors, recovery codes and login challenges. Every backend passes the same conformance suite;
/// each method is one transaction.
package protocol MFAStore: Sendable {
    func mfaFactor(userID: UUID, kind: MFAFactorKind) async throws -> MFAFactorRecord?

    /// Stores a pending factor, replacing a pending one of the same kind; `.conflict` when a confirmed one exists.
    func savePendingFactor(_ factor: MFAFactorRecord, audit: [AuditEvent]) async throws

    /// Confirms a pending factor (its first code used at `step`), turns MFA on for the user and replaces
    /// their recovery codes with `recoveryDigests`, in one transaction. False when there was nothing pending.
    func confirmFactor(
        userID: UUID,
        kind: MFAFactorKind,
        step: Int64,
        now: Date,
        recoveryDigests: [KeyDigest],
        audit: [AuditEvent]
    )
        async throws -> Bool

    /// Records `step` as used when it is later than the last one: false for a replay (on any node).
    func useStep(userID: UUID, kind: MFAFactorKind, step: Int64) async throws -> Bool

    /// Replaces the user's recovery codes (the old set dies).
    func replaceRecoveryCodes(userID: UUID, digests: [KeyDigest], audit: [AuditEvent]) async throws

    /// Marks an unused recovery code used: false when there is no such unused code.
    func useRecoveryCode(userID: UUID, digest: KeyDigest, now: Date) async throws -> Bool

    /// How many unused recovery codes the user has.
    func unusedRecoveryCodes(userID: UUID) async throws -> Int

    /// Removes every factor and recovery code of the user and turns MFA off, with `audit`.
    func removeFactors(userID: UUID, audit: [AuditEvent]) async throws

    func insertChallenge(_ challenge: MFAChallengeRecord) async throws
    func challenge(digest: KeyDigest) async throws -> MFAChallengeRecord?
    /// Counts a wrong code; deletes the challenge when it reaches `MFAChallengeRecord.maxFailures`. Returns the count.
    func failChallenge(digest: KeyDigest) async throws -> Int
    func deleteChallenge(digest: KeyDigest) async throws
    /// Deletes challenges that expired before `now`.
    func pruneChallenges(now: Date) async throws -> Int

    /// Every sealed secret (factors, token signing keys, kept answers, keys' request-signing secrets), for
    /// re-encryption under a new secrets key.
    func sealedSecrets() async throws -> [SealedSecret]
    /// Writes re-sealed secrets back and records `setting` (the id of the key that sealed them), all in one
    /// transaction. A secret that changed since it was read (a new enrolment) is left alone; returns how many
    /// were replaced.
    func replaceSealedSecrets(
        _ changes: [SealedSecret.Change],
        setting: (name: String, value: String),
        audit: [AuditEvent]
    )
        async throws -> Int
}

/// A secret sealed at rest, wherever it lives.
package struct SealedSecret: Sendable, Hashable {
    package enum Location: Sendable, Hashable {
        case signingKey(kid: String)
        case factor(userID: UUID, kind: MFAFactorKind)
        /// An answer kept for `Idempotency-Key` replays (it may hold a new key's secret).
        case idempotentAnswer(caller: String, key: String)
        /// A key's request-signing secret.
        case keySigningSecret(keyID: UUID)
    }

    package var location: Location
    package var sealed: String

    package init(location: Location, sealed: String) {
        self.location = location
        self.sealed = sealed
    }

    /// One secret sealed again: `from` is what was read, `to` replaces it.
    package struct Change: Sendable, Hashable {
        package var location: Location
        package var from: String
        package var to: String

        package init(location: Location, from: String, to: String) {
            self.location = location
            self.from = from
            self.to = to
        }
    }

    /// The associated data it is sealed with.
    package var context: String {
        switch location {
        case .signingKey(let kid): "signing-key:\(kid)"
        case .factor(let user, let kind): MFAFactorRecord.context(kind: kind, userID: user)
        case .idempotentAnswer(let caller, let key): Self.idempotentAnswerContext(caller: caller, key: key)
        case .keySigningSecret(let id): Self.keySigningSecretContext(id)
        }
    }

    /// A signing secret is bound to its key: copied to another key's row, it does not open.
    package static func keySigningSecretContext(_ id: UUID) -> String { "api_keys.signing_secret:" + id.uuidString.lowercased() }

    /// An answer is bound to its caller and key: moved to another row, it does not open.
    package static func idempotentAnswerContext(caller: String, key: String) -> String { "idempotency:\(caller):\(key)" }
}
