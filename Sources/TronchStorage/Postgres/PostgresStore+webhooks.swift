package import Foundation
import Logging
import PostgresNIO
package import TronchCore

extension PostgresStore: WebhookStore {
    static let webhookCursorSetting = "webhook_cursor"
    static let endpointColumns = "id, url, events::text, description, enabled, secret, start_sequence, created_at, updated_at"
    static let deliveryColumns = """
        id, endpoint_id, event_id, event_type, sequence, payload, status, attempts, next_attempt_at, last_attempt_at,
        response_status, error, created_at, delivered_at
        """

    package func insertWebhook(_ record: WebhookEndpointRecord, audit: AuditEvent) async throws {
        let events = try JSONValue.encodeCanonical(record.events)
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.rows(
                    """
                    INSERT INTO webhook_endpoints (id, url, events, description, enabled, secret, start_sequence, created_at, updated_at)
                    VALUES (\(record.id), \(record.url), \(events)::jsonb, \(record.description), \(record.enabled), \(record.sealedSecret),
                        \(record.startSequence), \(pgTime(record.createdAt))::timestamptz, \(pgTime(record.updatedAt))::timestamptz)
                    """,
                    logger: logger
                )
                _ = try await Self.appendAudit(audit, on: connection, logger: logger)
            }
        }
    }

    package func webhook(id: UUID) async throws -> WebhookEndpointRecord? {
        try await run {
            try await client.rows(
                "SELECT \(unescaped: Self.endpointColumns) FROM webhook_endpoints WHERE id = \(id)",
                logger: logger
            ).first.map(Self.webhookEndpoint)
        }
    }

    package func webhooks(after: UUID?, limit: Int) async throws -> [WebhookEndpointRecord] {
        try await run {
            let rows: [PostgresRow]
            if let after {
                rows = try await client.rows(
                    "SELECT \(unescaped: Self.endpointColumns) FROM webhook_endpoints WHERE id > \(after) ORDER BY id LIMIT \(limit + 1)",
                    logger: logger
                )
            } else {
                rows = try await client.rows(
                    "SELECT \(unescaped: Self.endpointColumns) FROM webhook_endpoints ORDER BY id LIMIT \(limit + 1)",
                    logger: logger
                )
            }
            return try rows.map(Self.webhookEndpoint)
        }
    }

    package func updateWebhook(
        id: UUID,
        audit: AuditEvent,
        _ change: @escaping @Sendable (inout WebhookEndpointRecord) throws -> Void
    ) async throws -> WebhookEndpointRecord? {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                guard
                    var record = try await connection.rows(
                        "SELECT \(unescaped: Self.endpointColumns) FROM webhook_endpoints WHERE id = \(id) FOR UPDATE",
                        logger: logger
                    ).first.map(Self.webhookEndpoint)
                else { return nil }
                try change(&record)
                let events = try JSONValue.encodeCanonical(record.events)
                try await connection.rows(
                    """
                    UPDATE webhook_endpoints SET url = \(record.url), events = \(events)::jsonb, description = \(record.description),
                        enabled = \(record.enabled), updated_at = \(pgTime(record.updatedAt))::timestamptz
                    WHERE id = \(id)
                    """,
                    logger: logger
                )
                _ = try await Self.appendAudit(audit, on: connection, logger: logger)
                return record
            }
        }
    }

    package func deleteWebhook(id: UUID, audit: AuditEvent) async throws -> Bool {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                let deleted = try await connection.rows("DELETE FROM webhook_endpoints WHERE id = \(id) RETURNING 1", logger: logger)
                guard !deleted.isEmpty else { return false }
                _ = try await Self.appendAudit(audit, on: connection, logger: logger)
                return true
            }
        }
    }

    package func webhookCursor() async throws -> Int64? {
        try await run {
            // The cursor belongs with the webhook tables: without them (an older schema) this is an error.
            _ = try await client.rows("SELECT 1 FROM webhook_endpoints LIMIT 1", logger: logger)
            return try await client.rows(
                "SELECT value FROM tronch_settings WHERE name = \(Self.webhookCursorSetting)",
                logger: logger
            ).first.map { try $0.decode(String.self) }.flatMap { Int64($0) }
        }
    }

    package func advanceWebhookCursor(from: Int64?, to: Int64, deliveries: [WebhookDeliveryRecord]) async throws -> Bool {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                // The row lock makes racing nodes take turns; the second finds the cursor moved and stops.
                try await connection.rows(
                    """
                    INSERT INTO tronch_settings (name, value) VALUES (\(Self.webhookCursorSetting), '')
                    ON CONFLICT (name) DO NOTHING
                    """,
                    logger: logger
                )
                let current = try await connection.rows(
                    "SELECT value FROM tronch_settings WHERE name = \(Self.webhookCursorSetting) FOR UPDATE",
                    logger: logger
                ).first.map { try $0.decode(String.self) }.flatMap { Int64($0) }
                guard current == from else { return false }
                try await connection.rows(
                    "UPDATE tronch_settings SET value = \(String(to)) WHERE name = \(Self.webhookCursorSetting)",
                    logger: logger
                )
                for delivery in deliveries {
                    try await connection.rows(
                        """
                        INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, sequence, payload, status, attempts,
                            next_attempt_at, created_at)
                        VALUES (\(delivery.id), \(delivery.endpointID), \(delivery.eventID), \(delivery.eventType), \(delivery.sequence),
                            \(delivery.payload), \(delivery.status.rawValue), \(delivery.attempts),
                            \(pgTime(delivery.nextAttemptAt))::timestamptz, \(pgTime(delivery.createdAt))::timestamptz)
                        ON CONFLICT DO NOTHING
                        """,
                        logger: logger
                    )
                }
                return true
            }
        }
    }

    package func claimWebhookDeliveries(now: Date, leaseUntil: Date, limit: Int) async throws -> [WebhookDeliveryRecord] {
        try await run {
            try await client.rows(
                """
                UPDATE webhook_deliveries SET lease_until = \(pgTime(leaseUntil))::timestamptz
                WHERE id IN (
                    SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= \(pgTime(now))::timestamptz
                        AND (lease_until IS NULL OR lease_until <= \(pgTime(now))::timestamptz)
                    ORDER BY next_attempt_at, sequence LIMIT \(limit) FOR UPDATE SKIP LOCKED
                )
                RETURNING \(unescaped: Self.deliveryColumns)
                """,
                logger: logger
            ).map(Self.webhookDelivery)
        }
    }

    package func recordWebhookAttempt(id: UUID, at: Date, outcome: WebhookAttemptOutcome) async throws {
        let (status, next, response, error, delivered) = outcome.columns(at: at)
        try await run {
            try await client.rows(
                """
                UPDATE webhook_deliveries SET status = \(status.rawValue), attempts = attempts + 1,
                    next_attempt_at = \(pgTime(next))::timestamptz, last_attempt_at = \(pgTime(at))::timestamptz, lease_until = NULL,
                    response_status = \(response), error = \(error),
                    delivered_at = COALESCE(\(pgTime(delivered))::timestamptz, delivered_at)
                WHERE id = \(id)
                """,
                logger: logger
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
        var sql = "SELECT \(Self.deliveryColumns) FROM webhook_deliveries WHERE endpoint_id = $1"
        var bindings = PostgresBindings()
        bindings.append(endpointID)
        if let status {
            bindings.append(status.rawValue)
            sql += " AND status = $\(bindings.count)"
        }
        if let before {
            bindings.append(before)
            sql += " AND id < $\(bindings.count)"
        }
        sql += " ORDER BY id DESC LIMIT \(limit + 1)"
        let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
        return try await run { try await client.rows(query, logger: logger).map(Self.webhookDelivery) }
    }

    package func redeliverWebhook(endpointID: UUID, deliveryID: UUID, now: Date) async throws -> WebhookDeliveryRecord? {
        try await run {
            try await client.rows(
                """
                UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = \(pgTime(now))::timestamptz, lease_until = NULL
                WHERE id = \(deliveryID) AND endpoint_id = \(endpointID)
                RETURNING \(unescaped: Self.deliveryColumns)
                """,
                logger: logger
            ).first.map(Self.webhookDelivery)
        }
    }

    static func webhookEndpoint(_ row: PostgresRow) throws -> WebhookEndpointRecord {
        let (id, url, events, description, enabled, secret, start, created, updated) = try row.decode(
            (UUID, String, String, String?, Bool, String, Int64, Date, Date).self
        )
        guard case .array(let items) = try JSONParser.parse(Array(events.utf8)) else {
            throw StorageError.corruptRow("webhook_endpoints row \(id)")
        }
        return WebhookEndpointRecord(
            id: id,
            url: url,
            events: items.compactMap { if case .string(let text) = $0 { text } else { nil } },
            description: description,
            enabled: enabled,
            sealedSecret: secret,
            startSequence: start,
            createdAt: Timestamp.truncated(created),
            updatedAt: Timestamp.truncated(updated)
        )
    }

    static func webhookDelivery(_ row: PostgresRow) throws -> WebhookDeliveryRecord {
        let cells = row.makeRandomAccess()
        func date(_ index: Int) throws -> Date? { try cells[index].decode(Date?.self).map(Timestamp.truncated) }
        guard let status = WebhookDeliveryRecord.Status(rawValue: try cells[6].decode(String.self)) else {
            throw StorageError.corruptRow("webhook_deliveries row")
        }
        return WebhookDeliveryRecord(
            id: try cells[0].decode(UUID.self),
            endpointID: try cells[1].decode(UUID.self),
            eventID: try cells[2].decode(UUID.self),
            eventType: try cells[3].decode(String.self),
            sequence: try cells[4].decode(Int64.self),
            payload: try cells[5].decode(String.self),
            status: status,
            attempts: Int(try cells[7].decode(Int32.self)),
            nextAttemptAt: try date(8),
            lastAttemptAt: try date(9),
            responseStatus: try cells[10].decode(Int32?.self).map(Int.init),
            error: try cells[11].decode(String?.self),
            createdAt: try date(12) ?? Date(timeIntervalSince1970: 0),
            deliveredAt: try date(13)
        )
    }
}
