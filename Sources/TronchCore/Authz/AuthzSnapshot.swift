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
    private var acl: [ResourceName: [ACLEntry]] = [:]
    private var dacl: [ResourceName: [ACLEntry]] = [:]
    /// Who is a direct member of which group, kept to recompute ``closure`` when a membership changes.
    private var memberships: [PrincipalReference: Set<UUID>] = [:]
    /// Each principal's groups, directly and through nesting.
    private var closure: [PrincipalReference: Set<UUID>] = [:]
    package private(set) var groups: [UUID: GroupRecord]
    package private(set) var entryCount = 0
    /// Answer when no entry matches (`TRONCH_AUTHZ_FALLBACK`).
    package let fallbackAllows: Bool

    package init(groups: [GroupRecord], memberships: [GroupMembership], entries: [ACLEntry], fallbackAllows: Bool = false) {
        self.groups = Dictionary(groups.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.fallbackAllows = fallbackAllows
        entryCount = entries.count
        // Deny before allow, then oldest first: the first match in a list is the one that decides.
        let ordered = entries.map { (key: Self.order($0), entry: $0) }.sorted { $0.key < $1.key }.map(\.entry)
        for entry in ordered {
            switch entry.kind {
            case .acl: acl[entry.resource, default: []].append(entry)
            case .dacl: dacl[entry.resource, default: []].append(entry)
            }
        }
        for membership in memberships { self.memberships[membership.member, default: []].insert(membership.groupID) }
        closure = Self.closure(self.memberships)
    }

    /// Where an entry sorts in its resource's list: denies first, then by id (UUIDv7: by age).
    static func order(_ entry: ACLEntry) -> (Int, UInt64, UInt64) {
        let bytes = entry.id.uuid
        let high = [bytes.0, bytes.1, bytes.2, bytes.3, bytes.4, bytes.5, bytes.6, bytes.7].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let low = [bytes.8, bytes.9, bytes.10, bytes.11, bytes.12, bytes.13, bytes.14, bytes.15].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return (entry.effect == .deny ? 0 : 1, high, low)
    }

    // MARK: Changes

    /// One change, applied in memory as the store applied it: a node that made the change need not read
    /// everything again (at 100,000 entries that is most of a second; this is a few milliseconds).
    package enum Change: Sendable {
        case entryAdded(ACLEntry)
        case entryRemoved(ACLEntry)
        case groupSaved(GroupRecord)
        case groupRemoved(UUID)
        case memberAdded(GroupMembership)
        case memberRemoved(groupID: UUID, member: PrincipalReference)
        /// A deleted user or key: their memberships and the entries naming them.
        case principalForgotten(PrincipalReference)
    }

    package mutating func apply(_ change: Change) {
        switch change {
        case .entryAdded(let entry):
            let key = Self.order(entry)
            func insert(_ list: inout [ACLEntry]) {
                list.insert(entry, at: list.firstIndex { Self.order($0) > key } ?? list.endIndex)
            }
            switch entry.kind {
            case .acl: insert(&acl[entry.resource, default: []])
            case .dacl: insert(&dacl[entry.resource, default: []])
            }
            entryCount += 1
        case .entryRemoved(let entry):
            func remove(_ table: inout [ResourceName: [ACLEntry]]) {
                guard var list = table[entry.resource], let index = list.firstIndex(where: { $0.id == entry.id }) else { return }
                list.remove(at: index)
                table[entry.resource] = list.isEmpty ? nil : list
                entryCount -= 1
            }
            switch entry.kind {
            case .acl: remove(&acl)
            case .dacl: remove(&dacl)
            }
        case .groupSaved(let group):
            groups[group.id] = group
        case .groupRemoved(let id):
            groups[id] = nil
            memberships[.group(id)] = nil
            for member in memberships.keys { memberships[member]?.remove(id) }
            removeEntries(naming: .group(id))
            closure = Self.closure(memberships)
        case .memberAdded(let membership):
            memberships[membership.member, default: []].insert(membership.groupID)
            closure = Self.closure(memberships)
        case .memberRemoved(let group, let member):
            memberships[member]?.remove(group)
            if memberships[member]?.isEmpty == true { memberships[member] = nil }
            closure = Self.closure(memberships)
        case .principalForgotten(let principal):
            memberships[principal] = nil
            removeEntries(naming: principal)
            closure = Self.closure(memberships)
        }
    }

    private mutating func removeEntries(naming principal: PrincipalReference) {
        for table in [\AuthzSnapshot.acl, \AuthzSnapshot.dacl] {
            for (resource, list) in self[keyPath: table] where list.contains(where: { $0.principal == principal }) {
                let kept = list.filter { $0.principal != principal }
                entryCount -= list.count - kept.count
                self[keyPath: table][resource] = kept.isEmpty ? nil : kept
            }
        }
    }

    /// Every principal's groups, transitively: one walk up from each member.
    static func closure(_ direct: [PrincipalReference: Set<UUID>]) -> [PrincipalReference: Set<UUID>] {
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
        for (member, parents) in direct where !parents.isEmpty {
            var all = parents
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
            return AuthzDecision(
                allowed: entry.effect == .allow,
                rule: entry.effect == .deny ? .aclDeny : .aclAllow,
                entryID: entry.id,
                resource: resource
            )
        }
        var current = resource.parent
        while let ancestor = current {
            if let entries = dacl[ancestor], let entry = entries.first(where: matches) {
                return AuthzDecision(
                    allowed: entry.effect == .allow,
                    rule: entry.effect == .deny ? .daclDeny : .daclAllow,
                    entryID: entry.id,
                    resource: ancestor
                )
            }
            current = ancestor.parent
        }
        return AuthzDecision(allowed: fallbackAllows, rule: .fallback)
    }
}
