import Foundation
import GRDB
import Logging
import PostgresNIO
import Testing
import TronchCore
import TronchTestSupport

@testable import TronchStorage

/// Migrations behave the same on every backend.
@Suite struct MigrationConformanceTests {
    /// A store whose schema is empty (no migration applied), with its services running.
    func withEmptyStore(_ backend: StoreBackend, _ body: @Sendable @escaping (any Store) async throws -> Void) async throws {
        switch backend {
        case .sqliteMemory:
            try await body(try SQLiteStore.inMemory())
        case .sqliteFile:
            try await body(try SQLiteStore.open(path: StoreBackend.temporaryPath()))
        case .postgres:
            let store = PostgresStore(
                location: try PostgresLocation(url: try await TestPostgres.freshSchemaURL()),
                poolSize: 4,
                connectTimeout: .seconds(5),
                queryTimeout: .seconds(30),
                logger: Logger(label: "migrations")
            )
            try await StoreHandle(store: store, services: [store.client], backend: "postgresql").withServices(body)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func migrationsGoUpAndDownAndUpAgain(backend: StoreBackend) async throws {
        try await withEmptyStore(backend) { store async throws in
            let fresh = try await store.migrationStates()
            #expect(fresh.map(\.version) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
            #expect(fresh.allSatisfy { $0.appliedAt == nil })

            #expect(try await store.migrateUp(to: 1) == [1])
            #expect(try await store.pendingVersions() == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
            #expect(try await store.migrateUp(to: nil) == [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
            // Written with today's columns; read back below by count only, which older schemas answer too.
            var record = Fixtures.record()
            record.settings.remaining = 3
            try await store.insert(record)
            let everyKey = KeyQuery(now: Fixtures.base)
            #expect(try await store.migrateUp(to: nil) == [])
            #expect(try await store.claimSetting("a", value: "b") == "b")
            #expect(try await store.spendCredits(id: record.id, cost: 1, now: Fixtures.base)?.balance.remaining == 2)

            try await store.appendAudit([AuditEvent(time: Fixtures.base, actor: .system, action: "test")])
            let user = UserStoreConformanceTests.user("alice")
            try await store.insertUser(user, audit: [])
            #expect(try await store.claimIdempotencyKey(IdempotencyStoreConformanceTests.claim("m")) == .claimed)
            let entry = try await store.lastAuditCheckpoint()
            #expect(entry == nil)
            #expect(try await store.migrateDown(to: nil) == [15])
            #expect(try await store.countKeys(matching: everyKey) == 1, "dropping expiry_reminded_for keeps the key")
            await #expect(
                throws: (any Error).self,
                "the reminder column is gone"
            ) { _ = try await store.keysDueExpiryReminder(now: Fixtures.base, horizon: Fixtures.base, limit: 1) }
            #expect(try await store.migrateDown(to: 13) == [14])
            await #expect(throws: (any Error).self, "the webhook tables are gone") { _ = try await store.webhookCursor() }
            #expect(try await store.migrateDown(to: 12) == [13])
            #expect(try await store.countKeys(matching: everyKey) == 1, "dropping pepper_id keeps the key")
            #expect(try await store.migrateDown(to: 11) == [12])
            #expect(try await store.countKeys(matching: everyKey) == 1, "dropping signing_secret keeps the key")
            #expect(try await store.migrateDown(to: 10) == [11])
            await #expect(throws: (any Error).self, "the checkpoints are gone") { _ = try await store.auditCheckpoints() }
            #expect(try await store.migrateDown(to: 9) == [10])
            await #expect(throws: (any Error).self, "the idempotency keys are gone") {
                _ = try await store.claimIdempotencyKey(IdempotencyStoreConformanceTests.claim("m"))
            }
            #expect(try await store.migrateDown(to: 8) == [9])
            await #expect(throws: (any Error).self, "the authorization tables are gone") { _ = try await store.authzVersion() }
            #expect(try await store.migrateDown(to: 7) == [8])
            await #expect(throws: (any Error).self, "the MFA tables are gone") { _ = try await store.mfaFactor(userID: user.id, kind: .totp) }
            #expect(try await store.migrateDown(to: 6) == [7])
            await #expect(throws: (any Error).self, "the sessions table is gone") { _ = try await store.session(id: UUID()) }
            #expect(try await store.user(id: user.id) == user)
            #expect(try await store.migrateDown(to: 5) == [6])
            await #expect(throws: (any Error).self, "the users table is gone") { _ = try await store.user(id: user.id) }
            #expect(try await store.migrateDown(to: 4) == [5])
            #expect(try await store.migrateDown(to: 3) == [4])
            await #expect(throws: (any Error).self, "the audit log is gone") {
                _ = try await store.appendAudit([AuditEvent(time: Fixtures.base, actor: .system, action: "test")])
            }
            #expect(try await store.migrateDown(to: 2) == [3])
            #expect(try await store.countKeys(matching: everyKey) == 1, "dropping refilled_at keeps the key")
            #expect(try await store.migrateDown(to: 1) == [2])
            #expect(try await store.setting("a") == nil, "the settings table is gone")
            #expect(try await store.countKeys(matching: everyKey) == 1)
            #expect(try await store.migrateDown(to: 0) == [1])
            await #expect(throws: (any Error).self) { try await store.insert(Fixtures.record()) }
            #expect(try await store.migrateDown(to: 0) == [])
            #expect(try await store.pendingVersions() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])

            #expect(try await store.migrateUp(to: nil) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
            #expect(try await store.keys(matching: KeyQuery(now: Fixtures.base)).keys.isEmpty)
            let states = try await store.migrationStates()
            #expect(states.allSatisfy { $0.appliedAt != nil && !$0.isUnknown })
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aNewerSchemaIsRefused(backend: StoreBackend) async throws {
        try await withEmptyStore(backend) { store async throws in
            try await store.migrateUp(to: nil)
            try await Self.recordFutureMigration(on: store)
            #expect(try await store.migrationStates().last?.isUnknown == true)
            await #expect(throws: StorageError.schemaTooNew(version: 99)) { try await store.requireKnownSchema() }
            await #expect(throws: StorageError.schemaTooNew(version: 99)) { try await store.migrateUp(to: nil) }
            await #expect(throws: StorageError.schemaTooNew(version: 99)) { try await store.migrateDown(to: nil) }
        }
    }

    /// Nodes starting together all migrate; each version is applied exactly once.
    @Test func concurrentMigrationsOnPostgreSQLApplyEachVersionOnce() async throws {
        guard StoreBackend.allCases.contains(.postgres) else { return }
        let url = try await TestPostgres.freshSchemaURL()
        let stores = try (0..<6).map { _ in
            PostgresStore(
                location: try PostgresLocation(url: url),
                poolSize: 2,
                connectTimeout: .seconds(5),
                queryTimeout: .seconds(30),
                logger: Logger(label: "node")
            )
        }
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
            for store in stores {
                group.addTask {
                    await store.client.run()
                    return []
                }
            }
            var results = [[Int]]()
            try await withThrowingTaskGroup(of: [Int].self) { nodes in
                for store in stores { nodes.addTask { try await store.migrateUp(to: nil) } }
                for try await result in nodes { results.append(result) }
            }
            group.cancelAll()
            return results
        }
        #expect(applied.flatMap { $0 }.sorted() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
    }

    static func recordFutureMigration(on store: any Store) async throws {
        switch store {
        case let sqlite as SQLiteStore:
            try await sqlite.writer.write { db in
                try db.execute(sql: "INSERT INTO tronch_schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)")
            }
        case let postgres as PostgresStore:
            try await postgres.client.rows(
                "INSERT INTO tronch_schema_migrations (version, name, applied_at) VALUES (99, 'future', now())"
            )
        default:
            Issue.record("unknown store \(type(of: store))")
        }
    }
}
