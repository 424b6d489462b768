import Foundation
import GRDB
import HTTPTypes
import Logging
import Testing
import TronchCore
import TronchTestSupport

@testable import TronchServer
@testable import TronchStorage

/// The audit trail through the API, and `tronch audit verify` against a tampered database.
@Suite struct AuditTests {
    @Test(arguments: ServerBackend.all) func theKeyLifecycleIsAudited(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            let created = try await api.createKey(["name": "acme", "owner_id": "cus_1", "scopes": ["orders:read"], "meta": ["private": "x"]])
            let id = try #require(created["id"]?.string)
            let secret = try #require(created["key"]?.string)
            _ = try await api.request(.patch, "/api/v1/keys/\(id)", json: ["name": "acme 2", "enabled": false])
            let rotated = try await api.request(.post, "/api/v1/keys/\(id)/rotate", json: ["grace_period_seconds": 60])
            let successor = try #require(rotated["id"]?.string)
            let revoke = try await api.request(.delete, "/api/v1/keys/\(successor)", headers: [.userAgent: "audit-test/1.0"])

            let page = try await api.request(.get, "/api/v1/audit-logs")
            #expect(page.status == .ok)
            let entries = try #require(page["data"]?.array)
            #expect(
                entries.map { $0["action"]?.string ?? "" }
                    == ["key.revoked", "key.rotated", "key.updated", "key.created", "signing_key.created", "server.started", "root_key.bootstrapped"]
            )
            let root = try #require(try await api.request(.get, "/api/v1/keys?name_prefix=root")["data"]?.array?.first?["id"])
            let revoked = entries[0]
            #expect(revoked["actor"] == ["kind": "key", "id": root])
            #expect(revoked["target"] == ["type": "key", "id": .string(successor)])
            #expect(revoked["outcome"] == "success")
            #expect(revoked["request_id"]?.string == revoke.headers[HTTPField.Name("X-Request-Id")!])
            #expect(revoked["user_agent"] == "audit-test/1.0")
            #expect(entries[1]["details"] == ["successor_id": .string(successor), "grace_period_seconds": 60])
            #expect(entries[2]["details"] == ["fields": ["name", "enabled"]])
            #expect(entries[3]["details"] == ["name": "acme", "owner_id": "cus_1", "environment": "live", "scopes": ["orders:read"]])
            #expect(entries[5]["actor"] == ["kind": "system", "id": .null])
            // Each entry links to the one before it.
            for (newer, older) in zip(entries, entries.dropFirst()) { #expect(newer["previous_hash"] == older["hash"]) }
            let text = try JSONValue.encodeCanonical(page.json)
            #expect(!text.contains(secret) && !text.contains(TestServer.rootKey), "no secret in the trail")
            #expect(!text.contains("private"), "meta stays out of the trail")
        }
    }

    @Test(arguments: ServerBackend.all) func failuresAndDenialsAreAudited(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            let reader = try await api.createKey(["scopes": ["keys:read"]])
            let readerKey = try #require(reader["key"]?.string)
            let wrong = KeyFormat(prefix: "tronch")!.generate(environment: .live)
            #expect(try await api.request(.get, "/api/v1/keys", key: wrong).status == .unauthorized)
            #expect(try await api.request(.get, "/api/v1/keys", key: nil).status == .unauthorized)
            #expect(try await api.request(.post, "/api/v1/keys", key: readerKey, json: [:]).status == .forbidden)
            #expect(try await api.request(.get, "/api/v1/audit-logs", key: readerKey).status == .forbidden)
            let revokedKey = try await api.createKey()
            _ = try await api.request(.delete, "/api/v1/keys/\(revokedKey["id"]!.string!)")
            #expect(try await api.request(.get, "/api/v1/keys", key: revokedKey["key"]!.string!).status == .unauthorized)

            let failures = try await api.request(.get, "/api/v1/audit-logs?outcome=failure")
            let entries = try #require(failures["data"]?.array)
            #expect(entries.map { $0["action"]?.string ?? "" } == ["auth.failed", "auth.denied", "auth.denied", "auth.failed", "auth.failed"])
            #expect(entries[0]["actor"] == ["kind": "key", "id": revokedKey["id"]!], "a revoked key still in use is named")
            #expect(entries[0]["details"]?["reason"] == "REVOKED")
            #expect(entries[1]["actor"]?["id"] == reader["id"])
            #expect(entries[1]["details"]?["route"] == "/api/v1/audit-logs")
            #expect(entries[3]["details"]?["reason"] == "missing")
            #expect(entries[4]["details"]?["reason"] == "NOT_FOUND")
            #expect(entries[4]["actor"] == ["kind": "anonymous", "id": .null])
            #expect(!(try JSONValue.encodeCanonical(failures.json)).contains(wrong))

            let onlyCreated = try await api.request(.get, "/api/v1/audit-logs?action=key.created&limit=1")
            #expect(onlyCreated["data"]?.array?.count == 1)
            let next = try #require(onlyCreated["next_cursor"]?.string)
            let second = try await api.request(.get, "/api/v1/audit-logs?action=key.created&limit=1&cursor=\(next)")
            #expect(second["data"]?.array?.first?["target"]?["id"] == reader["id"])
            // A range that ends before it starts is empty, not an error.
            let backwards = try await api.request(.get, "/api/v1/audit-logs?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z")
            #expect(backwards.status == .ok)
            #expect(backwards["data"] == [])
            for bad in ["limit=0", "cursor=abc", "outcome=maybe", "from=yesterday", "nope=1"] {
                let response = try await api.request(.get, "/api/v1/audit-logs?\(bad)")
                #expect(response.status == .badRequest, "\(bad)")
            }
        }
    }

    @Test func verifyFindsTamperingInSQLite() async throws {
        let directory = try Tronch.temporaryDirectory()
        let path = directory + "/tronch.sqlite"
        let store = try SQLiteStore.open(path: path)
        try await store.migrateUp(to: nil)
        for index in 0..<4 {
            _ = try await store.appendAudit([AuditEvent(time: Date(), actor: .system, action: "test.\(index)")])
        }
        let arguments = ["audit", "verify", "--database-url", "sqlite://\(path)"]
        let intact = try await Tronch.run(arguments)
        #expect(intact.status == 0, "\(intact.stderr)")
        #expect(intact.stdout.hasPrefix("audit chain intact: 4 entries, head 4 "))

        // The trigger stops an accidental UPDATE; someone with the file can drop it, and the chain shows the edit.
        await #expect(throws: (any Error).self) {
            try await store.writer.write { db in try db.execute(sql: "UPDATE audit_log SET action = 'x' WHERE sequence = 2") }
        }
        try await store.writer.write { db in
            try db.execute(sql: "DROP TRIGGER audit_log_no_update")
            try db.execute(sql: "UPDATE audit_log SET action = 'test.edited' WHERE sequence = 2")
        }
        let altered = try await Tronch.run(arguments)
        #expect(altered.status == 1)
        #expect(altered.stderr.contains("entry 2 was altered"), "\(altered.stderr)")

        try await store.writer.write { db in
            try db.execute(sql: "UPDATE audit_log SET action = 'test.1' WHERE sequence = 2")
            try db.execute(sql: "DELETE FROM audit_log WHERE sequence = 4")
        }
        let truncated = try await Tronch.run(arguments)
        #expect(truncated.status == 1)
        #expect(truncated.stderr.contains("removed from the end"), "\(truncated.stderr)")
    }

    @Test(.enabled(if: TestPostgres.url != nil || TestPostgres.isRequired))
    func verifyFindsTamperingInPostgreSQL() async throws {
        let url = try await TestPostgres.freshSchemaURL()
        try await TestPostgres.withMigratedStore(url) { store in
            for index in 0..<3 { try await store.appendAudit([AuditEvent(time: Date(), actor: .system, action: "test.\(index)")]) }
        }
        let environment = ["TRONCH_DATABASE_URL": url]
        let intact = try await Tronch.run(["audit", "verify"], environment: environment)
        #expect(intact.status == 0, "\(intact.stderr)")
        #expect(intact.stdout.hasPrefix("audit chain intact: 3 entries"))
        // Only someone who can disable the append-only trigger can edit a row; the chain still shows it.
        try await TestPostgres.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only", on: url)
        try await TestPostgres.execute("UPDATE audit_log SET outcome = 'failure' WHERE sequence = 2", on: url)
        let altered = try await Tronch.run(["audit", "verify"], environment: environment)
        #expect(altered.status == 1)
        #expect(altered.stderr.contains("entry 2 was altered"), "\(altered.stderr)")
    }
}

@Suite struct AuditRetentionTests {
    @Test func theServiceCutsWhatIsOlderThanTheRetention() async throws {
        let store = try SQLiteStore.inMemory()
        try await store.migrateUp(to: nil)
        let clock = TestClock()
        try await store.appendAudit([AuditEvent(time: clock.now, actor: .system, action: "old")])
        clock.advance(seconds: 10 * 86_400)
        try await store.appendAudit([AuditEvent(time: clock.now, actor: .system, action: "recent")])
        let retention = AuditRetention(
            store: store,
            retention: .seconds(7 * 86_400),
            interval: .seconds(3600),
            clock: clock.wallClock,
            logger: Logger(label: "test")
        )
        #expect(try await retention.cutOnce() == 1)
        #expect(try await retention.cutOnce() == 0)
        let page = try await store.auditEntries(matching: AuditQuery())
        #expect(page.entries.map(\.event.action) == ["audit.retention", "recent"])
        #expect(page.entries.first?.event.details.contains(#""removed":1"#) == true)
        #expect(try await store.auditBounds().checkpoint.sequence == 1)
    }

    @Test func retentionIsConfigurable() throws {
        #expect(try Settings(reader: TestServer.reader(["audit.retentionDays": "0"])).auditRetention == nil)
        #expect(try Settings(reader: TestServer.reader(["audit.retentionDays": "30"])).auditRetention == .seconds(30 * 86_400))
        #expect(throws: ConfigurationError(key: "TRONCH_AUDIT_RETENTION_DAYS", "")) {
            _ = try Settings(reader: TestServer.reader(["audit.retentionDays": "-1"]))
        }
    }
}

@Suite struct ListParameterTests {
    @Test func controlCharactersInFiltersAreRefused() async throws {
        try await TestServer().run { api async throws in
            #expect(try await api.request(.get, "/api/v1/audit-logs?actor_id=%00").status == .badRequest)
            #expect(try await api.request(.get, "/api/v1/keys?owner_id=a%0Ab").status == .badRequest)
        }
    }
}
