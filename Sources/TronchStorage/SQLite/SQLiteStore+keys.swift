package import Foundation
import GRDB
package import TronchCore

extension SQLiteStore: KeyStore {
    package func insert(_ record: KeyRecord, audit: AuditEvent?) async throws {
        try await writer.write { db in
            try Self.insert(record, db)
            if let audit { _ = try Self.appendAudit(audit, db) }
        }
    }

    package func insert(batch records: [KeyRecord], audit: [AuditEvent]) async throws {
        try await writer.write { db in
            for record in records { try Self.insert(record, db) }
            for event in audit { _ = try Self.appendAudit(event, db) }
        }
    }

    package func replaceDigest(id: UUID, old: KeyDigest, new: KeyDigest, hashVersion: Int, pepperID: String?) async throws -> Bool {
        try await writer.write { db in
            do {
                try db.execute(
                    sql: "UPDATE api_keys SET digest = ?, hash_version = ?, pepper_id = ? WHERE id = ? AND digest = ?",
                    arguments: [new.hex, hashVersion, pepperID, id.lowercased, old.hex]
                )
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw DomainError(.conflict, "a key with this secret already exists")
            }
            return db.changesCount == 1
        }
    }

    package func insertIfEmpty(_ record: KeyRecord, audit: AuditEvent?) async throws -> Bool {
        try await writer.write { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM api_keys)") == false else { return false }
            try Self.insert(record, db)
            if let audit { _ = try Self.appendAudit(audit, db) }
            return true
        }
    }

    package func key(id: UUID) async throws -> KeyRecord? {
        try await writer.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM api_keys WHERE id = ?"), arguments: [id.lowercased])
                .map(Self.record)
        }
    }

    package func key(digest: KeyDigest) async throws -> KeyRecord? {
        try await writer.read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM api_keys WHERE digest = ?"), arguments: [digest.hex])
                .map(Self.record)
        }
    }

    /// The WHERE clause and its arguments for `query`'s filters (`withCursor`: and its cursor).
    static func filter(_ query: KeyQuery, withCursor: Bool) -> (String, StatementArguments) {
        var conditions = [String]()
        var arguments = StatementArguments()
        if let owner = query.ownerID {
            conditions.append("owner_id = ?")
            _ = arguments.append(contentsOf: [owner])
        }
        if let environment = query.environment {
            conditions.append("environment = ?")
            _ = arguments.append(contentsOf: [environment.rawValue])
        }
        if let prefix = query.namePrefix {
            // substr, not LIKE: case-sensitive and free of wildcards, the same as PostgreSQL's left().
            conditions.append("substr(name, 1, length(?)) = ?")
            _ = arguments.append(contentsOf: [prefix, prefix])
        }
        let now = Timestamp.milliseconds(query.now)
        switch query.status {
        case .revoked?:
            conditions.append("status = 'revoked'")
        case .active?:
            conditions.append(
                "status = 'active' AND (expires_at IS NULL OR expires_at > ?) AND (grace_until IS NULL OR grace_until > ?)"
            )
            _ = arguments.append(contentsOf: [now, now])
        case .expired?:
            conditions.append("status = 'active' AND (expires_at <= ? OR grace_until <= ?)")
            _ = arguments.append(contentsOf: [now, now])
        case nil:
            break
        }
        if let before = query.expiringBefore {
            let limit = Timestamp.milliseconds(before)
            conditions.append(
                "status = 'active' AND (expires_at IS NULL OR expires_at > ?) AND (grace_until IS NULL OR grace_until > ?) AND (expires_at <= ? OR grace_until <= ?)"
            )
            _ = arguments.append(contentsOf: [now, now, limit, limit])
        }
        if withCursor, let after = query.after {
            conditions.append("id < ?")
            _ = arguments.append(contentsOf: [after.lowercased])
        }
        return (conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND "), arguments)
    }

    package func countKeys(matching query: KeyQuery) async throws -> Int {
        let (filter, arguments) = Self.filter(query, withCursor: false)
        return try await writer.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM api_keys \(filter)", arguments: arguments) ?? 0
        }
    }

    package func keys(matching query: KeyQuery) async throws -> KeyPage {
        var (filter, arguments) = Self.filter(query, withCursor: true)
        let size = query.pageSize
        _ = arguments.append(contentsOf: [size + 1])
        let sql = "SELECT * FROM api_keys \(filter) ORDER BY id DESC LIMIT ?"
        let finalArguments = arguments
        let records = try await writer.read { db in
            try Row.fetchAll(db, sql: sql, arguments: finalArguments).map(Self.record)
        }
        let page = Array(records.prefix(size))
        return KeyPage(keys: page, nextCursor: records.count > size ? page.last?.id : nil)
    }

    package func update(
        id: UUID,
        audit: AuditEvent?,
        _ change: @escaping @Sendable (inout KeyRecord) throws -> Void
    ) async throws -> KeyRecord {
        try await writer.write { db in
            guard
                var record = try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE id = ?", arguments: [id.lowercased])
                    .map(Self.record)
            else { throw DomainError.keyNotFound(id.lowercased) }
            let before = record
            try change(&record)
            try Self.write(record, db)
            if record.settings.creditsChanged(from: before.settings) {
                // New credits start a new refill period: the next refill must not overwrite a top-up.
                try db.execute(
                    sql: "UPDATE api_keys SET refilled_at = ? WHERE id = ?",
                    arguments: [Timestamp.milliseconds(record.updatedAt), id.lowercased]
                )
            }
            if let audit { _ = try Self.appendAudit(audit, db) }
            return record
        }
    }

    package func rotate(
        id: UUID,
        audit: AuditEvent?,
        _ plan: @escaping @Sendable (KeyRecord) throws -> (old: KeyRecord, new: KeyRecord)
    ) async throws -> (old: KeyRecord, new: KeyRecord) {
        try await writer.write { db in
            guard
                let current = try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE id = ?", arguments: [id.lowercased])
                    .map(Self.record)
            else { throw DomainError.keyNotFound(id.lowercased) }
            let (old, new) = try plan(current)
            try Self.write(old, db)
            try Self.insert(new, db)
            // The successor inherits its predecessor's credits, and with them the refill period they are in.
            try db.execute(
                sql: "UPDATE api_keys SET refilled_at = (SELECT COALESCE(refilled_at, created_at) FROM api_keys WHERE id = ?) WHERE id = ?",
                arguments: [old.id.lowercased, new.id.lowercased]
            )
            if let audit { _ = try Self.appendAudit(audit, db) }
            return (old, new)
        }
    }

    package func recordUse(_ lastUsed: [UUID: Date]) async throws {
        guard !lastUsed.isEmpty else { return }
        try await writer.write { db in
            let statement = try db.cachedStatement(
                sql: "UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?"
            )
            for (id, date) in lastUsed {
                try statement.execute(arguments: [Timestamp.milliseconds(date), id.lowercased])
            }
        }
    }
}

extension SQLiteStore {
    package func spendCredits(id: UUID, cost: Int64, now: Date) async throws -> Credits.Spend? {
        try await writer.write { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: "SELECT remaining, refill, refilled_at, created_at FROM api_keys WHERE id = ?",
                    arguments: [id.lowercased]
                )
            else { return nil }
            let refilledAt: Int64 = row["refilled_at"] ?? row["created_at"]
            let balance = Credits.Balance(
                remaining: row["remaining"],
                refill: try KeyJSONColumns.decodeRefill(row["refill"]),
                refilledAt: Timestamp.date(milliseconds: refilledAt)
            )
            let spend = Credits.spend(balance, cost: cost, now: now)
            if spend.changed {
                try db.execute(
                    sql: "UPDATE api_keys SET remaining = ?, refilled_at = ? WHERE id = ?",
                    arguments: [
                        spend.balance.remaining, Timestamp.milliseconds(spend.balance.refilledAt), id.lowercased,
                    ]
                )
            }
            return spend
        }
    }
}

// MARK: - Rows

extension SQLiteStore {
    static let columns = [
        "id", "digest", "hash_version", "start", "\"end\"", "name", "owner_id", "environment", "status", "enabled",
        "scopes", "meta", "allowed_ips", "ratelimits", "remaining", "refill", "created_at", "updated_at",
        "expires_at", "last_used_at", "revoked_at", "created_by", "rotated_from", "grace_until", "signing_secret", "pepper_id",
    ]

    /// Column values in the order of ``columns``.
    static func values(_ record: KeyRecord) throws -> [(any DatabaseValueConvertible)?] {
        let json = try KeyJSONColumns(record.settings)
        let settings = record.settings
        func millis(_ date: Date?) -> Int64? { date.map(Timestamp.milliseconds) }
        let values: [(any DatabaseValueConvertible)?] = [
            record.id.lowercased, record.digest.hex, record.hashVersion, record.start, record.end, settings.name,
            settings.ownerID, record.environment.rawValue, record.status.rawValue, settings.enabled, json.scopes,
            json.meta, json.allowedIPs, json.ratelimits, settings.remaining, json.refill,
            Timestamp.milliseconds(record.createdAt), Timestamp.milliseconds(record.updatedAt),
            millis(settings.expiresAt), millis(record.lastUsedAt), millis(record.revokedAt), record.createdBy,
            record.rotatedFrom?.lowercased, millis(record.graceUntil), record.signingSecret, record.pepperID,
        ]
        return values
    }

    static let insertSQL =
        "INSERT INTO api_keys (\(columns.joined(separator: ", "))) VALUES (\(Array(repeating: "?", count: columns.count).joined(separator: ", ")))"

    static func insert(_ record: KeyRecord, _ db: Database) throws {
        do {
            try db.cachedStatement(sql: insertSQL).execute(arguments: StatementArguments(values(record)))
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            throw DomainError(.conflict, "a key with this id or secret already exists")
        }
    }

    static func write(_ record: KeyRecord, _ db: Database) throws {
        let assignments = columns.dropFirst().map { "\($0) = ?" }.joined(separator: ", ")
        // The id is the first column: it moves from the SET list to the WHERE clause.
        let values = Array(try values(record).dropFirst()) + [record.id.lowercased]
        try db.execute(sql: "UPDATE api_keys SET \(assignments) WHERE id = ?", arguments: StatementArguments(values))
    }

    static func record(_ row: Row) throws -> KeyRecord {
        func date(_ column: String) -> Date? {
            (row[column] as Int64?).map(Timestamp.date(milliseconds:))
        }
        guard let id = UUID(uuidString: row["id"]), let digest = KeyDigest(hex: row["digest"]),
            let environment = KeyEnvironment(rawValue: row["environment"]),
            let status = KeyStatus(rawValue: row["status"])
        else { throw StorageError.corruptRow("api_keys row \(row["id"] as String? ?? "?")") }
        var settings = KeySettings()
        settings.name = row["name"]
        settings.ownerID = row["owner_id"]
        settings.enabled = row["enabled"]
        settings.scopes = try KeyJSONColumns.decodeScopes(row["scopes"])
        settings.meta = try KeyJSONColumns.decodeMeta(row["meta"])
        settings.allowedIPs = try KeyJSONColumns.decodeAllowedIPs(row["allowed_ips"])
        settings.ratelimits = try KeyJSONColumns.decodeRatelimits(row["ratelimits"])
        settings.remaining = row["remaining"]
        settings.refill = try KeyJSONColumns.decodeRefill(row["refill"])
        settings.expiresAt = date("expires_at")
        return KeyRecord(
            id: id,
            digest: digest,
            hashVersion: row["hash_version"],
            start: row["start"],
            end: row["end"],
            environment: environment,
            status: status,
            settings: settings,
            createdAt: date("created_at") ?? Date(timeIntervalSince1970: 0),
            updatedAt: date("updated_at"),
            lastUsedAt: date("last_used_at"),
            revokedAt: date("revoked_at"),
            createdBy: row["created_by"],
            rotatedFrom: (row["rotated_from"] as String?).flatMap(UUID.init(uuidString:)),
            graceUntil: date("grace_until"),
            signingSecret: row["signing_secret"],
            pepperID: row["pepper_id"]
        )
    }
}
