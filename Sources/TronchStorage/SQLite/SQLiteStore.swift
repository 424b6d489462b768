import Foundation
import GRDB
import TronchCore

/// The embedded store: one SQLite file in WAL mode (readers never wait for the writer), through GRDB.
package struct SQLiteStore: Sendable {
    let writer: SQLiteConnection

    init(writer: any DatabaseWriter) { self.writer = SQLiteConnection(base: writer) }

    /// Opens (and creates, readable by its owner only) the database file at `path`.
    package static func open(path: String) throws -> SQLiteStore {
        // SQLite gives the -wal and -shm files the main file's mode, so creating it 0600 covers all three.
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        let pool = try DatabasePool(path: path, configuration: configuration())
        return SQLiteStore(writer: pool)
    }

    /// A private in-memory database.
    package static func inMemory() throws -> SQLiteStore {
        SQLiteStore(writer: try DatabaseQueue(configuration: configuration()))
    }

    private static func configuration() -> Configuration {
        var configuration = Configuration()
        // Several processes (a server and `tronch migrate`, or two servers) may share the file.
        configuration.busyMode = .timeout(10)
        configuration.label = "tronch"
        return configuration
    }

    /// The journal mode SQLite reports (`wal` for a file).
    package func journalMode() async throws -> String {
        try await writer.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }

    /// Copies the whole database, consistently, to a new file at `path` while it stays in use
    /// (`VACUUM INTO`: one read transaction, so the copy is a snapshot even with writers running).
    package func backup(to path: String) async throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw StorageError.backup("'\(path)' already exists; choose a new file")
        }
        try await writer.vacuum(into: path)
        // The copy holds the same key digests as the database: readable by its owner only.
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
    }

    /// Replaces this database's contents with the backup at `path`, through SQLite's online backup API
    /// (page by page, under SQLite's own locks), after checking that this build can read the backup.
    package func restore(from path: String) async throws {
        guard FileManager.default.fileExists(atPath: path) else { throw StorageError.backup("'\(path)' does not exist") }
        var configuration = Configuration()
        configuration.readonly = true
        let source = try DatabaseQueue(path: path, configuration: configuration)
        let versions = try await source.read { db -> [Int]? in
            guard try db.tableExists("tronch_schema_migrations") else { return nil }
            return try Int.fetchAll(db, sql: "SELECT version FROM tronch_schema_migrations")
        }
        guard let versions else { throw StorageError.backup("'\(path)' is not a Tronch database") }
        if let newest = versions.max(), newest > (Self.migrations.last?.version ?? 0) {
            throw StorageError.schemaTooNew(version: newest)
        }
        try source.backup(to: writer.base)
    }
}

extension SQLiteStore: DatabaseHealth {
    package func ping() async throws {
        _ = try await writer.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }
}

extension SQLiteStore: SettingsStore {
    package func setting(_ name: String) async throws -> String? {
        try await writer.read { db in
            guard try db.tableExists("tronch_settings") else { return nil }
            return try String.fetchOne(db, sql: "SELECT value FROM tronch_settings WHERE name = ?", arguments: [name])
        }
    }

    package func claimSetting(_ name: String, value: String) async throws -> String {
        try await writer.write { db in
            try db.execute(
                sql: "INSERT INTO tronch_settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                arguments: [name, value]
            )
            return try String.fetchOne(db, sql: "SELECT value FROM tronch_settings WHERE name = ?", arguments: [name])
                ?? value
        }
    }
}
