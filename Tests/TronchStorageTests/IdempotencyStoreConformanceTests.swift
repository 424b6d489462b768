import Foundation
import Testing
import TronchCore
import TronchStorage

/// Idempotency keys on every backend: one claim wins, answers are kept and replayed, and keys free themselves.
@Suite struct IdempotencyStoreConformanceTests {
    static let base = Fixtures.base

    static func claim(_ key: String, caller: String = "key:a", fingerprint: String = "f1", at offset: TimeInterval = 0) -> IdempotencyClaim {
        let now = base.addingTimeInterval(offset)
        return IdempotencyClaim(
            caller: caller,
            key: key,
            fingerprint: fingerprint,
            now: now,
            expiresAt: now.addingTimeInterval(86_400),
            leaseUntil: now.addingTimeInterval(60)
        )
    }

    @Test(arguments: StoreBackend.allCases)
    func aKeyIsClaimedOnceAnsweredAndReplayed(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            #expect(try await store.claimIdempotencyKey(Self.claim("k1")) == .claimed)
            #expect(try await store.claimIdempotencyKey(Self.claim("k1", at: 1)) == .inProgress)
            #expect(try await store.claimIdempotencyKey(Self.claim("k1", fingerprint: "f2", at: 1)) == .mismatch)
            #expect(try await store.claimIdempotencyKey(Self.claim("k1", caller: "user:b", at: 1)) == .claimed, "keys are per caller")

            try await store.completeIdempotencyKey(caller: "key:a", key: "k1", status: 201, sealedAnswer: "sealed-1")
            #expect(try await store.claimIdempotencyKey(Self.claim("k1", at: 2)) == .completed(status: 201, sealedAnswer: "sealed-1"))
            #expect(try await store.claimIdempotencyKey(Self.claim("k1", fingerprint: "f2", at: 2)) == .mismatch)
            try await store.releaseIdempotencyKey(caller: "key:a", key: "k1")
            #expect(
                try await store.claimIdempotencyKey(Self.claim("k1", at: 3)) == .completed(status: 201, sealedAnswer: "sealed-1"),
                "an answered key is not released"
            )
            try await store.completeIdempotencyKey(caller: "key:a", key: "k1", status: 200, sealedAnswer: "other")
            #expect(try await store.claimIdempotencyKey(Self.claim("k1", at: 4)) == .completed(status: 201, sealedAnswer: "sealed-1"), "kept once")

            // After 24 hours the key is new again, whatever it was used for.
            #expect(try await store.claimIdempotencyKey(Self.claim("k1", fingerprint: "f3", at: 86_401)) == .claimed)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aFailedOrAbandonedRequestFreesItsKey(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            #expect(try await store.claimIdempotencyKey(Self.claim("k2")) == .claimed)
            try await store.releaseIdempotencyKey(caller: "key:a", key: "k2")
            #expect(try await store.claimIdempotencyKey(Self.claim("k2", fingerprint: "f2", at: 1)) == .claimed, "released: free for any request")
            #expect(try await store.claimIdempotencyKey(Self.claim("k2", fingerprint: "f2", at: 30)) == .inProgress)
            #expect(try await store.claimIdempotencyKey(Self.claim("k2", fingerprint: "f2", at: 62)) == .claimed, "the lease ran out")

            let racers = try await withThrowingTaskGroup(of: IdempotencyClaim.Outcome.self) { group in
                for _ in 0..<6 { group.addTask { try await store.claimIdempotencyKey(Self.claim("k3")) } }
                return try await group.reduce(into: [IdempotencyClaim.Outcome]()) { $0.append($1) }
            }
            #expect(racers.filter { $0 == .claimed }.count == 1, "one winner however many nodes race")
            #expect(racers.filter { $0 == .inProgress }.count == 5)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func answersArePrunedAndResealed(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            #expect(try await store.claimIdempotencyKey(Self.claim("old")) == .claimed)
            try await store.completeIdempotencyKey(caller: "key:a", key: "old", status: 201, sealedAnswer: "sealed-old")
            #expect(try await store.claimIdempotencyKey(Self.claim("new", at: 3600)) == .claimed)
            try await store.completeIdempotencyKey(caller: "key:a", key: "new", status: 200, sealedAnswer: "sealed-new")
            #expect(try await store.claimIdempotencyKey(Self.claim("running", at: 3600)) == .claimed)

            let sealed = try await store.sealedSecrets().filter {
                if case .idempotentAnswer = $0.location { true } else { false }
            }
            #expect(Set(sealed.map(\.sealed)) == ["sealed-old", "sealed-new"], "answers are sealed secrets; a running request has none")
            let change = SealedSecret.Change(location: .idempotentAnswer(caller: "key:a", key: "new"), from: "sealed-new", to: "resealed")
            #expect(try await store.replaceSealedSecrets([change], setting: (name: "secrets_key_id", value: "k2"), audit: []) == 1)
            #expect(try await store.claimIdempotencyKey(Self.claim("new", at: 3601)) == .completed(status: 200, sealedAnswer: "resealed"))

            #expect(try await store.pruneIdempotencyKeys(now: Self.base.addingTimeInterval(86_400 + 1)) == 1)
            #expect(try await store.claimIdempotencyKey(Self.claim("new", at: 3602)) == .completed(status: 200, sealedAnswer: "resealed"))
            #expect(try await store.pruneIdempotencyKeys(now: Self.base.addingTimeInterval(2 * 86_400)) == 2)
        }
    }
}
