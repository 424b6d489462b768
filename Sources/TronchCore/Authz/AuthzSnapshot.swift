#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// The answer to "may `principal` do `action` on `resource`?", with the rule and the entry that decided it.
package struct AuthzDecision: Sendable, Hashable {
    package enum Rule: String, Sendable, Hashable, CaseIterable {
        case aclDeny = "acl_deny"
        case aclAllow = "acl_allow"
        case daclDeny = "dacl_deny"
        case daclAllow = "dacl_allow"
        case fallback
        /// A key's scopes do not reach the action (the entries were not even consulted).
        case keyScope = "key_scope"
    }

    package var allowed: Bool
    package var rule: Rule
    package var entryID: UUID?
    /// The resource whose entry decided (the checked one, or the ancestor of the deciding DACL).
    package var resource: ResourceName?

    package init(allowed: Bool, rule: Rule, entryID: UUID? = nil, resource: ResourceName? = nil) {
        self.allowed = allowed
        self.rule = rule
        self.entryID = entryID
        self.resource = resource
    }
}

/// Everything a check reads, held in memory: entries by resource and kind, and every principal's groups,
/// transitively, computed once per snapshot rather than on every check. A check is a few dictionary lookups
/// per level of the resource's path; the snapshot is rebuilt when entries, groups or memberships change.
///
/// Order of evaluation (DESIGN.md), first match wins: an explicit deny on the resource; an explicit allow on
/// the resource; the DACL of the nearest ancestor that has a matching entry (deny before allow at the same
/// level); the fallback. A principal matches as itself and through every group it belongs to. Among entries
/// of one rule the oldest decides (ids are UUIDv7), so the answer names the same entry every time.
package struct AuthzSnapshot: Sendable {
    private let acl: [ResourceName: [ACLEntry]]
    private let dacl: [ResourceName: [ACLEntry]]
    /// Each principal's groups, directly and through nesting.
    private let closure: [PrincipalReference: Set<UUID>]
    package let groups: [UUID: GroupRecord]
    package let entryCount: Int
    /// Answer when no entry matches (`TRONCH_AUTHZ_FALLBACK`).
    package let fallbackAllows: Bool

    package init(groups: [GroupRecord], memberships: [GroupMembership], entries: [ACLEntry], fallbackAllows: Bool = false) {
        self.groups = Dictionary(groups.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.fallbackAllows = fallbackAllows
        entryCount = entries.count
        // Deny before allow, then oldest first: the first match in a list is the one that decides.
        let ordered = entries.sorted { ($0.effect == .deny ? 0 : 1, $0.id.uuidString) < ($1.effect == .deny ? 0 : 1, $1.id.uuidString) }
        var acl: [ResourceName: [ACLEntry]] = [:]
        var dacl: [ResourceName: [ACLEntry]] = [:]
        for entry in ordered {
            switch entry.kind {
            case .acl: acl[entry.resource, default: []].append(entry)
            case .dacl: dacl[entry.resource, default: []].append(entry)
            }
        }
        self.acl = acl
        self.dacl = dacl
        closure = Self.closure(memberships)
    }

    /// Every principal's groups, transitively: one walk up from each member.
    static func closure(_ memberships: [GroupMembership]) -> [PrincipalReference: Set<UUID>] {
        var direct: [PrincipalReference: [UUID]] = [:]
        for membership in memberships { direct[membership.member, default: []].append(membership.groupID) }
        var memo: [UUID: Set<UUID>] = [:]
        func above(_ group: UUID, _ depth: Int) -> Set<UUID> {
            if let known = memo[group] { return known }
            var result: Set<UUID> = []
            // Links are checked for cycles when made; the bound only guards against a corrupt store.
            if depth < 64 {
                for parent in direct[.group(group)] ?? [] {
                    result.insert(parent)
                    result.formUnion(above(parent, depth + 1))
                }
            }
            memo[group] = result
            return result
        }
        var closure: [PrincipalReference: Set<UUID>] = [:]
        for (member, parents) in direct {
            var all = Set(parents)
            for parent in parents { all.formUnion(above(parent, 0)) }
            closure[member] = all
        }
        return closure
    }

    /// The groups `principal` belongs to, directly or through nesting.
    package func groups(of principal: PrincipalReference) -> Set<UUID> { closure[principal] ?? [] }

    package func check(_ principal: PrincipalReference, action: String, resource: ResourceName) -> AuthzDecision {
        let groups = closure[principal] ?? []
        func matches(_ entry: ACLEntry) -> Bool {
            guard entry.action == "*" || entry.action == action else { return false }
            if entry.principal == principal { return true }
            if case .group(let id) = entry.principal { return groups.contains(id) }
            return false
        }
        if let entries = acl[resource], let entry = entries.first(where: matches) {
            return AuthzDecision(allowed: entry.effect == .allow, rule: entry.effect == .deny ? .aclDeny : .aclAllow, entryID: entry.id, resource: resource)
        }
        var current = resource.parent
        while let ancestor = current {
            if let entries = dacl[ancestor], let entry = entries.first(where: matches) {
                return AuthzDecision(
                    allowed: entry.effect == .allow, rule: entry.effect == .deny ? .daclDeny : .daclAllow, entryID: entry.id, resource: ancestor
                )
            }
            current = ancestor.parent
        }
        return AuthzDecision(allowed: fallbackAllows, rule: .fallback)
    }
}
