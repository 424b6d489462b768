import Foundation
import Testing
import TronchCore
import TronchStorage

/// Second factors, recovery codes and login challenges, on every backend.
@Suite struct MFAStoreConformanceTests {
    static let base = Fixtures.base

    @Test(arguments: StoreBackend.allCases)
    func aFactorIsPendingThenConfirmedOnceAndItsStepsAreUsedOnce(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let user = UserStoreConformanceTests.user("mfa")
            try await store.insertUser(user, audit: [])
            let pending = MFAFactorRecord(userID: user.id, kind: .totp, sealedSecret: "v1.k.first", createdAt: Self.base)
            try await store.savePendingFactor(pending, audit: [])
            var replacement = pending
            replacement.sealedSecret = "v1.k.second"
            try await store.savePendingFactor(replacement, audit: [])
            #expect(try await store.mfaFactor(userID: user.id, kind: .totp) == replacement, "a new enrolment replaces a pending one")

            let codes = (0..<10).map { Fixtures.hasher.digest("code-\($0)") }
            #expect(try await store.confirmFactor(userID: user.id, kind: .totp, step: 100, now: Self.base, recoveryDigests: codes, audit: []))
            #expect(try await !store.confirmFactor(userID: user.id, kind: .totp, step: 101, now: Self.base, recoveryDigests: codes, audit: []))
            #expect(try await store.user(id: user.id)?.mfaEnabled == true)
            #expect(try await store.mfaFactor(userID: user.id, kind: .totp)?.confirmedAt == Self.base)
            await #expect(throws: DomainError.self, "no new enrolment over an enabled factor") {
                try await store.savePendingFactor(pending, audit: [])
            }

            #expect(try await !store.useStep(userID: user.id, kind: .totp, step: 100), "the confirming step is used")
            #expect(try await store.useStep(userID: user.id, kind: .totp, step: 102))
            #expect(try await !store.useStep(userID: user.id, kind: .totp, step: 101), "no going back")
            let concurrent = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<4 { group.addTask { try await store.useStep(userID: user.id, kind: .totp, step: 103) } }
                return try await group.reduce(into: 0) { $0 += $1 ? 1 : 0 }
            }
            #expect(concurrent == 1, "one code, accepted once, however many nodes see it")

            #expect(try await store.unusedRecoveryCodes(userID: user.id) == 10)
            #expect(try await store.useRecoveryCode(userID: user.id, digest: codes[3], now: Self.base))
            #expect(try await !store.useRecoveryCode(userID: user.id, digest: codes[3], now: Self.base))
            #expect(try await store.unusedRecoveryCodes(userID: user.id) == 9)
            try await store.replaceRecoveryCodes(userID: user.id, digests: [Fixtures.hasher.digest("new")], audit: [])
            #expect(try await !store.useRecoveryCode(userID: user.id, digest: codes[4], now: Self.base), "the old set died")

            try await store.removeFactors(userID: user.id, audit: [AuditEvent(time: Self.base, actor: .system, action: "mfa.disabled")])
            #expect(try await store.mfaFactor(userID: user.id, kind: .totp) == nil)
            #expect(try await store.user(id: user.id)?.mfaEnabled == false)
            #expect(try await store.unusedRecoveryCodes(userID: user.id) == 0)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func challengesDieAtTheFifthFailureOrWhenExpired(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let challenge = MFAChallengeRecord(
                digest: Fixtures.hasher.digest("mfa_token"),
                userID: UUID(),
                createdAt: Self.base,
                expiresAt: Self.base.addingTimeInterval(300),
                ip: "10.0.0.1",
                userAgent: "app"
            )
            try await store.insertChallenge(challenge)
            #expect(try await store.challenge(digest: challenge.digest) == challenge)
            for expected in 1...4 { #expect(try await store.failChallenge(digest: challenge.digest) == expected) }
            #expect(try await store.challenge(digest: challenge.digest)?.failures == 4)
            #expect(try await store.failChallenge(digest: challenge.digest) == 5)
            #expect(try await store.challenge(digest: challenge.digest) == nil)

            var other = challenge
            other.digest = Fixtures.hasher.digest("another")
            other.sessionID = UUID()
            try await store.insertChallenge(other)
            #expect(try await store.challenge(digest: other.digest) == other, "a step-up keeps its session")
            #expect(try await store.pruneChallenges(now: Self.base.addingTimeInterval(299)) == 0)
            #expect(try await store.pruneChallenges(now: Self.base.addingTimeInterval(300)) == 1)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func sealedSecretsAreListedAndReplacedTogether(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let user = UserStoreConformanceTests.user("sealer")
            try await store.insertUser(user, audit: [])
            try await store.savePendingFactor(
                MFAFactorRecord(userID: user.id, kind: .totp, sealedSecret: "v1.a.factor", createdAt: Self.base),
                audit: []
            )
            _ = try await store.insertFirstSigningKey(TokenStoreConformanceTests.signingKey("kid-1"), audit: [])
            let sealed = try await store.sealedSecrets()
            #expect(Set(sealed.map(\.context)) == ["signing-key:kid-1", "mfa:totp:\(user.id.lowercased)"])
            var changes = sealed.map { SealedSecret.Change(location: $0.location, from: $0.sealed, to: "v1.b.\($0.context)") }
            // One secret changed since it was read: it is left alone.
            changes.append(SealedSecret.Change(location: .signingKey(kid: "kid-1"), from: "v1.stale", to: "v1.c.x"))
            changes.append(SealedSecret.Change(location: .signingKey(kid: "kid-9"), from: "v1.a", to: "v1.c.y"))
            let replaced = try await store.replaceSealedSecrets(changes, setting: ("secrets_key_id", "b"), audit: [])
            #expect(replaced == 2)
            #expect(try await store.sealedSecrets().allSatisfy { $0.sealed.hasPrefix("v1.b.") })
            #expect(try await store.signingKeys().first?.sealedPrivateKey == "v1.b.signing-key:kid-1")
            #expect(try await store.setting("secrets_key_id") == "b")
            _ = try await store.replaceSealedSecrets([], setting: ("secrets_key_id", "c"), audit: [])
            #expect(try await store.setting("secrets_key_id") == "c")
        }
    }
}
