#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// A named set of users and other groups, usable wherever a principal is: in ACL entries, in the `groups`
/// claim of access tokens, and as a reason to require a second factor (`mfa_required`).
package struct GroupRecord: Sendable, Hashable, Identifiable {
    package var id: UUID
    /// Unique, ignoring case; kept as given.
    package var name: String
    package var description: String?
    package var mfaRequired: Bool
    package var createdAt: Date
    package var updatedAt: Date

    package init(id: UUID, name: String, description: String? = nil, mfaRequired: Bool = false, createdAt: Date, updatedAt: Date? = nil) {
        self.id = id
        self.name = name
        self.description = description
        self.mfaRequired = mfaRequired
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
    }

    package var reference: PrincipalReference { .group(id) }

    /// The key of the unique index: names compare without case.
    package static func nameKey(_ name: String) -> String { name.lowercased() }

    /// Nil when `name` may name a group: 1 to 128 characters, no control characters, not only spaces.
    package static func nameProblem(_ name: String) -> String? {
        guard !name.unicodeScalars.allSatisfy(\.properties.isWhitespace) else { return "must not be empty" }
        guard name.unicodeScalars.count <= 128 else { return "must be at most 128 characters" }
        guard !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return "must not contain control characters"
        }
        return nil
    }

    package static func descriptionProblem(_ text: String) -> String? {
        guard text.unicodeScalars.count <= 1024 else { return "must be at most 1024 characters" }
        return nil
    }
}

/// A member of a group: a user or another group.
package struct GroupMembership: Sendable, Hashable {
    package var groupID: UUID
    package var member: PrincipalReference
    package var createdAt: Date

    package init(groupID: UUID, member: PrincipalReference, createdAt: Date) {
        self.groupID = groupID
        self.member = member
        self.createdAt = createdAt
    }
}

/// Groups nested in groups, for the two rules a new link must keep: no cycle, and no chain of more than
/// ``maxChain`` groups (DESIGN.md: "nesting up to 16 levels"; a user's own membership is not a level).
package struct GroupGraph: Sendable {
    package static let maxChain = 16

    /// For each group, the groups it is a member of.
    private var parents: [UUID: Set<UUID>] = [:]
    /// For each group, the groups that are its members.
    private var children: [UUID: Set<UUID>] = [:]

    /// `links` are (member group, group) pairs.
    package init(links: some Sequence<(member: UUID, group: UUID)>) {
        for link in links {
            parents[link.member, default: []].insert(link.group)
            children[link.group, default: []].insert(link.member)
        }
    }

    /// Why `member` may not become a member of `group`, or nil.
    package func problem(adding member: UUID, to group: UUID) -> String? {
        if member == group { return "a group cannot be a member of itself" }
        if isAncestor(member, of: group) { return "this would make a cycle: the group is already a member of it, directly or through others" }
        let chain = height(member, direction: children) + height(group, direction: parents)
        if chain > Self.maxChain {
            return "this would nest \(chain) groups in one chain; at most \(Self.maxChain) are allowed"
        }
        return nil
    }

    /// Whether `candidate` contains `group`, transitively (following memberships upwards from `group`).
    private func isAncestor(_ candidate: UUID, of group: UUID) -> Bool {
        var seen: Set<UUID> = [group]
        var frontier = [group]
        while let next = frontier.popLast() {
            for parent in parents[next] ?? [] where seen.insert(parent).inserted {
                if parent == candidate { return true }
                frontier.append(parent)
            }
        }
        return false
    }

    /// The longest chain of groups starting at `group` (itself included) along `direction`.
    private func height(_ group: UUID, direction: [UUID: Set<UUID>]) -> Int {
        var memo: [UUID: Int] = [:]
        func walk(_ node: UUID, _ depth: Int) -> Int {
            if let known = memo[node] { return known }
            // The graph has no cycle (every link was checked); the depth bound is a guard, not a rule.
            guard depth <= 64 else { return 1 }
            let result = 1 + ((direction[node] ?? []).map { walk($0, depth + 1) }.max() ?? 0)
            memo[node] = result
            return result
        }
        return walk(group, 0)
    }
}
