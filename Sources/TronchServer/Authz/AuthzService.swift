package import Foundation
package import TronchCore
package import TronchStorage

/// Groups, memberships, ACL entries and checks: validation, audit, and the snapshot reloaded after every
/// change so that this node's next check sees it.
package struct AuthzService: Sendable {
    package let store: any AuthzStore & UserStore & KeyStore & AuditStore
    package let directory: AuthzDirectory
    let clock: WallClock
    let settings: AuthzSettings

    package init(store: any AuthzStore & UserStore & KeyStore & AuditStore, directory: AuthzDirectory, clock: WallClock, settings: AuthzSettings) {
        self.store = store
        self.directory = directory
        self.clock = clock
        self.settings = settings
    }

    // MARK: Groups

    package struct NewGroup: Sendable {
        package var name: String
        package var description: String?
        package var mfaRequired: Bool

        package init(name: String, description: String?, mfaRequired: Bool) {
            self.name = name
            self.description = description
            self.mfaRequired = mfaRequired
        }
    }

    package func createGroup(_ new: NewGroup, by principal: Principal, origin: RequestOrigin) async throws -> GroupRecord {
        var problems = [FieldError]()
        if let problem = GroupRecord.nameProblem(new.name) { problems.append(FieldError(field: "name", message: problem)) }
        if let text = new.description, let problem = GroupRecord.descriptionProblem(text) {
            problems.append(FieldError(field: "description", message: problem))
        }
        guard problems.isEmpty else { throw DomainError.validation(problems) }
        let now = clock.now
        let group = GroupRecord(id: UUIDv7.make(at: now), name: new.name, description: new.description, mfaRequired: new.mfaRequired, createdAt: now)
        try await store.insertGroup(
            group,
            audit: [
                AuditEvent(
                    time: now,
                    actor: principal.auditActor,
                    action: AuditAction.groupCreated,
                    targetType: "group",
                    targetID: group.id.lowercased,
                    origin: origin,
                    details: ["name": .string(group.name), "mfa_required": .bool(group.mfaRequired)]
                )
            ]
        )
        await directory.applyAfterChange(.groupSaved(group))
        return group
    }

    package struct GroupChange: Sendable {
        package var name: String?
        package var description: Patch<String>
        package var mfaRequired: Bool?

        package init(name: String?, description: Patch<String>, mfaRequired: Bool?) {
            self.name = name
            self.description = description
            self.mfaRequired = mfaRequired
        }
    }

    package func updateGroup(id: UUID, _ change: GroupChange, by principal: Principal, origin: RequestOrigin) async throws -> GroupRecord {
        var problems = [FieldError]()
        if let name = change.name, let problem = GroupRecord.nameProblem(name) { problems.append(FieldError(field: "name", message: problem)) }
        if case .set(let text) = change.description, let problem = GroupRecord.descriptionProblem(text) {
            problems.append(FieldError(field: "description", message: problem))
        }
        guard problems.isEmpty else { throw DomainError.validation(problems) }
        let now = clock.now
        let actor = principal.auditActor
        let result = try await store.updateGroup(
            id: id,
            { group in
                var changed = group
                if let name = change.name { changed.name = name }
                changed.description = change.description.applied(to: changed.description)
                if let required = change.mfaRequired { changed.mfaRequired = required }
                // The update's own time, written only when something changed.
                if changed != group { changed.updatedAt = now }
                group = changed
            },
            audit: { after in
                [
                    AuditEvent(
                        time: now,
                        actor: actor,
                        action: AuditAction.groupUpdated,
                        targetType: "group",
                        targetID: after.id.lowercased,
                        origin: origin,
                        details: ["name": .string(after.name), "mfa_required": .bool(after.mfaRequired)]
                    )
                ]
            }
        )
        guard result.before != result.after else { return result.after }
        await directory.applyAfterChange(.groupSaved(result.after))
        return result.after
    }

    package func deleteGroup(id: UUID, by principal: Principal, origin: RequestOrigin) async throws {
        let now = clock.now
        let actor = principal.auditActor
        guard
            try await store.deleteGroup(
                id: id,
                audit: { group, memberships, entries in
                    [
                        AuditEvent(
                            time: now,
                            actor: actor,
                            action: AuditAction.groupDeleted,
                            targetType: "group",
                            targetID: group.id.lowercased,
                            origin: origin,
                            details: ["name": .string(group.name), "memberships": .int(Int64(memberships)), "entries": .int(Int64(entries))]
                        )
                    ]
                }
            ) != nil
        else { throw DomainError.groupNotFound(id.lowercased) }
        await directory.applyAfterChange(.groupRemoved(id))
    }

    // MARK: Members

    /// Adds a user or a group to a group: the member must exist; a group may not make a cycle or a chain of
    /// more than 16. True when added, false when it was a member already.
    package func addMember(_ member: PrincipalReference, to groupID: UUID, by principal: Principal, origin: RequestOrigin) async throws -> Bool {
        switch member {
        case .user(let id):
            guard try await store.user(id: id) != nil else { throw DomainError.invalid("principal", "no user with id \(id.lowercased)") }
        case .group(let id):
            guard try await store.group(id: id) != nil else { throw DomainError.invalid("principal", "no group with id \(id.lowercased)") }
        case .key:
            throw DomainError.invalid("principal", "a group's members are users and groups")
        }
        let now = clock.now
        let added = try await store.addMember(
            GroupMembership(groupID: groupID, member: member, createdAt: now),
            validate: { graph in
                if let nested = member.groupID, let problem = graph.problem(adding: nested, to: groupID) {
                    throw DomainError.invalid("principal", problem)
                }
            },
            audit: [
                AuditEvent(
                    time: now,
                    actor: principal.auditActor,
                    action: AuditAction.groupMemberAdded,
                    targetType: "group",
                    targetID: groupID.lowercased,
                    origin: origin,
                    details: ["member": .string(member.description)]
                )
            ]
        )
        if added { await directory.applyAfterChange(.memberAdded(GroupMembership(groupID: groupID, member: member, createdAt: now))) }
        return added
    }

    package func removeMember(_ member: PrincipalReference, from groupID: UUID, by principal: Principal, origin: RequestOrigin) async throws -> Bool {
        let removed = try await store.removeMember(
            groupID: groupID,
            member: member,
            audit: [
                AuditEvent(
                    time: clock.now,
                    actor: principal.auditActor,
                    action: AuditAction.groupMemberRemoved,
                    targetType: "group",
                    targetID: groupID.lowercased,
                    origin: origin,
                    details: ["member": .string(member.description)]
                )
            ]
        )
        if removed { await directory.applyAfterChange(.memberRemoved(groupID: groupID, member: member)) }
        return removed
    }

    // MARK: Entries

    package struct NewEntry: Sendable {
        package var resource: ResourceName
        package var principal: PrincipalReference
        package var action: String
        package var effect: ACLEntry.Effect
        package var kind: ACLEntry.Kind

        package init(resource: ResourceName, principal: PrincipalReference, action: String, effect: ACLEntry.Effect, kind: ACLEntry.Kind) {
            self.resource = resource
            self.principal = principal
            self.action = action
            self.effect = effect
            self.kind = kind
        }
    }

    package func createEntry(_ new: NewEntry, by principal: Principal, origin: RequestOrigin) async throws -> ACLEntry {
        try await requireExists(new.principal, field: "principal")
        let now = clock.now
        let entry = ACLEntry(
            id: UUIDv7.make(at: now),
            resource: new.resource,
            principal: new.principal,
            action: new.action,
            effect: new.effect,
            kind: new.kind,
            createdAt: now,
            createdBy: principal.reference
        )
        try await store.insertEntry(
            entry,
            audit: [
                AuditEvent(
                    time: now,
                    actor: principal.auditActor,
                    action: AuditAction.aclEntryCreated,
                    targetType: "acl_entry",
                    targetID: entry.id.lowercased,
                    origin: origin,
                    details: Self.details(entry)
                )
            ]
        )
        await directory.applyAfterChange(.entryAdded(entry))
        return entry
    }

    package func deleteEntry(id: UUID, by principal: Principal, origin: RequestOrigin) async throws {
        let now = clock.now
        let actor = principal.auditActor
        guard
            let entry = try await store.deleteEntry(
                id: id,
                audit: { entry in
                    [
                        AuditEvent(
                            time: now,
                            actor: actor,
                            action: AuditAction.aclEntryDeleted,
                            targetType: "acl_entry",
                            targetID: entry.id.lowercased,
                            origin: origin,
                            details: Self.details(entry)
                        )
                    ]
                }
            )
        else { throw DomainError.entryNotFound(id.lowercased) }
        await directory.applyAfterChange(.entryRemoved(entry))
    }

    static func details(_ entry: ACLEntry) -> [String: JSONValue] {
        [
            "resource": .string(entry.resource.text), "principal": .string(entry.principal.description), "action": .string(entry.action),
            "effect": .string(entry.effect.rawValue), "kind": .string(entry.kind.rawValue),
        ]
    }

    /// A principal an entry or a check names must exist.
    func requireExists(_ principal: PrincipalReference, field: String) async throws {
        let exists: Bool =
            switch principal {
            case .user(let id): try await store.user(id: id) != nil
            case .group(let id): try await store.group(id: id) != nil
            case .key(let id): try await store.key(id: id) != nil
            }
        guard exists else { throw DomainError.invalid(field, "no \(principal.kind) with id \(principal.id.lowercased)") }
    }

    // MARK: Checks

    /// A check as DESIGN.md states it. A key owned by a user acts with at most its owner's rights: the owner's
    /// decision, unless an entry naming the key itself denies; a key nobody owns has only the entries naming it.
    /// An allowed action must also be within the key's scopes (`<type>:<action>`); a refusal by the scopes has
    /// the rule `key_scope`.
    package func check(
        _ principal: PrincipalReference,
        action: String,
        resource: ResourceName,
        field: String = "principal"
    ) async throws
        -> AuthzDecision
    {
        guard case .key(let keyID) = principal else {
            // From memory alone: a check reads no table. A user nothing names is matched by nothing (the
            // fallback); a group must exist, which the snapshot knows.
            if case .group(let id) = principal, directory.snapshot.groups[id] == nil {
                throw DomainError.invalid(field, "no group with id \(id.lowercased)")
            }
            return directory.check(principal, action: action, resource: resource)
        }
        guard let key = try await store.key(id: keyID) else { throw DomainError.invalid(field, "no key with id \(keyID.lowercased)") }
        // A revoked or expired key acts with no scope at all; so does a disabled one.
        guard key.displayStatus(at: clock.now) == .active, key.settings.enabled else { return AuthzDecision(allowed: false, rule: .keyScope) }
        var decision = directory.check(principal, action: action, resource: resource)
        if let owner = UserRecord.id(fromOwner: key.settings.ownerID), decision.allowed || decision.rule == .fallback {
            decision = directory.check(.user(owner), action: action, resource: resource)
        }
        guard decision.allowed else { return decision }
        guard Scope.isCovered("\(resource.type):\(action)", by: key.settings.scopes) else { return AuthzDecision(allowed: false, rule: .keyScope) }
        return decision
    }

    /// Whether this decision is audited (`TRONCH_AUTHZ_AUDIT_DECISIONS`).
    package func audits(_ decision: AuthzDecision) -> Bool {
        switch settings.auditDecisions {
        case .off: false
        case .denials: !decision.allowed
        case .all: true
        case .sample(let share): Double.random(in: 0..<1) < share
        }
    }
}

extension PrincipalReference {
    var kind: String {
        switch self {
        case .user: "user"
        case .group: "group"
        case .key: "key"
        }
    }

    var id: UUID {
        switch self {
        case .user(let id), .group(let id), .key(let id): id
        }
    }
}
