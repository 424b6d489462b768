import Foundation
import GRDB
import Testing
import TronchCore

@testable import TronchStorage

@Suite struct SQLiteBackupTests {
    /// A backup taken while writes keep coming is a consistent snapshot, and restoring it brings back exactly
    /// what it held.
    @Test func backupWhileWritingThenRestore() async throws {
        let store = try SQLiteStore.open(path: StoreBackend.temporaryPath())
        try await store.migrateUp(to: nil)
        let before = (0..<50).map { Fixtures.record(at: Int64($0)) }
        for record in before { try await store.insert(record) }

        let backup = StoreBackend.temporaryPath() + ".backup"
        let writer = Task {
            for offset in 100..<300 { try await store.insert(Fixtures.record(at: Int64(offset))) }
        }
        try await store.backup(to: backup)
        try await writer.value

        let copy = try SQLiteStore.open(path: backup)
        let check = try await copy.writer.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") }
        #expect(check == "ok")
        let copied = try await copy.keys(matching: KeyQuery(limit: 1000, now: Fixtures.base)).keys
        #expect(copied.count >= 50 && copied.count <= 250)
        #expect(Set(before.map(\.id)).isSubset(of: Set(copied.map(\.id))))
        #expect(try await copy.migrationStates().allSatisfy { $0.appliedAt != nil })

        let later = Fixtures.record(at: 1000)
        try await store.insert(later)
        try await store.restore(from: backup)
        let restored = try await store.keys(matching: KeyQuery(limit: 1000, now: Fixtures.base)).keys
        #expect(Set(restored.map(\.id)) == Set(copied.map(\.id)))
        #expect(try await store.key(id: later.id) == nil)
        #expect(try await store.key(id: before[7].id) == before[7])
    }

    @Test func backupNeverOverwritesAFile() async throws {
        let store = try SQLiteStore.open(path: StoreBackend.temporaryPath())
        try await store.migrateUp(to: nil)
        let path = StoreBackend.temporaryPath() + ".existing"
        try Data("precious".utf8).write(to: URL(fileURLWithPath: path))
        await #expect(throws: StorageError.self) { try await store.backup(to: path) }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "precious")
    }

    @Test func restoreRefusesWhatIsNotATronchBackup() async throws {
        let store = try SQLiteStore.open(path: StoreBackend.temporaryPath())
        try await store.migrateUp(to: nil)
        let record = Fixtures.record()
        try await store.insert(record)
        let other = StoreBackend.temporaryPath()
        _ = try DatabaseQueue(path: other)
        await #expect(throws: StorageError.self) { try await store.restore(from: other) }
        await #expect(throws: StorageError.self) { try await store.restore(from: "/nonexistent/backup.sqlite") }

        let future = StoreBackend.temporaryPath()
        let newer = try SQLiteStore.open(path: future)
        try await newer.migrateUp(to: nil)
        try await MigrationConformanceTests.recordFutureMigration(on: newer)
        await #expect(throws: StorageError.schemaTooNew(version: 99)) { try await store.restore(from: future) }
        #expect(try await store.key(id: record.id) == record, "a refused restore changes nothing")
    }
}
