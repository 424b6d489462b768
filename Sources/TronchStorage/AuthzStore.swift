package import Foundation
package import TronchCore

/// Which groups a list returns, by id descending (newest first).
package struct GroupQuery: Sendable, Hashable {
    /// A case-insensitive substring of the name.
    package var search: String?
    package var limit: Int = 50
    package var after: UUID?

    package init(search: String? = nil, limit: Int = 50, after: UUID? = nil) {
        self.search = search
        self.limit = limit
        self.after = after
    }
}

/// Which ACL entries a list returns, by id ascending (oldest first): every filter is optional.
package struct ACLQuery: Sendable, Hashable {
    /// Entries on any of these resources.
    package var resources: [ResourceName]?
    package var principal: PrincipalReference?
    package var limit: Int = 50
    package var after: UUID?

    package init(resources: [ResourceName]? = nil, principal: PrincipalReference? = nil, limit: Int = 50, after: UUID? = nil) {
        self.resources = resources
        self.principal = principal
        self.limit = limit
        self.after = after
    }
}

/// Everything the authorization snapshot is built from, read in one transaction, with the version it had.
package struct AuthzState: Sendable {
    package var groups: [GroupRecord]
    package var memberships: [GroupMembership]
    package var entries: [ACLEntry]
    package var version: Int64

    package init(groups: [GroupRecord], memberships: [GroupMembership], entries: [ACLEntry], version: Int64) {
        self.groups = groups
        self.memberships = memberships
        self.entries = entries
        self.version = version
    }
}

/// Groups, memberships and ACL entries. Every backend passes the same conformance suite; each method is one
/// transaction, and every write also raises the authorization version that nodes compare to know their
/// snapshot is stale.
///
/// Group names are unique ignoring case (`.conflict`); an entry is unique on resource, principal, action,
/// effect and kind (`.conflict`); a missing group is `.notFound`.
package protocol AuthzStore: Sendable {
    func insertGroup(_ group: GroupRecord, audit: [AuditEvent]) async throws
    func group(id: UUID) async throws -> GroupRecord?
    func groups(matching query: GroupQuery) async throws -> [GroupRecord]
    /// Applies `change` to the stored group (`.notFound` when there is none) and returns (before, after).
    func updateGroup(
        id: UUID,
        _ change: @escaping @Sendable (inout GroupRecord) throws -> Void,
        audit: @escaping @Sendable (GroupRecord) -> [AuditEvent]
    )
        async throws -> (before: GroupRecord, after: GroupRecord)
    /// Deletes the group, its memberships (as a group and as a member) and the ACL entries that name it; nil
    /// when there was no such group. `audit` gets the group and how many memberships and entries went with it.
    func deleteGroup(
        id: UUID,
        audit: @escaping @Sendable (GroupRecord, _ memberships: Int, _ entries: Int) -> [AuditEvent]
    ) async throws
        -> GroupRecord?

    /// Adds a member unless it is one already (false). For a group joining a group, `validate` sees every
    /// group-in-group link inside the transaction, so two concurrent links cannot make a cycle together.
    func addMember(
        _ membership: GroupMembership,
        validate: @escaping @Sendable (GroupGraph) throws -> Void,
        audit: [AuditEvent]
    )
        async throws -> Bool
    /// False when it was not a member.
    func removeMember(groupID: UUID, member: PrincipalReference, audit: [AuditEvent]) async throws -> Bool
    /// A group's direct members, ordered by their reference, after `after`.
    func members(groupID: UUID, after: String?, limit: Int) async throws -> [GroupMembership]

    func insertEntry(_ entry: ACLEntry, audit: [AuditEvent]) async throws
    func entry(id: UUID) async throws -> ACLEntry?
    func entries(matching query: ACLQuery) async throws -> [ACLEntry]
    /// Nil when there was no such entry.
    func deleteEntry(id: UUID, audit: @escaping @Sendable (ACLEntry) -> [AuditEvent]) async throws -> ACLEntry?
    /// Removes the memberships and entries that name `principal` (a deleted user or key), with `audit`.
    func forgetPrincipal(_ principal: PrincipalReference, audit: [AuditEvent]) async throws

    func authzState() async throws -> AuthzState
    func authzVersion() async throws -> Int64
}
