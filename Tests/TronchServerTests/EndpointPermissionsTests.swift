import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Testing
import TronchCore

@testable import TronchServer

/// Every route of Tronch's own API needs what the table says, the OpenAPI document says the same, and an
/// operator's overrides switch rules on, off or to report-only.
@Suite struct EndpointPermissionsTests {
    /// A concrete path for a route pattern: ids are fresh UUIDs (most answers are then 404, which is fine:
    /// what matters is whether the permission check let the request through).
    static func path(_ pattern: String) -> String {
        pattern.replacingOccurrences(of: "{id}", with: UUID().uuidString.lowercased())
            .replacingOccurrences(of: "{principal}", with: "user:\(UUID().uuidString.lowercased())")
    }

    static var guarded: [EndpointRule] { EndpointPolicy.builtIn.all.filter { $0.requirement != .open } }

    @Test func theDocumentStatesTheTableForEveryOperation() throws {
        let document = try JSONDecoder().decode(JSONValue.self, from: Data(OpenAPIDocument.json.utf8))
        guard case .object(let paths) = document["paths"] else {
            Issue.record("no paths")
            return
        }
        var stated = [String: String]()
        for (path, item) in paths {
            guard case .object(let operations) = item else { continue }
            for (method, operation) in operations where operation["responses"] != nil {
                stated["\(method.uppercased()) \(path)"] = operation["x-tronch-permission"]?.string ?? "(none)"
            }
        }
        let table = Dictionary(uniqueKeysWithValues: EndpointPolicy.builtIn.all.map { ($0.route, $0.requirement.name) })
        #expect(Set(stated.keys) == Set(table.keys), "the table and the document name the same operations")
        for (route, name) in table.sorted(by: { $0.key < $1.key }) {
            #expect(stated[route] == name, "\(route): x-tronch-permission")
        }
    }

    /// Each rule with a permission refuses a key without it and admits a key with exactly it; `self` routes
    /// admit any caller at this stage.
    @Test func everyRouteNeedsWhatTheTableSays() async throws {
        try await TestServer().run { api async throws in
            let nothing = try await api.createKey(["name": "no scopes"])["key"]!.string!
            var holders = [Permission: String]()
            for permission in Permission.allCases {
                holders[permission] = try await api.createKey(["scopes": [.string(permission.rawValue)]])["key"]!.string!
            }
            for rule in Self.guarded {
                let parts = rule.route.split(separator: " ")
                let method = HTTPRequest.Method(String(parts[0]))!
                let path = Self.path(String(parts[1]))
                let refused = try await api.request(method, path, key: nothing, json: method == .get || method == .delete ? nil : [:])
                switch rule.requirement {
                case .permission(let permission):
                    #expect(refused.status == .forbidden, "\(rule.route) without \(permission.rawValue)")
                    #expect(refused["detail"]?.string == "this route requires the scope \(permission.rawValue)", "\(rule.route)")
                    let admitted = try await api.request(
                        method,
                        path,
                        key: holders[permission],
                        json: method == .get || method == .delete ? nil : [:]
                    )
                    #expect(
                        admitted["detail"]?.string?.hasPrefix("this route requires") != true,
                        "\(rule.route) with \(permission.rawValue): \(admitted.json)"
                    )
                case .admin:
                    #expect(refused.status == .forbidden && refused["detail"]?.string == "this route requires an administrator", "\(rule.route)")
                    let admitted = try await api.request(method, path, json: method == .get || method == .delete ? nil : [:])
                    #expect(admitted["detail"]?.string?.hasPrefix("this route requires") != true, "\(rule.route) as the root key: \(admitted.json)")
                default:
                    #expect(refused["detail"]?.string?.hasPrefix("this route requires") != true, "\(rule.route): \(refused.json)")
                }
            }
        }
    }

    @Test func overridesTightenLoosenAndReport() async throws {
        let directory = try Tronch.temporaryDirectory()
        let file = directory + "/endpoints.json"
        try #"""
        {"routes": {
          "GET /api/v1/keys/{id}/usage": {"permission": "audit:read"},
          "GET /api/v1/keys": {"permission": "audit:read", "mode": "report-only"},
          "POST /api/v1/keys/verify": {"mode": "off"},
          "GET /api/v1/users/me": {"permission": "admin"}
        }}
        """#.write(toFile: file, atomically: true, encoding: .utf8)
        try await TestServer(config: ["endpoint.permissions": file]).run { api async throws in
            let created = try await api.createKey(["scopes": ["keys:read"]])
            let reader = created["key"]!.string!
            let id = created["id"]!.string!
            let auditor = try await api.createKey(["scopes": ["audit:read"]])["key"]!.string!

            // Tightened: the usage of a key now needs audit:read instead of keys:read.
            let usage = try await api.request(.get, "/api/v1/keys/\(id)/usage", key: reader)
            #expect(usage.status == .forbidden)
            #expect(usage["detail"]?.string == "this route requires the scope audit:read")
            #expect(try await api.request(.get, "/api/v1/keys/\(id)/usage", key: auditor).status == .ok)

            // Report-only: the list goes through for a key without audit:read, and says so.
            let list = try await api.request(.get, "/api/v1/keys", key: reader)
            #expect(list.status == .ok)
            let reported = try await api.request(.get, "/api/v1/audit-logs?action=endpoint.would_refuse")
            let entries = reported["data"]?.array ?? []
            #expect(entries.count == 1, "\(reported.json)")
            #expect(entries.first?["details"]?["route"]?.string == "/api/v1/keys")
            #expect(entries.first?["details"]?["permission"]?.string == "audit:read")
            #expect(entries.first?["details"]?["mode"]?.string == "report-only")
            #expect(entries.first?["outcome"]?.string == "success")
            let metrics = try await api.client.executeRequest(
                uri: "/api/v1/metrics",
                method: .get,
                headers: [.authorization: "Bearer \(TestServer.rootKey)"],
                body: nil
            )
            let text = String(buffer: metrics.body)
            #expect(
                text.split(separator: "\n").contains {
                    $0.hasPrefix("tronch_endpoint_permission_refusals_total") && $0.contains(#"route="GET /api/v1/keys""#)
                        && $0.contains(#"mode="report-only""#)
                },
                "the would-be refusal is counted"
            )

            // Off: verification without keys:verify.
            let nothing = try await api.createKey(["name": "no scopes"])["key"]!.string!
            let verified = try await api.request(.post, "/api/v1/keys/verify", key: nothing, json: ["key": .string(reader)])
            #expect(verified.status == .ok)
            #expect(verified["valid"] == true)

            // Admin only: a key without admin cannot even read itself through /users/me.
            let me = try await api.request(.get, "/api/v1/users/me", key: reader)
            #expect(me.status == .forbidden)
            #expect(me["detail"]?.string == "this route requires an administrator")
            // An enforced refusal is a denial in the audit log.
            let denials = try await api.request(.get, "/api/v1/audit-logs?action=auth.denied")
            #expect((denials["data"]?.array ?? []).contains { $0["details"]?["route"]?.string == "/api/v1/users/me" })
        }
    }

    @Test func aGlobalModeAppliesToEveryRoute() async throws {
        try await TestServer(config: ["endpoint.permissionsMode": "report-only"]).run { api async throws in
            let nothing = try await api.createKey(["name": "no scopes"])["key"]!.string!
            #expect(try await api.request(.get, "/api/v1/keys", key: nothing).status == .ok)
            #expect(try await api.request(.get, "/api/v1/audit-logs", key: nothing).status == .ok)
            let reported = try await api.request(.get, "/api/v1/audit-logs?action=endpoint.would_refuse")
            #expect(reported["data"]?.array?.count == 2)
        }
        try await TestServer(config: ["endpoint.permissionsMode": "off"]).run { api async throws in
            let nothing = try await api.createKey(["name": "no scopes"])["key"]!.string!
            #expect(try await api.request(.get, "/api/v1/keys", key: nothing).status == .ok)
            // Rules on the target still hold: a key cannot grant what it does not hold.
            let grant = try await api.request(.post, "/api/v1/keys", key: nothing, json: ["scopes": ["keys:write"]])
            #expect(grant.status == .forbidden)
            #expect(try await api.request(.get, "/api/v1/keys", key: nil).status == .unauthorized, "a credential is still needed")
        }
    }

    @Test func aBadOverrideStopsStartUp() throws {
        let directory = try Tronch.temporaryDirectory()
        let file = directory + "/endpoints.json"
        try #"{"routes": {"GET /api/v1/keys/{key}": {"mode": "off"}}}"#.write(toFile: file, atomically: true, encoding: .utf8)
        #expect {
            _ = try Settings(reader: TestServer.reader(["endpoint.permissions": file]))
        } throws: { error in
            let error = error as? ConfigurationError
            return error?.key == "TRONCH_ENDPOINT_PERMISSIONS" && "\(error!)".contains("GET /api/v1/keys/{key}")
        }
        #expect(throws: ConfigurationError(key: "TRONCH_ENDPOINT_PERMISSIONS", "")) {
            _ = try Settings(reader: TestServer.reader(["endpoint.permissions": directory + "/missing.json"]))
        }
        #expect(throws: ConfigurationError(key: "TRONCH_ENDPOINT_PERMISSIONS_MODE", "")) {
            _ = try Settings(reader: TestServer.reader(["endpoint.permissionsMode": "audit"]))
        }
    }

    /// A route added without a rule is refused, never open.
    @Test func anUndeclaredRouteFailsClosed() async throws {
        let router = Router(context: AppRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        let policy = try EndpointPolicy(table: [("GET /declared", .permission(.keysRead))])
        let group = router.group()
            .add(middleware: SetPrincipal(principal: Principal(keyID: UUID(), scopes: ["admin"])))
            .add(middleware: EndpointPermissionMiddleware(policy: policy, clock: TestClock().wallClock) { _ in })
        group.get("declared") { _, _ in "ok" }
        group.get("undeclared") { _, _ in "ok" }
        try await Application(router: router).test(.router) { client async throws in
            #expect(try await client.execute(uri: "/declared", method: .get).status == .ok)
            #expect(try await client.execute(uri: "/undeclared", method: .get).status == .forbidden)
        }
    }

    struct SetPrincipal: RouterMiddleware {
        typealias Context = AppRequestContext
        let principal: Principal
        func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
            var context = context
            context.principal = principal
            return try await next(request, context)
        }
    }
}
