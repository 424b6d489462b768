import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import TronchCore

@testable import TronchServer

/// People over HTTP: accounts, logins, lockout, roles, and what deleting or disabling someone takes with it.
@Suite struct UsersTests {
    static let password = "correct horse battery staple"

    /// Creates a user with the root key (or `key`) and returns it.
    static func createUser(
        _ api: APIClient,
        _ username: String,
        role: String = "member",
        password: String? = UsersTests.password,
        as key: String = TestServer.rootKey
    ) async throws -> JSONValue {
        var body: [String: JSONValue] = ["username": .string(username), "email": .string("\(username)@example.com"), "role": .string(role)]
        if let password { body["password"] = .string(password) }
        let response = try await api.request(.post, "/api/v1/users", key: key, json: .object(body))
        #expect(response.status == .created, "\(response.json)")
        return response.json
    }

    /// Logs in and returns the answer.
    static func login(
        _ api: APIClient,
        _ username: String,
        password: String = UsersTests.password,
        address: String? = nil
    ) async throws
        -> APIResponse
    {
        var headers: HTTPFields = [.userAgent: "users-test/1.0"]
        if let address { headers[.init("X-Forwarded-For")!] = address }
        return try await api.request(
            .post,
            "/api/v1/auth/login",
            key: nil,
            json: ["username": .string(username), "password": .string(password)],
            headers: headers
        )
    }

    static func token(_ api: APIClient, _ username: String, password: String = UsersTests.password) async throws -> String {
        let answer = try await login(api, username, password: password)
        #expect(answer.status == .ok, "\(answer.json)")
        return try #require(answer["access_token"]?.string)
    }

    @Test(arguments: ServerBackend.all) func theRootKeyMakesAnAdminWhoLogsInAndManagesPeople(backend: ServerBackend) async throws {
        try await TestServer.on(backend).run { api async throws in
            let admin = try await Self.createUser(api, "Ada.Admin", role: "admin")
            #expect(admin["username"] == "ada.admin", "usernames are kept lower-cased")
            #expect(admin["role"] == "admin")
            #expect(admin["status"] == "active")
            #expect(admin["mfa_enabled"] == false)
            #expect(admin["locked_until"] == .null)
            #expect(admin["last_login_at"] == .null)
            #expect(admin["password"] == nil && admin["password_hash"] == nil)

            let answer = try await Self.login(api, "ADA.ADMIN")
            #expect(answer.status == .ok, "\(answer.json)")
            #expect(answer["token_type"] == "Bearer")
            #expect(answer["expires_in"] == 600)
            let access = try #require(answer["access_token"]?.string)
            #expect(access.split(separator: ".").count == 3)
            #expect(answer["refresh_token"]?.string?.hasPrefix("tronch_rt_") == true)
            #expect(answer["session_id"]?.string.flatMap(UUID.init(uuidString:)) != nil)

            let me = try await api.request(.get, "/api/v1/users/me", key: access)
            #expect(me.status == .ok)
            #expect(me["id"] == admin["id"])
            #expect(me["last_login_at"]?.string != nil)

            // The admin's access token works wherever the root key does.
            let member = try await Self.createUser(api, "mia", as: access)
            _ = try await Self.createUser(api, "vic", role: "viewer", as: access)
            let byEmail = try await api.request(
                .post,
                "/api/v1/auth/login",
                key: nil,
                json: ["email": "MIA@Example.COM", "password": .string(Self.password)]
            )
            #expect(byEmail.status == .ok, "a login by e-mail ignores the address's case")
            let list = try await api.request(.get, "/api/v1/users?role=member", key: access)
            #expect(list["data"]?.array?.map { $0["username"] } == ["mia"])
            #expect(try await api.request(.get, "/api/v1/users?q=VI", key: access)["data"]?.array?.map { $0["username"] } == ["vic"])
            let firstPage = try await api.request(.get, "/api/v1/users?limit=2", key: access)
            #expect(firstPage["data"]?.array?.count == 2)
            let cursor = try #require(firstPage["next_cursor"]?.string)
            let secondPage = try await api.request(.get, "/api/v1/users?limit=2&cursor=\(cursor)", key: access)
            #expect(secondPage["next_cursor"] == .null)
            let paged = ((firstPage["data"]?.array ?? []) + (secondPage["data"]?.array ?? [])).compactMap { $0["username"]?.string }
            #expect(paged.sorted() == ["ada.admin", "mia", "vic"], "every user once, across pages")

            let id = try #require(member["id"]?.string)
            let renamed = try await api.request(.patch, "/api/v1/users/\(id)", key: access, json: ["display_name": "Mia M.", "role": "viewer"])
            #expect(renamed["display_name"] == "Mia M.")
            #expect(renamed["role"] == "viewer")
            #expect(try await api.request(.get, "/api/v1/users/\(id)", key: access)["role"] == "viewer")
            let deleted = try await api.request(.delete, "/api/v1/users/\(id)", key: access)
            #expect(deleted.status == .ok)
            #expect(try await api.request(.get, "/api/v1/users/\(id)", key: access).status == .notFound)

            let audit = try await api.request(.get, "/api/v1/audit-logs?target_type=user")
            let actions = Set(audit["data"]?.array?.compactMap { $0["action"]?.string } ?? [])
            #expect(actions.isSuperset(of: ["user.created", "user.updated", "user.role_changed", "user.deleted"]))
            let logins = try await api.request(.get, "/api/v1/audit-logs?action=auth.login")
            #expect(logins["data"]?.array?.count == 2)
        }
    }

    @Test func badAccountsAreRefusedAndChangeNothing() async throws {
        try await TestServer().run { api async throws in
            _ = try await Self.createUser(api, "alice")
            let cases: [(JSONValue, String, HTTPResponse.Status)] = [
                (["username": "al", "email": "a@example.com"], "username", .badRequest),
                (["username": "alice smith", "email": "a@example.com"], "username", .badRequest),
                (["username": "bob", "email": "not-an-address"], "email", .badRequest),
                (["username": "bob", "email": "b@example.com", "password": "short"], "password", .badRequest),
                (["username": "bob", "email": "b@example.com", "password": "password1234"], "password", .badRequest),
                (["username": "bob", "email": "b@example.com", "password": "my name is bob, ok?"], "password", .badRequest),
                (
                    ["username": "bob", "email": "b@example.com", "display_name": .string(String(repeating: "x", count: 129))], "display_name",
                    .badRequest
                ),
                (["username": "bob", "email": "b@example.com", "role": "owner"], "role", .badRequest),
                (["username": "bob", "email": "b@example.com", "nickname": "b"], "nickname", .badRequest),
                (["email": "b@example.com"], "username", .badRequest),
                (["username": "ALICE", "email": "other@example.com"], "username", .conflict),
                (["username": "bob", "email": "Alice@EXAMPLE.com"], "email", .conflict),
            ]
            for (body, field, status) in cases {
                let response = try await api.request(.post, "/api/v1/users", json: body)
                #expect(response.status == status, "\(body)")
                #expect(response["errors"]?.array?.contains { $0["field"]?.string == field } == true, "\(body): \(response.json)")
            }
            #expect(try await api.request(.get, "/api/v1/users")["data"]?.array?.count == 1)
        }
    }

    @Test func everyRefusedLoginLooksTheSame() async throws {
        try await TestServer().run { api async throws in
            let disabled = try await Self.createUser(api, "dora")
            _ = try await Self.createUser(api, "nopass", password: nil)
            _ = try await Self.createUser(api, "bob")
            _ = try await api.request(.patch, "/api/v1/users/\(disabled["id"]!.string!)", json: ["status": "disabled"])
            let answers = [
                try await Self.login(api, "nobody"), try await Self.login(api, "bob", password: "wrong password here"),
                try await Self.login(api, "dora"), try await Self.login(api, "nopass"),
            ]
            for answer in answers {
                #expect(answer.status == .unauthorized)
                #expect(answer.code == "INVALID_CREDENTIALS")
                #expect(answer.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                #expect(answer["detail"] == answers[0]["detail"])
            }
            let bad = try await api.request(
                .post,
                "/api/v1/auth/login",
                key: nil,
                json: ["username": "bob", "email": "b@example.com", "password": "x"]
            )
            #expect(bad.status == .badRequest)
            #expect(try await api.request(.post, "/api/v1/auth/login", key: nil, json: ["username": "bob"]).status == .badRequest)
            let failures = try await api.request(.get, "/api/v1/audit-logs?action=auth.login_failed")
            #expect(
                Set(failures["data"]?.array?.compactMap { $0["details"]?["reason"]?.string } ?? [])
                    == ["unknown_user", "wrong_password", "disabled"]
            )
        }
    }

    @Test func repeatedFailuresLockTheAccountAndTheLockDoubles() async throws {
        let server = TestServer(config: ["lockout.threshold": "3", "lockout.duration": "60"])
        try await server.run { api async throws in
            let user = try await Self.createUser(api, "lou")
            let id = try #require(user["id"]?.string)
            for _ in 0..<3 { #expect(try await Self.login(api, "lou", password: "not the password").status == .unauthorized) }
            // Locked: the right password fails too, and the attempt does not extend the lock.
            #expect(try await Self.login(api, "lou").code == "INVALID_CREDENTIALS")
            let locked = try await api.request(.get, "/api/v1/users/\(id)")
            let until = try #require(locked["locked_until"]?.string.flatMap(Timestamp.parse))
            #expect(until == server.clock.now.addingTimeInterval(60))
            server.clock.advance(seconds: 61)
            #expect(try await Self.login(api, "lou").status == .ok, "the lock ends by itself")
            // A success resets the doubling; three new failures lock for the first duration again.
            for _ in 0..<3 { _ = try await Self.login(api, "lou", password: "not the password") }
            #expect(
                try await api.request(.get, "/api/v1/users/\(id)")["locked_until"]?.string.flatMap(Timestamp.parse)
                    == server.clock.now.addingTimeInterval(60)
            )
            server.clock.advance(seconds: 61)
            for _ in 0..<3 { _ = try await Self.login(api, "lou", password: "not the password") }
            #expect(
                try await api.request(.get, "/api/v1/users/\(id)")["locked_until"]?.string.flatMap(Timestamp.parse)
                    == server.clock.now.addingTimeInterval(120),
                "the second lock in a row lasts twice as long"
            )
            let unlocked = try await api.request(.post, "/api/v1/users/\(id)/unlock")
            #expect(unlocked.status == .ok)
            #expect(unlocked["locked_until"] == .null)
            #expect(try await Self.login(api, "lou").status == .ok)
            let actions = try await api.request(.get, "/api/v1/audit-logs?target_id=\(id)")["data"]?.array?.compactMap { $0["action"]?.string }
            #expect(actions?.filter { $0 == "user.locked" }.count == 3)
            #expect(actions?.contains("user.unlocked") == true)
        }
    }

    @Test func loginsAreLimitedPerAddress() async throws {
        let server = TestServer(config: ["ratelimit.login": "3/1m", "http.trustedProxies": "127.0.0.0/8,::1/128"])
        // Live: the trusted proxy (this test, on loopback) names the client address in X-Forwarded-For.
        try await server.run(.live) { api async throws in
            _ = try await Self.createUser(api, "rita")
            for _ in 0..<3 { #expect(try await Self.login(api, "rita", address: "203.0.113.9").status == .ok) }
            let limited = try await Self.login(api, "rita", address: "203.0.113.9")
            #expect(limited.status == .tooManyRequests)
            #expect(limited.code == "RATE_LIMITED")
            #expect(limited.headers[.retryAfter] != nil)
            #expect(limited.headers[.init("RateLimit-Policy")!] == #""login";q=3;w=60"#)
            #expect(try await Self.login(api, "rita", address: "203.0.113.10").status == .ok, "another address is not limited")
        }
    }

    @Test(arguments: ServerBackend.all) func membersManageOnlyTheirOwnKeysWithinTheirRole(backend: ServerBackend) async throws {
        try await TestServer.on(backend).run { api async throws in
            let mia = try await Self.createUser(api, "mia")
            _ = try await Self.createUser(api, "vic", role: "viewer")
            let miaToken = try await Self.token(api, "mia")
            let vicToken = try await Self.token(api, "vic")
            let owner = "user:\(mia["id"]!.string!)"
            let someoneElses = try await api.createKey(["owner_id": "cus_1"])

            let own = try await api.request(.post, "/api/v1/keys", key: miaToken, json: ["name": "mine", "scopes": ["orders:read", "keys:read"]])
            #expect(own.status == .created, "\(own.json)")
            #expect(own["owner_id"] == .string(owner), "a member's key is theirs by default")
            #expect(own["created_by"] == .string(owner))
            for body: JSONValue in [["owner_id": "cus_1"], ["scopes": ["admin"]], ["scopes": ["audit:read"]], ["scopes": ["keys:verify"]]] {
                #expect(try await api.request(.post, "/api/v1/keys", key: miaToken, json: body).status == .forbidden, "\(body)")
            }
            let listed = try await api.request(.get, "/api/v1/keys", key: miaToken)
            #expect(listed["data"]?.array?.map { $0["id"] } == [own["id"]!])
            #expect(try await api.request(.get, "/api/v1/keys?owner_id=cus_1", key: miaToken).status == .forbidden)
            let otherID = someoneElses["id"]!.string!
            for (method, path) in [(HTTPRequest.Method.get, ""), (.delete, ""), (.post, "/rotate")] {
                #expect(try await api.request(method, "/api/v1/keys/\(otherID)\(path)", key: miaToken).status == .notFound)
            }
            #expect(try await api.request(.patch, "/api/v1/keys/\(otherID)", key: miaToken, json: ["name": "x"]).status == .notFound)
            #expect(try await api.request(.get, "/api/v1/users", key: miaToken).status == .forbidden)
            #expect(try await api.request(.get, "/api/v1/audit-logs", key: miaToken).status == .forbidden)
            #expect(try await api.request(.post, "/api/v1/keys/verify", key: miaToken, json: ["key": "x"]).status == .forbidden)

            // The member's own key acts as the member: never more than the role, narrowed by its scopes.
            let ownKey = own["key"]!.string!
            #expect(try await api.request(.get, "/api/v1/keys", key: ownKey)["data"]?.array?.count == 1)
            #expect(try await api.request(.post, "/api/v1/keys", key: ownKey, json: [:]).status == .forbidden, "the key lacks keys:write")

            // A viewer reads their own keys and writes nothing.
            #expect(try await api.request(.get, "/api/v1/keys", key: vicToken)["data"]?.array?.isEmpty == true)
            #expect(try await api.request(.post, "/api/v1/keys", key: vicToken, json: [:]).status == .forbidden)
            #expect(
                try await api.request(.patch, "/api/v1/users/\(mia["id"]!.string!)", key: vicToken, json: ["display_name": "x"]).status == .notFound
            )
            let selfRename = try await api.request(.patch, "/api/v1/users/\(mia["id"]!.string!)", key: miaToken, json: ["display_name": "Mia"])
            #expect(selfRename.status == .ok)
            #expect(try await api.request(.patch, "/api/v1/users/\(mia["id"]!.string!)", key: miaToken, json: ["role": "admin"]).status == .forbidden)
        }
    }

    @Test(arguments: ServerBackend.all) func disablingAUserRevokesTheirKeysAndEndsTheirSessions(backend: ServerBackend) async throws {
        try await TestServer.on(backend).run { api async throws in
            let mia = try await Self.createUser(api, "mia")
            let id = mia["id"]!.string!
            let token = try await Self.token(api, "mia")
            let key = try await api.request(.post, "/api/v1/keys", key: token, json: ["name": "mine"])
            let secret = key["key"]!.string!
            #expect(try await api.verify(secret).code == "VALID")

            let disabled = try await api.request(.patch, "/api/v1/users/\(id)", json: ["status": "disabled"])
            #expect(disabled["status"] == "disabled")
            #expect(try await api.verify(secret).code == "REVOKED")
            let refused = try await api.request(.get, "/api/v1/users/me", key: token)
            #expect(refused.status == .unauthorized)
            #expect(refused.code == "TOKEN_INVALID")
            #expect(refused.headers[.wwwAuthenticate]?.contains("invalid_token") == true)
            #expect(try await Self.login(api, "mia").code == "INVALID_CREDENTIALS")
            let audit = try await api.request(.get, "/api/v1/audit-logs?target_id=\(key["id"]!.string!)")
            #expect(audit["data"]?.array?.first?["details"]?["reason"] == "owner_disabled")
        }
    }

    @Test func changingThePasswordNeedsTheCurrentOneAndEndsOtherSessions() async throws {
        try await TestServer().run { api async throws in
            _ = try await Self.createUser(api, "pat")
            let first = try await Self.token(api, "pat")
            let second = try await Self.token(api, "pat")
            let wrong = try await api.request(
                .post,
                "/api/v1/users/me/password",
                key: second,
                json: ["current_password": "not it at all", "new_password": "a brand new passphrase"]
            )
            #expect(wrong.status == .badRequest)
            #expect(wrong["errors"]?.array?.first?["field"] == "current_password")
            let weak = try await api.request(
                .post,
                "/api/v1/users/me/password",
                key: second,
                json: ["current_password": .string(Self.password), "new_password": "short"]
            )
            #expect(weak["errors"]?.array?.first?["field"] == "new_password")
            let changed = try await api.request(
                .post,
                "/api/v1/users/me/password",
                key: second,
                json: ["current_password": .string(Self.password), "new_password": "a brand new passphrase"]
            )
            #expect(changed.status == .noContent)
            #expect(try await api.request(.get, "/api/v1/users/me", key: first).code == "TOKEN_INVALID", "other sessions end")
            #expect(try await api.request(.get, "/api/v1/users/me", key: second).status == .ok, "this session goes on")
            #expect(try await Self.login(api, "pat").status == .unauthorized)
            #expect(try await Self.login(api, "pat", password: "a brand new passphrase").status == .ok)
            // The root key belongs to no user: it has no "me".
            #expect(try await api.request(.get, "/api/v1/users/me").status == .notFound)
        }
    }

    @Test func theKeySetIsPublishedAndTokensSayWhoAndHow() async throws {
        try await TestServer(config: ["issuer": "https://auth.example.com"]).run { api async throws in
            let jwks = try await api.request(.get, "/.well-known/jwks.json", key: nil)
            #expect(jwks.status == .ok)
            #expect(jwks.headers[.cacheControl] == "public, max-age=300")
            let key = try #require(jwks["keys"]?.array?.first)
            #expect(key["kty"] == "EC" && key["crv"] == "P-256" && key["alg"] == "ES256" && key["use"] == "sig")
            #expect(key["d"] == nil, "never the private part")
            let metadata = try await api.request(.get, "/.well-known/oauth-authorization-server", key: nil)
            #expect(metadata["issuer"] == "https://auth.example.com")
            #expect(metadata["jwks_uri"] == "https://auth.example.com/.well-known/jwks.json")

            let user = try await Self.createUser(api, "tess", role: "admin")
            let answer = try await Self.login(api, "tess")
            let token = try #require(answer["access_token"]?.string)
            let parts = token.split(separator: ".").map(String.init)
            let header = try JSONParser.parse(try #require(Base64URL.decode(parts[0])))
            let claims = try JSONParser.parse(try #require(Base64URL.decode(parts[1])))
            #expect(header["typ"] == "at+jwt")
            #expect(header["alg"] == "ES256")
            #expect(header["kid"] == key["kid"])
            #expect(claims["iss"] == "https://auth.example.com")
            #expect(claims["aud"] == "tronch")
            #expect(claims["sub"] == user["id"])
            #expect(claims["sid"] == answer["session_id"])
            #expect(claims["role"] == "admin")
            #expect(claims["scope"] == "admin")
            #expect(claims["groups"] == [])
            #expect(claims["amr"] == ["pwd"])
            let iat = try #require(claims["iat"]?.int)
            #expect(claims["exp"]?.int == iat + 600)
            #expect(claims["nbf"]?.int == iat)
            #expect(claims["jti"]?.string != nil)
        }
    }
}
