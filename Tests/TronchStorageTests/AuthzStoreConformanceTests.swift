import Foundation
import Testing
import TronchCore
import TronchStorage

/// Groups, memberships and ACL entries, on every backend.
@Suite struct AuthzStoreConformanceTests {
    static let base = Fixtures.base

    static func group(_ name: String, at offset: Double = 0, mfa: Bool = false) -> GroupRecord {
        let created = Timestamp.date(milliseconds: Timestamp.milliseconds(base.addingTimeInterval(offset)))
        return GroupRecord(id: UUIDv7.make(at: created), name: name, description: "the \(name)", mfaRequired: mfa, createdAt: created)
    }

    static func entry(
        _ resource: String,
        _ principal: PrincipalReference,
        _ action: String = "read",
        effect: ACLEntry.Effect = .allow,
        kind: ACLEntry.Kind = .acl,
        at offset: Double = 0
    ) -> ACLEntry {
        let created = Timestamp.date(milliseconds: Timestamp.milliseconds(base.addingTimeInterval(offset)))
        return ACLEntry(
            id: UUIDv7.make(at: created),
            resource: ResourceName(resource)!,
            principal: principal,
            action: action,
            effect: effect,
            kind: kind,
            createdAt: created,
            createdBy: "test"
        )
    }

    @Test(arguments: StoreBackend.allCases)
    func groupsAreNamedOnceListedSearchedChangedAndDeleted(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let version = try await store.authzVersion()
            let ops = Self.group("Ops", at: 0, mfa: true)
            let dev = Self.group("Developers", at: 1)
            try await store.insertGroup(ops, audit: [])
            try await store.insertGroup(dev, audit: [])
            #expect(try await store.authzVersion() > version, "every write raises the version")
            #expect(try await store.group(id: ops.id) == ops)
            await #expect(throws: DomainError.groupNameTaken) { try await store.insertGroup(Self.group("OPS", at: 2), audit: []) }
            #expect(try await store.groups(matching: GroupQuery()).map(\.name) == ["Developers", "Ops"], "newest first")
            #expect(try await store.groups(matching: GroupQuery(search: "velop")).map(\.id) == [dev.id])
            #expect(try await store.groups(matching: GroupQuery(limit: 1, after: dev.id)).map(\.id) == [ops.id])

            let changed = try await store.updateGroup(
                id: dev.id,
                {
                    $0.name = "Engineers"
                    $0.mfaRequired = true
                },
                audit: { _ in [] }
            )
            #expect(changed.before == dev)
            #expect(try await store.group(id: dev.id)?.name == "Engineers")
            await #expect(throws: DomainError.groupNameTaken) {
                _ = try await store.updateGroup(id: dev.id, { $0.name = "ops" }, audit: { _ in [] })
            }
            await #expect(throws: DomainError.self) { _ = try await store.updateGroup(id: UUID(), { $0.name = "x" }, audit: { _ in [] }) }

            // Deleting a group takes its memberships (both ways) and the entries that name it.
            let user = UserStoreConformanceTests.user("gina")
            try await store.insertUser(user, audit: [])
            #expect(
                try await store.addMember(
                    GroupMembership(groupID: ops.id, member: .user(user.id), createdAt: Self.base),
                    validate: { _ in },
                    audit: []
                )
            )
            #expect(
                try await store.addMember(
                    GroupMembership(groupID: ops.id, member: .group(dev.id), createdAt: Self.base),
                    validate: { _ in },
                    audit: []
                )
            )
            try await store.insertEntry(Self.entry("project:acme", .group(ops.id)), audit: [])
            try await store.insertEntry(Self.entry("project:acme", .user(user.id), at: 1), audit: [])
            let counts = CountBox()
            #expect(
                try await store.deleteGroup(
                    id: ops.id,
                    audit: { _, memberships, entries in
                        counts.set(memberships, entries)
                        return []
                    }
                ) == ops
            )
            #expect(counts.value == (2, 1))
            #expect(try await store.group(id: ops.id) == nil)
            #expect(try await store.deleteGroup(id: ops.id, audit: { _, _, _ in [] }) == nil)
            let state = try await store.authzState()
            #expect(state.memberships.isEmpty)
            #expect(state.entries.map(\.principal) == [.user(user.id)])
            #expect(state.groups.map(\.id) == [dev.id])
            #expect(state.version == (try await store.authzVersion()))
        }
    }

    final class CountBox: @unchecked Sendable {
        var value: (Int, Int) = (0, 0)
        func set(_ a: Int, _ b: Int) { value = (a, b) }
    }

    @Test(arguments: StoreBackend.allCases)
    func membersAreAddedOnceListedInOrderAndCheckedInsideTheTransaction(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let (a, b, c) = (Self.group("a"), Self.group("b", at: 1), Self.group("c", at: 2))
            for group in [a, b, c] { try await store.insertGroup(group, audit: []) }
            let user = UserStoreConformanceTests.user("mo")
            try await store.insertUser(user, audit: [])
            func add(_ member: PrincipalReference, to group: GroupRecord) async throws -> Bool {
                try await store.addMember(
                    GroupMembership(groupID: group.id, member: member, createdAt: Self.base),
                    validate: { graph in
                        if let nested = member.groupID, let problem = graph.problem(adding: nested, to: group.id) {
                            throw DomainError.invalid("principal", problem)
                        }
                    },
                    audit: []
                )
            }
            #expect(try await add(.group(a.id), to: b))
            #expect(try await add(.group(b.id), to: c))
            #expect(try await add(.user(user.id), to: a))
            #expect(try await !add(.user(user.id), to: a), "already a member")
            let version = try await store.authzVersion()
            await #expect(throws: DomainError.self, "a cycle, seen inside the transaction") { _ = try await add(.group(c.id), to: a) }
            #expect(try await store.authzVersion() == version, "a refused link changes nothing")
            await #expect(throws: DomainError.self) { _ = try await add(.user(user.id), to: Self.group("ghost")) }

            #expect(try await store.members(groupID: a.id, after: nil, limit: 10).map(\.member) == [.user(user.id)])
            let d = Self.group("e", at: 4)
            try await store.insertGroup(d, audit: [])
            #expect(try await add(.group(a.id), to: d))
            #expect(try await add(.user(user.id), to: d))
            let members = try await store.members(groupID: d.id, after: nil, limit: 10).map(\.member)
            #expect(members == [.group(a.id), .user(user.id)], "ordered by reference: groups before users")
            #expect(
                try await store.members(groupID: d.id, after: PrincipalReference.group(a.id).description, limit: 10).map(\.member) == [.user(user.id)]
            )

            #expect(try await store.removeMember(groupID: d.id, member: .user(user.id), audit: []))
            #expect(try await !store.removeMember(groupID: d.id, member: .user(user.id), audit: []))
            try await store.forgetPrincipal(.user(user.id), audit: [])
            #expect(try await store.members(groupID: a.id, after: nil, limit: 10).isEmpty)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func entriesAreUniqueByTheirRuleAndListedByResourceAndPrincipal(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let alice = PrincipalReference.user(UUID())
            let team = PrincipalReference.group(UUID())
            let first = Self.entry("project:acme", alice, at: 0)
            try await store.insertEntry(first, audit: [])
            await #expect(throws: DomainError.duplicateEntry) { try await store.insertEntry(Self.entry("project:acme", alice, at: 1), audit: []) }
            let deny = Self.entry("project:acme", alice, effect: .deny, at: 2)
            try await store.insertEntry(deny, audit: [])
            let dacl = Self.entry("project:acme", alice, kind: .dacl, at: 3)
            try await store.insertEntry(dacl, audit: [])
            let web = Self.entry("project:acme/web", team, "*", at: 4)
            try await store.insertEntry(web, audit: [])
            #expect(try await store.entry(id: web.id) == web)

            #expect(try await store.entries(matching: ACLQuery()).map(\.id) == [first.id, deny.id, dacl.id, web.id], "oldest first")
            #expect(try await store.entries(matching: ACLQuery(resources: [ResourceName("project:acme/web")!])).map(\.id) == [web.id])
            let withAncestors = ACLQuery(resources: [ResourceName("project:acme/web")!, ResourceName("project:acme")!])
            #expect(try await store.entries(matching: withAncestors).count == 4)
            #expect(try await store.entries(matching: ACLQuery(principal: team)).map(\.id) == [web.id])
            #expect(try await store.entries(matching: ACLQuery(limit: 2, after: first.id)).map(\.id) == [deny.id, dacl.id])
            #expect(try await store.entries(matching: ACLQuery(resources: [])).isEmpty)

            #expect(try await store.deleteEntry(id: deny.id, audit: { _ in [] }) == deny)
            #expect(try await store.deleteEntry(id: deny.id, audit: { _ in [] }) == nil)
            try await store.forgetPrincipal(alice, audit: [])
            #expect(try await store.entries(matching: ACLQuery()).map(\.id) == [web.id])
        }
    }
}
