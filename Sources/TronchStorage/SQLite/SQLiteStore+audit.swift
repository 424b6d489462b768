package import Foundation
import GRDB
package import TronchCore

extension SQLiteStore: AuditStore {
    @discardableResult
    package func appendAudit(_ events: [AuditEvent]) async throws -> [AuditEntry] {
        guard !events.isEmpty else { return [] }
        return try await writer.write { db in try events.map { try Self.appendAudit($0, db) } }
    }

    /// Chains `event` after the head and stores it, inside the caller's transaction. SQLite has one writer
    /// at a time, so reading the head here cannot race another append.
    static func appendAudit(_ event: AuditEvent, _ db: Database) throws -> AuditEntry {
        guard let row = try Row.fetchOne(db, sql: "SELECT sequence, hash FROM audit_head WHERE id = 1") else {
            throw StorageError.database("the audit chain head is missing")
        }
        let entry = AuditChain.link(event, after: AuditHead(sequence: row["sequence"], hash: row["hash"]))
        try db.execute(
            sql: """
                INSERT INTO audit_log (sequence, id, time, actor_kind, actor_id, action, target_type, target_id, outcome,
                    request_id, client_ip, user_agent, details, previous_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                entry.sequence, event.id.lowercased, Timestamp.milliseconds(event.time), event.actor.kind.rawValue,
                event.actor.id, event.action, event.targetType, event.targetID, event.outcome.rawValue,
                event.origin.requestID, event.origin.clientIP, event.origin.userAgent, event.details,
                entry.previousHash, entry.hash,
            ]
        )
        try db.execute(sql: "UPDATE audit_head SET sequence = ?, hash = ? WHERE id = 1", arguments: [entry.sequence, entry.hash])
        return entry
    }

    package func auditEntries(matching query: AuditQuery) async throws -> AuditPage {
        var conditions = [String]()
        var arguments = StatementArguments()
        func add(_ condition: String, _ value: (any DatabaseValueConvertible)?) {
            conditions.append(condition)
            _ = arguments.append(contentsOf: [value])
        }
        if let actor = query.actorID { add("actor_id = ?", actor) }
        if let action = query.action { add("action = ?", action) }
        if let type = query.targetType { add("target_type = ?", type) }
        if let target = query.targetID { add("target_id = ?", target) }
        if let outcome = query.outcome { add("outcome = ?", outcome.rawValue) }
        if let from = query.from { add("time >= ?", Timestamp.milliseconds(from)) }
        if let to = query.to { add("time < ?", Timestamp.milliseconds(to)) }
        if let before = query.before { add("sequence < ?", before) }
        let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let size = min(max(query.limit, 1), 1000)
        _ = arguments.append(contentsOf: [size + 1])
        let sql = "SELECT * FROM audit_log \(filter) ORDER BY sequence DESC LIMIT ?"
        let finalArguments = arguments
        let entries = try await writer.read { db in try Row.fetchAll(db, sql: sql, arguments: finalArguments).map(Self.auditEntry) }
        let page = Array(entries.prefix(size))
        return AuditPage(entries: page, nextCursor: entries.count > size ? page.last?.sequence : nil)
    }

    package func auditChain(after sequence: Int64, limit: Int) async throws -> [AuditEntry] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM audit_log WHERE sequence > ? ORDER BY sequence LIMIT ?",
                arguments: [sequence, limit]
            ).map(Self.auditEntry)
        }
    }

    package func cutAudit(
        before cutoff: Date,
        record: @escaping @Sendable (_ removed: Int, _ checkpoint: AuditHead) -> AuditEvent
    ) async throws -> Int {
        try await writer.write { db in
            let cutoff = Timestamp.milliseconds(cutoff)
            // The prefix of the chain older than the cutoff: up to the first entry that is not.
            let firstKept = try Int64.fetchOne(db, sql: "SELECT MIN(sequence) FROM audit_log WHERE time >= ?", arguments: [cutoff])
            let last = try Int64.fetchOne(
                db,
                sql: "SELECT MAX(sequence) FROM audit_log WHERE time < ? AND sequence < ?",
                arguments: [cutoff, firstKept ?? Int64.max]
            )
            guard let last, let hash = try String.fetchOne(db, sql: "SELECT hash FROM audit_log WHERE sequence = ?", arguments: [last])
            else { return 0 }
            let removed = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_log WHERE sequence <= ?", arguments: [last]) ?? 0
            try db.execute(sql: "DELETE FROM audit_log WHERE sequence <= ?", arguments: [last])
            try db.execute(
                sql: "UPDATE audit_head SET checkpoint_sequence = ?, checkpoint_hash = ? WHERE id = 1",
                arguments: [last, hash]
            )
            _ = try Self.appendAudit(record(removed, AuditHead(sequence: last, hash: hash)), db)
            return removed
        }
    }

    package func auditBounds() async throws -> (checkpoint: AuditHead, head: AuditHead) {
        try await writer.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM audit_head WHERE id = 1") else {
                throw StorageError.database("the audit chain head is missing")
            }
            return (
                AuditHead(sequence: row["checkpoint_sequence"], hash: row["checkpoint_hash"]),
                AuditHead(sequence: row["sequence"], hash: row["hash"])
            )
        }
    }

    static func auditEntry(_ row: Row) throws -> AuditEntry {
        guard let id = UUID(uuidString: row["id"]), let kind = AuditActor.Kind(rawValue: row["actor_kind"]),
            let outcome = AuditEvent.Outcome(rawValue: row["outcome"])
        else { throw StorageError.database("an audit entry does not parse") }
        let event = AuditEvent(
            id: id,
            time: Timestamp.date(milliseconds: row["time"]),
            actor: AuditActor(kind: kind, id: row["actor_id"]),
            action: row["action"],
            targetType: row["target_type"],
            targetID: row["target_id"],
            outcome: outcome,
            origin: RequestOrigin(requestID: row["request_id"], clientIP: row["client_ip"], userAgent: row["user_agent"]),
            detailsText: row["details"]
        )
        return AuditEntry(sequence: row["sequence"], event: event, previousHash: row["previous_hash"], hash: row["hash"])
    }
}
