package import Foundation
import Logging
import PostgresNIO
package import TronchCore

extension PostgresStore: AuthzStore {
    static let groupColumns = "id, name, description, mfa_required, created_at, updated_at"
    static let entryColumns = "id, resource, principal, action, effect, kind, created_at, created_by"

    // MARK: Groups

    package func insertGroup(_ group: GroupRecord, audit: [AuditEvent]) async throws {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.rows(
                    """
                    INSERT INTO groups (id, name, name_key, description, mfa_required, created_at, updated_at)
                    VALUES (\(group.id), \(group.name), \(GroupRecord.nameKey(group.name)), \(group.description), \(group.mfaRequired),
                        \(pgTime(group.createdAt))::timestamptz, \(pgTime(group.updatedAt))::timestamptz)
                    """,
                    logger: logger
                )
                try await Self.bumpAuthzVersion(connection, logger: logger)
                for event in audit { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
            }
        }
    }

    package func group(id: UUID) async throws -> GroupRecord? {
        try await run {
            try await client.rows("SELECT \(unescaped: Self.groupColumns) FROM groups WHERE id = \(id)", logger: logger).first.map(Self.group)
        }
    }

    package func groups(matching query: GroupQuery) async throws -> [GroupRecord] {
        let search = query.search.map(GroupRecord.nameKey)
        return try await run {
            try await client.rows(
                """
                SELECT \(unescaped: Self.groupColumns) FROM groups
                WHERE (\(search)::text IS NULL OR strpos(name_key, \(search)) > 0)
                  AND (\(query.after)::uuid IS NULL OR id < \(query.after))
                ORDER BY id DESC LIMIT \(query.limit)
                """,
                logger: logger
            ).map(Self.group)
        }
    }

    package func updateGroup(
        id: UUID,
        _ change: @escaping @Sendable (inout GroupRecord) throws -> Void,
        audit: @escaping @Sendable (GroupRecord) -> [AuditEvent]
    ) async throws -> (before: GroupRecord, after: GroupRecord) {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                guard
                    let before = try await connection.rows(
                        "SELECT \(unescaped: Self.groupColumns) FROM groups WHERE id = \(id) FOR UPDATE",
                        logger: logger
                    ).first.map(Self.group)
                else { throw DomainError.groupNotFound(id.lowercased) }
                var after = before
                try change(&after)
                guard after != before else { return (before, after) }
                try await connection.rows(
                    """
                    UPDATE groups SET name = \(after.name), name_key = \(GroupRecord.nameKey(after.name)), description = \(after.description),
                        mfa_required = \(after.mfaRequired), updated_at = \(pgTime(after.updatedAt))::timestamptz
                    WHERE id = \(id)
                    """,
                    logger: logger
                )
                try await Self.bumpAuthzVersion(connection, logger: logger)
                for event in audit(after) { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
                return (before, after)
            }
        }
    }

    package func deleteGroup(id: UUID, audit: @escaping @Sendable (GroupRecord, Int, Int) -> [AuditEvent]) async throws -> GroupRecord? {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                guard
                    let group = try await connection.rows(
                        "SELECT \(unescaped: Self.groupColumns) FROM groups WHERE id = \(id) FOR UPDATE",
                        logger: logger
                    ).first.map(Self.group)
                else { return nil }
                let reference = group.reference.description
                let memberships = try await connection.rows(
                    "DELETE FROM group_members WHERE group_id = \(id) OR member = \(reference) RETURNING 1",
                    logger: logger
                ).count
                let entries = try await connection.rows("DELETE FROM acl_entries WHERE principal = \(reference) RETURNING 1", logger: logger).count
                try await connection.rows("DELETE FROM groups WHERE id = \(id)", logger: logger)
                try await Self.bumpAuthzVersion(connection, logger: logger)
                for event in audit(group, memberships, entries) { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
                return group
            }
        }
    }

    // MARK: Members

    package func addMember(
        _ membership: GroupMembership,
        validate: @escaping @Sendable (GroupGraph) throws -> Void,
        audit: [AuditEvent]
    )
        async throws -> Bool
    {
        let group = membership.groupID
        let member = membership.member.description
        return try await run {
            try await client.withTransaction(logger: logger) { connection in
                // The version row serialises every change of groups and entries, so the links read below are
                // the only ones until this transaction commits: two concurrent links cannot close a cycle.
                try await connection.rows("SELECT version FROM authz_version FOR UPDATE", logger: logger)
                guard try await connection.rows("SELECT 1 FROM groups WHERE id = \(group)", logger: logger).first != nil else {
                    throw DomainError.groupNotFound(group.lowercased)
                }
                guard
                    try await connection.rows(
                        "SELECT 1 FROM group_members WHERE group_id = \(group) AND member = \(member)",
                        logger: logger
                    ).first == nil
                else { return false }
                if case .group = membership.member {
                    let links = try await connection.rows(
                        "SELECT group_id, member FROM group_members WHERE member LIKE 'group:%'",
                        logger: logger
                    ).compactMap { row -> (member: UUID, group: UUID)? in
                        let (group, member) = try row.decode((UUID, String).self)
                        return PrincipalReference(member)?.groupID.map { ($0, group) }
                    }
                    try validate(GroupGraph(links: links))
                }
                try await connection.rows(
                    """
                    INSERT INTO group_members (group_id, member, created_at)
                    VALUES (\(group), \(member), \(pgTime(membership.createdAt))::timestamptz)
                    """,
                    logger: logger
                )
                try await Self.bumpAuthzVersion(connection, logger: logger)
                for event in audit { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
                return true
            }
        }
    }

    package func removeMember(groupID: UUID, member: PrincipalReference, audit: [AuditEvent]) async throws -> Bool {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                guard try await connection.rows("SELECT 1 FROM groups WHERE id = \(groupID)", logger: logger).first != nil else {
                    throw DomainError.groupNotFound(groupID.lowercased)
                }
                let removed = try await connection.rows(
                    "DELETE FROM group_members WHERE group_id = \(groupID) AND member = \(member.description) RETURNING 1",
                    logger: logger
                ).count
                guard removed > 0 else { return false }
                try await Self.bumpAuthzVersion(connection, logger: logger)
                for event in audit { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
                return true
            }
        }
    }

    package func members(groupID: UUID, after: String?, limit: Int) async throws -> [GroupMembership] {
        try await run {
            guard try await client.rows("SELECT 1 FROM groups WHERE id = \(groupID)", logger: logger).first != nil else {
                throw DomainError.groupNotFound(groupID.lowercased)
            }
            return try await client.rows(
                """
                SELECT group_id, member, created_at FROM group_members
                WHERE group_id = \(groupID) AND member > \(after ?? "") ORDER BY member COLLATE "C" LIMIT \(limit)
                """,
                logger: logger
            ).compactMap(Self.membership)
        }
    }

    // MARK: Entries

    package func insertEntry(_ entry: ACLEntry, audit: [AuditEvent]) async throws {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.rows(
                    """
                    INSERT INTO acl_entries (id, resource, principal, action, effect, kind, created_at, created_by)
                    VALUES (\(entry.id), \(entry.resource.text), \(entry.principal.description), \(entry.action), \(entry.effect.rawValue),
                        \(entry.kind.rawValue), \(pgTime(entry.createdAt))::timestamptz, \(entry.createdBy))
                    """,
                    logger: logger
                )
                try await Self.bumpAuthzVersion(connection, logger: logger)
                for event in audit { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
            }
        }
    }

    package func entry(id: UUID) async throws -> ACLEntry? {
        try await run {
            try await client.rows("SELECT \(unescaped: Self.entryColumns) FROM acl_entries WHERE id = \(id)", logger: logger)
                .first.flatMap(Self.entry)
        }
    }

    package func entries(matching query: ACLQuery) async throws -> [ACLEntry] {
        if let resources = query.resources, resources.isEmpty { return [] }
        let resources = query.resources?.map(\.text)
        let principal = query.principal?.description
        return try await run {
            try await client.rows(
                """
                SELECT \(unescaped: Self.entryColumns) FROM acl_entries
                WHERE (\(resources)::text[] IS NULL OR resource = ANY(\(resources)::text[]))
                  AND (\(principal)::text IS NULL OR principal = \(principal))
                  AND (\(query.after)::uuid IS NULL OR id > \(query.after))
                ORDER BY id LIMIT \(query.limit)
                """,
                logger: logger
            ).compactMap(Self.entry)
        }
    }

    package func deleteEntry(id: UUID, audit: @escaping @Sendable (ACLEntry) -> [AuditEvent]) async throws -> ACLEntry? {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                guard
                    let entry = try await connection.rows(
                        "DELETE FROM acl_entries WHERE id = \(id) RETURNING \(unescaped: Self.entryColumns)",
                        logger: logger
                    ).first.flatMap(Self.entry)
                else { return nil }
                try await Self.bumpAuthzVersion(connection, logger: logger)
                for event in audit(entry) { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
                return entry
            }
        }
    }

    package func forgetPrincipal(_ principal: PrincipalReference, audit: [AuditEvent]) async throws {
        let reference = principal.description
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                let memberships = try await connection.rows("DELETE FROM group_members WHERE member = \(reference) RETURNING 1", logger: logger)
                let entries = try await connection.rows("DELETE FROM acl_entries WHERE principal = \(reference) RETURNING 1", logger: logger)
                guard memberships.count + entries.count > 0 else { return }
                try await Self.bumpAuthzVersion(connection, logger: logger)
                for event in audit { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
            }
        }
    }

    // MARK: Snapshot

    package func authzState() async throws -> AuthzState {
        try await run(timeout: .seconds(60)) {
            try await client.withTransaction(logger: logger) { connection in
                // One snapshot of all four (REPEATABLE READ): a change cannot fall between two of the reads.
                try await connection.rows("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", logger: logger)
                let version = try await connection.rows("SELECT version FROM authz_version", logger: logger).first?.decode(Int64.self) ?? 0
                let groups = try await connection.rows("SELECT \(unescaped: Self.groupColumns) FROM groups", logger: logger).map(Self.group)
                let memberships = try await connection.rows("SELECT group_id, member, created_at FROM group_members", logger: logger)
                    .compactMap(Self.membership)
                let entries = try await connection.rows("SELECT \(unescaped: Self.entryColumns) FROM acl_entries", logger: logger)
                    .compactMap(Self.entry)
                return AuthzState(groups: groups, memberships: memberships, entries: entries, version: version)
            }
        }
    }

    package func authzVersion() async throws -> Int64 {
        try await run { try await client.rows("SELECT version FROM authz_version", logger: logger).first?.decode(Int64.self) ?? 0 }
    }

    // MARK: Rows

    static func bumpAuthzVersion(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.rows("UPDATE authz_version SET version = version + 1", logger: logger)
    }

    static func group(_ row: PostgresRow) throws -> GroupRecord {
        let (id, name, description, mfa, created, updated) = try row.decode((UUID, String, String?, Bool, Date, Date).self)
        return GroupRecord(
            id: id,
            name: name,
            description: description,
            mfaRequired: mfa,
            createdAt: Timestamp.truncated(created),
            updatedAt: Timestamp.truncated(updated)
        )
    }

    static func membership(_ row: PostgresRow) throws -> GroupMembership? {
        let (group, member, created) = try row.decode((UUID, String, Date).self)
        return PrincipalReference(member).map { GroupMembership(groupID: group, member: $0, createdAt: Timestamp.truncated(created)) }
    }

    static func entry(_ row: PostgresRow) throws -> ACLEntry? {
        let (id, resource, principal, action, effect, kind, created, createdBy) = try row.decode(
            (UUID, String, String, String, String, String, Date, String?).self
        )
        guard let resource = ResourceName(resource), let principal = PrincipalReference(principal),
            let effect = ACLEntry.Effect(rawValue: effect), let kind = ACLEntry.Kind(rawValue: kind)
        else { return nil }
        return ACLEntry(
            id: id,
            resource: resource,
            principal: principal,
            action: action,
            effect: effect,
            kind: kind,
            createdAt: Timestamp.truncated(created),
            createdBy: createdBy
        )
    }
}
