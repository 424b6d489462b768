import Foundation
import Testing

@testable import TronchCore

@Suite struct ScopeTests {
    @Test(arguments: [
        ("*", "keys:read", true), ("*", "*", true), ("keys:*", "keys:read", true), ("keys:*", "keys:*", true),
        ("keys:*", "keys:sub:read", true), ("keys:*", "keys", false), ("keys:*", "keysx:read", false),
        ("keys:*", "*", false), ("keys:read", "keys:read", true), ("keys:read", "keys:write", false),
        ("keys:read", "keys:*", false), ("orders:*", "keys:read", false), ("a", "A", false),
    ])
    func coverage(granted: String, requested: String, expected: Bool) {
        #expect(Scope.covers(granted, requested) == expected)
    }

    @Test func uncoveredListsWhatIsMissing() {
        #expect(Scope.uncovered(["a:read", "b:write", "c"], by: ["a:*", "c"]) == ["b:write"])
        #expect(Scope.uncovered([], by: []) == [])
    }

    @Test(arguments: ["*", "read", "keys:read", "keys:*", "a.b-c_d:e", "resource:sub:action"])
    func wellFormedScopes(scope: String) {
        #expect(Scope.problem(with: scope) == nil)
    }

    @Test(arguments: ["", ":read", "keys:", "keys::read", "ke*ys", "*:read", "keys:re ad", "keys:*:x", String(repeating: "a", count: 129)])
    func malformedScopes(scope: String) {
        #expect(Scope.problem(with: scope) != nil)
    }

    @Test func adminIsTheSuperuser() {
        let principal = Principal(keyID: UUIDv7.make(at: .init(timeIntervalSince1970: 0)), scopes: ["admin"])
        #expect(Permission.allCases.allSatisfy(principal.allows))
        #expect(principal.ungrantable(["anything:at:all", "*", "admin", "keys:*"]).isEmpty)
    }

    /// `*` is a customer's wildcard for the customer's own API: it must not make a key a Tronch administrator.
    @Test func theWildcardGrantsNoTronchPermission() {
        let customer = Principal(keyID: UUIDv7.make(at: .init(timeIntervalSince1970: 0)), scopes: ["*"])
        #expect(!Permission.allCases.contains(where: customer.allows))
        let writer = Principal(keyID: UUIDv7.make(at: .init(timeIntervalSince1970: 0)), scopes: ["*", "keys:write"])
        #expect(writer.allows(.keysWrite))
        #expect(!writer.allows(.keysRead))
        #expect(writer.ungrantable(["orders:read", "*", "keys:write"]).isEmpty)
        #expect(writer.ungrantable(["admin", "keys:read", "keys:*", "audit:read"]) == ["admin", "keys:read", "keys:*", "audit:read"])
    }

    @Test func ordinaryPrincipalsHoldOnlyWhatTheirScopesCover() {
        let principal = Principal(keyID: UUIDv7.make(at: .init(timeIntervalSince1970: 0)), scopes: ["keys:*", "orders:read"])
        #expect(principal.allows(.keysRead) && principal.allows(.keysWrite) && principal.allows(.keysVerify))
        #expect(!principal.allows(.auditRead))
        #expect(principal.ungrantable(["orders:read", "keys:verify"]).isEmpty)
        #expect(principal.ungrantable(["orders:write", "admin", "*"]) == ["orders:write", "admin", "*"])
    }
}

@Suite struct GatewayRulesTests {
    @Test func parsesMethodsPathsAndScopes() throws {
        let rules = try GatewayRules(parsing: " GET,head /orders/* orders:read ;POST /orders orders:write,orders:audit; * /health ;")
        #expect(rules.rules.count == 3)
        #expect(rules.rules[0] == .init(methods: ["GET", "HEAD"], path: "/orders/", isPrefix: true, scopes: ["orders:read"]))
        #expect(rules.rules[1].scopes == ["orders:write", "orders:audit"])
        #expect(rules.rules[2] == .init(methods: [], path: "/health", isPrefix: false, scopes: []))
        #expect(rules.scopes(method: "head", path: "/orders/9") == ["orders:read"])
        #expect(rules.scopes(method: "POST", path: "/orders") == ["orders:write", "orders:audit"])
        #expect(rules.scopes(method: "POST", path: "/orders/9") == [])
        #expect(try GatewayRules(parsing: "").rules.isEmpty)
    }

    @Test(arguments: ["GET", "GET orders", "G3T /a", "GET /a* /b", "GET /a/*/b x", "GET /a bad::scope"])
    func rejectsMalformedRules(text: String) {
        #expect(throws: DomainError.self) { try GatewayRules(parsing: text) }
    }

    @Test(arguments: [
        ("/", "/"), ("", "/"), ("/a//b", "/a/b"), ("/a/./b", "/a/b"), ("/a/../b", "/b"), ("/../../a", "/a"),
        ("/%61dmin", "/admin"), ("/a%2Fb", "/a/b"), ("/a%zz", "/a%zz"), ("/a/", "/a/"), ("/a/b/..", "/a"), ("//", "/"),
    ])
    func normalisesPaths(path: String, expected: String) {
        #expect(GatewayRules.normalize(path[...]) == expected)
    }
}
