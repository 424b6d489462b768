import Foundation
import HTTPTypes
import Testing
import TronchCore

@testable import TronchServer

@Suite struct SystemRoutesTests {
    @Test func healthNeedsNoKey() async throws {
        try await TestServer().run { api async throws in
            let response = try await api.request(.get, "/api/v1/health", key: nil)
            #expect(response.status == .ok)
            #expect(response["status"] == .string("ok"))
            #expect(response["version"] == .string(TronchVersion.current))
        }
    }

    @Test(arguments: ServerBackend.all) func readinessReportsTheDatabase(backend: ServerBackend) async throws {
        try await TestServer.on(backend).run { api async throws in
            let response = try await api.request(.get, "/api/v1/health/ready", key: nil)
            #expect(response.status == .ok)
            #expect(response["status"] == .string("ready"))
            #expect(response["checks"]?["database"]?["status"] == .string("up"))
            #expect(response["checks"]?["database"]?["backend"] == .string(backend == .sqlite ? "sqlite" : "postgresql"))
            if case .double? = response["checks"]?["database"]?["latency_ms"] {
            } else if case .int? = response["checks"]?["database"]?["latency_ms"] {
            } else {
                Issue.record("latency_ms missing")
            }
        }
    }

    @Test func openAPIDocumentDescribesEveryRoute() async throws {
        try await TestServer().run { api async throws in
            let response = try await api.request(.get, "/api/v1/openapi.json", key: nil)
            #expect(response.status == .ok)
            #expect(response["openapi"]?.string?.hasPrefix("3.1") == true)
            guard case .object(let paths)? = response["paths"] else {
                Issue.record("no paths")
                return
            }
            let expected: [String: Set<String>] = [
                "/api/v1/health": ["get"], "/api/v1/health/ready": ["get"], "/api/v1/openapi.json": ["get"], "/api/v1/keys": ["get", "post"],
                "/api/v1/keys/{id}": ["get", "patch", "delete"], "/api/v1/keys/{id}/rotate": ["post"],
                "/api/v1/keys/verify": ["post"], "/api/v1/keys/import": ["post"], "/api/v1/keys/{id}/usage": ["get"],
                "/api/v1/audit-logs": ["get"], "/api/v1/metrics": ["get"],
                "/api/v1/auth/check": ["get", "head", "post", "put", "patch", "delete", "options"],
                "/api/v1/users": ["get", "post"], "/api/v1/users/me": ["get"], "/api/v1/users/me/password": ["post"],
                "/api/v1/users/{id}": ["get", "patch", "delete"], "/api/v1/users/{id}/unlock": ["post"],
                "/api/v1/users/{id}/mfa": ["delete"], "/api/v1/users/me/mfa/totp": ["post", "delete"],
                "/api/v1/users/me/mfa/totp/confirm": ["post"], "/api/v1/users/me/mfa/recovery-codes": ["post"], "/api/v1/auth/mfa": ["post"],
                "/api/v1/auth/login": ["post"], "/api/v1/auth/refresh": ["post"],
                "/api/v1/auth/logout": ["post"], "/api/v1/auth/revoke": ["post"], "/api/v1/auth/introspect": ["post"],
                "/api/v1/sessions": ["get"], "/api/v1/sessions/{id}": ["delete"],
                "/.well-known/jwks.json": ["get"], "/.well-known/oauth-authorization-server": ["get"],
                "/api/v1/groups": ["get", "post"], "/api/v1/groups/{id}": ["get", "patch", "delete"],
                "/api/v1/groups/{id}/members": ["get"], "/api/v1/groups/{id}/members/{principal}": ["put", "delete"],
                "/api/v1/acl-entries": ["get", "post"], "/api/v1/acl-entries/{id}": ["get", "delete"],
                "/api/v1/authz/check": ["post"], "/api/v1/authz/check-batch": ["post"],
                "/api/v1/webhooks": ["get", "post"], "/api/v1/webhooks/{id}": ["get", "patch", "delete"],
                "/api/v1/webhooks/{id}/deliveries": ["get"], "/api/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver": ["post"],
            ]
            #expect(Set(paths.keys) == Set(expected.keys))
            for (path, methods) in expected {
                guard case .object(let operations)? = paths[path] else { continue }
                let documented = Set(operations.keys).intersection(["get", "head", "post", "put", "patch", "delete", "options", "trace"])
                #expect(documented == methods, "\(path)")
                // Every method the document does not list is one the server does not serve: a 405.
                let concrete = path.replacingOccurrences(of: "{id}", with: UUIDv7.make(at: Date()).lowercased)
                    .replacingOccurrences(of: "{principal}", with: "user:" + UUIDv7.make(at: Date()).lowercased)
                for method in ["get", "post", "put", "patch", "delete"] where !methods.contains(method) {
                    let answer = try await api.request(HTTPRequest.Method(method.uppercased())!, concrete, key: nil)
                    #expect(answer.status == .methodNotAllowed, "\(method.uppercased()) \(path) is served but not documented")
                }
            }
        }
    }

    @Test func theServedDocumentIsTheOneInDocs() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/openapi.json")
        let onDisk = try JSONDecoder().decode(JSONValue.self, from: Data(contentsOf: docs))
        let served = try JSONDecoder().decode(JSONValue.self, from: Data(OpenAPIDocument.json.utf8))
        #expect(onDisk == served, "regenerate with scripts/generate-openapi")
    }
}
