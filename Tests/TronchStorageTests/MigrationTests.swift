import Foundation
import GRDB
import Testing
import TronchCore

@testable import TronchStorage

@Suite struct SQLiteMigrationTests {
    func tables(_ store: SQLiteStore) async throws -> Set<String> {
        try await store.writer.read { db in
            Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%'"))
        }
    }

    @Test func migrationsCreateAndDropTheirTablesAndIndexes() async throws {
        let store = try SQLiteStore.open(path: StoreBackend.temporaryPath())
        #expect(try await store.migrateUp(to: 1) == [1])
        #expect(try await tables(store).isSuperset(of: ["api_keys", "api_keys_digest", "api_keys_owner"]))
        #expect(try await store.migrateUp(to: nil) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
        #expect(
            try await tables(store).isSuperset(of: [
                "tronch_settings", "users", "users_username", "users_email", "sessions", "signing_keys", "refresh_tokens", "token_denylist",
                "mfa_factors", "recovery_codes", "mfa_challenges", "groups", "group_members", "acl_entries", "authz_version", "idempotency_keys",
                "idempotency_keys_expires_at", "audit_checkpoints", "webhook_endpoints", "webhook_deliveries", "webhook_deliveries_due",
            ])
        )
        #expect(try await store.migrateDown(to: 0) == [15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
        #expect(try await tables(store) == ["tronch_schema_migrations"])
    }

    @Test func fileDatabasesUseWriteAheadLogging() async throws {
        let store = try SQLiteStore.open(path: StoreBackend.temporaryPath())
        #expect(try await store.journalMode() == "wal")
    }

    @Test func lookupsUseTheirIndexes() async throws {
        let store = try SQLiteStore.open(path: StoreBackend.temporaryPath())
        try await store.migrateUp(to: nil)
        let plans = try await store.writer.read { db in
            [
                try String.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT * FROM api_keys WHERE digest = 'x'").joined(),
                try String.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT * FROM api_keys WHERE owner_id = 'o' ORDER BY id DESC LIMIT 5").joined(),
                try String.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT * FROM api_keys WHERE id < 'x' ORDER BY id DESC LIMIT 5").joined(),
            ]
        }
        let rows = try await store.writer.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT * FROM api_keys WHERE digest = 'x'").map { $0["detail"] as String }
        }
        #expect(rows.contains { $0.contains("api_keys_digest") }, "\(rows) \(plans)")
        let ownerRows = try await store.writer.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT * FROM api_keys WHERE owner_id = 'o' ORDER BY id DESC LIMIT 5").map {
                $0["detail"] as String
            }
        }
        #expect(ownerRows.contains { $0.contains("api_keys_owner") } && !ownerRows.contains { $0.contains("TEMP B-TREE") }, "\(ownerRows)")
        let pageRows = try await store.writer.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT * FROM api_keys WHERE id < 'x' ORDER BY id DESC LIMIT 5").map {
                $0["detail"] as String
            }
        }
        #expect(pageRows.contains { $0.contains("USING INDEX") } && !pageRows.contains { $0.contains("TEMP B-TREE") }, "\(pageRows)")
    }
}

@Suite struct DatabaseLocationTests {
    @Test(arguments: [
        ("sqlite:///var/lib/tronch/db.sqlite", DatabaseLocation.sqliteFile(path: "/var/lib/tronch/db.sqlite")),
        ("sqlite://data/db.sqlite", .sqliteFile(path: "data/db.sqlite")),
        ("sqlite:db.sqlite", .sqliteFile(path: "db.sqlite")),
        ("sqlite::memory:", .sqliteMemory),
        ("postgres://u:p@h/db", .postgres(url: "postgres://u:p@h/db")),
        ("postgresql://h/db", .postgres(url: "postgresql://h/db")),
    ])
    func parses(url: String, expected: DatabaseLocation) throws {
        #expect(try DatabaseLocation(url: url) == expected)
    }

    @Test(arguments: ["mysql://h/db", "", "sqlite://", "/plain/path"])
    func rejects(url: String) {
        #expect(throws: StorageError.self) { try DatabaseLocation(url: url) }
    }

    @Test func redactsPasswords() {
        #expect(DatabaseLocation.redacted("postgres://user:secret@host:5432/db") == "postgres://user:****@host:5432/db")
        #expect(DatabaseLocation.redacted("postgres://host/db") == "postgres://host/db")
    }
}
