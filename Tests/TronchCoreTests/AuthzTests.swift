import Foundation
import Testing
import TronchCore

/// Resource names, group nesting and the evaluation order of ACLs and DACLs, checked case by case and against
/// a slow evaluator written directly from DESIGN.md's rules over random trees.
@Suite struct AuthzTests {
    static let base = Date(timeIntervalSince1970: 1_800_000_000)

    static func resource(_ text: String) -> ResourceName { ResourceName(text)! }

    @Test func resourceNamesHaveOneFormAndParents() {
        let web = Self.resource("project:acme/web/prod")
        #expect(web.type == "project")
        #expect(web.parent == Self.resource("project:acme/web"))
        #expect(web.ancestors.map(\.text) == ["project:acme/web", "project:acme"])
        #expect(Self.resource("project:acme").parent == nil, "one segment has no parent")
        #expect(ResourceName("Project:acme") == nil)
        #expect(ResourceName("project:") == nil)
        #expect(ResourceName("project:a//b") == nil)
        #expect(ResourceName("project:a/") == nil)
        #expect(ResourceName("project:a/../b") == nil)
        #expect(ResourceName("project:a b") == nil)
        #expect(ResourceName("acme") == nil)
        #expect(ResourceName("doc:Reports~2026/q1@v2+draft.pdf") != nil)
        #expect(ResourceName("x:" + String(repeating: "a", count: 600)) == nil)
        #expect(ResourceName.problem("x:" + Array(repeating: "a", count: 33).joined(separator: "/")) != nil)
    }

    @Test func principalsAreUsersGroupsAndKeys() {
        let id = UUID()
        #expect(PrincipalReference("user:\(id.uuidString)") == .user(id))
        #expect(PrincipalReference("group:\(id.uuidString.lowercased())")?.description == "group:\(id.uuidString.lowercased())")
        #expect(PrincipalReference("key:\(id.uuidString)") == .key(id))
        #expect(PrincipalReference("role:\(id.uuidString)") == nil)
        #expect(PrincipalReference("user:alice") == nil)
    }

    @Test func groupLinksRefuseCyclesAndChainsOfMoreThanSixteen() {
        let ids = (0..<20).map { _ in UUID() }
        // ids[i] is a member of ids[i + 1]: a chain of 16 groups, ids[0] at the bottom.
        let chain = (0..<15).map { (member: ids[$0], group: ids[$0 + 1]) }
        let graph = GroupGraph(links: chain)
        #expect(graph.problem(adding: ids[3], to: ids[3]) != nil)
        #expect(graph.problem(adding: ids[15], to: ids[0])?.contains("cycle") == true)
        #expect(graph.problem(adding: ids[5], to: ids[2])?.contains("cycle") == true)
        #expect(graph.problem(adding: ids[16], to: ids[0])?.contains("17") == true, "a 17th level on top")
        #expect(graph.problem(adding: ids[15], to: ids[16])?.contains("17") == true, "a 17th level below")
        #expect(graph.problem(adding: ids[17], to: ids[16]) == nil, "a separate pair")
        #expect(GroupGraph(links: chain.dropLast()).problem(adding: ids[15], to: ids[16]) == nil, "15 + 1 = 16 is allowed")
        // Two chains of 8 joined make 16: allowed; of 8 and 9, 17: refused.
        let left = (0..<7).map { (member: ids[$0], group: ids[$0 + 1]) }
        let right = (8..<15).map { (member: ids[$0], group: ids[$0 + 1]) }
        #expect(GroupGraph(links: left + right).problem(adding: ids[7], to: ids[8]) == nil)
        let longer = (8..<16).map { (member: ids[$0], group: ids[$0 + 1]) }
        #expect(GroupGraph(links: left + longer).problem(adding: ids[7], to: ids[8]) != nil)
    }

    // MARK: The order of evaluation

    struct World {
        var entries: [ACLEntry] = []
        var memberships: [GroupMembership] = []
        var fallbackAllows = false
        var counter = 0

        mutating func add(
            _ resource: String,
            _ principal: PrincipalReference,
            _ action: String,
            _ effect: ACLEntry.Effect,
            _ kind: ACLEntry.Kind
        )
            -> UUID
        {
            counter += 1
            let id = UUIDv7.make(at: AuthzTests.base.addingTimeInterval(Double(counter)))
            entries.append(
                ACLEntry(
                    id: id,
                    resource: AuthzTests.resource(resource),
                    principal: principal,
                    action: action,
                    effect: effect,
                    kind: kind,
                    createdAt: AuthzTests.base
                )
            )
            return id
        }

        mutating func join(_ member: PrincipalReference, _ group: UUID) {
            memberships.append(GroupMembership(groupID: group, member: member, createdAt: AuthzTests.base))
        }

        var snapshot: AuthzSnapshot { AuthzSnapshot(groups: [], memberships: memberships, entries: entries, fallbackAllows: fallbackAllows) }
    }

    @Test func theOrderIsDenyAllowNearestDefaultFallback() {
        let alice = PrincipalReference.user(UUID())
        let (team, org) = (UUID(), UUID())
        var world = World()
        world.join(alice, team)
        world.join(.group(team), org)

        let check = { (w: World, resource: String, action: String) in w.snapshot.check(alice, action: action, resource: Self.resource(resource)) }
        #expect(check(world, "project:acme/web", "read") == AuthzDecision(allowed: false, rule: .fallback))

        // A default on the organisation's project reaches every descendant, not the project itself.
        let orgDefault = world.add("project:acme", .group(org), "read", .allow, .dacl)
        #expect(
            check(world, "project:acme/web/prod", "read")
                == AuthzDecision(allowed: true, rule: .daclAllow, entryID: orgDefault, resource: Self.resource("project:acme"))
        )
        #expect(check(world, "project:acme", "read").rule == .fallback)
        #expect(check(world, "project:acme/web", "write").rule == .fallback, "another action")

        // A nearer default overrides it, deny before allow at the same level.
        let nearerAllow = world.add("project:acme/web", .group(team), "*", .allow, .dacl)
        let nearerDeny = world.add("project:acme/web", alice, "read", .deny, .dacl)
        #expect(
            check(world, "project:acme/web/prod", "read")
                == AuthzDecision(allowed: false, rule: .daclDeny, entryID: nearerDeny, resource: Self.resource("project:acme/web"))
        )
        #expect(check(world, "project:acme/web/prod", "deploy").entryID == nearerAllow)

        // An explicit allow on the resource beats every default; an explicit deny beats the allow.
        let allow = world.add("project:acme/web/prod", .group(org), "read", .allow, .acl)
        #expect(
            check(world, "project:acme/web/prod", "read")
                == AuthzDecision(allowed: true, rule: .aclAllow, entryID: allow, resource: Self.resource("project:acme/web/prod"))
        )
        let deny = world.add("project:acme/web/prod", .group(team), "*", .deny, .acl)
        #expect(
            check(world, "project:acme/web/prod", "read")
                == AuthzDecision(allowed: false, rule: .aclDeny, entryID: deny, resource: Self.resource("project:acme/web/prod"))
        )

        // Someone in no group: only entries naming them.
        let bob = PrincipalReference.user(UUID())
        #expect(world.snapshot.check(bob, action: "read", resource: Self.resource("project:acme/web/prod")).rule == .fallback)
        world.fallbackAllows = true
        #expect(
            world.snapshot.check(bob, action: "read", resource: Self.resource("project:acme/web/prod"))
                == AuthzDecision(allowed: true, rule: .fallback)
        )
        #expect(world.snapshot.groups(of: alice) == [team, org])
    }

    // MARK: Against the rules, over random worlds

    /// The rules as DESIGN.md states them, with no index and no cleverness.
    static func reference(_ world: World, _ principal: PrincipalReference, _ action: String, _ resource: ResourceName) -> AuthzDecision {
        var subjects: Set<PrincipalReference> = [principal]
        while true {
            let more = world.memberships.filter { subjects.contains($0.member) }.map { PrincipalReference.group($0.groupID) }
            let grown = subjects.union(more)
            if grown == subjects { break }
            subjects = grown
        }
        func matching(_ on: ResourceName, _ kind: ACLEntry.Kind, _ effect: ACLEntry.Effect) -> ACLEntry? {
            world.entries.filter {
                $0.resource == on && $0.kind == kind && $0.effect == effect && subjects.contains($0.principal) && $0.matches(action: action)
            }
            .min { $0.id.uuidString < $1.id.uuidString }
        }
        if let entry = matching(resource, .acl, .deny) { return AuthzDecision(allowed: false, rule: .aclDeny, entryID: entry.id, resource: resource) }
        if let entry = matching(resource, .acl, .allow) {
            return AuthzDecision(allowed: true, rule: .aclAllow, entryID: entry.id, resource: resource)
        }
        for ancestor in resource.ancestors {
            if let entry = matching(ancestor, .dacl, .deny) {
                return AuthzDecision(allowed: false, rule: .daclDeny, entryID: entry.id, resource: ancestor)
            }
            if let entry = matching(ancestor, .dacl, .allow) {
                return AuthzDecision(allowed: true, rule: .daclAllow, entryID: entry.id, resource: ancestor)
            }
        }
        return AuthzDecision(allowed: world.fallbackAllows, rule: .fallback)
    }

    /// A small deterministic generator, so a failure names a seed that reproduces it.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test(arguments: 1...40) func theSnapshotAgreesWithTheRules(seed: UInt64) {
        var random = SplitMix(state: seed)
        let users = (0..<6).map { _ in PrincipalReference.user(UUID()) }
        let groups = (0..<6).map { _ in UUID() }
        var world = World(fallbackAllows: Bool.random(using: &random))
        // Groups nest only upwards in index order: no cycle, as the store guarantees.
        for (index, group) in groups.enumerated() where index + 1 < groups.count && Bool.random(using: &random) {
            world.join(.group(group), groups[Int.random(in: (index + 1)..<groups.count, using: &random)])
        }
        for user in users {
            for group in groups where Int.random(in: 0..<4, using: &random) == 0 { world.join(user, group) }
        }
        let segments = ["a", "b", "c"]
        func randomResource() -> String {
            "doc:" + (0..<Int.random(in: 1...4, using: &random)).map { _ in segments.randomElement(using: &random)! }.joined(separator: "/")
        }
        let principals = users + groups.map(PrincipalReference.group)
        for _ in 0..<Int.random(in: 0...40, using: &random) {
            _ = world.add(
                randomResource(),
                principals.randomElement(using: &random)!,
                ["read", "write", "*"].randomElement(using: &random)!,
                Bool.random(using: &random) ? .allow : .deny,
                Bool.random(using: &random) ? .acl : .dacl
            )
        }
        let snapshot = world.snapshot
        for _ in 0..<200 {
            let principal = users.randomElement(using: &random)!
            let action = ["read", "write"].randomElement(using: &random)!
            let resource = Self.resource(randomResource())
            let expected = Self.reference(world, principal, action, resource)
            #expect(snapshot.check(principal, action: action, resource: resource) == expected, "seed \(seed): \(principal) \(action) \(resource)")
        }
    }

    @Test(arguments: 1...20) func changesAppliedInMemoryMatchASnapshotReadAgain(seed: UInt64) {
        var random = SplitMix(state: seed &+ 1000)
        let users = (0..<5).map { _ in PrincipalReference.user(UUID()) }
        let groups = (0..<5).map { index in GroupRecord(id: UUID(), name: "g\(index)", createdAt: Self.base) }
        var world = World()
        var live = AuthzSnapshot(groups: groups, memberships: [], entries: [])
        var groupsNow = groups
        let resources = ["doc:a", "doc:a/b", "doc:a/b/c", "doc:d"]
        for _ in 0..<60 {
            switch Int.random(in: 0..<6, using: &random) {
            case 0, 1:
                let principal = (users + groupsNow.map(\.reference)).randomElement(using: &random)!
                let id = world.add(
                    resources.randomElement(using: &random)!,
                    principal,
                    ["read", "*"].randomElement(using: &random)!,
                    Bool.random(using: &random) ? .allow : .deny,
                    Bool.random(using: &random) ? .acl : .dacl
                )
                if let entry = world.entries.first(where: { $0.id == id }) {
                    // The store refuses duplicates; so does this world.
                    if world.entries.filter({ $0.rule == entry.rule }).count > 1 {
                        world.entries.removeAll { $0.id == id }
                    } else {
                        live.apply(.entryAdded(entry))
                    }
                }
            case 2:
                if let entry = world.entries.randomElement(using: &random) {
                    world.entries.removeAll { $0.id == entry.id }
                    live.apply(.entryRemoved(entry))
                }
            case 3:
                // Groups join only groups after them: no cycle.
                guard groupsNow.count > 1 else { continue }
                let index = Int.random(in: 0..<(groupsNow.count - 1), using: &random)
                let member: PrincipalReference = Bool.random(using: &random) ? users.randomElement(using: &random)! : groupsNow[index].reference
                let group = groupsNow[Int.random(in: (index + 1)..<groupsNow.count, using: &random)].id
                if !world.memberships.contains(where: { $0.groupID == group && $0.member == member }) {
                    world.join(member, group)
                    live.apply(.memberAdded(GroupMembership(groupID: group, member: member, createdAt: Self.base)))
                }
            case 4:
                if let membership = world.memberships.randomElement(using: &random) {
                    world.memberships.removeAll { $0 == membership }
                    live.apply(.memberRemoved(groupID: membership.groupID, member: membership.member))
                }
            default:
                if Bool.random(using: &random), let group = groupsNow.randomElement(using: &random), groupsNow.count > 2 {
                    groupsNow.removeAll { $0.id == group.id }
                    world.memberships.removeAll { $0.groupID == group.id || $0.member == group.reference }
                    world.entries.removeAll { $0.principal == group.reference }
                    live.apply(.groupRemoved(group.id))
                } else if let user = users.randomElement(using: &random) {
                    world.memberships.removeAll { $0.member == user }
                    world.entries.removeAll { $0.principal == user }
                    live.apply(.principalForgotten(user))
                }
            }
        }
        let fresh = AuthzSnapshot(groups: groupsNow, memberships: world.memberships, entries: world.entries)
        #expect(live.entryCount == fresh.entryCount, "seed \(seed)")
        #expect(Set(live.groups.keys) == Set(fresh.groups.keys))
        for user in users {
            #expect(live.groups(of: user) == fresh.groups(of: user), "seed \(seed)")
            for resource in resources + ["doc:a/b/c/d"] {
                for action in ["read", "write"] {
                    let name = Self.resource(resource)
                    #expect(live.check(user, action: action, resource: name) == fresh.check(user, action: action, resource: name), "seed \(seed)")
                }
            }
        }
    }
}
