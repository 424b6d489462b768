package import Foundation
package import TronchCore

/// A synthetic permission world for benchmarks (`tronch bench authz`, `bench/authz`): resources up to 10
/// levels deep, groups nested in chains of 5, a thousand users at the bottom of the chains, and `entries`
/// entries of every kind, effect and principal, spread over the tree. Deterministic for one seed.
package struct AuthzBenchWorld: Sendable {
    package var groups: [GroupRecord] = []
    package var memberships: [GroupMembership] = []
    package var entries: [ACLEntry] = []
    package var users: [UUID] = []
    /// Resources 10 levels deep, to ask about (every ancestor has a chance of a default).
    package var leaves: [ResourceName] = []
    package static let depth = 10
    package static let chain = 5

    package init(entries count: Int, users userCount: Int = 1000, seed: UInt64 = 1) {
        var random = BenchRandom(state: seed)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let chains = max(4, count / 1000)
        var bottoms: [UUID] = []
        for chain in 0..<chains {
            var below: UUID?
            for level in 0..<Self.chain {
                let group = GroupRecord(id: UUID(), name: "chain-\(chain)-\(level)", createdAt: now)
                groups.append(group)
                if let below {
                    memberships.append(GroupMembership(groupID: group.id, member: .group(below), createdAt: now))
                } else {
                    bottoms.append(group.id)
                }
                below = group.id
            }
        }
        users = (0..<userCount).map { _ in UUID() }
        for user in users {
            memberships.append(GroupMembership(groupID: bottoms[Int(random.next() % UInt64(bottoms.count))], member: .user(user), createdAt: now))
        }
        // A tree whose breadth makes about one resource per two entries at the deepest levels.
        let breadth = max(2, Int(pow(Double(max(count, 2)) / 2, 1.0 / Double(Self.depth)).rounded(.up)))
        func path(_ depth: Int) -> String {
            "project:" + (0..<depth).map { _ in "n\(random.next() % UInt64(breadth))" }.joined(separator: "/")
        }
        let actions = ["read", "write", "deploy", "*"]
        var seen = Set<ACLEntry.Rule>()
        var made = 0
        while made < count {
            let principal: PrincipalReference =
                random.next() % 10 < 7
                ? .group(groups[Int(random.next() % UInt64(groups.count))].id) : .user(users[Int(random.next() % UInt64(users.count))])
            let entry = ACLEntry(
                id: UUIDv7.make(at: now.addingTimeInterval(Double(made) / 1000)),
                resource: ResourceName(path(1 + Int(random.next() % UInt64(Self.depth))))!,
                principal: principal,
                action: actions[Int(random.next() % 4)],
                effect: random.next() % 5 == 0 ? .deny : .allow,
                kind: random.next() % 2 == 0 ? .acl : .dacl,
                createdAt: now
            )
            guard seen.insert(entry.rule).inserted else { continue }
            entries.append(entry)
            made += 1
        }
        leaves = (0..<1000).map { _ in ResourceName(path(Self.depth))! }
    }

    package var snapshot: AuthzSnapshot { AuthzSnapshot(groups: groups, memberships: memberships, entries: entries) }
}

/// SplitMix64: small, fast and the same everywhere.
package struct BenchRandom: RandomNumberGenerator {
    package var state: UInt64
    package init(state: UInt64) { self.state = state }
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
