package import Foundation
import NIOCore
import PostgresNIO
package import TronchCore

extension PostgresStore: KeyStore {
    static let selectColumns = """
        id, digest, hash_version, start, "end", name, owner_id, environment, status, enabled, scopes, meta::text,
        allowed_ips, ratelimits::text, remaining, refill::text, created_at, updated_at, expires_at, last_used_at,
        revoked_at, created_by, rotated_from, grace_until, signing_secret, pepper_id
        """

    package func insert(_ record: KeyRecord, audit: AuditEvent?) async throws {
        guard let audit else {
            try await run { try await Self.insert(record, on: client, logger: logger) }
            return
        }
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                try await Self.insert(record, on: connection, logger: logger)
                _ = try await Self.appendAudit(audit, on: connection, logger: logger)
            }
        }
    }

    package func insert(batch records: [KeyRecord], audit: [AuditEvent]) async throws {
        guard !records.isEmpty else { return }
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                // Multi-row INSERTs through unnest: one round trip per thousand keys instead of one per key.
                for chunk in stride(from: 0, to: records.count, by: 1000) {
                    let slice = Array(records[chunk..<min(chunk + 1000, records.count)])
                    try await connection.rows(try Self.batchInsertQuery(slice), logger: logger)
                }
                for event in audit { _ = try await Self.appendAudit(event, on: connection, logger: logger) }
            }
        }
    }

    package func replaceDigest(id: UUID, old: KeyDigest, new: KeyDigest, hashVersion: Int, pepperID: String?) async throws -> Bool {
        let (oldBytes, newBytes) = (ByteBuffer(bytes: old.bytes), ByteBuffer(bytes: new.bytes))
        return try await run {
            let rows = try await client.rows(
                """
                UPDATE api_keys SET digest = \(newBytes), hash_version = \(hashVersion), pepper_id = \(pepperID)
                WHERE id = \(id) AND digest = \(oldBytes) RETURNING id
                """,
                logger: logger
            )
            return rows.count == 1
        }
    }

    package func insertIfEmpty(_ record: KeyRecord, audit: AuditEvent?) async throws -> Bool {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                // Serialises concurrent first starts of several nodes: only one sees the table empty.
                try await connection.rows(Self.advisoryLock(Self.bootstrapLock), logger: logger)
                let exists =
                    try await connection.rows("SELECT EXISTS (SELECT 1 FROM api_keys)", logger: logger)
                    .first?.decode(Bool.self) ?? true
                if exists { return false }
                try await Self.insert(record, on: connection, logger: logger)
                if let audit { _ = try await Self.appendAudit(audit, on: connection, logger: logger) }
                return true
            }
        }
    }

    package func key(id: UUID) async throws -> KeyRecord? {
        try await run {
            try await client.rows("SELECT \(unescaped: Self.selectColumns) FROM api_keys WHERE id = \(id)", logger: logger)
                .first.map(Self.record)
        }
    }

    package func key(digest: KeyDigest) async throws -> KeyRecord? {
        let bytes = ByteBuffer(bytes: digest.bytes)
        return try await run {
            try await client.rows(
                "SELECT \(unescaped: Self.selectColumns) FROM api_keys WHERE digest = \(bytes)",
                logger: logger
            ).first.map(Self.record)
        }
    }

    /// The WHERE clause for `query`'s filters, binding its values into `bindings`.
    static func filter(_ query: KeyQuery, withCursor: Bool, bindings: inout PostgresBindings) throws -> String {
        var conditions = [String]()
        func bind(_ value: some PostgresEncodable & Sendable) throws -> String {
            try bindings.append(value)
            return "$\(bindings.count)"
        }
        if let owner = query.ownerID { conditions.append("owner_id = \(try bind(owner))") }
        if let environment = query.environment { conditions.append("environment = \(try bind(environment.rawValue))") }
        if let prefix = query.namePrefix {
            let placeholder = try bind(prefix)
            conditions.append("left(name, length(\(placeholder))) = \(placeholder)")
        }
        switch query.status {
        case .revoked?:
            conditions.append("status = 'revoked'")
        case .active?:
            let now = try bind(pgTime(query.now)) + "::timestamptz"
            conditions.append(
                "status = 'active' AND (expires_at IS NULL OR expires_at > \(now)) AND (grace_until IS NULL OR grace_until > \(now))"
            )
        case .expired?:
            let now = try bind(pgTime(query.now)) + "::timestamptz"
            conditions.append("status = 'active' AND (expires_at <= \(now) OR grace_until <= \(now))")
        case nil:
            break
        }
        if let before = query.expiringBefore {
            let now = try bind(pgTime(query.now)) + "::timestamptz"
            let limit = try bind(pgTime(before)) + "::timestamptz"
            conditions.append(
                "status = 'active' AND (expires_at IS NULL OR expires_at > \(now)) AND (grace_until IS NULL OR grace_until > \(now)) AND (expires_at <= \(limit) OR grace_until <= \(limit))"
            )
        }
        if withCursor, let after = query.after { conditions.append("id < \(try bind(after))") }
        return conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
    }

    package func countKeys(matching query: KeyQuery) async throws -> Int {
        var bindings = PostgresBindings()
        let filter = try Self.filter(query, withCursor: false, bindings: &bindings)
        let statement = PostgresQuery(unsafeSQL: "SELECT COUNT(*) FROM api_keys \(filter)", binds: bindings)
        return try await run { try await client.rows(statement, logger: logger).first?.decode(Int.self) ?? 0 }
    }

    package func keys(matching query: KeyQuery) async throws -> KeyPage {
        var bindings = PostgresBindings()
        let filter = try Self.filter(query, withCursor: true, bindings: &bindings)
        func bind(_ value: some PostgresEncodable & Sendable) throws -> String {
            try bindings.append(value)
            return "$\(bindings.count)"
        }

        let size = query.pageSize
        let limit = try bind(size + 1)
        let statement = PostgresQuery(
            unsafeSQL: "SELECT \(Self.selectColumns) FROM api_keys \(filter) ORDER BY id DESC LIMIT \(limit)",
            binds: bindings
        )
        let records = try await run {
            var records = [KeyRecord]()
            for row in try await client.rows(statement, logger: logger) { records.append(try Self.record(row)) }
            return records
        }
        let page = Array(records.prefix(size))
        return KeyPage(keys: page, nextCursor: records.count > size ? page.last?.id : nil)
    }

    package func update(
        id: UUID,
        audit: AuditEvent?,
        _ change: @escaping @Sendable (inout KeyRecord) throws -> Void
    ) async throws -> KeyRecord {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                guard var record = try await Self.lockedKey(id, on: connection, logger: logger) else {
                    throw DomainError.keyNotFound(id.lowercased)
                }
                let before = record
                try change(&record)
                try await Self.write(record, on: connection, logger: logger)
                if record.settings.creditsChanged(from: before.settings) {
                    // New credits start a new refill period: the next refill must not overwrite a top-up.
                    try await connection.rows(
                        "UPDATE api_keys SET refilled_at = \(pgTime(record.updatedAt))::timestamptz WHERE id = \(id)",
                        logger: logger
                    )
                }
                if let audit { _ = try await Self.appendAudit(audit, on: connection, logger: logger) }
                return record
            }
        }
    }

    package func rotate(
        id: UUID,
        audit: AuditEvent?,
        _ plan: @escaping @Sendable (KeyRecord) throws -> (old: KeyRecord, new: KeyRecord)
    ) async throws -> (old: KeyRecord, new: KeyRecord) {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                guard let current = try await Self.lockedKey(id, on: connection, logger: logger) else {
                    throw DomainError.keyNotFound(id.lowercased)
                }
                let (old, new) = try plan(current)
                try await Self.write(old, on: connection, logger: logger)
                try await Self.insert(new, on: connection, logger: logger)
                // The successor inherits its predecessor's credits, and with them the refill period they are in.
                try await connection.rows(
                    """
                    UPDATE api_keys SET refilled_at = (SELECT COALESCE(refilled_at, created_at) FROM api_keys WHERE id = \(old.id))
                    WHERE id = \(new.id)
                    """,
                    logger: logger
                )
                if let audit { _ = try await Self.appendAudit(audit, on: connection, logger: logger) }
                return (old, new)
            }
        }
    }

    package func recordUse(_ lastUsed: [UUID: Date]) async throws {
        guard !lastUsed.isEmpty else { return }
        let ids = Array(lastUsed.keys)
        let dates = ids.map { pgTime(lastUsed[$0]!) }
        try await run {
            // One statement for the whole batch; GREATEST ignores NULL, so a use never moves backwards.
            try await client.rows(
                """
                UPDATE api_keys AS k SET last_used_at = GREATEST(k.last_used_at, u.at)
                FROM unnest(\(ids)::uuid[], \(dates)::text[]::timestamptz[]) AS u(id, at) WHERE k.id = u.id
                """,
                logger: logger
            )
        }
    }
}

extension PostgresStore {
    package func spendCredits(id: UUID, cost: Int64, now: Date) async throws -> Credits.Spend? {
        try await run {
            try await client.withTransaction(logger: logger) { connection in
                // FOR UPDATE holds the row until commit: concurrent spends from every node queue here.
                guard
                    let row = try await connection.rows(
                        "SELECT remaining, refill::text, COALESCE(refilled_at, created_at) FROM api_keys WHERE id = \(id) FOR UPDATE",
                        logger: logger
                    ).first
                else { return nil }
                let (remaining, refill, refilledAt) = try row.decode((Int64?, String?, Date).self)
                let balance = Credits.Balance(
                    remaining: remaining,
                    refill: try KeyJSONColumns.decodeRefill(refill),
                    refilledAt: Timestamp.truncated(refilledAt)
                )
                let spend = Credits.spend(balance, cost: cost, now: now)
                if spend.changed {
                    try await connection.rows(
                        """
                        UPDATE api_keys SET remaining = \(spend.balance.remaining),
                            refilled_at = \(pgTime(spend.balance.refilledAt))::timestamptz WHERE id = \(id)
                        """,
                        logger: logger
                    )
                }
                return spend
            }
        }
    }
}

// MARK: - Rows

/// Instants travel as RFC 3339 text: postgres-nio's `Date` encoding truncates to the microsecond, which can
/// turn a whole millisecond into the one before; text is exact.
func pgTime(_ date: Date) -> String { Timestamp.format(date) }
func pgTime(_ date: Date?) -> String? { date.map(Timestamp.format) }

extension PostgresStore {
    /// Advisory-lock ids, arbitrary but fixed: one for first-start bootstrap, one for migrations.
    static let bootstrapLock: Int64 = 0x7472_6F6E_6368_0001
    static let migrationLock: Int64 = 0x7472_6F6E_6368_0002

    /// Takes an advisory lock for the transaction, scoped to the current schema: nodes sharing a schema
    /// serialise on it, while Tronch instances in other schemas of the same database (tests, tenants) do not
    /// wait for each other.
    static func advisoryLock(_ id: Int64) -> PostgresQuery {
        "SELECT pg_advisory_xact_lock(hashtextextended(coalesce(current_schema(), '') || ':' || \(String(id)), 0))"
    }

    static func lockedKey(_ id: UUID, on connection: PostgresConnection, logger: Logger) async throws -> KeyRecord? {
        try await connection.rows(
            "SELECT \(unescaped: selectColumns) FROM api_keys WHERE id = \(id) FOR UPDATE",
            logger: logger
        ).first.map(record)
    }

    static func insert(_ record: KeyRecord, on client: PostgresClient, logger: Logger) async throws {
        try await client.rows(insertQuery(record), logger: logger)
    }

    static func insert(_ record: KeyRecord, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.rows(insertQuery(record), logger: logger)
    }

    static func insertQuery(_ record: KeyRecord) throws -> PostgresQuery {
        let json = try KeyJSONColumns(record.settings)
        let settings = record.settings
        let digest = ByteBuffer(bytes: record.digest.bytes)
        let allowed = settings.allowedIPs.map(\.description)
        return """
            INSERT INTO api_keys (id, digest, hash_version, start, "end", name, owner_id, environment, status, enabled,
                scopes, meta, allowed_ips, ratelimits, remaining, refill, created_at, updated_at, expires_at,
                last_used_at, revoked_at, created_by, rotated_from, grace_until, signing_secret, pepper_id)
            VALUES (\(record.id), \(digest), \(record.hashVersion), \(record.start), \(record.end), \(settings.name),
                \(settings.ownerID), \(record.environment.rawValue), \(record.status.rawValue), \(settings.enabled),
                \(settings.scopes), \(json.meta)::jsonb, \(allowed), \(json.ratelimits)::jsonb, \(settings.remaining),
                \(json.refill)::jsonb, \(pgTime(record.createdAt))::timestamptz, \(pgTime(record.updatedAt))::timestamptz, \(pgTime(settings.expiresAt))::timestamptz,
                \(pgTime(record.lastUsedAt))::timestamptz, \(pgTime(record.revokedAt))::timestamptz, \(record.createdBy), \(record.rotatedFrom), \(pgTime(record.graceUntil))::timestamptz,
                \(record.signingSecret), \(record.pepperID))
            """
    }

    /// One statement for many keys: the batch travels as one JSON array, expanded by `jsonb_to_recordset`
    /// (PostgreSQL arrays cannot carry the nullable and nested columns a key has).
    static func batchInsertQuery(_ records: [KeyRecord]) throws -> PostgresQuery {
        let rows: [JSONValue] = try records.map { record in
            let settings = record.settings
            func text(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }
            func time(_ date: Date?) -> JSONValue { date.map { .string(Timestamp.format($0)) } ?? .null }
            return .object([
                "id": .string(record.id.lowercased), "digest": .string(record.digest.hex),
                "hash_version": .int(Int64(record.hashVersion)), "start": .string(record.start), "end": .string(record.end),
                "name": text(settings.name), "owner_id": text(settings.ownerID), "environment": .string(record.environment.rawValue),
                "status": .string(record.status.rawValue), "enabled": .bool(settings.enabled),
                "scopes": .array(settings.scopes.map(JSONValue.string)), "meta": .object(settings.meta),
                "allowed_ips": .array(settings.allowedIPs.map { .string($0.description) }),
                "ratelimits": try JSONParser.parse(Array(try JSONValue.encodeCanonical(settings.ratelimits).utf8)),
                "remaining": settings.remaining.map(JSONValue.int) ?? .null,
                "refill": try settings.refill.map { try JSONParser.parse(Array(try JSONValue.encodeCanonical($0).utf8)) } ?? .null,
                "created_at": time(record.createdAt), "updated_at": time(record.updatedAt),
                "expires_at": time(settings.expiresAt), "last_used_at": time(record.lastUsedAt),
                "revoked_at": time(record.revokedAt), "created_by": text(record.createdBy),
                "rotated_from": text(record.rotatedFrom?.lowercased), "grace_until": time(record.graceUntil),
                "signing_secret": text(record.signingSecret), "pepper_id": text(record.pepperID),
            ])
        }
        let batch = try JSONValue.encodeCanonical(JSONValue.array(rows))
        return """
            INSERT INTO api_keys (id, digest, hash_version, start, "end", name, owner_id, environment, status, enabled,
                scopes, meta, allowed_ips, ratelimits, remaining, refill, created_at, updated_at, expires_at,
                last_used_at, revoked_at, created_by, rotated_from, grace_until, signing_secret, pepper_id)
            SELECT id, decode(digest, 'hex'), hash_version, start, "end", name, owner_id, environment, status, enabled,
                ARRAY(SELECT jsonb_array_elements_text(scopes)), meta, ARRAY(SELECT jsonb_array_elements_text(allowed_ips)),
                ratelimits, remaining, NULLIF(refill, 'null'::jsonb), created_at, updated_at, expires_at, last_used_at,
                revoked_at, created_by, rotated_from, grace_until, signing_secret, pepper_id
            FROM jsonb_to_recordset(\(batch)::jsonb) AS t(id uuid, digest text, hash_version int, start text, "end" text,
                name text, owner_id text, environment text, status text, enabled boolean, scopes jsonb, meta jsonb,
                allowed_ips jsonb, ratelimits jsonb, remaining bigint, refill jsonb, created_at timestamptz,
                updated_at timestamptz, expires_at timestamptz, last_used_at timestamptz, revoked_at timestamptz,
                created_by text, rotated_from uuid, grace_until timestamptz, signing_secret text, pepper_id text)
            """
    }

    static func write(_ record: KeyRecord, on connection: PostgresConnection, logger: Logger) async throws {
        let json = try KeyJSONColumns(record.settings)
        let settings = record.settings
        let allowed = settings.allowedIPs.map(\.description)
        try await connection.rows(
            """
            UPDATE api_keys SET hash_version = \(record.hashVersion), start = \(record.start), "end" = \(record.end),
                name = \(settings.name), owner_id = \(settings.ownerID), environment = \(record.environment.rawValue),
                status = \(record.status.rawValue), enabled = \(settings.enabled), scopes = \(settings.scopes),
                meta = \(json.meta)::jsonb, allowed_ips = \(allowed), ratelimits = \(json.ratelimits)::jsonb,
                remaining = \(settings.remaining), refill = \(json.refill)::jsonb, updated_at = \(pgTime(record.updatedAt))::timestamptz,
                expires_at = \(pgTime(settings.expiresAt))::timestamptz, last_used_at = \(pgTime(record.lastUsedAt))::timestamptz, revoked_at = \(pgTime(record.revokedAt))::timestamptz,
                created_by = \(record.createdBy), rotated_from = \(record.rotatedFrom), grace_until = \(pgTime(record.graceUntil))::timestamptz,
                signing_secret = \(record.signingSecret), pepper_id = \(record.pepperID)
            WHERE id = \(record.id)
            """,
            logger: logger
        )
    }

    static func record(_ row: PostgresRow) throws -> KeyRecord {
        let cells = row.makeRandomAccess()
        /// PostgreSQL keeps microseconds; Tronch's instants are whole milliseconds, in one canonical form.
        func date(_ index: Int) throws -> Date? {
            try cells[index].decode(Date?.self).map(Timestamp.truncated)
        }
        let digestBuffer = try cells[1].decode(ByteBuffer.self)
        guard let digest = KeyDigest(bytes: Array(digestBuffer.readableBytesView)),
            let environment = KeyEnvironment(rawValue: try cells[7].decode(String.self)),
            let status = KeyStatus(rawValue: try cells[8].decode(String.self))
        else { throw StorageError.corruptRow("api_keys row \(try cells[0].decode(UUID.self))") }
        var settings = KeySettings()
        settings.name = try cells[5].decode(String?.self)
        settings.ownerID = try cells[6].decode(String?.self)
        settings.enabled = try cells[9].decode(Bool.self)
        settings.scopes = try cells[10].decode([String].self)
        settings.meta = try KeyJSONColumns.decodeMeta(try cells[11].decode(String.self))
        settings.allowedIPs = try cells[12].decode([String].self).map { try CIDR(parsing: $0) }
        settings.ratelimits = try KeyJSONColumns.decodeRatelimits(try cells[13].decode(String.self))
        settings.remaining = try cells[14].decode(Int64?.self)
        settings.refill = try KeyJSONColumns.decodeRefill(try cells[15].decode(String?.self))
        settings.expiresAt = try date(18)
        return KeyRecord(
            id: try cells[0].decode(UUID.self),
            digest: digest,
            hashVersion: try cells[2].decode(Int.self),
            start: try cells[3].decode(String.self),
            end: try cells[4].decode(String.self),
            environment: environment,
            status: status,
            settings: settings,
            createdAt: try date(16) ?? Date(timeIntervalSince1970: 0),
            updatedAt: try date(17),
            lastUsedAt: try date(19),
            revokedAt: try date(20),
            createdBy: try cells[21].decode(String?.self),
            rotatedFrom: try cells[22].decode(UUID?.self),
            graceUntil: try date(23),
            signingSecret: try cells[24].decode(String?.self),
            pepperID: try cells[25].decode(String?.self)
        )
    }
}
