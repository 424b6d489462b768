import Foundation
import Testing
import TronchCore

/// The endpoint permission table, its overrides file, and what each requirement admits.
@Suite struct EndpointPolicyTests {
    static let table: [(route: String, requirement: EndpointRequirement)] = [
        ("GET /api/v1/health", .open),
        ("GET /api/v1/keys", .permission(.keysRead)),
        ("POST /api/v1/keys", .permission(.keysWrite)),
        ("GET /api/v1/keys/{id}/usage", .permission(.keysRead)),
        ("GET /api/v1/users/{id}", .selfOr(.usersManage)),
        ("GET /api/v1/users/me", .authenticated),
    ]

    static func overrides(_ text: String, mode: EnforcementMode = .enforce) throws -> EndpointOverrides {
        try EndpointOverrides(json: Array(text.utf8), mode: mode)
    }

    @Test func theTableIsEnforcedAsWritten() throws {
        let policy = try EndpointPolicy(table: Self.table)
        #expect(
            policy.rule(method: "GET", path: "/api/v1/keys")
                == EndpointRule(route: "GET /api/v1/keys", requirement: .permission(.keysRead), mode: .enforce)
        )
        #expect(policy.rule(method: "DELETE", path: "/api/v1/keys") == nil)
        #expect(policy.rule(method: "GET", path: "/api/v1/keys/{id}") == nil)
        #expect(policy.all.count == Self.table.count)
        #expect(policy.all.map(\.route) == policy.all.map(\.route).sorted())
    }

    @Test func overridesChangeARulesPermissionAndMode() throws {
        let file = try Self.overrides(
            #"""
            {"mode": "report-only", "routes": {
              "GET /api/v1/keys/{id}/usage": {"permission": "audit:read", "mode": "enforce"},
              "POST /api/v1/keys": {"mode": "off"},
              "GET /api/v1/users/me": {"permission": "admin"}
            }}
            """#
        )
        #expect(file.mode == .reportOnly)
        let policy = try EndpointPolicy(table: Self.table, overrides: file)
        #expect(policy.rule(method: "GET", path: "/api/v1/keys/{id}/usage")?.requirement == .permission(.auditRead))
        #expect(policy.rule(method: "GET", path: "/api/v1/keys/{id}/usage")?.mode == .enforce)
        #expect(policy.rule(method: "POST", path: "/api/v1/keys")?.mode == .off)
        #expect(policy.rule(method: "POST", path: "/api/v1/keys")?.requirement == .permission(.keysWrite), "a mode alone keeps the permission")
        #expect(policy.rule(method: "GET", path: "/api/v1/users/me")?.requirement == .admin)
        #expect(policy.rule(method: "GET", path: "/api/v1/users/me")?.mode == .reportOnly, "the file's mode for routes without their own")
        #expect(policy.rule(method: "GET", path: "/api/v1/keys")?.mode == .reportOnly)
        #expect(policy.rule(method: "GET", path: "/api/v1/health")?.mode == .enforce, "public routes keep their rule")
    }

    @Test func theGlobalModeIsTheDefaultOfAFileWithoutOne() throws {
        #expect(try Self.overrides(#"{"routes": {}}"#, mode: .off).mode == .off)
        #expect(try Self.overrides(#"{}"#, mode: .reportOnly).mode == .reportOnly)
        #expect(try Self.overrides(#"{"mode": "enforce"}"#, mode: .off).mode == .enforce)
    }

    @Test(arguments: [
        (#"[]"#, "must be a JSON object"),
        (#"{"mode": "audit"}"#, "mode must be enforce, report-only or off"),
        (#"{"routes": []}"#, "routes: must be an object"),
        (#"{"route": {}}"#, "unknown field 'route'"),
        (#"{"routes": {"GET /api/v1/keys": {"permission": "keys:delete"}}}"#, "permission must be one of"),
        (#"{"routes": {"GET /api/v1/keys": {"permission": "public"}}}"#, "permission must be one of"),
        (#"{"routes": {"GET /api/v1/keys": {"scope": "keys:read"}}}"#, "unknown field 'scope'"),
        (#"{"routes": {"GET /api/v1/keys": {}}}"#, "names neither a permission nor a mode"),
        (#"{"routes": {"GET /api/v1/keys": {"mode": "Enforce"}}}"#, "mode must be enforce, report-only or off"),
        (#"{"routes": {"GET /api/v1/keys": "keys:read"}}"#, "must be an object with 'permission'"),
        (#"{"mode": "off",}"#, "not valid JSON"),
    ])
    func aMalformedFileIsRefusedWithItsReason(text: String, reason: String) {
        #expect {
            _ = try Self.overrides(text)
        } throws: { error in
            (error as? EndpointPolicy.Failure)?.message.contains(reason) == true
        }
    }

    @Test(arguments: [
        ("GET /api/v1/nothing", "is not a route of Tronch's API"),
        ("GET /api/v1/keys/{key_id}/usage", "is not a route of Tronch's API"),
        ("get /api/v1/keys", "is not a route of Tronch's API"),
        ("GET /api/v1/health", "needs no credential and cannot be overridden"),
    ])
    func anOverrideOfAnUnknownOrPublicRouteIsRefused(route: String, reason: String) throws {
        let file = try Self.overrides(#"{"routes": {"\#(route)": {"mode": "off"}}}"#)
        #expect {
            _ = try EndpointPolicy(table: Self.table, overrides: file)
        } throws: { error in
            (error as? EndpointPolicy.Failure)?.message.contains(reason) == true
        }
    }

    @Test func aRouteDeclaredTwiceIsATableError() {
        #expect(throws: EndpointPolicy.Failure.self) {
            _ = try EndpointPolicy(table: Self.table + [("GET /api/v1/keys", .admin)])
        }
    }

    @Test func requirementsAdmitWhatTheirNamesSay() {
        let root = Principal(keyID: UUID(), scopes: ["admin"])
        let reader = Principal(keyID: UUID(), scopes: ["keys:read"])
        let nothing = Principal(keyID: UUID(), scopes: [])
        let wildcard = Principal(keyID: UUID(), scopes: ["*"])
        let viewer = Principal(keyID: nil, scopes: ["*", "keys:read", "keys:write"], user: UserIdentity(id: UUID(), role: .viewer))
        #expect(EndpointRequirement.permission(.keysRead).admits(reader))
        #expect(!EndpointRequirement.permission(.keysRead).admits(nothing))
        #expect(!EndpointRequirement.permission(.keysRead).admits(wildcard), "* never covers Tronch's own scopes")
        #expect(!EndpointRequirement.permission(.keysWrite).admits(viewer), "a person stops at their role")
        #expect(EndpointRequirement.permission(.auditRead).admits(root))
        #expect(EndpointRequirement.admin.admits(root))
        #expect(!EndpointRequirement.admin.admits(reader))
        #expect(EndpointRequirement.authenticated.admits(nothing))
        #expect(EndpointRequirement.selfOr(.usersManage).admits(nothing), "the route checks its target")
        #expect(
            [EndpointRequirement.open, .authenticated, .selfOr(.usersManage), .permission(.keysRead), .admin].map(\.name)
                == ["public", "self", "self or users:manage", "keys:read", "admin"]
        )
        #expect(EndpointRequirement(overrideName: "self") == .authenticated)
        #expect(EndpointRequirement(overrideName: "self or users:manage") == nil)
        #expect(EndpointRequirement.permission(.keysRead).refusal == "this route requires the scope keys:read")
    }
}
