import Foundation
import Testing
import TronchCore
import TronchStorage

/// Every backend the conformance suite runs against. A new backend adds a case here and must pass unchanged.
enum StoreBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqliteMemory = "sqlite-memory"
    case sqliteFile = "sqlite-file"

    var testDescription: String { rawValue }

    /// A fresh, migrated, empty store of this kind.
    func makeStore() async throws -> any KeyStore & SchemaMigrator & SettingsStore {
        let store: SQLiteStore
        switch self {
        case .sqliteMemory:
            store = try SQLiteStore.inMemory()
        case .sqliteFile:
            store = try SQLiteStore.open(path: Self.temporaryPath())
        }
        try await store.migrateUp(to: nil)
        return store
    }

    static func temporaryPath() -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tronch-tests-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("store.sqlite").path
    }
}
