import Foundation
import HTTPTypes
import Testing
import TronchCore

@testable import TronchServer

/// `/api/v1/auth/check`, as a gateway calls it with the client's headers.
@Suite struct ForwardAuthTests {
    static let rules = "GET /orders/* orders:read; POST,DELETE /orders/* orders:write; * /admin admin:panel"

    func check(
        _ api: APIClient,
        key: String?,
        method: HTTPRequest.Method = .get,
        path: String = "/api/v1/auth/check",
        headers: HTTPFields = [:]
    ) async throws -> APIResponse {
        var headers = headers
        if let key { headers[.init("X-API-Key")!] = key }
        return try await api.request(method, path, key: nil, headers: headers)
    }

    @Test(arguments: ServerBackend.all) func aValidKeyPassesWithIdentityHeaders(backend: ServerBackend) async throws {
        try await TestServer.on(backend).run { api async throws in
            let created = try await api.createKey(["owner_id": "cus_42", "scopes": ["orders:read", "orders:write"], "environment": "test"])
            let answer = try await check(api, key: created["key"]!.string!)
            #expect(answer.status == .ok)
            #expect(answer.headers[.tronchCode] == "VALID")
            #expect(answer.headers[.tronchKeyID] == created["id"]!.string!)
            #expect(answer.headers[.tronchOwnerID] == "cus_42")
            #expect(answer.headers[.tronchEnvironment] == "test")
            #expect(answer.headers[.tronchScopes] == "orders:read orders:write")
            #expect(answer.headers[.rateLimitPolicy] == #""default";q=1000;w=3600"#)
            #expect(answer["key_id"] == created["id"])
            #expect(answer["meta"] == nil && answer["name"] == nil, "the body says no more than the headers")
            let ownerless = try await api.createKey([:])
            let bare = try await check(api, key: ownerless["key"]!.string!)
            #expect(bare.headers[.tronchOwnerID] == "", "present and empty, so a client's own value never passes")
            // Bearer works the same way, and so does every method a gateway may forward.
            for method: HTTPRequest.Method in [.post, .head, .delete, .options] {
                let bearer = try await api.request(method, "/api/v1/auth/check", key: created["key"]!.string!)
                #expect(bearer.status == .ok, "\(method)")
            }
        }
    }

    @Test func refusalsCarryTheRightStatusCodeAndProblem() async throws {
        try await TestServer().run { api async throws in
            let missing = try await check(api, key: nil)
            #expect(missing.status == .unauthorized)
            #expect(missing.code == "UNAUTHENTICATED")
            #expect(missing.headers[.wwwAuthenticate] == #"Bearer realm="tronch""#)
            #expect(missing.headers[.tronchCode] == "UNAUTHENTICATED")

            let unknown = try await check(api, key: "tronch_sk_live_nonsense")
            #expect(unknown.status == .unauthorized)
            #expect(unknown.headers[.tronchCode] == "NOT_FOUND")
            #expect(unknown.headers[.tronchKeyID] == nil)

            let created = try await api.createKey(["scopes": ["orders:read"]])
            let key = created["key"]!.string!
            #expect(try await api.request(.delete, "/api/v1/keys/\(created["id"]!.string!)").status == .ok)
            let revoked = try await check(api, key: key)
            #expect(revoked.status == .unauthorized)
            #expect(revoked.headers[.tronchCode] == "REVOKED")
            #expect(revoked.headers[.wwwAuthenticate] == #"Bearer realm="tronch", error="invalid_token""#)

            let fenced = try await api.createKey(["allowed_ips": ["192.0.2.0/24"]])
            let forbidden = try await check(api, key: fenced["key"]!.string!)
            #expect(forbidden.status == .forbidden)
            #expect(forbidden.headers[.tronchCode] == "FORBIDDEN")

            let reader = try await api.createKey(["scopes": ["orders:read"]])
            let lacking = try await check(
                api,
                key: reader["key"]!.string!,
                headers: [.init("X-Tronch-Required-Scopes")!: "orders:read, orders:write"]
            )
            #expect(lacking.status == .forbidden)
            #expect(lacking.code == "FORBIDDEN")
            #expect(lacking.headers[.tronchCode] == "INSUFFICIENT_SCOPES")
            #expect(lacking.json["detail"]?.string?.contains("orders:write") == true)

            let badScope = try await check(api, key: reader["key"]!.string!, headers: [.init("X-Tronch-Required-Scopes")!: "a::b"])
            #expect(badScope.status == .badRequest)
        }
    }

    @Test(arguments: ServerBackend.all) func theKeysRateLimitAndCreditsApply(backend: ServerBackend) async throws {
        try await TestServer.on(backend).run { api async throws in
            let limited = try await api.createKey(["ratelimits": [["name": "burst", "limit": 2, "period_seconds": 60]]])
            for remaining in ["1", "0"] {
                let answer = try await check(api, key: limited["key"]!.string!)
                #expect(answer.status == .ok)
                #expect(answer.headers[.xRateLimitRemaining] == remaining)
            }
            let over = try await check(api, key: limited["key"]!.string!)
            #expect(over.status == .tooManyRequests)
            #expect(over.code == "RATE_LIMITED")
            #expect(over.headers[.tronchCode] == "RATE_LIMITED")
            // The limiter runs on the wall clock: a slow run (coverage, a loaded machine) may cross a few second
            // boundaries between the first request and this one.
            let retryAfter = try #require(over.headers[.retryAfter].flatMap { Int($0) })
            #expect((25...30).contains(retryAfter))
            let state = try #require(over.headers[.rateLimit])
            #expect(state.hasPrefix(#""burst";r=0;t="#))
            #expect((55...60).contains(Int(state.dropFirst(#""burst";r=0;t="#.count)) ?? -1), "\(state)")

            let credited = try await api.createKey(["remaining": 1])
            #expect(try await check(api, key: credited["key"]!.string!).status == .ok)
            let spent = try await check(api, key: credited["key"]!.string!)
            #expect(spent.status == .tooManyRequests)
            #expect(spent.code == "USAGE_EXCEEDED")
            #expect(try await api.request(.get, "/api/v1/keys/\(credited["id"]!.string!)")["remaining"] == 0)
        }
    }

    @Test func routeRulesRequireScopesByMethodAndPath() async throws {
        try await TestServer(config: ["forwardAuth.rules": Self.rules]).run { api async throws in
            let reader = try await api.createKey(["scopes": ["orders:read"]])["key"]!.string!
            func status(_ method: String, _ uri: String) async throws -> HTTPResponse.Status {
                try await check(
                    api,
                    key: reader,
                    headers: [.init("X-Forwarded-Method")!: method, .init("X-Forwarded-Uri")!: uri]
                ).status
            }
            #expect(try await status("GET", "/orders/1?expand=items") == .ok)
            #expect(try await status("get", "/orders/1") == .ok)
            #expect(try await status("POST", "/orders/1") == .forbidden)
            #expect(try await status("GET", "/admin") == .forbidden)
            #expect(try await status("GET", "/admin/users") == .ok, "the /admin rule is exact, not a prefix")
            #expect(try await status("GET", "/%61dmin") == .forbidden, "percent-escapes cannot dodge a rule")
            #expect(try await status("GET", "/orders/../admin") == .forbidden, "nor can dot segments")
            #expect(try await status("PUT", "/elsewhere") == .ok, "no rule: any valid key")
            // Envoy: the original path follows the check route, the method is the request's own.
            #expect(try await api.request(.post, "/api/v1/auth/check/orders/7", key: reader).status == .forbidden)
            #expect(try await api.request(.get, "/api/v1/auth/check/orders/7", key: reader).status == .ok)
        }
    }

    @Test func itCanBeTurnedOffAndBadRulesStopStartUp() async throws {
        try await TestServer(config: ["forwardAuth.enabled": "false"]).run { api async throws in
            #expect(try await api.request(.get, "/api/v1/auth/check").status == .notFound)
        }
        await #expect(throws: ConfigurationError.self) {
            try await TestServer(config: ["forwardAuth.rules": "GET orders/* x"]).run { _ async throws in }
        }
    }
}
