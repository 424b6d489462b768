import Foundation
import HTTPTypes
import Testing
import TronchCore

@testable import TronchServer

/// One row per route: its method, path, a valid body, and the scope it needs.
struct RouteCase: Sendable, CustomTestStringConvertible {
    var method: HTTPRequest.Method
    var path: String
    var body: JSONValue?
    var scope: String
    var success: HTTPResponse.Status

    var testDescription: String { "\(method) \(path)" }

    static let targetPlaceholder = "{target}"

    static let all: [RouteCase] = [
        RouteCase(method: .post, path: "/api/v1/keys", body: ["name": "new"], scope: "keys:write", success: .created),
        RouteCase(method: .get, path: "/api/v1/keys", body: nil, scope: "keys:read", success: .ok),
        RouteCase(method: .get, path: "/api/v1/keys/{target}", body: nil, scope: "keys:read", success: .ok),
        RouteCase(method: .patch, path: "/api/v1/keys/{target}", body: ["name": "renamed"], scope: "keys:write", success: .ok),
        RouteCase(method: .delete, path: "/api/v1/keys/{target}", body: nil, scope: "keys:write", success: .ok),
        RouteCase(method: .post, path: "/api/v1/keys/{target}/rotate", body: nil, scope: "keys:write", success: .created),
        RouteCase(method: .post, path: "/api/v1/keys/verify", body: ["key": "x"], scope: "keys:verify", success: .ok),
    ]
}

enum Credential: String, CaseIterable, Sendable {
    case none, malformed, unknown, revoked, wrongScope, rightScope, wildcardScope, admin
}

@Suite struct AuthorizationTests {
    @Test(arguments: RouteCase.all, Credential.allCases)
    func matrix(route: RouteCase, credential: Credential) async throws {
        try await TestServer().run { api async throws in
            let target = try await api.createKey(["name": "target"])["id"]!.string!
            let wrongScope = route.scope == "keys:read" ? "keys:verify" : "keys:read"
            var key: String?
            switch credential {
            case .none: key = nil
            case .malformed: key = "not-a-key"
            case .unknown: key = KeyFormat(prefix: "tronch")!.generate(environment: .live)
            case .revoked:
                let created = try await api.createKey(["scopes": .array([.string(route.scope)])])
                _ = try await api.request(.delete, "/api/v1/keys/\(created["id"]!.string!)")
                key = created["key"]!.string!
            case .wrongScope: key = try await api.createKey(["scopes": .array([.string(wrongScope)])])["key"]!.string!
            case .rightScope: key = try await api.createKey(["scopes": .array([.string(route.scope)])])["key"]!.string!
            case .wildcardScope: key = try await api.createKey(["scopes": ["keys:*"]])["key"]!.string!
            case .admin: key = TestServer.rootKey
            }
            let response = try await api.request(
                route.method,
                route.path.replacingOccurrences(of: RouteCase.targetPlaceholder, with: target),
                key: key,
                json: route.body
            )
            switch credential {
            case .none:
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="tronch""#)
                #expect(response.code == "UNAUTHENTICATED")
            case .malformed, .unknown, .revoked:
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate] == #"Bearer realm="tronch", error="invalid_token""#)
            case .wrongScope:
                #expect(response.status == .forbidden)
                #expect(response.code == "FORBIDDEN")
                #expect(response["detail"]?.string?.contains(route.scope) == true)
            case .rightScope, .wildcardScope, .admin:
                #expect(response.status == route.success, "\(response.json)")
            }
        }
    }

    @Test func theKeyMayComeFromEitherHeader() async throws {
        try await TestServer().run { api async throws in
            let viaHeader = try await api.request(.get, "/api/v1/keys", key: nil, headers: [.init("X-API-Key")!: TestServer.rootKey])
            #expect(viaHeader.status == .ok)
            let lowercaseScheme = try await api.request(.get, "/api/v1/keys", key: nil, headers: [.authorization: "bearer \(TestServer.rootKey)"])
            #expect(lowercaseScheme.status == .ok)
            let basic = try await api.request(.get, "/api/v1/keys", key: nil, headers: [.authorization: "Basic Zm9vOmJhcg=="])
            #expect(basic.status == .unauthorized)
        }
    }

    @Test func queryParameterKeysAreOffByDefault() async throws {
        try await TestServer().run { api async throws in
            let response = try await api.request(.get, "/api/v1/keys?api_key=\(TestServer.rootKey)", key: nil)
            #expect(response.status == .unauthorized)
        }
        try await TestServer(config: ["auth.queryParameter": "true"]).run { api async throws in
            let response = try await api.request(.get, "/api/v1/keys?api_key=\(TestServer.rootKey)", key: nil)
            #expect(response.status == .ok)
        }
    }

    @Test func aKeyCannotGrantScopesItLacks() async throws {
        try await TestServer().run { api async throws in
            let writer = try await api.createKey(["scopes": ["keys:write", "orders:*"]])["key"]!.string!
            let allowed = try await api.request(.post, "/api/v1/keys", key: writer, json: ["scopes": ["orders:read", "orders:*", "keys:write"]])
            #expect(allowed.status == .created)
            for scopes: JSONValue in [["admin"], ["*"], ["keys:*"], ["keys:read"], ["billing:read"], ["orders:read", "audit:read"]] {
                let response = try await api.request(.post, "/api/v1/keys", key: writer, json: ["scopes": scopes])
                #expect(response.status == .forbidden, "\(scopes)")
                #expect(response.code == "FORBIDDEN")
            }
            let own = allowed["id"]!.string!
            let widen = try await api.request(.patch, "/api/v1/keys/\(own)", key: writer, json: ["scopes": ["admin"]])
            #expect(widen.status == .forbidden)
            let narrow = try await api.request(.patch, "/api/v1/keys/\(own)", key: writer, json: ["scopes": ["orders:read"]])
            #expect(narrow.status == .ok)
        }
    }

    /// A customer key may hold `*` for the customer's own API; that must not make it a Tronch administrator.
    @Test func theWildcardScopeGrantsNothingOnTronchsAPI() async throws {
        try await TestServer().run { api async throws in
            let customer = try await api.createKey(["scopes": ["*"]])["key"]!.string!
            for (method, path) in [(HTTPRequest.Method.get, "/api/v1/keys"), (.post, "/api/v1/keys"), (.post, "/api/v1/keys/verify")] {
                let response = try await api.request(method, path, key: customer, json: method == .post ? ["key": "x"] : nil)
                #expect(response.status == .forbidden, "\(method) \(path)")
            }
            let writer = try await api.createKey(["scopes": ["*", "keys:write"]])["key"]!.string!
            let customerKey = try await api.request(.post, "/api/v1/keys", key: writer, json: ["scopes": ["*", "orders:read"]])
            #expect(customerKey.status == .created)
            for scopes: JSONValue in [["admin"], ["keys:read"], ["keys:*"], ["audit:read"]] {
                let response = try await api.request(.post, "/api/v1/keys", key: writer, json: ["scopes": scopes])
                #expect(response.status == .forbidden, "\(scopes)")
            }
        }
    }

    @Test func aKeyCannotManageAMorePowerfulKey() async throws {
        try await TestServer().run { api async throws in
            let root = try await api.request(.get, "/api/v1/keys?name_prefix=root")["data"]!.array!.first!["id"]!.string!
            let writer = try await api.createKey(["scopes": ["keys:write", "keys:read"]])["key"]!.string!
            for (method, path, body) in [
                (HTTPRequest.Method.patch, "/api/v1/keys/\(root)", JSONValue.object(["enabled": false])),
                (.delete, "/api/v1/keys/\(root)", nil), (.post, "/api/v1/keys/\(root)/rotate", nil),
            ] {
                let response = try await api.request(method, path, key: writer, json: body)
                #expect(response.status == .forbidden, "\(method) \(path) \(response.json)")
            }
            #expect(try await api.request(.get, "/api/v1/keys/\(root)", key: writer)["status"] == .string("active"))
            #expect(try await api.request(.get, "/api/v1/keys/\(root)", key: writer).status == .ok)
        }
    }

    @Test func aManagementKeyWithAnAllowlistIsRefusedFromElsewhere() async throws {
        try await TestServer().run { api async throws in
            let key = try await api.createKey(["scopes": ["keys:read"], "allowed_ips": ["192.0.2.1"]])["key"]!.string!
            let response = try await api.request(.get, "/api/v1/keys", key: key)
            #expect(response.status == .unauthorized)
            #expect(response["detail"]?.string?.contains("address") == true)
        }
    }
}
