import Foundation
import HTTPTypes
import Testing
import TronchCore

@testable import TronchServer

/// `POST /api/v1/keys/import`: existing keys brought along, all or nothing.
@Suite struct ImportTests {
    static let foreign = "sk_live_" + String(repeating: "Zq7", count: 12)
    static let legacy = "acme-" + String(repeating: "0f1e", count: 8)

    @Test(arguments: ServerBackend.all) func plaintextAndHashedKeysVerifyAfterImport(backend: ServerBackend) async throws {
        let tronchFormat = KeyFormat(prefix: "tronch")!.generate(environment: .test)
        try await TestServer.on(backend).run { api async throws in
            let answer = try await api.request(
                .post,
                "/api/v1/keys/import",
                json: [
                    "keys": [
                        ["key": .string(Self.foreign), "name": "old production", "owner_id": "cus_1", "scopes": ["orders:read"]],
                        ["key": .string(tronchFormat), "environment": "test"],
                        [
                            "hash": ["algorithm": "sha256", "value": .string(KeyHasher.sha256(Self.legacy).hex)],
                            "expires_at": "2030-01-01T00:00:00Z", "meta": ["from": "acme"],
                        ],
                    ]
                ]
            )
            #expect(answer.status == .created, "\(answer.json)")
            #expect(answer["imported"] == 3)
            let data = try #require(answer["data"]?.array)
            #expect(data[0]["name"] == "old production")
            #expect(data[0]["start"] == "sk_live_", "a quarter of a foreign key at most")
            #expect(data[0]["end"] == "7Zq7")
            #expect(data[1]["start"]?.string?.hasPrefix("tronch_sk_test_") == true)
            #expect(data[2]["start"] == "")
            #expect(data.allSatisfy { $0["key"] == nil }, "an import never echoes a secret")

            let verified = try await api.verify(Self.foreign, scopes: ["orders:read"])
            #expect(verified.code == "VALID")
            #expect(verified["owner_id"] == "cus_1")
            #expect(try await api.verify(tronchFormat).code == "VALID")
            #expect(try await api.verify(Self.legacy).code == "VALID")
            #expect(try await api.verify(Self.legacy).code == "VALID", "still valid once upgraded to the HMAC")
            #expect(try await api.verify(Self.legacy + "x").code == "NOT_FOUND")

            // An imported key also authenticates, and is listed and audited like any other.
            let audit = try await api.request(.get, "/api/v1/audit-logs?action=key.imported")
            #expect(audit["data"]?.array?.count == 3)
            #expect(audit["data"]?.array?.first?["details"]?["hash"] != nil)
            #expect(try await api.request(.get, "/api/v1/keys?owner_id=cus_1")["data"]?.array?.count == 1)
        }
    }

    @Test(arguments: ServerBackend.all) func aBadEntryRejectsTheWholeBatch(backend: ServerBackend) async throws {
        try await TestServer.on(backend).run { api async throws in
            let before = try await api.request(.get, "/api/v1/keys?limit=100")["data"]?.array?.count
            let invalid = try await api.request(
                .post,
                "/api/v1/keys/import",
                json: [
                    "keys": [
                        ["key": .string(Self.foreign)],
                        ["key": "short"],
                        ["hash": ["algorithm": "md5", "value": "00"]],
                        ["key": .string(Self.legacy), "hash": ["algorithm": "sha256", "value": .string(String(repeating: "a", count: 64))]],
                        ["name": "no secret"],
                        ["key": .string(Self.legacy), "scopes": ["bad::scope"], "colour": "red"],
                        ["key": .string(Self.foreign)],
                    ]
                ]
            )
            #expect(invalid.status == .badRequest)
            let fields = Set(invalid["errors"]?.array?.compactMap { $0["field"]?.string } ?? [])
            #expect(fields.isSuperset(of: ["keys[1].key", "keys[2].hash.algorithm", "keys[3].key", "keys[4].key", "keys[5].colour"]), "\(fields)")
            #expect(try await api.request(.get, "/api/v1/keys?limit=100")["data"]?.array?.count == before)

            let duplicate = try await api.request(
                .post,
                "/api/v1/keys/import",
                json: ["keys": [["key": .string(Self.foreign)], ["key": .string(Self.foreign)]]]
            )
            #expect(duplicate.status == .badRequest)
            #expect(duplicate["errors"]?.array?.first?["message"] == "is the same key as keys[0]")
            let twoForms = try await api.request(
                .post,
                "/api/v1/keys/import",
                json: [
                    "keys": [["key": .string(Self.legacy)], ["hash": ["algorithm": "sha256", "value": .string(KeyHasher.sha256(Self.legacy).hex)]]]
                ]
            )
            #expect(twoForms.status == .badRequest, "a key and its own SHA-256 are one key")

            #expect(try await api.request(.post, "/api/v1/keys/import", json: ["keys": [["key": .string(Self.foreign)]]]).status == .created)
            let again = try await api.request(
                .post,
                "/api/v1/keys/import",
                json: ["keys": [["key": .string(Self.legacy)], ["key": .string(Self.foreign)]]]
            )
            #expect(again.status == .conflict)
            #expect(again.json["detail"]?.string?.contains("keys[1]") == true)
            #expect(try await api.verify(Self.legacy).code == "NOT_FOUND", "nothing of a refused batch is stored")

            let tooMany = try await api.request(
                .post,
                "/api/v1/keys/import",
                json: ["keys": .array((0...KeyService.maxImportBatch).map { _ in ["key": .string(Self.foreign)] })]
            )
            #expect(tooMany.status == .badRequest)
            #expect(try await api.request(.post, "/api/v1/keys/import", json: ["keys": []]).status == .badRequest)
        }
    }

    @Test func aKeyCannotImportScopesItDoesNotHold() async throws {
        try await TestServer().run { api async throws in
            let writer = try await api.createKey(["scopes": ["keys:write", "orders:read"]])["key"]!.string!
            let refused = try await api.request(
                .post,
                "/api/v1/keys/import",
                key: writer,
                json: ["keys": [["key": .string(Self.foreign), "scopes": ["orders:read", "admin"]]]]
            )
            #expect(refused.status == .forbidden)
            let reader = try await api.createKey(["scopes": ["keys:read"]])["key"]!.string!
            #expect(
                try await api.request(.post, "/api/v1/keys/import", key: reader, json: ["keys": [["key": .string(Self.foreign)]]]).status
                    == .forbidden
            )
            let allowed = try await api.request(
                .post,
                "/api/v1/keys/import",
                key: writer,
                json: ["keys": [["key": .string(Self.foreign), "scopes": ["orders:read"]]]]
            )
            #expect(allowed.status == .created)
        }
    }
}
