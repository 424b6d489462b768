import Foundation
import Testing
import TronchCore
import TronchStorage

/// The user storage contract, on every backend.
@Suite struct UserStoreConformanceTests {
    static func user(
        _ username: String,
        email: String? = nil,
        role: Role = .member,
        at offset: Int64 = 0,
        _ change: (inout UserRecord) -> Void = { _ in }
    ) -> UserRecord {
        let created = Timestamp.date(milliseconds: Timestamp.milliseconds(Fixtures.base) + offset)
        var user = UserRecord(
            id: UUIDv7.make(at: created),
            username: username,
            email: try! EmailAddress.parse(email ?? "\(username)@example.com").get(),
            role: role,
            createdAt: created
        )
        change(&user)
        return user
    }

    @Test(arguments: StoreBackend.allCases)
    func usersRoundTripExactlyAndAreFoundByNameAndAddress(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let full = Self.user("jo.smith", email: "Jo.Smith@Example.com", role: .admin) { user in
                user.displayName = "Jo Smith – “ops” 🔐"
                user.passwordHash = "$scrypt$ln=15,r=8,p=3$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
                user.lockout = LockoutState(failures: 2, lockouts: 1, lockedUntil: Fixtures.base.addingTimeInterval(60))
                user.mfaEnabled = true
                user.lastLoginAt = Fixtures.base.addingTimeInterval(5)
                user.status = .disabled
            }
            try await store.insertUser(full, audit: [])
            let minimal = Self.user("min")
            try await store.insertUser(minimal, audit: [])
            #expect(try await store.user(id: full.id) == full)
            #expect(try await store.user(id: minimal.id) == minimal)
            #expect(try await store.user(username: "jo.smith") == full)
            #expect(try await store.user(emailKey: "jo.smith@example.com") == full)
            #expect(try await store.user(username: "nobody") == nil)
            #expect(try await store.user(id: UUID()) == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func usernamesAndAddressesAreUnique(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let first = Self.user("alice", email: "alice@example.com")
            try await store.insertUser(first, audit: [])
            for (duplicate, field) in [
                (Self.user("alice", email: "other@example.com"), "username"),
                (Self.user("alice2", email: "ALICE@example.com"), "email"),
            ] {
                do {
                    try await store.insertUser(duplicate, audit: [AuditEvent(time: Fixtures.base, actor: .system, action: "user.created")])
                    Issue.record("a duplicate \(field) was stored")
                } catch let error as DomainError {
                    #expect(error.code == .conflict)
                    #expect(error.errors.first?.field == field)
                }
            }
            // Nothing of a refused insert remains, its audit entry included.
            #expect(try await store.users(matching: UserQuery()).users.count == 1)
            #expect(try await store.auditEntries(matching: AuditQuery()).entries.isEmpty)
            // An update that takes another user's address is refused and changes nothing.
            let second = Self.user("bob")
            try await store.insertUser(second, audit: [])
            await #expect(throws: DomainError.self) {
                _ = try await store.updateUser(id: second.id, now: Fixtures.base, { $0.email = first.email }, audit: { _ in [] })
            }
            #expect(try await store.user(id: second.id) == second)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func listsFilterSearchAndPageNewestFirst(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let users = [
                Self.user("ann", role: .admin, at: 1),
                Self.user("ben", role: .member, at: 2) { $0.displayName = "Benedikt Ölmann" },
                Self.user("cat", email: "cat@Zoo.example", role: .viewer, at: 3),
                Self.user("dan", role: .member, at: 4) { $0.status = .disabled },
                Self.user("eve", role: .member, at: 5),
            ]
            for user in users { try await store.insertUser(user, audit: []) }
            func names(_ query: UserQuery) async throws -> [String] { try await store.users(matching: query).users.map(\.username) }
            #expect(try await names(UserQuery()) == ["eve", "dan", "cat", "ben", "ann"])
            #expect(try await names(UserQuery(role: .member)) == ["eve", "dan", "ben"])
            #expect(try await names(UserQuery(status: .disabled)) == ["dan"])
            #expect(try await names(UserQuery(role: .member, status: .active)) == ["eve", "ben"])
            #expect(try await names(UserQuery(search: "ÖLM")) == ["ben"], "case-insensitive, beyond ASCII")
            #expect(try await names(UserQuery(search: "zoo.example")) == ["cat"])
            #expect(try await names(UserQuery(search: "%")) == [], "no wildcards")
            var seen = [String]()
            var query = UserQuery(limit: 2)
            while true {
                let page = try await store.users(matching: query)
                seen += page.users.map(\.username)
                guard let next = page.nextCursor else { break }
                query.after = next
            }
            #expect(seen == ["eve", "dan", "cat", "ben", "ann"])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func disablingOrDeletingAUserRevokesTheirKeysInTheSameTransaction(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let alice = Self.user("alice")
            let bob = Self.user("bob")
            try await store.insertUser(alice, audit: [])
            try await store.insertUser(bob, audit: [])
            let aliceKeys = [Fixtures.record(owner: alice.reference), Fixtures.record(owner: alice.reference)]
            let alreadyRevoked = Fixtures.record(owner: alice.reference) {
                $0.status = .revoked
                $0.revokedAt = Fixtures.base
            }
            let bobKey = Fixtures.record(owner: bob.reference)
            for key in aliceKeys + [alreadyRevoked, bobKey] { try await store.insert(key) }

            let now = Fixtures.base.addingTimeInterval(100)
            let renamed = try await store.updateUser(id: alice.id, now: now, { $0.displayName = "Alice" }, audit: { _ in [] })
            #expect(renamed.revokedKeys.isEmpty, "an active user keeps their keys")

            let disabled = try await store.updateUser(
                id: alice.id,
                now: now,
                { $0.status = .disabled },
                audit: { change in change.revokedKeys.map { AuditEvent(time: now, actor: .system, action: "key.revoked", targetID: $0.id.lowercased) }
                }
            )
            #expect(Set(disabled.revokedKeys.map(\.id)) == Set(aliceKeys.map(\.id)))
            for key in aliceKeys {
                let stored = try #require(try await store.key(id: key.id))
                #expect(stored.status == .revoked)
                #expect(stored.revokedAt == now)
            }
            #expect(try await store.key(id: alreadyRevoked.id)?.revokedAt == Fixtures.base, "a revoked key keeps its revocation time")
            #expect(try await store.auditEntries(matching: AuditQuery()).entries.count == 2)

            let deleted = try await store.deleteUser(id: bob.id, now: now, denyUntil: now, audit: { _ in [] })
            #expect(deleted.revokedKeys.map(\.id) == [bobKey.id])
            #expect(try await store.user(id: bob.id) == nil)
            #expect(try await store.key(id: bobKey.id)?.status == .revoked)
            await #expect(throws: DomainError.self) { _ = try await store.deleteUser(id: bob.id, now: now, denyUntil: now, audit: { _ in [] }) }
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aThrowingChangeWritesNothing(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let user = Self.user("alice")
            try await store.insertUser(user, audit: [])
            struct Refused: Error {}
            await #expect(throws: Refused.self) {
                _ = try await store.updateUser(
                    id: user.id,
                    now: Fixtures.base,
                    { user in
                        user.role = .admin
                        throw Refused()
                    },
                    audit: { _ in [AuditEvent(time: Fixtures.base, actor: .system, action: "user.updated")] }
                )
            }
            #expect(try await store.user(id: user.id) == user)
            #expect(try await store.auditEntries(matching: AuditQuery()).entries.isEmpty)
            await #expect(throws: DomainError.self) {
                _ = try await store.updateUser(id: UUID(), now: Fixtures.base, { _ in }, audit: { _ in [] })
            }
        }
    }
}
