package import Foundation
import Logging
import PostgresNIO
package import TronchCore

extension PostgresStore: AuditStore {
    @discardableResult
    package func appendAudit(_ events: [AuditEvent]) async throws -> [AuditEntry] {
        guard !events.isEmpty else { return [] }
        return try await run {
            try await client.withTransaction(logger: logger) { connection in
                var entries = [AuditEntry]()
                for event in events { entries.append(try await Self.appendAudit(event, on: connection, logger: logger)) }
                return entries
            }
        }
    }

    /// Chains `event` after the head and stores it, inside the caller's transaction. The head row is locked
    /// until commit, so appends from every node queue up one after another and form one chain.
    static func appendAudit(_ event: AuditEvent, on connection: PostgresConnection, logger: Logger) async throws -> AuditEntry {
        guard
            let row = try await connection.rows("SELECT sequence, hash FROM audit_head WHERE id = 1 FOR UPDATE", logger: logger)
                .first
        else { throw StorageError.database("the audit chain head is missing") }
        let (sequence, hash) = try row.decode((Int64, String).self)
        let entry = AuditChain.link(event, after: AuditHead(sequence: sequence, hash: hash))
        try await connection.rows(
            """
            INSERT INTO audit_log (sequence, id, time, actor_kind, actor_id, action, target_type, target_id, outcome,
                request_id, client_ip, user_agent, details, previous_hash, hash)
            VALUES (\(entry.sequence), \(event.id), \(pgTime(event.time))::timestamptz, \(event.actor.kind.rawValue),
                \(event.actor.id), \(event.action), \(event.targetType), \(event.targetID), \(event.outcome.rawValue),
                \(event.origin.requestID), \(event.origin.clientIP), \(event.origin.userAgent), \(event.details),
                \(entry.previousHash), \(entry.hash))
            """,
            logger: logger
        )
        try await connection.rows(
            "UPDATE audit_head SET sequence = \(entry.sequence), hash = \(entry.hash) WHERE id = 1",
            logger: logger
        )
        return entry
    }

    static let auditColumns = """
        sequence, id, time, actor_kind, actor_id, action, target_type, target_id, outcome, request_id, client_ip,
        user_agent, details, previous_hash, hash
        """

    package func auditEntries(matching query: AuditQuery) async throws -> AuditPage {
        var sql = "SELECT \(Self.auditColumns) FROM audit_log"
        var bindings = PostgresBindings()
        var conditions = [String]()
        func add(_ column: String, _ operation: String, _ value: some PostgresEncodable & Sendable, cast: String = "") throws {
            try bindings.append(value)
            conditions.append("\(column) \(operation) $\(bindings.count)\(cast)")
        }
        if let actor = query.actorID { try add("actor_id", "=", actor) }
        if let action = query.action { try add("action", "=", action) }
        if let type = query.targetType { try add("target_type", "=", type) }
        if let target = query.targetID { try add("target_id", "=", target) }
        if let outcome = query.outcome { try add("outcome", "=", outcome.rawValue) }
        if let from = query.from { try add("time", ">=", pgTime(from), cast: "::timestamptz") }
        if let to = query.to { try add("time", "<", pgTime(to), cast: "::timestamptz") }
        if let before = query.before { try add("sequence", "<", before) }
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        let size = min(max(query.limit, 1), 1000)
        sql += " ORDER BY sequence DESC LIMIT \(size + 1)"
        let statement = PostgresQuery(unsafeSQL: sql, binds: bindings)
        let entries = try await run { try await client.rows(statement, logger: logger).map(Self.auditEntry) }
        let page = Array(entries.prefix(size))
        return AuditPage(entries: page, nextCursor: entries.count > size ? page.last?.sequence : nil)
    }

    package func auditChain(after sequence: Int64, limit: Int) async throws -> [AuditEntry] {
        try await run {
            try await client.rows(
                "SELECT \(unescaped: Self.auditColumns) FROM audit_log WHERE sequence > \(sequence) ORDER BY sequence LIMIT \(limit)",
                logger: logger
            ).map(Self.auditEntry)
        }
    }

    package func cutAudit(
        before cutoff: Date,
        record: @escaping @Sendable (_ removed: Int, _ checkpoint: AuditHead) -> AuditEvent
    ) async throws -> Int {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                // Holding the head keeps appends out while the chain is cut; the setting lets the
                // append-only trigger allow these deletes, for this transaction only.
                try await connection.rows("SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE", logger: logger)
                try await connection.rows("SET LOCAL tronch.audit_retention = 'on'", logger: logger)
                let time = pgTime(cutoff)
                guard
                    let row = try await connection.rows(
                        """
                        SELECT sequence, hash FROM audit_log
                        WHERE time < \(time)::timestamptz AND sequence < COALESCE(
                            (SELECT MIN(sequence) FROM audit_log WHERE time >= \(time)::timestamptz), 9223372036854775807)
                        ORDER BY sequence DESC LIMIT 1
                        """,
                        logger: logger
                    ).first
                else { return 0 }
                let (last, hash) = try row.decode((Int64, String).self)
                let deleted =
                    try await connection.rows(
                        "WITH gone AS (DELETE FROM audit_log WHERE sequence <= \(last) RETURNING 1) SELECT COUNT(*) FROM gone",
                        logger: logger
                    ).first?.decode(Int.self) ?? 0
                try await connection.rows(
                    "UPDATE audit_head SET checkpoint_sequence = \(last), checkpoint_hash = \(hash) WHERE id = 1",
                    logger: logger
                )
                _ = try await Self.appendAudit(record(deleted, AuditHead(sequence: last, hash: hash)), on: connection, logger: logger)
                return deleted
            }
        }
    }

    package func auditBounds() async throws -> (checkpoint: AuditHead, head: AuditHead) {
        try await run {
            guard
                let row = try await client.rows(
                    "SELECT checkpoint_sequence, checkpoint_hash, sequence, hash FROM audit_head WHERE id = 1",
                    logger: logger
                ).first
            else { throw StorageError.database("the audit chain head is missing") }
            let (checkpointSequence, checkpointHash, sequence, hash) = try row.decode((Int64, String, Int64, String).self)
            return (AuditHead(sequence: checkpointSequence, hash: checkpointHash), AuditHead(sequence: sequence, hash: hash))
        }
    }

    static func auditEntry(_ row: PostgresRow) throws -> AuditEntry {
        let cells = Array(row)
        let kindText = try cells[3].decode(String.self)
        let outcomeText = try cells[8].decode(String.self)
        guard let kind = AuditActor.Kind(rawValue: kindText), let outcome = AuditEvent.Outcome(rawValue: outcomeText) else {
            throw StorageError.database("an audit entry does not parse")
        }
        let event = AuditEvent(
            id: try cells[1].decode(UUID.self),
            time: Timestamp.truncated(try cells[2].decode(Date.self)),
            actor: AuditActor(kind: kind, id: try cells[4].decode(String?.self)),
            action: try cells[5].decode(String.self),
            targetType: try cells[6].decode(String?.self),
            targetID: try cells[7].decode(String?.self),
            outcome: outcome,
            origin: RequestOrigin(
                requestID: try cells[9].decode(String?.self),
                clientIP: try cells[10].decode(String?.self),
                userAgent: try cells[11].decode(String?.self)
            ),
            detailsText: try cells[12].decode(String.self)
        )
        return AuditEntry(
            sequence: try cells[0].decode(Int64.self),
            event: event,
            previousHash: try cells[13].decode(String.self),
            hash: try cells[14].decode(String.self)
        )
    }
}
