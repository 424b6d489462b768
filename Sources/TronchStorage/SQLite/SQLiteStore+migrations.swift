import Foundation
import GRDB
import TronchCore

extension SQLiteStore: SchemaMigrator {
    private static let createHistory = """
        CREATE TABLE IF NOT EXISTS tronch_schema_migrations (
            version INTEGER PRIMARY KEY NOT NULL,
            name TEXT NOT NULL,
            applied_at INTEGER NOT NULL
        )
        """

    package func migrationStates() async throws -> [MigrationState] {
        let applied = try await writer.write { db in
            try db.execute(sql: Self.createHistory)
            return try Row.fetchAll(db, sql: "SELECT version, name, applied_at FROM tronch_schema_migrations").map { row in
                (version: row["version"] as Int, name: row["name"] as String, at: Timestamp.date(milliseconds: row["applied_at"]))
            }
        }
        return MigrationState.merge(known: Self.migrations, applied: applied)
    }

    @discardableResult
    package func migrateUp(to target: Int? = nil) async throws -> [Int] {
        try await requireKnownSchema()
        var applied = [Int]()
        for migration in Self.migrations where migration.version <= (target ?? Int.max) {
            let now = Timestamp.milliseconds(Date())
            // Each version in its own transaction, re-checked inside it so two processes never apply one twice.
            let didApply = try await writer.write { db in
                try db.execute(sql: Self.createHistory)
                let done =
                    try Bool.fetchOne(
                        db,
                        sql: "SELECT EXISTS (SELECT 1 FROM tronch_schema_migrations WHERE version = ?)",
                        arguments: [migration.version]
                    ) ?? false
                if done { return false }
                for statement in migration.up { try db.execute(sql: statement) }
                try db.execute(
                    sql: "INSERT INTO tronch_schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    arguments: [migration.version, migration.name, now]
                )
                return true
            }
            if didApply { applied.append(migration.version) }
        }
        return applied
    }

    @discardableResult
    package func migrateDown(to target: Int? = nil) async throws -> [Int] {
        try await requireKnownSchema()
        let applied = try await migrationStates().filter { $0.appliedAt != nil }.map(\.version)
        var reverted = [Int]()
        for migration in MigrationState.toRevert(Self.migrations, applied: applied, target: target) {
            try await writer.write { db in
                for statement in migration.down { try db.execute(sql: statement) }
                try db.execute(sql: "DELETE FROM tronch_schema_migrations WHERE version = ?", arguments: [migration.version])
            }
            reverted.append(migration.version)
        }
        return reverted
    }
}
