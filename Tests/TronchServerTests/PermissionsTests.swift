import Foundation
import HTTPTypes
import Testing
import TronchCore
import TronchTestSupport

@testable import TronchServer

/// Groups, ACL entries and checks over HTTP, on both backends.
@Suite struct PermissionsTests {
    typealias Users = UsersTests

    static func createGroup(_ api: APIClient, _ name: String, mfa: Bool = false) async throws -> String {
        let created = try await api.request(.post, "/api/v1/groups", json: ["name": .string(name), "mfa_required": .bool(mfa)])
        #expect(created.status == .created, "\(created.json)")
        return try #require(created["id"]?.string)
    }

    static func entry(
        _ api: APIClient,
        _ resource: String,
        _ principal: String,
        _ action: String,
        _ effect: String,
        _ kind: String = "acl"
    )
        async throws -> String
    {
        let created = try await api.request(
            .post,
            "/api/v1/acl-entries",
            json: [
                "resource": .string(resource), "principal": .string(principal), "action": .string(action), "effect": .string(effect),
                "kind": .string(kind),
            ]
        )
        #expect(created.status == .created, "\(created.json)")
        return try #require(created["id"]?.string)
    }

    static func check(_ api: APIClient, _ principal: String, _ action: String, _ resource: String) async throws -> APIResponse {
        try await api.request(
            .post,
            "/api/v1/authz/check",
            json: ["principal": .string(principal), "action": .string(action), "resource": .string(resource)]
        )
    }

    @Test(arguments: ServerBackend.all) func groupsAndTheirMembers(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            let ops = try await Self.createGroup(api, "Ops", mfa: false)
            let shown = try await api.request(.get, "/api/v1/groups/\(ops)")
            #expect(shown["name"] == "Ops")
            #expect(shown["mfa_required"] == false)
            #expect(shown["description"] == .null)
            #expect(try await api.request(.post, "/api/v1/groups", json: ["name": "OPS"]).status == .conflict, "names are unique ignoring case")
            #expect(try await api.request(.post, "/api/v1/groups", json: ["name": "  "]).code == "VALIDATION_FAILED")
            #expect(try await api.request(.post, "/api/v1/groups", json: ["name": "x", "colour": "red"]).code == "VALIDATION_FAILED")
            server.clock.advance(seconds: 1)  // ids are UUIDv7: a later group sorts after
            let dev = try await Self.createGroup(api, "Developers")
            #expect(try await api.request(.get, "/api/v1/groups?q=velo")["data"]?.array?.map { $0["id"] } == [.string(dev)])
            let first = try await api.request(.get, "/api/v1/groups?limit=1")
            #expect(first["data"]?.array?.map { $0["id"] } == [.string(dev)], "newest first")
            let cursor = try #require(first["next_cursor"]?.string)
            #expect(try await api.request(.get, "/api/v1/groups?limit=1&cursor=\(cursor)")["data"]?.array?.map { $0["id"] } == [.string(ops)])

            let patched = try await api.request(.patch, "/api/v1/groups/\(dev)", json: ["description": "builders", "mfa_required": true])
            #expect(patched["description"] == "builders")
            #expect(patched["mfa_required"] == true)
            #expect(try await api.request(.patch, "/api/v1/groups/\(dev)", json: ["name": "ops"]).status == .conflict)

            let user = try await Users.createUser(api, "gus")
            let gus = "user:\(user["id"]!.string!)"
            #expect(try await api.request(.put, "/api/v1/groups/\(dev)/members/\(gus)").status == .created)
            #expect(try await api.request(.put, "/api/v1/groups/\(dev)/members/\(gus)").status == .noContent, "already a member")
            let encoded = gus.replacingOccurrences(of: ":", with: "%3A")
            #expect(
                try await api.request(.put, "/api/v1/groups/\(dev)/members/\(encoded)").status == .noContent,
                "an encoded colon is the same member"
            )
            #expect(try await api.request(.put, "/api/v1/groups/\(ops)/members/group:\(dev)").status == .created)
            let cycle = try await api.request(.put, "/api/v1/groups/\(dev)/members/group:\(ops)")
            #expect(cycle.code == "VALIDATION_FAILED")
            #expect(cycle.json["errors"]?.array?.first?["message"]?.string?.contains("cycle") == true)
            #expect(try await api.request(.put, "/api/v1/groups/\(dev)/members/group:\(dev)").code == "VALIDATION_FAILED")
            #expect(try await api.request(.put, "/api/v1/groups/\(dev)/members/user:\(UUID())").code == "VALIDATION_FAILED", "no such user")
            #expect(try await api.request(.put, "/api/v1/groups/\(dev)/members/key:\(UUID())").code == "VALIDATION_FAILED")
            #expect(try await api.request(.put, "/api/v1/groups/\(UUID())/members/\(gus)").status == .notFound)

            let members = try await api.request(.get, "/api/v1/groups/\(ops)/members")
            #expect(members["data"]?.array?.map { $0["principal"] } == [.string("group:\(dev)")], "direct members only")
            #expect(members["data"]?.array?.first?["type"] == "group")

            // Nesting shows in the person's access token.
            let token = try await Users.token(api, "gus")
            let claims = try JSONParser.parse(try #require(Base64URL.decode(String(token.split(separator: ".")[1]))))
            #expect(Set(claims["groups"]?.array?.compactMap(\.string) ?? []) == [ops, dev])

            // A person without authz:manage sees none of it.
            #expect(try await api.request(.get, "/api/v1/groups", key: token).status == .forbidden)

            #expect(try await api.request(.delete, "/api/v1/groups/\(dev)/members/\(gus)").status == .noContent)
            #expect(try await api.request(.delete, "/api/v1/groups/\(dev)/members/\(gus)").status == .notFound)
            // A deleted user leaves no membership and no entry behind.
            #expect(try await api.request(.put, "/api/v1/groups/\(ops)/members/\(gus)").status == .created)
            _ = try await Self.entry(api, "doc:gus", gus, "read", "allow")
            #expect(try await api.request(.delete, "/api/v1/users/\(user["id"]!.string!)").status == .ok)
            #expect(try await api.request(.get, "/api/v1/acl-entries?principal=\(gus)")["data"]?.array?.isEmpty == true)
            #expect(try await api.request(.get, "/api/v1/groups/\(ops)/members")["data"]?.array?.map { $0["principal"] } == [.string("group:\(dev)")])
            #expect(try await api.request(.delete, "/api/v1/groups/\(dev)").status == .noContent)
            #expect(try await api.request(.get, "/api/v1/groups/\(dev)").status == .notFound)
            #expect(try await api.request(.get, "/api/v1/groups/\(ops)/members")["data"]?.array?.isEmpty == true, "its memberships went with it")
            let audit = try await api.request(.get, "/api/v1/audit-logs?action=group.deleted")
            #expect(audit["data"]?.array?.first?["details"]?["memberships"] == 1)
        }
    }

    @Test(arguments: ServerBackend.all) func entriesDecideInDesignOrder(backend: ServerBackend) async throws {
        try await TestServer.on(backend).run { api async throws in
            let alice = "user:" + (try await Users.createUser(api, "alice"))["id"]!.string!
            let bob = "user:" + (try await Users.createUser(api, "bob"))["id"]!.string!
            let team = try await Self.createGroup(api, "team")
            #expect(try await api.request(.put, "/api/v1/groups/\(team)/members/\(alice)").status == .created)

            let orgDefault = try await Self.entry(api, "project:acme", "group:\(team)", "read", "allow", "dacl")
            let secretDeny = try await Self.entry(api, "project:acme/secret", alice, "*", "deny")

            let allowed = try await Self.check(api, alice, "read", "project:acme/web/prod")
            #expect(allowed.status == .ok, "\(allowed.json)")
            #expect(allowed["allowed"] == true)
            #expect(allowed["reason"] == ["rule": "dacl_allow", "entry_id": .string(orgDefault), "resource": "project:acme"])
            let denied = try await Self.check(api, alice, "read", "project:acme/secret")
            #expect(denied["reason"] == ["rule": "acl_deny", "entry_id": .string(secretDeny), "resource": "project:acme/secret"])
            let stranger = try await Self.check(api, bob, "read", "project:acme/web")
            #expect(stranger["allowed"] == false)
            #expect(stranger["reason"] == ["rule": "fallback", "entry_id": .null, "resource": .null])
            #expect(try await Self.check(api, alice, "read", "project:acme")["reason"]?["rule"] == "fallback", "a default is for descendants")

            let batch = try await api.request(
                .post,
                "/api/v1/authz/check-batch",
                json: [
                    "checks": [
                        ["principal": .string(alice), "action": "read", "resource": "project:acme/a"],
                        ["principal": .string(bob), "action": "read", "resource": "project:acme/a"],
                    ]
                ]
            )
            #expect(batch["results"]?.array?.map { $0["allowed"] } == [true, false])
            #expect(try await api.request(.post, "/api/v1/authz/check-batch", json: ["checks": []]).code == "VALIDATION_FAILED")
            let unknown = try await api.request(
                .post,
                "/api/v1/authz/check-batch",
                json: [
                    "checks": [
                        ["principal": .string(alice), "action": "read", "resource": "project:acme/a"],
                        ["principal": .string("group:\(UUID())"), "action": "read", "resource": "project:acme/a"],
                    ]
                ]
            )
            #expect(unknown.code == "VALIDATION_FAILED")
            #expect(unknown.json["errors"]?.array?.first?["field"] == "checks[1].principal", "the check that failed is named")

            // Refusals of bad input.
            #expect(try await Self.check(api, alice, "*", "project:acme").code == "VALIDATION_FAILED", "a check names one action")
            #expect(try await Self.check(api, alice, "read", "Project:Acme").code == "VALIDATION_FAILED")
            #expect(try await Self.check(api, "user:\(UUID())", "read", "project:acme")["reason"]?["rule"] == "fallback", "nothing names them")
            #expect(try await Self.check(api, "group:\(UUID())", "read", "project:acme").code == "VALIDATION_FAILED")
            let duplicate = try await api.request(
                .post,
                "/api/v1/acl-entries",
                json: ["resource": "project:acme", "principal": .string("group:\(team)"), "action": "read", "effect": "allow", "kind": "dacl"]
            )
            #expect(duplicate.status == .conflict)
            let noSuchPrincipal = try await api.request(
                .post,
                "/api/v1/acl-entries",
                json: ["resource": "project:acme", "principal": .string("group:\(UUID())"), "action": "read", "effect": "allow"]
            )
            #expect(noSuchPrincipal.code == "VALIDATION_FAILED")
            #expect(
                try await api.request(.post, "/api/v1/acl-entries", json: ["resource": "project:acme", "principal": .string(bob), "action": "read"])
                    .code
                    == "VALIDATION_FAILED",
                "effect is required"
            )

            // Listing: by resource, with its ancestors, and by principal.
            let onSecret = try await api.request(.get, "/api/v1/acl-entries?resource=project:acme/secret")
            #expect(onSecret["data"]?.array?.map { $0["id"] } == [.string(secretDeny)])
            let upwards = try await api.request(.get, "/api/v1/acl-entries?resource=project:acme/secret&include_ancestors=true")
            #expect(Set(upwards["data"]?.array?.compactMap { $0["id"]?.string } ?? []) == [orgDefault, secretDeny])
            #expect(try await api.request(.get, "/api/v1/acl-entries?principal=\(alice)")["data"]?.array?.count == 1)
            #expect(try await api.request(.get, "/api/v1/acl-entries?include_ancestors=true").code == "VALIDATION_FAILED")

            // A change is seen by the very next check on this node.
            #expect(try await api.request(.delete, "/api/v1/acl-entries/\(orgDefault)").status == .noContent)
            #expect(try await Self.check(api, alice, "read", "project:acme/web/prod")["allowed"] == false)
            #expect(try await api.request(.delete, "/api/v1/acl-entries/\(orgDefault)").status == .notFound)
            _ = try await Self.entry(api, "project:acme", "group:\(team)", "read", "allow", "dacl")
            #expect(try await api.request(.delete, "/api/v1/groups/\(team)/members/\(alice)").status == .noContent)
            #expect(try await Self.check(api, alice, "read", "project:acme/web/prod")["allowed"] == false, "membership gone: no stale allow")
            #expect(try await api.request(.get, "/api/v1/audit-logs?action=acl.entry_deleted")["data"]?.array?.count == 1)
        }
    }

    @Test func aKeyActsWithItsOwnersRightsWithinItsScopes() async throws {
        try await TestServer().run { api async throws in
            let carol = try await Users.createUser(api, "carol")
            let carolID = carol["id"]!.string!
            _ = try await Self.entry(api, "project:acme/web", "user:\(carolID)", "read", "allow")
            let narrow = try await api.createKey(["owner_id": .string("user:\(carolID)"), "scopes": ["project:read"]])["id"]!.string!
            let wrong = try await api.createKey(["owner_id": .string("user:\(carolID)"), "scopes": ["billing:read"]])["id"]!.string!
            let service = try await api.createKey(["scopes": ["project:*"]])["id"]!.string!
            #expect(try await Self.check(api, "key:\(narrow)", "read", "project:acme/web")["reason"]?["rule"] == "acl_allow")
            let scoped = try await Self.check(api, "key:\(wrong)", "read", "project:acme/web")
            #expect(scoped["allowed"] == false)
            #expect(scoped["reason"] == ["rule": "key_scope", "entry_id": .null, "resource": .null])
            #expect(
                try await Self.check(api, "key:\(narrow)", "write", "project:acme/web")["reason"]?["rule"] == "fallback",
                "no more than its owner"
            )
            // An entry naming the key itself can deny what its owner may do.
            _ = try await Self.entry(api, "project:acme/web", "key:\(narrow)", "read", "deny")
            #expect(try await Self.check(api, "key:\(narrow)", "read", "project:acme/web")["reason"]?["rule"] == "acl_deny")
            // A key nobody owns has the entries naming it, within its scopes.
            #expect(try await Self.check(api, "key:\(service)", "read", "project:acme/web")["allowed"] == false)
            _ = try await Self.entry(api, "project:acme", "key:\(service)", "read", "allow", "dacl")
            #expect(try await Self.check(api, "key:\(service)", "read", "project:acme/web")["allowed"] == true)
            // A key that no longer works has no rights: revoked or disabled, it is refused by its scopes.
            #expect(try await api.request(.patch, "/api/v1/keys/\(service)", json: ["enabled": false]).status == .ok)
            #expect(
                try await Self.check(api, "key:\(service)", "read", "project:acme/web")["reason"] == [
                    "rule": "key_scope", "entry_id": .null, "resource": .null,
                ]
            )
            #expect(try await api.request(.patch, "/api/v1/keys/\(service)", json: ["enabled": true]).status == .ok)
            #expect(try await Self.check(api, "key:\(service)", "read", "project:acme/web")["allowed"] == true)
            #expect(try await api.request(.delete, "/api/v1/keys/\(service)").status == .ok)
            #expect(try await Self.check(api, "key:\(service)", "read", "project:acme/web")["reason"]?["rule"] == "key_scope")
        }
    }

    @Test func aGroupThatRequiresMFABindsItsMembers() async throws {
        let server = TestServer()
        try await server.run { api async throws in
            let dora = try await Users.createUser(api, "dora")
            let token = try await Users.token(api, "dora")
            #expect(try await api.request(.get, "/api/v1/keys", key: token).status == .ok)
            let strict = try await Self.createGroup(api, "strict", mfa: true)
            let outer = try await Self.createGroup(api, "outer")
            #expect(try await api.request(.put, "/api/v1/groups/\(strict)/members/group:\(outer)").status == .created)
            #expect(try await api.request(.put, "/api/v1/groups/\(outer)/members/user:\(dora["id"]!.string!)").status == .created)
            let refused = try await api.request(.get, "/api/v1/keys", key: token)
            #expect(refused.code == "MFA_ENROLLMENT_REQUIRED", "bound through nesting")
            #expect(try await api.request(.get, "/api/v1/users/me", key: token).status == .ok)
            #expect(try await api.request(.patch, "/api/v1/groups/\(strict)", json: ["mfa_required": false]).status == .ok)
            #expect(try await api.request(.get, "/api/v1/keys", key: token).status == .ok)
        }
    }

    @Test func decisionsAreAuditedWhenAsked() async throws {
        try await TestServer(config: ["authz.auditDecisions": "denials"]).run { api async throws in
            let eve = "user:" + (try await Users.createUser(api, "eve"))["id"]!.string!
            _ = try await Self.entry(api, "doc:a", eve, "read", "allow")
            _ = try await Self.check(api, eve, "read", "doc:a")
            _ = try await Self.check(api, eve, "write", "doc:a")
            let decisions = try await api.request(.get, "/api/v1/audit-logs?action=authz.decision")
            #expect(decisions["data"]?.array?.count == 1, "denials only")
            #expect(decisions["data"]?.array?.first?["details"]?["action"] == "write")
        }
    }

    @Test func theFallbackCanAllow() async throws {
        try await TestServer(config: ["authz.fallback": "allow"]).run { api async throws in
            let fay = "user:" + (try await Users.createUser(api, "fay"))["id"]!.string!
            #expect(try await Self.check(api, fay, "read", "doc:x")["allowed"] == true)
        }
    }

    @Test func anotherNodesChangeArrivesWithinTheRefreshInterval() async throws {
        guard ServerBackend.all.contains(.postgres) else { return }
        let url = try await TestPostgres.freshSchemaURL()
        let config = ["database.url": url, "authz.refreshInterval": "0.1"]
        let first = TestServer(config: config)
        let second = TestServer(config: config)
        try await first.run { a async throws in
            try await second.run { b async throws in
                let gil = "user:" + (try await Users.createUser(a, "gil"))["id"]!.string!
                _ = try await Self.entry(a, "doc:shared", gil, "read", "allow")
                let deadline = ContinuousClock.now + .seconds(10)
                var seen = false
                while !seen && ContinuousClock.now < deadline {
                    seen = try await Self.check(b, gil, "read", "doc:shared")["allowed"] == true
                    if !seen { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(seen, "node B saw node A's entry")
            }
        }
    }

    @Test func withRedisAChangeReachesAnotherNodeBeforeItsNextPoll() async throws {
        guard ServerBackend.all.contains(.postgres), TestRedis.enabled else { return }
        let url = try await TestPostgres.freshSchemaURL()
        let config = ["database.url": url, "redis.url": try #require(TestRedis.url), "authz.refreshInterval": "600"]
        let first = TestServer(config: config)
        let second = TestServer(config: config)
        try await first.run { a async throws in
            try await second.run { b async throws in
                let hal = "user:" + (try await Users.createUser(a, "hal"))["id"]!.string!
                #expect(try await Self.check(b, hal, "read", "doc:pushed")["allowed"] == false)
                _ = try await Self.entry(a, "doc:pushed", hal, "read", "allow")
                let deadline = ContinuousClock.now + .seconds(10)
                var seen = false
                while !seen && ContinuousClock.now < deadline {
                    seen = try await Self.check(b, hal, "read", "doc:pushed")["allowed"] == true
                    if !seen { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(seen, "node B heard of node A's entry through Redis (its own poll is 10 minutes away)")
            }
        }
    }
}
