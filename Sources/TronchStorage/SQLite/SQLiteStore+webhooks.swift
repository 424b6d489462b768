package import Foundation
import GRDB
package import TronchCore

extension SQLiteStore: WebhookStore {
    static let webhookCursorSetting = "webhook_cursor"

    package func insertWebhook(_ record: WebhookEndpointRecord, audit: AuditEvent) async throws {
        try await writer.write { db in
            try db.execute(
                sql: """
                    INSERT INTO webhook_endpoints (id, url, events, description, enabled, secret, start_sequence, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: Self.webhookArguments(record)
            )
            _ = try Self.appendAudit(audit, db)
        }
    }

    package func webhook(id: UUID) async throws -> WebhookEndpointRecord? {
        try await writer.read { db in try Self.fetchWebhook(id, db) }
    }

    package func webhooks(after: UUID?, limit: Int) async throws -> [WebhookEndpointRecord] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM webhook_endpoints WHERE id > ? ORDER BY id LIMIT ?",
                arguments: [after?.lowercased ?? "", limit + 1]
            ).map(Self.webhookEndpoint)
        }
    }

    package func updateWebhook(
        id: UUID,
        audit: AuditEvent,
        _ change: @escaping @Sendable (inout WebhookEndpointRecord) throws -> Void
    ) async throws -> WebhookEndpointRecord? {
        try await writer.write { db in
            guard var record = try Self.fetchWebhook(id, db) else { return nil }
            try change(&record)
            try db.execute(
                sql: "UPDATE webhook_endpoints SET url = ?, events = ?, description = ?, enabled = ?, updated_at = ? WHERE id = ?",
                arguments: [
                    record.url, try JSONValue.encodeCanonical(record.events), record.description, record.enabled,
                    Timestamp.milliseconds(record.updatedAt), id.lowercased,
                ]
            )
            _ = try Self.appendAudit(audit, db)
            return record
        }
    }

    package func deleteWebhook(id: UUID, audit: AuditEvent) async throws -> Bool {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM webhook_deliveries WHERE endpoint_id = ?", arguments: [id.lowercased])
            try db.execute(sql: "DELETE FROM webhook_endpoints WHERE id = ?", arguments: [id.lowercased])
            guard db.changesCount == 1 else { return false }
            _ = try Self.appendAudit(audit, db)
            return true
        }
    }

    package func webhookCursor() async throws -> Int64? {
        try await writer.read { db in
            // The cursor belongs with the webhook tables: without them (an older schema) this is an error.
            _ = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM webhook_endpoints")
            return try String.fetchOne(db, sql: "SELECT value FROM tronch_settings WHERE name = ?", arguments: [Self.webhookCursorSetting])
                .flatMap { Int64($0) }
        }
    }

    package func advanceWebhookCursor(from: Int64?, to: Int64, deliveries: [WebhookDeliveryRecord]) async throws -> Bool {
        try await writer.write { db in
            let current = try String.fetchOne(
                db,
                sql: "SELECT value FROM tronch_settings WHERE name = ?",
                arguments: [Self.webhookCursorSetting]
            ).flatMap { Int64($0) }
            guard current == from else { return false }
            try db.execute(
                sql: "INSERT INTO tronch_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                arguments: [Self.webhookCursorSetting, String(to)]
            )
            for delivery in deliveries {
                try db.execute(
                    sql: """
                        INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, sequence, payload, status, attempts,
                            next_attempt_at, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING
                        """,
                    arguments: [
                        delivery.id.lowercased, delivery.endpointID.lowercased, delivery.eventID.lowercased, delivery.eventType,
                        delivery.sequence, delivery.payload, delivery.status.rawValue, delivery.attempts,
                        delivery.nextAttemptAt.map(Timestamp.milliseconds), Timestamp.milliseconds(delivery.createdAt),
                    ]
                )
            }
            return true
        }
    }

    package func claimWebhookDeliveries(now: Date, leaseUntil: Date, limit: Int) async throws -> [WebhookDeliveryRecord] {
        try await writer.write { db in
            let due = try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?
                        AND (lease_until IS NULL OR lease_until <= ?)
                    ORDER BY next_attempt_at, sequence LIMIT ?
                    """,
                arguments: [Timestamp.milliseconds(now), Timestamp.milliseconds(now), limit]
            ).map(Self.webhookDelivery)
            for delivery in due {
                try db.execute(
                    sql: "UPDATE webhook_deliveries SET lease_until = ? WHERE id = ?",
                    arguments: [Timestamp.milliseconds(leaseUntil), delivery.id.lowercased]
                )
            }
            return due
        }
    }

    package func recordWebhookAttempt(id: UUID, at: Date, outcome: WebhookAttemptOutcome) async throws {
        let (status, next, response, error, delivered) = outcome.columns(at: at)
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE webhook_deliveries SET status = ?, attempts = attempts + 1, next_attempt_at = ?, last_attempt_at = ?,
                        lease_until = NULL, response_status = ?, error = ?, delivered_at = COALESCE(?, delivered_at)
                    WHERE id = ?
                    """,
                arguments: [
                    status.rawValue, next.map(Timestamp.milliseconds), Timestamp.milliseconds(at), response, error,
                    delivered.map(Timestamp.milliseconds), id.lowercased,
                ]
            )
        }
    }

    package func webhookDeliveries(
        endpointID: UUID,
        status: WebhookDeliveryRecord.Status?,
        before: UUID?,
        limit: Int
    ) async throws
        -> [WebhookDeliveryRecord]
    {
        try await writer.read { db in
            var sql = "SELECT * FROM webhook_deliveries WHERE endpoint_id = ?"
            var arguments: StatementArguments = [endpointID.lowercased]
            if let status {
                sql += " AND status = ?"
                _ = arguments.append(contentsOf: [status.rawValue])
            }
            if let before {
                sql += " AND id < ?"
                _ = arguments.append(contentsOf: [before.lowercased])
            }
            sql += " ORDER BY id DESC LIMIT ?"
            _ = arguments.append(contentsOf: [limit + 1])
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.webhookDelivery)
        }
    }

    package func redeliverWebhook(endpointID: UUID, deliveryID: UUID, now: Date) async throws -> WebhookDeliveryRecord? {
        try await writer.write { db in
            try db.execute(
                sql: """
                    UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, lease_until = NULL
                    WHERE id = ? AND endpoint_id = ?
                    """,
                arguments: [Timestamp.milliseconds(now), deliveryID.lowercased, endpointID.lowercased]
            )
            guard db.changesCount == 1 else { return nil }
            return try Row.fetchOne(db, sql: "SELECT * FROM webhook_deliveries WHERE id = ?", arguments: [deliveryID.lowercased])
                .map(Self.webhookDelivery)
        }
    }

    // MARK: Rows

    static func fetchWebhook(_ id: UUID, _ db: Database) throws -> WebhookEndpointRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM webhook_endpoints WHERE id = ?", arguments: [id.lowercased]).map(webhookEndpoint)
    }

    static func webhookArguments(_ record: WebhookEndpointRecord) throws -> StatementArguments {
        [
            record.id.lowercased, record.url, try JSONValue.encodeCanonical(record.events), record.description, record.enabled,
            record.sealedSecret, record.startSequence, Timestamp.milliseconds(record.createdAt), Timestamp.milliseconds(record.updatedAt),
        ]
    }

    static func webhookEndpoint(_ row: Row) throws -> WebhookEndpointRecord {
        guard let id = UUID(uuidString: row["id"]), case .array(let items) = try JSONParser.parse(Array((row["events"] as String).utf8))
        else { throw StorageError.corruptRow("webhook_endpoints row") }
        return WebhookEndpointRecord(
            id: id,
            url: row["url"],
            events: items.compactMap { if case .string(let text) = $0 { text } else { nil } },
            description: row["description"],
            enabled: row["enabled"],
            sealedSecret: row["secret"],
            startSequence: row["start_sequence"],
            createdAt: Timestamp.date(milliseconds: row["created_at"]),
            updatedAt: Timestamp.date(milliseconds: row["updated_at"])
        )
    }

    static func webhookDelivery(_ row: Row) throws -> WebhookDeliveryRecord {
        func date(_ column: String) -> Date? { (row[column] as Int64?).map(Timestamp.date(milliseconds:)) }
        guard let id = UUID(uuidString: row["id"]), let endpoint = UUID(uuidString: row["endpoint_id"]),
            let event = UUID(uuidString: row["event_id"]), let status = WebhookDeliveryRecord.Status(rawValue: row["status"])
        else { throw StorageError.corruptRow("webhook_deliveries row") }
        return WebhookDeliveryRecord(
            id: id,
            endpointID: endpoint,
            eventID: event,
            eventType: row["event_type"],
            sequence: row["sequence"],
            payload: row["payload"],
            status: status,
            attempts: row["attempts"],
            nextAttemptAt: date("next_attempt_at"),
            lastAttemptAt: date("last_attempt_at"),
            responseStatus: row["response_status"],
            error: row["error"],
            createdAt: date("created_at") ?? Date(timeIntervalSince1970: 0),
            deliveredAt: date("delivered_at")
        )
    }
}
