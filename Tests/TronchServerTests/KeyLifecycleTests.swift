import Foundation
import HTTPTypes
import Testing
import TronchCore

@testable import TronchServer

@Suite struct KeyLifecycleTests {
    @Test(arguments: ServerBackend.all) func createReturnsTheRecordAndTheSecretOnce(backend: ServerBackend) async throws {
        try await TestServer.on(backend).run { api async throws in
            let created = try await api.createKey([
                "name": "acme production", "owner_id": "cus_42", "environment": "test", "scopes": ["orders:read", "billing:*"],
                "meta": ["plan": "pro", "seats": 3], "expires_at": "2030-01-01T00:00:00Z", "allowed_ips": ["10.0.0.0/8", "2001:db8::/32"],
                "ratelimits": [["limit": 100, "period_seconds": 60]], "remaining": 1000, "refill": ["interval": "monthly", "amount": 1000],
            ])
            let secret = try #require(created["key"]?.string)
            #expect(KeyFormat.parse(secret)?.environment == .test)
            #expect(secret.hasPrefix("tronch_sk_test_"))
            #expect(created["start"]?.string == String(secret.prefix("tronch_sk_test_".count + 4)))
            #expect(created["end"]?.string == String(secret.suffix(4)))
            #expect(created["status"] == .string("active"))
            #expect(created["enabled"] == .bool(true))
            #expect(created["meta"] == .object(["plan": .string("pro"), "seats": .int(3)]))
            #expect(created["expires_at"] == .string("2030-01-01T00:00:00.000Z"))
            #expect(created["allowed_ips"] == .array([.string("10.0.0.0/8"), .string("2001:db8::/32")]))
            #expect(
                created["ratelimits"]
                    == .array([.object(["name": .string("default"), "limit": .int(100), "period_seconds": .int(60), "burst": .int(100)])])
            )
            #expect(created["remaining"] == .int(1000))
            #expect(created["refill"] == .object(["interval": .string("monthly"), "amount": .int(1000)]))
            #expect(created["created_at"] == .string("2027-01-15T08:00:00.000Z"))
            for field in ["last_used_at", "revoked_at", "rotated_from", "grace_until"] { #expect(created[field] == .null, "\(field)") }

            let id = try #require(created["id"]?.string)
            let shown = try await api.request(.get, "/api/v1/keys/\(id)")
            #expect(shown.status == .ok)
            #expect(shown["key"] == nil, "the secret is never returned again")
            var withoutSecret = created.json
            if case .object(var object) = withoutSecret {
                object["key"] = nil
                withoutSecret = .object(object)
            }
            #expect(shown.json == withoutSecret)
        }
    }

    @Test(arguments: ServerBackend.all) func defaultsApplyToAnEmptyCreate(backend: ServerBackend) async throws {
        try await TestServer.on(backend).run { api async throws in
            let created = try await api.createKey()
            #expect(created["environment"] == .string("live"))
            #expect(created["scopes"] == .array([]))
            #expect(created["meta"] == .object([:]))
            #expect(created["name"] == .null)
            #expect(created["owner_id"] == .null)
            #expect(created["remaining"] == .null)
            let root = try await api.request(.get, "/api/v1/keys?name_prefix=root")
            let rootID = try #require(root["data"]?.array?.first?["id"])
            #expect(created["created_by"] == rootID)
        }
    }

    @Test(arguments: ServerBackend.all) func listPagesNewestFirstWithFilters(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            var ids = [JSONValue]()
            for index in 0..<7 {
                let created = try await api.createKey(["owner_id": .string(index % 2 == 0 ? "even" : "odd"), "name": .string("k\(index)")])
                ids.append(created["id"]!)
                server.clock.advance(seconds: 0.01)
            }
            var seen = [JSONValue]()
            var cursor: String?
            repeat {
                let path = "/api/v1/keys?limit=3&owner_id=even" + (cursor.map { "&cursor=\($0)" } ?? "")
                let page = try await api.request(.get, path)
                #expect(page.status == .ok)
                seen += page["data"]?.array?.compactMap { $0["id"] } ?? []
                cursor = page["next_cursor"]?.string
            } while cursor != nil
            #expect(seen == [ids[6], ids[4], ids[2], ids[0]])
            let named = try await api.request(.get, "/api/v1/keys?name_prefix=k5")
            #expect(named["data"]?.array?.compactMap { $0["id"] } == [ids[5]])
            let test = try await api.request(.get, "/api/v1/keys?environment=test")
            #expect(test["data"] == .array([]))
            #expect(test["next_cursor"] == .null)
        }
    }

    @Test(arguments: ServerBackend.all) func updateChangesOnlyWhatItNames(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            let created = try await api.createKey(["name": "before", "owner_id": "o", "expires_at": "2030-01-01T00:00:00Z", "remaining": 5])
            let id = created["id"]!.string!
            server.clock.advance(seconds: 5)
            let updated = try await api.request(
                .patch,
                "/api/v1/keys/\(id)",
                json: ["name": "after", "expires_at": .null, "meta": ["tier": "gold"], "enabled": false]
            )
            #expect(updated.status == .ok, "\(updated.json)")
            #expect(updated["name"] == .string("after"))
            #expect(updated["owner_id"] == .string("o"))
            #expect(updated["expires_at"] == .null)
            #expect(updated["meta"] == .object(["tier": .string("gold")]))
            #expect(updated["enabled"] == .bool(false))
            #expect(updated["remaining"] == .int(5))
            #expect(updated["updated_at"] != created["updated_at"])
            #expect(updated["created_at"] == created["created_at"])
            let verified = try await api.verify(created["key"]!.string!)
            #expect(verified.code == "DISABLED")
            server.clock.advance(seconds: 5)
            let empty = try await api.request(.patch, "/api/v1/keys/\(id)", json: [:])
            #expect(empty.status == .ok)
            #expect(empty["name"] == .string("after"))
            #expect(empty["updated_at"] == updated["updated_at"], "a patch that changes nothing is not an update")
        }
    }

    @Test(arguments: ServerBackend.all) func revokeIsImmediateAndIdempotent(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            let created = try await api.createKey()
            let secret = created["key"]!.string!
            #expect(try await api.verify(secret).code == "VALID")
            let revoked = try await api.request(.delete, "/api/v1/keys/\(created["id"]!.string!)")
            #expect(revoked.status == .ok)
            #expect(revoked["status"] == .string("revoked"))
            #expect(revoked["revoked_at"] == .string("2027-01-15T08:00:00.000Z"))
            #expect(try await api.verify(secret).code == "REVOKED")
            server.clock.advance(seconds: 60)
            let again = try await api.request(.delete, "/api/v1/keys/\(created["id"]!.string!)")
            #expect(again.status == .ok)
            #expect(again["revoked_at"] == revoked["revoked_at"])
            let patch = try await api.request(.patch, "/api/v1/keys/\(created["id"]!.string!)", json: ["name": "x"])
            #expect(patch.status == .conflict)
            #expect(patch.code == "CONFLICT")
            let revokedList = try await api.request(.get, "/api/v1/keys?status=revoked")
            #expect(revokedList["data"]?.array?.count == 1)
        }
    }

    @Test(arguments: ServerBackend.all) func rotationKeepsTheOldKeyForTheGracePeriod(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            let created = try await api.createKey(["name": "svc", "scopes": ["orders:read"], "meta": ["a": 1], "owner_id": "o1"])
            let oldSecret = created["key"]!.string!
            let oldID = created["id"]!.string!
            let rotated = try await api.request(.post, "/api/v1/keys/\(oldID)/rotate", json: ["grace_period_seconds": 60])
            #expect(rotated.status == .created, "\(rotated.json)")
            let newSecret = try #require(rotated["key"]?.string)
            #expect(newSecret != oldSecret)
            #expect(rotated["rotated_from"] == .string(oldID))
            for field in ["name", "scopes", "meta", "owner_id", "environment"] { #expect(rotated[field] == created[field], "\(field)") }
            let old = try await api.request(.get, "/api/v1/keys/\(oldID)")
            #expect(old["grace_until"] == .string("2027-01-15T08:01:00.000Z"))
            #expect(old["status"] == .string("active"))

            #expect(try await api.verify(oldSecret).code == "VALID")
            #expect(try await api.verify(newSecret).code == "VALID")
            server.clock.advance(seconds: 60)
            let expired = try await api.verify(oldSecret)
            #expect(expired.code == "EXPIRED")
            #expect(expired["valid"] == .bool(false))
            #expect(try await api.verify(newSecret).code == "VALID")
            #expect(try await api.request(.get, "/api/v1/keys/\(oldID)")["status"] == .string("expired"))

            let twice = try await api.request(.post, "/api/v1/keys/\(oldID)/rotate", json: [:])
            #expect(twice.status == .conflict)
        }
    }

    @Test(arguments: ServerBackend.all) func rotationWithoutGraceRevokesAtOnce(backend: ServerBackend) async throws {
        try await TestServer.on(backend).run { api async throws in
            let created = try await api.createKey()
            let id = created["id"]!.string!
            let rotated = try await api.request(.post, "/api/v1/keys/\(id)/rotate")
            #expect(rotated.status == .created)
            #expect(try await api.verify(created["key"]!.string!).code == "REVOKED")
            #expect(try await api.verify(rotated["key"]!.string!).code == "VALID")
            let again = try await api.request(.post, "/api/v1/keys/\(id)/rotate")
            #expect(again.status == .conflict)
        }
    }

    @Test(arguments: ServerBackend.all) func graceNeverOutlivesTheOldKeysExpiry(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            let created = try await api.createKey(["expires_at": "2027-01-15T08:00:30Z"])
            let id = created["id"]!.string!
            let rotated = try await api.request(
                .post,
                "/api/v1/keys/\(id)/rotate",
                json: ["grace_period_seconds": 3600, "expires_at": "2028-01-01T00:00:00Z"]
            )
            #expect(rotated["expires_at"] == .string("2028-01-01T00:00:00.000Z"))
            let old = try await api.request(.get, "/api/v1/keys/\(id)")
            #expect(old["grace_until"] == .string("2027-01-15T08:00:30.000Z"))
            server.clock.advance(seconds: 31)
            #expect(try await api.verify(created["key"]!.string!).code == "EXPIRED")
            let expiredRotation = try await api.request(.post, "/api/v1/keys/\(rotated["id"]!.string!)/rotate")
            #expect(expiredRotation.status == .created)
        }
    }

    @Test(arguments: ServerBackend.all) func expiredKeysCannotBeRotated(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            let created = try await api.createKey(["expires_at": "2027-01-15T08:00:10Z"])
            server.clock.advance(seconds: 11)
            let rotated = try await api.request(.post, "/api/v1/keys/\(created["id"]!.string!)/rotate")
            #expect(rotated.status == .conflict)
            #expect(try await api.request(.get, "/api/v1/keys?status=expired")["data"]?.array?.count == 1)
        }
    }
}
