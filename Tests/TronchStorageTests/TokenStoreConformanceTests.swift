import Foundation
import Testing
import TronchCore
import TronchStorage

/// Signing keys, sessions, refresh tokens and the denylist, on every backend.
@Suite struct TokenStoreConformanceTests {
    static let base = Fixtures.base

    static func signingKey(_ kid: String, state: SigningKeyRecord.State = .active, at offset: TimeInterval = 0) -> SigningKeyRecord {
        SigningKeyRecord(
            kid: kid,
            algorithm: .es256,
            state: state,
            sealedPrivateKey: "v1.k.\(kid)",
            publicJWK: #"{"kid":"\#(kid)"}"#,
            createdAt: base.addingTimeInterval(offset)
        )
    }

    static func session(user: UUID, at offset: TimeInterval = 0, ip: String? = "10.0.0.1", agent: String? = "curl") -> SessionRecord {
        let created = base.addingTimeInterval(offset)
        return SessionRecord(
            id: UUIDv7.make(at: created),
            userID: user,
            createdAt: created,
            expiresAt: created.addingTimeInterval(30 * 86_400),
            ip: ip,
            userAgent: agent,
            amr: ["pwd"]
        )
    }

    static func refreshToken(for session: SessionRecord, at offset: TimeInterval = 0) -> (String, RefreshTokenRecord) {
        let secret = RefreshTokenFormat.generate(prefix: "tronch")
        let created = base.addingTimeInterval(offset)
        return (
            secret,
            RefreshTokenRecord(
                digest: Fixtures.hasher.digest(secret),
                sessionID: session.id,
                createdAt: created,
                expiresAt: session.expiresAt
            )
        )
    }

    @Test(arguments: StoreBackend.allCases)
    func oneActiveSigningKeyRotatesAndRetires(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            // Nodes starting together: exactly one first key wins.
            let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<4 { group.addTask { try await store.insertFirstSigningKey(Self.signingKey("k\(index)"), audit: []) } }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.filter { $0 }.count == 1)
            let first = try #require(try await store.signingKeys().first)
            #expect(try await store.signingKeys() == [first])

            let rotatedAt = Self.base.addingTimeInterval(60)
            try await store.rotateSigningKey(
                to: Self.signingKey("k-new", at: 60),
                now: rotatedAt,
                audit: [AuditEvent(time: rotatedAt, actor: .system, action: "signing_key.rotated")]
            )
            let keys = try await store.signingKeys()
            #expect(keys.map(\.kid) == [first.kid, "k-new"])
            #expect(keys[0].state == .passive && keys[0].deactivatedAt == rotatedAt)
            #expect(keys[1].state == .active)

            #expect(
                try await store.retireSigningKeys(
                    deactivatedBefore: rotatedAt.addingTimeInterval(-1),
                    now: rotatedAt,
                    audit: { _ in
                        AuditEvent(time: rotatedAt, actor: .system, action: "signing_key.retired")
                    }
                ).isEmpty
            )
            let retired = try await store.retireSigningKeys(
                deactivatedBefore: rotatedAt,
                now: rotatedAt.addingTimeInterval(10),
                audit: { key in
                    AuditEvent(time: rotatedAt, actor: .system, action: "signing_key.retired", targetID: key.kid)
                }
            )
            #expect(retired.map(\.kid) == [first.kid])
            #expect(try await store.signingKeys().map(\.state) == [.retired, .active])
            #expect(try await store.auditEntries(matching: AuditQuery()).entries.count == 2)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func sessionsRoundTripAndListLiveOnesNewestFirst(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let alice = UUID()
            let bob = UUID()
            let sessions = [
                Self.session(user: alice, at: 1), Self.session(user: alice, at: 2, ip: nil, agent: nil),
                Self.session(user: bob, at: 3), Self.session(user: alice, at: 4),
            ]
            for session in sessions { try await store.insertSession(session, refreshToken: Self.refreshToken(for: session).1, audit: []) }
            #expect(try await store.session(id: sessions[1].id) == sessions[1])
            let now = Self.base.addingTimeInterval(10)
            #expect(
                try await store.sessions(userID: alice, liveAt: now, limit: 10, after: nil).sessions.map(\.id) == [
                    sessions[3].id, sessions[1].id, sessions[0].id,
                ]
            )
            let page = try await store.sessions(userID: nil, liveAt: now, limit: 2, after: nil)
            #expect(page.sessions.map(\.id) == [sessions[3].id, sessions[2].id])
            #expect(
                try await store.sessions(userID: nil, liveAt: now, limit: 2, after: page.nextCursor).sessions.map(\.id) == [
                    sessions[1].id, sessions[0].id,
                ]
            )

            // Ending every session of a user but one puts their ids on the denylist until the given time.
            let until = now.addingTimeInterval(600)
            let ended = try await store.endSessions(
                ids: [],
                userID: alice,
                except: sessions[3].id,
                reason: "password_changed",
                now: now,
                denyUntil: until,
                audit: { _ in [] }
            )
            #expect(Set(ended.map(\.id)) == [sessions[0].id, sessions[1].id])
            #expect(ended.allSatisfy { $0.revokedAt == now && $0.revokedReason == "password_changed" })
            #expect(try await store.sessions(userID: alice, liveAt: now, limit: 10, after: nil).sessions.map(\.id) == [sessions[3].id])
            #expect(Set(try await store.denylist(activeAt: now).map(\.value)) == Set(ended.map { $0.id.lowercased }))
            #expect(try await store.denylist(activeAt: until).isEmpty, "an entry ends when the tokens it covers have")
            // Ending an ended session changes nothing.
            #expect(
                try await store.endSessions(
                    ids: [sessions[0].id],
                    userID: nil,
                    except: nil,
                    reason: "logout",
                    now: now,
                    denyUntil: until,
                    audit: { _ in [] }
                ).isEmpty
            )
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func refreshRotatesAndAReplayKillsTheFamily(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let session = Self.session(user: UUID())
            let (secret, first) = Self.refreshToken(for: session)
            try await store.insertSession(session, refreshToken: first, audit: [])
            let now = Self.base.addingTimeInterval(5)
            let denyUntil = now.addingTimeInterval(600)
            func exchange(_ digest: KeyDigest, next: RefreshTokenRecord) async throws -> RefreshOutcome {
                try await store.exchangeRefreshToken(
                    digest: digest,
                    now: now,
                    denyUntil: denyUntil,
                    decide: { token, session in
                        RefreshDecision.decide(
                            token: token,
                            session: session,
                            now: now,
                            idleTimeout: 86_400,
                            checkAnomaly: true,
                            ip: "10.0.0.1",
                            userAgent: "curl",
                            next: { next }
                        )
                    },
                    audit: { outcome in [AuditEvent(time: now, actor: .system, action: "test.\(outcome.decision)")] }
                )
            }
            let (secondSecret, second) = Self.refreshToken(for: session, at: 5)
            let rotated = try await exchange(first.digest, next: second)
            #expect(rotated.decision == .rotate(next: second))
            #expect(rotated.session?.lastSeenAt == now)
            #expect(try await store.refreshToken(digest: first.digest)?.token.usedAt == now)
            #expect(try await store.refreshToken(digest: Fixtures.hasher.digest(secondSecret))?.session.id == session.id)

            // The first token again: reuse. The session ends and goes on the denylist.
            let replay = try await exchange(Fixtures.hasher.digest(secret), next: Self.refreshToken(for: session).1)
            guard case .reused = replay.decision else {
                Issue.record("expected reuse, got \(replay.decision)")
                return
            }
            #expect(replay.session?.revokedReason == "refresh_reuse")
            #expect(try await store.denylist(activeAt: now).map(\.value) == [session.id.lowercased])
            // The family's live token is dead too: its session has ended.
            let afterReuse = try await exchange(second.digest, next: Self.refreshToken(for: session).1)
            guard case .sessionEnded = afterReuse.decision else {
                Issue.record("expected an ended session")
                return
            }
            #expect(try await exchange(Fixtures.hasher.digest("unknown"), next: second).decision == .invalid)
            #expect(try await store.auditEntries(matching: AuditQuery()).entries.count == 4)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func concurrentExchangesOfOneTokenRotateOnce(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let session = Self.session(user: UUID())
            let first = Self.refreshToken(for: session).1
            try await store.insertSession(session, refreshToken: first, audit: [])
            let now = Self.base.addingTimeInterval(5)
            let decisions = try await withThrowingTaskGroup(of: RefreshDecision.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let next = Self.refreshToken(for: session, at: 5).1
                        return try await store.exchangeRefreshToken(
                            digest: first.digest,
                            now: now,
                            denyUntil: now,
                            decide: { token, session in
                                RefreshDecision.decide(
                                    token: token,
                                    session: session,
                                    now: now,
                                    idleTimeout: 86_400,
                                    checkAnomaly: false,
                                    ip: nil,
                                    userAgent: nil,
                                    next: { next }
                                )
                            },
                            audit: { _ in [] }
                        ).decision
                    }
                }
                return try await group.reduce(into: [RefreshDecision]()) { $0.append($1) }
            }
            #expect(decisions.filter { if case .rotate = $0 { true } else { false } }.count == 1)
            #expect(decisions.contains { if case .reused = $0 { true } else { false } })
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func disablingOrDeletingAUserEndsTheirSessions(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let alice = UserStoreConformanceTests.user("alice")
            let bob = UserStoreConformanceTests.user("bob")
            try await store.insertUser(alice, audit: [])
            try await store.insertUser(bob, audit: [])
            let aliceSession = Self.session(user: alice.id)
            let bobSession = Self.session(user: bob.id)
            try await store.insertSession(aliceSession, refreshToken: Self.refreshToken(for: aliceSession).1, audit: [])
            try await store.insertSession(bobSession, refreshToken: Self.refreshToken(for: bobSession).1, audit: [])
            let now = Self.base.addingTimeInterval(10)
            let until = now.addingTimeInterval(600)
            let changed = try await store.updateUser(
                id: alice.id,
                now: now,
                sessions: SessionEnding(denyUntil: until),
                { $0.status = .disabled },
                audit: { _ in [] }
            )
            #expect(changed.endedSessions.map(\.id) == [aliceSession.id])
            #expect(changed.endedSessions.first?.revokedReason == "user_disabled")
            let deleted = try await store.deleteUser(id: bob.id, now: now, denyUntil: until, audit: { _ in [] })
            #expect(deleted.endedSessions.map(\.id) == [bobSession.id])
            #expect(Set(try await store.denylist(activeAt: now).map(\.value)) == [aliceSession.id.lowercased, bobSession.id.lowercased])
            // A password change ends the other sessions only.
            let carol = UserStoreConformanceTests.user("carol")
            try await store.insertUser(carol, audit: [])
            let keep = Self.session(user: carol.id, at: 1)
            let drop = Self.session(user: carol.id, at: 2)
            for session in [keep, drop] { try await store.insertSession(session, refreshToken: Self.refreshToken(for: session).1, audit: []) }
            let changedPassword = try await store.updateUser(
                id: carol.id,
                now: now,
                sessions: SessionEnding(denyUntil: until, all: ("password_changed", keep.id)),
                { $0.passwordHash = "new" },
                audit: { _ in [] }
            )
            #expect(changedPassword.endedSessions.map(\.id) == [drop.id])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func pruningDropsOnlyWhatCanNoLongerMatter(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let session = Self.session(user: UUID())
            let token = Self.refreshToken(for: session).1
            try await store.insertSession(session, refreshToken: token, audit: [])
            try await store.deny([DenylistEntry(kind: .jti, value: "j1", expiresAt: Self.base.addingTimeInterval(60))], audit: [])
            #expect(try await store.pruneTokens(now: Self.base.addingTimeInterval(30), keepEnded: 86_400) == 0)
            #expect(try await store.pruneTokens(now: Self.base.addingTimeInterval(61), keepEnded: 86_400) == 1)
            #expect(try await store.denylist(activeAt: Self.base).isEmpty)
            // Past the session's end (and the grace kept for the record), the token and the session go.
            let later = session.expiresAt.addingTimeInterval(86_401)
            #expect(try await store.pruneTokens(now: later, keepEnded: 86_400) == 2)
            #expect(try await store.session(id: session.id) == nil)
        }
    }
}
