package import Foundation
import GRDB
package import TronchCore

extension SQLiteStore: AuthzStore {
    // MARK: Groups

    package func insertGroup(_ group: GroupRecord, audit: [AuditEvent]) async throws {
        try await writer.write { db in
            try Self.writeGroup(group, insert: true, db)
            try Self.bumpAuthzVersion(db)
            for event in audit { _ = try Self.appendAudit(event, db) }
        }
    }

    package func group(id: UUID) async throws -> GroupRecord? {
        try await writer.read { db in try Self.fetchGroup(id, db) }
    }

    package func groups(matching query: GroupQuery) async throws -> [GroupRecord] {
        var conditions = [String]()
        var arguments = StatementArguments()
        if let search = query.search {
            conditions.append("instr(name_key, ?) > 0")
            _ = arguments.append(contentsOf: [GroupRecord.nameKey(search)])
        }
        if let after = query.after {
            conditions.append("id < ?")
            _ = arguments.append(contentsOf: [after.lowercased])
        }
        _ = arguments.append(contentsOf: [query.limit])
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT * FROM groups \(filter) ORDER BY id DESC LIMIT ?"
        let finalArguments = arguments
        return try await writer.read { db in try Row.fetchAll(db, sql: sql, arguments: finalArguments).map(Self.group) }
    }

    package func updateGroup(
        id: UUID,
        _ change: @escaping @Sendable (inout GroupRecord) throws -> Void,
        audit: @escaping @Sendable (GroupRecord) -> [AuditEvent]
    ) async throws -> (before: GroupRecord, after: GroupRecord) {
        try await writer.write { db in
            guard let before = try Self.fetchGroup(id, db) else { throw DomainError.groupNotFound(id.lowercased) }
            var after = before
            try change(&after)
            guard after != before else { return (before, after) }
            try Self.writeGroup(after, insert: false, db)
            try Self.bumpAuthzVersion(db)
            for event in audit(after) { _ = try Self.appendAudit(event, db) }
            return (before, after)
        }
    }

    package func deleteGroup(id: UUID, audit: @escaping @Sendable (GroupRecord, Int, Int) -> [AuditEvent]) async throws -> GroupRecord? {
        try await writer.write { db in
            guard let group = try Self.fetchGroup(id, db) else { return nil }
            let reference = group.reference.description
            try db.execute(sql: "DELETE FROM group_members WHERE group_id = ? OR member = ?", arguments: [id.lowercased, reference])
            let memberships = db.changesCount
            try db.execute(sql: "DELETE FROM acl_entries WHERE principal = ?", arguments: [reference])
            let entries = db.changesCount
            try db.execute(sql: "DELETE FROM groups WHERE id = ?", arguments: [id.lowercased])
            try Self.bumpAuthzVersion(db)
            for event in audit(group, memberships, entries) { _ = try Self.appendAudit(event, db) }
            return group
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
        try await writer.write { db in
            guard try Self.fetchGroup(membership.groupID, db) != nil else { throw DomainError.groupNotFound(membership.groupID.lowercased) }
            let member = membership.member.description
            let exists =
                try Bool.fetchOne(
                    db,
                    sql: "SELECT 1 FROM group_members WHERE group_id = ? AND member = ?",
                    arguments: [membership.groupID.lowercased, member]
                ) ?? false
            guard !exists else { return false }
            if case .group = membership.member {
                // The writer is exclusive: the links read here are all there are until this transaction ends.
                let links = try Row.fetchAll(db, sql: "SELECT group_id, member FROM group_members WHERE member LIKE 'group:%'").compactMap { row in
                    Self.link(group: row["group_id"], member: row["member"])
                }
                try validate(GroupGraph(links: links))
            }
            try db.execute(
                sql: "INSERT INTO group_members (group_id, member, created_at) VALUES (?, ?, ?)",
                arguments: [membership.groupID.lowercased, member, Timestamp.milliseconds(membership.createdAt)]
            )
            try Self.bumpAuthzVersion(db)
            for event in audit { _ = try Self.appendAudit(event, db) }
            return true
        }
    }

    package func removeMember(groupID: UUID, member: PrincipalReference, audit: [AuditEvent]) async throws -> Bool {
        try await writer.write { db in
            guard try Self.fetchGroup(groupID, db) != nil else { throw DomainError.groupNotFound(groupID.lowercased) }
            try db.execute(sql: "DELETE FROM group_members WHERE group_id = ? AND member = ?", arguments: [groupID.lowercased, member.description])
            guard db.changesCount > 0 else { return false }
            try Self.bumpAuthzVersion(db)
            for event in audit { _ = try Self.appendAudit(event, db) }
            return true
        }
    }

    package func members(groupID: UUID, after: String?, limit: Int) async throws -> [GroupMembership] {
        try await writer.read { db in
            guard try Self.fetchGroup(groupID, db) != nil else { throw DomainError.groupNotFound(groupID.lowercased) }
            return try Row.fetchAll(
                db,
                sql: "SELECT * FROM group_members WHERE group_id = ? AND member > ? ORDER BY member LIMIT ?",
                arguments: [groupID.lowercased, after ?? "", limit]
            ).compactMap(Self.membership)
        }
    }

    // MARK: Entries

    package func insertEntry(_ entry: ACLEntry, audit: [AuditEvent]) async throws {
        try await writer.write { db in
            do {
                try db.execute(
                    sql: """
                        INSERT INTO acl_entries (id, resource, principal, action, effect, kind, created_at, created_by)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        entry.id.lowercased, entry.resource.text, entry.principal.description, entry.action, entry.effect.rawValue,
                        entry.kind.rawValue, Timestamp.milliseconds(entry.createdAt), entry.createdBy,
                    ]
                )
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw DomainError.duplicateEntry
            }
            try Self.bumpAuthzVersion(db)
            for event in audit { _ = try Self.appendAudit(event, db) }
        }
    }

    package func entry(id: UUID) async throws -> ACLEntry? {
        try await writer.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM acl_entries WHERE id = ?", arguments: [id.lowercased]).flatMap(Self.entry)
        }
    }

    package func entries(matching query: ACLQuery) async throws -> [ACLEntry] {
        var conditions = [String]()
        var arguments = StatementArguments()
        if let resources = query.resources {
            guard !resources.isEmpty else { return [] }
            conditions.append("resource IN (\(Array(repeating: "?", count: resources.count).joined(separator: ", ")))")
            _ = arguments.append(contentsOf: StatementArguments(resources.map(\.text)))
        }
        if let principal = query.principal {
            conditions.append("principal = ?")
            _ = arguments.append(contentsOf: [principal.description])
        }
        if let after = query.after {
            conditions.append("id > ?")
            _ = arguments.append(contentsOf: [after.lowercased])
        }
        _ = arguments.append(contentsOf: [query.limit])
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let sql = "SELECT * FROM acl_entries \(filter) ORDER BY id LIMIT ?"
        let finalArguments = arguments
        return try await writer.read { db in try Row.fetchAll(db, sql: sql, arguments: finalArguments).compactMap(Self.entry) }
    }

    package func deleteEntry(id: UUID, audit: @escaping @Sendable (ACLEntry) -> [AuditEvent]) async throws -> ACLEntry? {
        try await writer.write { db in
            guard let entry = try Row.fetchOne(db, sql: "SELECT * FROM acl_entries WHERE id = ?", arguments: [id.lowercased]).flatMap(Self.entry)
            else { return nil }
            try db.execute(sql: "DELETE FROM acl_entries WHERE id = ?", arguments: [id.lowercased])
            try Self.bumpAuthzVersion(db)
            for event in audit(entry) { _ = try Self.appendAudit(event, db) }
            return entry
        }
    }

    package func forgetPrincipal(_ principal: PrincipalReference, audit: [AuditEvent]) async throws {
        try await writer.write { db in
            let reference = principal.description
            try db.execute(sql: "DELETE FROM group_members WHERE member = ?", arguments: [reference])
            var changed = db.changesCount
            try db.execute(sql: "DELETE FROM acl_entries WHERE principal = ?", arguments: [reference])
            changed += db.changesCount
            guard changed > 0 else { return }
            try Self.bumpAuthzVersion(db)
            for event in audit { _ = try Self.appendAudit(event, db) }
        }
    }

    // MARK: Snapshot

    package func authzState() async throws -> AuthzState {
        try await writer.read { db in
            AuthzState(
                groups: try Row.fetchAll(db, sql: "SELECT * FROM groups").map(Self.group),
                memberships: try Row.fetchAll(db, sql: "SELECT * FROM group_members").compactMap(Self.membership),
                entries: try Row.fetchAll(db, sql: "SELECT * FROM acl_entries").compactMap(Self.entry),
                version: try Int64.fetchOne(db, sql: "SELECT version FROM authz_version") ?? 0
            )
        }
    }

    package func authzVersion() async throws -> Int64 {
        try await writer.read { db in try Int64.fetchOne(db, sql: "SELECT version FROM authz_version") ?? 0 }
    }

    // MARK: Rows

    static func bumpAuthzVersion(_ db: Database) throws {
        try db.execute(sql: "UPDATE authz_version SET version = version + 1")
    }

    static func fetchGroup(_ id: UUID, _ db: Database) throws -> GroupRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM groups WHERE id = ?", arguments: [id.lowercased]).map(Self.group)
    }

    static func writeGroup(_ group: GroupRecord, insert: Bool, _ db: Database) throws {
        let values: StatementArguments = [
            group.name, GroupRecord.nameKey(group.name), group.description, group.mfaRequired, Timestamp.milliseconds(group.createdAt),
            Timestamp.milliseconds(group.updatedAt), group.id.lowercased,
        ]
        do {
            if insert {
                try db.execute(
                    sql: "INSERT INTO groups (name, name_key, description, mfa_required, created_at, updated_at, id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    arguments: values
                )
            } else {
                try db.execute(
                    sql: "UPDATE groups SET name = ?, name_key = ?, description = ?, mfa_required = ?, created_at = ?, updated_at = ? WHERE id = ?",
                    arguments: values
                )
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw (error.message ?? "").contains("name_key")
                ? DomainError.groupNameTaken : DomainError(.conflict, "a group with this id already exists")
        }
    }

    static func group(_ row: Row) throws -> GroupRecord {
        guard let id = UUID(uuidString: row["id"]) else { throw StorageError.corruptRow("groups row") }
        return GroupRecord(
            id: id,
            name: row["name"],
            description: row["description"],
            mfaRequired: row["mfa_required"],
            createdAt: Timestamp.date(milliseconds: row["created_at"]),
            updatedAt: Timestamp.date(milliseconds: row["updated_at"])
        )
    }

    static func membership(_ row: Row) -> GroupMembership? {
        guard let group = UUID(uuidString: row["group_id"]), let member = PrincipalReference(row["member"]) else { return nil }
        return GroupMembership(groupID: group, member: member, createdAt: Timestamp.date(milliseconds: row["created_at"]))
    }

    static func link(group: String, member: String) -> (member: UUID, group: UUID)? {
        guard let group = UUID(uuidString: group), let member = PrincipalReference(member)?.groupID else { return nil }
        return (member, group)
    }

    static func entry(_ row: Row) -> ACLEntry? {
        guard let id = UUID(uuidString: row["id"]), let resource = ResourceName(row["resource"]),
            let principal = PrincipalReference(row["principal"]), let effect = ACLEntry.Effect(rawValue: row["effect"]),
            let kind = ACLEntry.Kind(rawValue: row["kind"])
        else { return nil }
        return ACLEntry(
            id: id,
            resource: resource,
            principal: principal,
            action: row["action"],
            effect: effect,
            kind: kind,
            createdAt: Timestamp.date(milliseconds: row["created_at"]),
            createdBy: row["created_by"]
        )
    }
}
