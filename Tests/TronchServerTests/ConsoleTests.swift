import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing
import TronchCore

@testable import TronchServer

/// The web console's HTTP contract: pages, cookies, CSRF, CSP, escaping, refresh, and the switch. The walk in a
/// real browser is scripts/test-console.
@Suite struct ConsoleTests {
    /// A browser's cookie jar, enough for one host.
    struct Browser {
        let client: any TestClientProtocol
        var cookies: [String: String] = [:]

        mutating func send(
            _ method: HTTPRequest.Method,
            _ path: String,
            form: [String: String]? = nil,
            headers extra: HTTPFields = [:]
        ) async throws -> (status: HTTPResponse.Status, headers: HTTPFields, body: String) {
            var headers = extra
            if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
            var body: ByteBuffer?
            if let form {
                headers[.contentType] = "application/x-www-form-urlencoded"
                var allowed = CharacterSet.alphanumerics
                allowed.insert(charactersIn: "-._~")
                body = ByteBuffer(
                    string: form.map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
                )
            }
            let response = try await client.executeRequest(uri: path, method: method, headers: headers, body: body)
            for setCookie in response.headers[values: .setCookie] {
                let pair = setCookie.split(separator: ";")[0].split(separator: "=", maxSplits: 1).map(String.init)
                if setCookie.contains("Max-Age=0") { cookies[pair[0]] = nil } else { cookies[pair[0]] = pair.count == 2 ? pair[1] : "" }
            }
            return (response.status, response.headers, String(buffer: response.body))
        }

        var csrf: String { cookies[ConsoleController.csrfCookie] ?? "" }
    }

    @Test func signInCreateRevokeAndSignOut() async throws {
        let server = TestServer()
        try await server.run { api async throws in
            _ = try await UsersTests.createUser(api, "dora")
            let adminKey = try await api.createKey(["name": "admins only"])
            var browser = Browser(client: api.client)

            let login = try await browser.send(.get, "/console/login")
            #expect(login.status == .ok && login.headers[.contentType] == "text/html; charset=utf-8")
            #expect(login.headers[values: .contentSecurityPolicy] == [ConsoleController.contentSecurityPolicy], "the console's CSP alone")
            #expect(login.headers[values: .referrerPolicy] == ["same-origin"], "not no-referrer, which makes browsers send Origin: null")
            #expect(login.headers[.xContentTypeOptions] == "nosniff")
            #expect(
                login.headers[values: .setCookie].first?.contains("HttpOnly") == true
                    && login.headers[values: .setCookie].first?.contains("SameSite=Lax") == true
            )
            #expect(login.headers[values: .setCookie].first?.contains("Path=/console") == true)
            #expect(login.body.contains(#"name="csrf" value="\#(browser.csrf)""#))

            // No CSRF token, or another origin: refused, and nothing happens.
            #expect(
                try await browser.send(.post, "/console/login", form: ["username": "dora", "password": UsersTests.password]).status == .forbidden
            )
            let crossSite = try await browser.send(
                .post,
                "/console/login",
                form: ["username": "dora", "password": UsersTests.password, "csrf": browser.csrf],
                headers: [.origin: "https://evil.example"]
            )
            #expect(crossSite.status == .forbidden && browser.cookies[ConsoleController.accessCookie] == nil)

            let wrong = try await browser.send(
                .post,
                "/console/login",
                form: ["username": "dora", "password": "not the password", "csrf": browser.csrf]
            )
            #expect(wrong.status == .unauthorized && wrong.body.contains("wrong"))
            let signedIn = try await browser.send(
                .post,
                "/console/login",
                form: ["username": "dora", "password": UsersTests.password, "csrf": browser.csrf]
            )
            #expect(signedIn.status == .seeOther && signedIn.headers[.location] == "/console/keys")
            #expect(browser.cookies[ConsoleController.accessCookie] != nil && browser.cookies[ConsoleController.refreshCookie] != nil)

            // A name that is markup is shown as text.
            let created = try await browser.send(
                .post,
                "/console/keys",
                form: ["name": "<script>alert(1)</script>", "scopes": "orders:read", "environment": "test", "csrf": browser.csrf]
            )
            #expect(created.status == .created, "\(created.body)")
            #expect(!created.body.contains("<script>alert") && created.body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
            let secret = try #require(created.body.firstRange(of: /tronch_sk_test_[0-9A-Za-z]{38}/).map { String(created.body[$0]) })
            let verified = try await api.verify(secret, scopes: ["orders:read"])
            #expect(verified["code"] == "VALID" && verified["owner_id"]?.string?.hasPrefix("user:") == true)
            let keyID = try #require(verified["key_id"]?.string)

            let keys = try await browser.send(.get, "/console/keys")
            #expect(keys.status == .ok && keys.body.contains(keyID) && !keys.body.contains(adminKey["id"]!.string!), "only dora's keys")
            #expect(try await browser.send(.get, "/console/keys/\(adminKey["id"]!.string!)/revoke").status == .notFound)
            #expect(try await browser.send(.post, "/console/keys/\(keyID)/revoke", form: [:]).status == .forbidden, "no CSRF token")
            let revoked = try await browser.send(.post, "/console/keys/\(keyID)/revoke", form: ["csrf": browser.csrf])
            #expect(revoked.status == .seeOther)
            #expect(try await api.verify(secret)["code"] == "REVOKED")

            // One key's page, its rotation, the person's own audit entries and sessions.
            let other = try await browser.send(.post, "/console/keys", form: ["name": "rotating", "csrf": browser.csrf])
            let otherSecret = try #require(other.body.firstRange(of: /tronch_sk_live_[0-9A-Za-z]{38}/).map { String(other.body[$0]) })
            let otherID = try #require(try await api.verify(otherSecret)["key_id"]?.string)
            let keyPage = try await browser.send(.get, "/console/keys/\(otherID)")
            #expect(
                keyPage.status == .ok && keyPage.body.contains("<svg class=\"chart\"") && keyPage.body.contains("/console/keys/\(otherID)/rotate")
            )
            #expect(try await browser.send(.get, "/console/keys/\(otherID)?period=30d").body.contains("Verifications per day"))
            // Edited: name, scopes, expiry, a rate limit, an allowlist; a bad field changes nothing.
            let edited = try await browser.send(
                .post,
                "/console/keys/\(otherID)/edit",
                form: [
                    "name": "renamed", "scopes": "orders:read billing:read", "expires_on": "2031-01-02", "ratelimits": "api:100/60",
                    "allowed_ips": "10.0.0.0/8 192.0.2.7", "enabled": "on", "csrf": browser.csrf,
                ]
            )
            #expect(edited.status == .seeOther)
            let changed = try await api.request(.get, "/api/v1/keys/\(otherID)")
            #expect(
                changed["name"] == "renamed" && changed["scopes"] == ["orders:read", "billing:read"]
                    && changed["expires_at"] == "2031-01-02T00:00:00.000Z"
            )
            #expect(changed["ratelimits"]?.array?.first?["limit"] == 100 && changed["allowed_ips"]?.array?.count == 2)
            let refusedEdit = try await browser.send(
                .post,
                "/console/keys/\(otherID)/edit",
                form: ["name": "again", "ratelimits": "nonsense", "allowed_ips": "10.0.0.0/8", "csrf": browser.csrf]
            )
            #expect(refusedEdit.status == .badRequest && refusedEdit.body.contains("name:limit/seconds"))
            #expect(try await api.request(.get, "/api/v1/keys/\(otherID)")["name"] == "renamed")
            _ = try await browser.send(.post, "/console/keys/\(otherID)/edit", form: ["name": "rotating", "enabled": "on", "csrf": browser.csrf])
            let rotated = try await browser.send(.post, "/console/keys/\(otherID)/rotate", form: ["grace_minutes": "5", "csrf": browser.csrf])
            #expect(rotated.status == .created && rotated.body.contains("Key rotated"))
            let rotatedSecret = try #require(rotated.body.firstRange(of: /tronch_sk_live_[0-9A-Za-z]{38}/).map { String(rotated.body[$0]) })
            #expect(try await api.verify(rotatedSecret)["code"] == "VALID")
            #expect(try await api.verify(otherSecret)["code"] == "VALID", "the old one has its grace")
            let audit = try await browser.send(.get, "/console/audit?action=key.rotated")
            #expect(audit.status == .ok && audit.body.contains("<code>key.rotated</code>") && !audit.body.contains("<code>key.created</code>"))
            let everything = try await browser.send(.get, "/console/audit")
            #expect(
                everything.body.contains("<code>key.created</code>") && !everything.body.contains("root_key.bootstrapped"),
                "a member sees only their own actions"
            )
            let sessions = try await browser.send(.get, "/console/sessions")
            #expect(sessions.status == .ok && sessions.body.contains("(this one)") && sessions.body.contains("/console/sessions/end-all"))

            // An expired access token is refreshed from the refresh cookie on the next page.
            let before = browser.cookies[ConsoleController.refreshCookie]
            server.clock.advance(seconds: 700)
            #expect(try await browser.send(.get, "/console/keys").status == .ok)
            #expect(browser.cookies[ConsoleController.refreshCookie] != before, "a new pair")
            // So is one on a page that is not found, and on one the person may not see: the new pair comes
            // with them, and the session goes on (the spent refresh token is never sent again).
            for path in ["/console/keys/\(UUID().uuidString)", "/console/users"] {
                let previous = browser.cookies[ConsoleController.refreshCookie]
                server.clock.advance(seconds: 700)
                let refused = try await browser.send(.get, path)
                #expect(refused.status == .notFound || refused.status == .forbidden, "\(path)")
                #expect(browser.cookies[ConsoleController.refreshCookie] != previous, "a new pair with \(path)")
                #expect(try await browser.send(.get, "/console/keys").status == .ok, "still signed in after \(path)")
            }

            // A second sign-in elsewhere; "sign out everywhere" ends both.
            var elsewhere = Browser(client: api.client)
            _ = try await elsewhere.send(.get, "/console/login")
            _ = try await elsewhere.send(
                .post,
                "/console/login",
                form: ["username": "dora", "password": UsersTests.password, "csrf": elsewhere.csrf]
            )
            #expect(try await elsewhere.send(.get, "/console/keys").status == .ok)
            let ended = try await browser.send(.post, "/console/sessions/end-all", form: ["csrf": browser.csrf])
            #expect(ended.status == .seeOther && ended.headers[.location] == "/console/login")
            #expect(try await elsewhere.send(.get, "/console/keys").headers[.location] == "/console/login", "the other browser is out too")

            _ = try await browser.send(.post, "/console/login", form: ["username": "dora", "password": UsersTests.password, "csrf": browser.csrf])
            let out = try await browser.send(.post, "/console/logout", form: ["csrf": browser.csrf])
            #expect(out.status == .seeOther && browser.cookies[ConsoleController.accessCookie] == nil)
            #expect(try await browser.send(.get, "/console/keys").headers[.location] == "/console/login")
            let logouts = try await api.request(.get, "/api/v1/audit-logs?action=auth.logout")
            #expect(logouts["data"]?.array?.count == 1)
        }
    }

    @Test func administratorsManagePeopleGroupsAndEntries() async throws {
        try await TestServer().run { api async throws in
            _ = try await UsersTests.createUser(api, "ada", role: "admin")
            _ = try await UsersTests.createUser(api, "dora")
            var admin = Browser(client: api.client)
            _ = try await admin.send(.get, "/console/login")
            _ = try await admin.send(.post, "/console/login", form: ["username": "ada", "password": UsersTests.password, "csrf": admin.csrf])
            var member = Browser(client: api.client)
            _ = try await member.send(.get, "/console/login")
            _ = try await member.send(.post, "/console/login", form: ["username": "dora", "password": UsersTests.password, "csrf": member.csrf])
            for path in ["/console/users", "/console/groups", "/console/acl"] {
                #expect(try await member.send(.get, path).status == .forbidden, "\(path) is for administrators")
                #expect(try await admin.send(.get, path).status == .ok, "\(path)")
            }
            #expect(try await member.send(.post, "/console/groups", form: ["name": "sneaky", "csrf": member.csrf]).status == .forbidden)

            // People.
            let added = try await admin.send(
                .post,
                "/console/users",
                form: ["username": "eve", "email": "eve@example.com", "role": "member", "csrf": admin.csrf]
            )
            #expect(added.status == .seeOther)
            #expect(try await admin.send(.get, "/console/users").body.contains("eve@example.com"))
            let bad = try await admin.send(.post, "/console/users", form: ["username": "x y", "email": "nope", "csrf": admin.csrf])
            #expect(bad.status == .badRequest && bad.body.contains("role=\"alert\""))
            let promoted = try await admin.send(
                .post,
                "/console/users",
                form: ["username": "mal", "email": "mal@example.com", "role": "admin", "csrf": admin.csrf]
            )
            #expect(promoted.status == .badRequest && promoted.body.contains("step-up"))

            // Groups and members.
            let created = try await admin.send(.post, "/console/groups", form: ["name": "ops", "description": "on call", "csrf": admin.csrf])
            let groupPath = try #require(created.headers[.location])
            #expect(created.status == .seeOther && groupPath.hasPrefix("/console/groups/"))
            #expect(try await admin.send(.post, groupPath + "/members", form: ["member": "eve", "csrf": admin.csrf]).status == .seeOther)
            let group = try await admin.send(.get, groupPath)
            #expect(group.body.contains("<td>eve</td>"))
            let eveID = try #require(try await api.request(.get, "/api/v1/users?q=eve")["data"]?.array?.first?["id"]?.string)
            #expect(
                try await admin.send(.post, groupPath + "/members", form: ["member": "nobody", "csrf": admin.csrf]).body.contains(
                    "No person or group"
                )
            )

            // Entries, and a check that follows them.
            let entry = try await admin.send(
                .post,
                "/console/acl",
                form: ["resource": "project:acme/web", "principal": "eve", "action": "read", "effect": "allow", "kind": "acl", "csrf": admin.csrf]
            )
            #expect(entry.status == .seeOther)
            let check: JSONValue = ["principal": .string("user:" + eveID), "action": "read", "resource": "project:acme/web"]
            #expect(try await api.request(.post, "/api/v1/authz/check", json: check)["allowed"] == true)
            let list = try await admin.send(.get, "/console/acl?resource=project:acme/web")
            let entryID = try #require(list.body.firstMatch(of: /\/console\/acl\/([0-9a-f-]{36})\/delete/).map { String($0.output.1) })
            #expect(try await admin.send(.post, "/console/acl/\(entryID)/delete", form: ["csrf": admin.csrf]).status == .seeOther)
            #expect(try await api.request(.post, "/api/v1/authz/check", json: check)["allowed"] == false)
            #expect(
                try await admin.send(
                    .post,
                    "/console/acl",
                    form: ["resource": "no", "principal": "eve", "action": "read", "effect": "allow", "csrf": admin.csrf]
                ).status == .badRequest
            )
            #expect(
                try await admin.send(.post, groupPath + "/members/remove", form: ["member": "user:" + eveID, "csrf": admin.csrf]).status == .seeOther
            )
            #expect(!(try await admin.send(.get, groupPath).body.contains("<td>eve</td>")))
        }
    }

    @Test func theConsoleCanBeTurnedOff() async throws {
        try await TestServer(config: ["console": "off"]).run { api async throws in
            #expect(try await api.request(.get, "/console/login", key: nil).status == .notFound)
        }
    }
}
