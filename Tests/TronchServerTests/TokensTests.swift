import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import TronchCore

@testable import TronchServer

/// Sessions and tokens over HTTP: refresh rotation and reuse detection, logout, sessions, RFC 7009
/// revocation and RFC 7662 introspection.
@Suite struct TokensTests {
    typealias Users = UsersTests

    static func refresh(_ api: APIClient, _ token: String, headers: HTTPFields = [.userAgent: "users-test/1.0"]) async throws -> APIResponse {
        try await api.request(.post, "/api/v1/auth/refresh", key: nil, json: ["refresh_token": .string(token)], headers: headers)
    }

    @Test(arguments: ServerBackend.all) func refreshRotatesAndAReplayEndsTheFamily(backend: ServerBackend) async throws {
        try await TestServer.on(backend).run { api async throws in
            _ = try await Users.createUser(api, "rory")
            let login = try await Users.login(api, "rory")
            let first = try #require(login["refresh_token"]?.string)
            let access = try #require(login["access_token"]?.string, "\(login.status) \(login.json)")

            let rotated = try await Self.refresh(api, first)
            #expect(rotated.status == .ok, "\(rotated.json)")
            #expect(rotated["session_id"] == login["session_id"], "a refresh stays in its session")
            let second = try #require(rotated["refresh_token"]?.string)
            #expect(second != first)
            let newAccess = try #require(rotated["access_token"]?.string)
            #expect(try await api.request(.get, "/api/v1/users/me", key: newAccess).status == .ok)

            // The first token again: someone else has it. The whole session ends.
            let replay = try await Self.refresh(api, first)
            #expect(replay.status == .unauthorized)
            #expect(replay.code == "REFRESH_TOKEN_REUSED")
            #expect(replay.headers[.wwwAuthenticate]?.contains("invalid_token") == true)
            #expect(try await Self.refresh(api, second).code == "SESSION_REVOKED", "the family's live token died too")
            for token in [access, newAccess] {
                #expect(try await api.request(.get, "/api/v1/users/me", key: token).code == "TOKEN_INVALID", "and its access tokens")
            }
            #expect(try await Self.refresh(api, "tronch_rt_" + String(repeating: "A", count: 43)).code == "TOKEN_INVALID")
            let reuse = try await api.request(.get, "/api/v1/audit-logs?action=auth.refresh_reuse")
            #expect(reuse["data"]?.array?.first?["target"]?["id"] == login["session_id"])
        }
    }

    @Test func sessionsEndByIdlenessAndAtTheirAbsoluteEnd() async throws {
        let server = TestServer(config: ["session.idleTimeout": "100", "refreshToken.ttl": "1000", "accessToken.ttl": "60"])
        try await server.run { api async throws in
            _ = try await Users.createUser(api, "ida")
            var refresh = try #require(try await Users.login(api, "ida")["refresh_token"]?.string)
            for _ in 0..<3 {
                server.clock.advance(seconds: 90)
                let answer = try await Self.refresh(api, refresh)
                #expect(answer.status == .ok, "seen within the idle timeout: alive")
                refresh = try #require(answer["refresh_token"]?.string)
            }
            server.clock.advance(seconds: 101)
            #expect(try await Self.refresh(api, refresh).code == "SESSION_REVOKED", "idle too long")

            let access = try #require(try await Users.login(api, "ida")["access_token"]?.string)
            server.clock.advance(seconds: 60 + 31)
            #expect(try await api.request(.get, "/api/v1/users/me", key: access).code == "TOKEN_INVALID", "expired, past the leeway")

            var lasting = try #require(try await Users.login(api, "ida")["refresh_token"]?.string)
            for _ in 0..<11 {
                server.clock.advance(seconds: 95)
                let answer = try await Self.refresh(api, lasting)
                guard answer.status == .ok else {
                    #expect(answer.code == "TOKEN_INVALID", "past the absolute end the token itself has expired")
                    return
                }
                lasting = try #require(answer["refresh_token"]?.string)
            }
            Issue.record("a session outlived its absolute end")
        }
    }

    @Test func aRefreshFromAnotherAddressAndClientEndsTheSession() async throws {
        let server = TestServer(config: ["http.trustedProxies": "127.0.0.0/8,::1/128"])
        try await server.run(.live) { api async throws in
            _ = try await Users.createUser(api, "ann")
            let login = try await api.request(
                .post,
                "/api/v1/auth/login",
                key: nil,
                json: ["username": "ann", "password": .string(Users.password)],
                headers: [.userAgent: "laptop", .init("X-Forwarded-For")!: "203.0.113.1"]
            )
            let token = try #require(login["refresh_token"]?.string)
            // Another address alone, or another client alone, is ordinary.
            let moved = try await Self.refresh(api, token, headers: [.userAgent: "laptop", .init("X-Forwarded-For")!: "198.51.100.7"])
            #expect(moved.status == .ok)
            let updated = try await Self.refresh(
                api,
                try #require(moved["refresh_token"]?.string),
                headers: [.userAgent: "laptop 2", .init("X-Forwarded-For")!: "203.0.113.1"]
            )
            #expect(updated.status == .ok)
            let stolen = try await Self.refresh(
                api,
                try #require(updated["refresh_token"]?.string),
                headers: [.userAgent: "curl", .init("X-Forwarded-For")!: "192.0.2.66"]
            )
            #expect(stolen.code == "SESSION_REVOKED")
            let audit = try await api.request(.get, "/api/v1/audit-logs?action=auth.session_anomaly")
            #expect(audit["data"]?.array?.count == 1)
        }
        try await TestServer(config: ["http.trustedProxies": "127.0.0.0/8,::1/128", "session.anomaly": "off"]).run(.live) { api async throws in
            _ = try await Users.createUser(api, "ann")
            let login = try await api.request(
                .post,
                "/api/v1/auth/login",
                key: nil,
                json: ["username": "ann", "password": .string(Users.password)],
                headers: [.userAgent: "laptop", .init("X-Forwarded-For")!: "203.0.113.1"]
            )
            let refreshed = try await Self.refresh(
                api,
                try #require(login["refresh_token"]?.string),
                headers: [.userAgent: "curl", .init("X-Forwarded-For")!: "192.0.2.66"]
            )
            #expect(refreshed.status == .ok, "the rule can be turned off")
        }
    }

    @Test(arguments: ServerBackend.all) func usersListAndEndTheirSessions(backend: ServerBackend) async throws {
        try await TestServer.on(backend).run { api async throws in
            let sam = try await Users.createUser(api, "sam")
            _ = try await Users.createUser(api, "max")
            let phone = try await Users.login(api, "sam")
            let laptop = try await Users.login(api, "sam")
            let maxToken = try await Users.token(api, "max")
            let laptopToken = try #require(laptop["access_token"]?.string)

            let listed = try await api.request(.get, "/api/v1/sessions", key: laptopToken)
            #expect(listed.status == .ok)
            // Both logins happened in the same millisecond of the test clock: compare as a set.
            #expect(
                Set(listed["data"]?.array?.compactMap { $0["id"]?.string } ?? []) == [laptop["session_id"]!.string!, phone["session_id"]!.string!]
            )
            let first = try #require(listed["data"]?.array?.first)
            #expect(first["user_id"] == sam["id"])
            #expect(first["user_agent"] == "users-test/1.0")
            #expect(first["amr"] == ["pwd"])
            #expect(try await api.request(.get, "/api/v1/sessions", key: maxToken)["data"]?.array?.count == 1)
            #expect(try await api.request(.get, "/api/v1/sessions?user_id=\(sam["id"]!.string!)", key: maxToken).status == .forbidden)
            #expect(
                try await api.request(.get, "/api/v1/sessions?user_id=\(sam["id"]!.string!)")["data"]?.array?.count == 2,
                "an admin sees anyone's"
            )

            let phoneID = phone["session_id"]!.string!
            #expect(try await api.request(.delete, "/api/v1/sessions/\(phoneID)", key: maxToken).status == .notFound, "not another's")
            #expect(try await api.request(.delete, "/api/v1/sessions/\(phoneID)", key: laptopToken).status == .noContent)
            #expect(try await api.request(.get, "/api/v1/users/me", key: phone["access_token"]!.string!).code == "TOKEN_INVALID")
            #expect(try await Self.refresh(api, phone["refresh_token"]!.string!).code == "SESSION_REVOKED")

            #expect(try await api.request(.post, "/api/v1/auth/logout", key: laptopToken).status == .noContent)
            #expect(try await api.request(.get, "/api/v1/users/me", key: laptopToken).code == "TOKEN_INVALID")
            #expect(try await Self.refresh(api, laptop["refresh_token"]!.string!).code == "SESSION_REVOKED")
            #expect(try await api.request(.get, "/api/v1/audit-logs?action=auth.logout")["data"]?.array?.count == 1)
        }
    }

    @Test(arguments: ServerBackend.all) func anyTokenCanBeRevokedAndIntrospected(backend: ServerBackend) async throws {
        try await TestServer.on(backend).run { api async throws in
            let user = try await Users.createUser(api, "ria")
            let login = try await Users.login(api, "ria")
            let access = try #require(login["access_token"]?.string, "\(login.status) \(login.json)")
            let refresh = try #require(login["refresh_token"]?.string)
            let introspector = try await api.createKey(["scopes": ["tokens:introspect"]])["key"]!.string!

            func introspect(_ token: String, form: Bool = false) async throws -> APIResponse {
                if form {
                    let body = "token=\(token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? token)&token_type_hint=access_token"
                    return try await api.request(
                        .post,
                        "/api/v1/auth/introspect",
                        key: introspector,
                        raw: body,
                        headers: [.contentType: "application/x-www-form-urlencoded"]
                    )
                }
                return try await api.request(.post, "/api/v1/auth/introspect", key: introspector, json: ["token": .string(token)])
            }
            let active = try await introspect(access)
            #expect(active["active"] == true)
            #expect(active["token_type"] == "access_token")
            #expect(active["sub"] == user["id"])
            #expect(active["sid"] == login["session_id"])
            #expect(active["scope"]?.string?.contains("keys:write") == true)
            #expect(active["exp"]?.int != nil && active["iat"]?.int != nil && active["jti"]?.string != nil)
            #expect(try await introspect(access, form: true)["active"] == true, "a form body works too")
            let refreshInfo = try await introspect(refresh)
            #expect(refreshInfo["active"] == true)
            #expect(refreshInfo["token_type"] == "refresh_token")
            #expect(refreshInfo["sid"] == login["session_id"])
            #expect(try await introspect("garbage")["active"] == false)
            let memberToken = try await Users.token(api, "ria")
            #expect(try await api.request(.post, "/api/v1/auth/introspect", key: memberToken, json: ["token": .string(access)]).status == .forbidden)

            // Revocation needs no credential and answers 200 whatever the token.
            let revoked = try await api.request(
                .post,
                "/api/v1/auth/revoke",
                key: nil,
                json: ["token": .string(access), "token_type_hint": "access_token"]
            )
            #expect(revoked.status == .ok)
            #expect(try await api.request(.get, "/api/v1/users/me", key: access).code == "TOKEN_INVALID")
            #expect(try await introspect(access)["active"] == false)
            #expect(try await api.request(.get, "/api/v1/users/me", key: memberToken).status == .ok, "another token of the user lives on")
            let form = try await api.request(
                .post,
                "/api/v1/auth/revoke",
                key: nil,
                raw: "token=\(refresh)",
                headers: [.contentType: "application/x-www-form-urlencoded"]
            )
            #expect(form.status == .ok)
            #expect(try await Self.refresh(api, refresh).code == "SESSION_REVOKED", "revoking a refresh token ends its family")
            #expect(try await introspect(refresh)["active"] == false)
            #expect(try await api.request(.post, "/api/v1/auth/revoke", key: nil, json: ["token": "not a token"]).status == .ok)
            #expect(try await api.request(.post, "/api/v1/auth/revoke", key: nil, json: [:]).status == .badRequest)
            // The hint is only a hint (RFC 7009 §2.1): any value is accepted.
            #expect(try await api.request(.post, "/api/v1/auth/revoke", key: nil, json: ["token": "x", "token_type_hint": "id_token"]).status == .ok)
            #expect(try await api.request(.post, "/api/v1/auth/revoke", key: nil, json: ["token": ""]).status == .badRequest)
        }
    }
}
