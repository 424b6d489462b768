import Foundation
import Logging
import Testing
import TronchCore
import TronchStorage
import TronchTestSupport

/// Every backend the conformance suite runs against. A new backend adds a case here and must pass unchanged.
enum StoreBackend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqliteMemory = "sqlite-memory"
    case sqliteFile = "sqlite-file"
    case postgres = "postgresql"

    var testDescription: String { rawValue }

    /// The backends this run covers: PostgreSQL whenever `scripts/test` provides one.
    static var allCases: [StoreBackend] {
        TestPostgres.url == nil && !TestPostgres.isRequired ? [.sqliteMemory, .sqliteFile] : [.sqliteMemory, .sqliteFile, .postgres]
    }

    /// Runs `body` with a fresh, migrated, empty store of this kind (its own schema on PostgreSQL).
    func withStore(_ body: @Sendable @escaping (any Store) async throws -> Void) async throws {
        let handle: StoreHandle
        switch self {
        case .sqliteMemory:
            handle = StoreHandle(store: try SQLiteStore.inMemory(), services: [], backend: "sqlite")
        case .sqliteFile:
            handle = StoreHandle(store: try SQLiteStore.open(path: Self.temporaryPath()), services: [], backend: "sqlite")
        case .postgres:
            let store = PostgresStore(
                location: try PostgresLocation(url: try await TestPostgres.freshSchemaURL()),
                poolSize: 4,
                connectTimeout: .seconds(5),
                queryTimeout: .seconds(30),
                logger: Logger(label: "conformance")
            )
            handle = StoreHandle(store: store, services: [store.client], backend: "postgresql")
        }
        try await handle.withServices { store in
            try await store.migrateUp(to: nil)
            try await body(store)
        }
    }

    static func temporaryPath() -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tronch-tests-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory.appendingPathComponent("store.sqlite").path
    }
}

@Suite struct BackendCoverageTests {
    /// `scripts/test` requires PostgreSQL, so a CI run can never pass without testing it.
    @Test func postgresIsCoveredWhenRequired() throws {
        if TestPostgres.isRequired { #expect(TestPostgres.url != nil, "\(TestPostgresError.notConfigured)") }
    }
}
