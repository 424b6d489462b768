import Foundation
import HTTPTypes
import Testing
import TronchCore

@testable import TronchServer

@Suite struct ErrorHandlingTests {
    /// Each bad create body gets a 4xx with the right code and field, and creates nothing.
    @Test func badCreateBodiesAreRejectedAndChangeNothing() async throws {
        try await TestServer(config: ["key.metaMaxBytes": "64", "http.maxBodySize": "2048"]).run { api async throws in
            let cases: [(body: JSONValue?, raw: String?, status: HTTPResponse.Status, code: String, field: String?)] = [
                (nil, "{\"name\": ", .badRequest, "MALFORMED_JSON", nil),
                (nil, "[1,", .badRequest, "MALFORMED_JSON", nil),
                (nil, "{\"name\": \"x\",}", .badRequest, "MALFORMED_JSON", nil),
                (nil, "{\"scopes\": [], \"scopes\": [\"admin\"]}", .badRequest, "MALFORMED_JSON", nil),
                (nil, "{\"name\": \"\\ud800\"}", .badRequest, "MALFORMED_JSON", nil),
                ("just a string", nil, .badRequest, "VALIDATION_FAILED", "body"),
                (["nmae": "typo"], nil, .badRequest, "VALIDATION_FAILED", "nmae"),
                (["name": 5], nil, .badRequest, "VALIDATION_FAILED", "name"),
                (["name": ""], nil, .badRequest, "VALIDATION_FAILED", "name"),
                (["scopes": "orders:read"], nil, .badRequest, "VALIDATION_FAILED", "scopes"),
                (["scopes": [1]], nil, .badRequest, "VALIDATION_FAILED", "scopes[0]"),
                (["scopes": ["ok", "not ok"]], nil, .badRequest, "VALIDATION_FAILED", "scopes[1]"),
                (["environment": "prod"], nil, .badRequest, "VALIDATION_FAILED", "environment"),
                (["enabled": "yes"], nil, .badRequest, "VALIDATION_FAILED", "enabled"),
                (["meta": [1, 2]], nil, .badRequest, "VALIDATION_FAILED", "meta"),
                (["meta": ["blob": .string(String(repeating: "x", count: 100))]], nil, .badRequest, "VALIDATION_FAILED", "meta"),
                (["expires_at": "2020-01-01T00:00:00Z"], nil, .badRequest, "VALIDATION_FAILED", "expires_at"),
                (["expires_at": "next tuesday"], nil, .badRequest, "VALIDATION_FAILED", "expires_at"),
                (["expires_at": 1_900_000_000], nil, .badRequest, "VALIDATION_FAILED", "expires_at"),
                (["allowed_ips": ["10.0.0.0/33"]], nil, .badRequest, "VALIDATION_FAILED", "allowed_ips[0]"),
                (["allowed_ips": ["10.1.2.3/8"]], nil, .badRequest, "VALIDATION_FAILED", "allowed_ips[0]"),
                (["allowed_ips": ["example.com"]], nil, .badRequest, "VALIDATION_FAILED", "allowed_ips[0]"),
                (["ratelimits": [["limit": 10]]], nil, .badRequest, "VALIDATION_FAILED", "ratelimits[0].period_seconds"),
                (["ratelimits": [["limit": 0, "period_seconds": 60]]], nil, .badRequest, "VALIDATION_FAILED", "ratelimits[0].limit"),
                (["ratelimits": [["limit": 1, "period_seconds": 1, "extra": 1]]], nil, .badRequest, "VALIDATION_FAILED", "ratelimits[0].extra"),
                (["remaining": -5], nil, .badRequest, "VALIDATION_FAILED", "remaining"),
                (["remaining": 1.5], nil, .badRequest, "VALIDATION_FAILED", "remaining"),
                (["refill": ["interval": "daily", "amount": 10]], nil, .badRequest, "VALIDATION_FAILED", "refill"),
                (["remaining": 5, "refill": ["interval": "hourly", "amount": 10]], nil, .badRequest, "VALIDATION_FAILED", "refill.interval"),
                (["remaining": 5, "refill": ["amount": 10]], nil, .badRequest, "VALIDATION_FAILED", "refill.interval"),
                (["name": .string(String(repeating: "n", count: 3000))], nil, .contentTooLarge, "PAYLOAD_TOO_LARGE", nil),
            ]
            for testCase in cases {
                let response = try await api.request(.post, "/api/v1/keys", json: testCase.body, raw: testCase.raw)
                let label = "\(String(describing: testCase.body)) \(String(describing: testCase.raw))"
                #expect(response.status == testCase.status, "\(label) → \(response.json)")
                #expect(response.code == testCase.code, "\(label)")
                #expect(response.headers[.contentType] == "application/problem+json")
                #expect(response["request_id"]?.string == response.headers[.init("X-Request-Id")!])
                #expect(response["status"] == .int(Int64(testCase.status.code)))
                #expect(response["type"]?.string?.hasPrefix("urn:tronch:problem:") == true)
                if let field = testCase.field {
                    #expect(response["errors"]?.array?.contains { $0["field"] == .string(field) } == true, "\(label) → \(response.json)")
                }
            }
            let list = try await api.request(.get, "/api/v1/keys")
            #expect(list["data"]?.array?.count == 1, "only the root key exists")
        }
    }

    @Test func severalProblemsAreReportedTogether() async throws {
        try await TestServer().run { api async throws in
            let response = try await api.request(.post, "/api/v1/keys", json: ["name": 1, "environment": "x", "allowed_ips": ["nope"]])
            #expect(response.status == .badRequest)
            #expect(Set(response["errors"]?.array?.compactMap { $0["field"]?.string } ?? []) == ["name", "environment", "allowed_ips[0]"])
        }
    }

    @Test func badUpdatesAreRejectedAndChangeNothing() async throws {
        try await TestServer().run { api async throws in
            let created = try await api.createKey(["name": "keep", "scopes": ["a:read"]])
            let id = created["id"]!.string!
            let cases: [JSONValue] = [
                ["environment": "test"], ["scopes": .null], ["meta": .null], ["enabled": .null], ["allowed_ips": .null],
                ["ratelimits": .null], ["name": "ok", "expires_at": "2001-01-01T00:00:00Z"], ["id": "x"], ["key": "x"],
            ]
            for body in cases {
                let response = try await api.request(.patch, "/api/v1/keys/\(id)", json: body)
                #expect(response.status == .badRequest, "\(body)")
            }
            let shown = try await api.request(.get, "/api/v1/keys/\(id)")
            #expect(
                shown.json
                    == {
                        var json = created.json
                        if case .object(var o) = json {
                            o["key"] = nil
                            json = .object(o)
                        }
                        return json
                    }()
            )
        }
    }

    @Test func idsAndQueryParametersAreChecked() async throws {
        try await TestServer().run { api async throws in
            let unknown = UUID().uuidString.lowercased()
            let notFound = try await api.request(.get, "/api/v1/keys/\(unknown)")
            #expect(notFound.status == .notFound)
            #expect(notFound.code == "NOT_FOUND")
            for method: HTTPRequest.Method in [.patch, .delete] {
                let response = try await api.request(method, "/api/v1/keys/\(unknown)", json: method == .patch ? ["name": "x"] : nil)
                #expect(response.status == .notFound)
            }
            #expect(try await api.request(.post, "/api/v1/keys/\(unknown)/rotate").status == .notFound)
            let badID = try await api.request(.get, "/api/v1/keys/not-a-uuid")
            #expect(badID.status == .badRequest)
            #expect(badID["errors"]?.array?.first?["field"] == .string("id"))
            // Only the canonical form names an id: no sign, space or 0x inside a group (Foundation takes them).
            let created = try await api.createKey()["id"]!.string!
            let signed = "-" + created.dropFirst()
            for text in [signed, "+" + created.dropFirst(), " " + created.dropFirst(), created.replacingOccurrences(of: "-", with: "")] {
                #expect(try await api.request(.get, "/api/v1/keys/\(text)").status == .badRequest, "\(text)")
            }
            #expect(try await api.request(.get, "/api/v1/keys/\(created.uppercased())").status == .ok, "either case")
            // An empty free-text parameter is the same as an absent one; an empty number or enum is not a value.
            for query in ["cursor=", "owner_id=&name_prefix=", "expiring_within="] {
                #expect(try await api.request(.get, "/api/v1/keys?\(query)").status == .ok, "\(query)")
            }
            for query in [
                "limit=", "status=", "environment=", "limit=0", "limit=101", "limit=ten", "cursor=garbage", "status=deleted", "environment=prod",
                "ownerid=x",
            ] {
                let response = try await api.request(.get, "/api/v1/keys?\(query)")
                #expect(response.status == .badRequest, "\(query)")
                #expect(response.code == "VALIDATION_FAILED")
            }
            for body: JSONValue in [["grace_period_seconds": -1], ["grace_period_seconds": 2_592_001], ["grace_period_seconds": "60"], ["grace": 60]]
            {
                let response = try await api.request(.post, "/api/v1/keys/\(unknown)/rotate", json: body)
                #expect(response.status == .badRequest, "\(body)")
            }
        }
    }

    @Test func unknownRoutesAreProblems() async throws {
        try await TestServer().run { api async throws in
            let response = try await api.request(.get, "/api/v1/nothing-here")
            #expect(response.status == .notFound)
            #expect(response.code == "NOT_FOUND")
            #expect(response.headers[.contentType] == "application/problem+json")
        }
    }

    /// A known path with a method it does not serve is a 405 naming the methods it does (RFC 9110 §15.5.6).
    @Test(arguments: [
        (HTTPRequest.Method.put, "/api/v1/health", "GET"),
        (.post, "/api/v1/health/ready", "GET"),
        (.put, "/api/v1/keys", "GET, POST"),
        (.delete, "/api/v1/keys/import", "POST"),
        (.get, "/api/v1/keys/verify", "POST"),
        (.put, "/api/v1/keys/01a213e9-b408-75e4-951a-cb3ad4a55eaa", "DELETE, GET, PATCH"),
        (.get, "/api/v1/keys/01a213e9-b408-75e4-951a-cb3ad4a55eaa/rotate", "POST"),
        (.trace, "/api/v1/metrics", "GET"),
        (.head, "/api/v1/openapi.json", "GET"),
        (.post, "/api/v1/audit-logs", "GET"),
    ])
    func undeclaredMethodsAreMethodNotAllowed(method: HTTPRequest.Method, path: String, allow: String) async throws {
        try await TestServer().run { api async throws in
            let response = try await api.request(method, path, key: nil)
            #expect(response.status == .methodNotAllowed)
            #expect(response.headers[.allow] == allow)
            if method != .head {
                #expect(response.code == "METHOD_NOT_ALLOWED")
                #expect(response.headers[.contentType] == "application/problem+json")
            }
            #expect(response.headers[.init("X-Request-Id")!] != nil)
        }
    }

    @Test func requestIDsAreEchoedOrGenerated() async throws {
        try await TestServer().run { api async throws in
            let echoed = try await api.request(.get, "/api/v1/health", key: nil, headers: [.init("X-Request-Id")!: "client-abc.123"])
            #expect(echoed.headers[.init("X-Request-Id")!] == "client-abc.123")
            let replaced = try await api.request(.get, "/api/v1/health", key: nil, headers: [.init("X-Request-Id")!: "bad id with spaces"])
            let generated = try #require(replaced.headers[.init("X-Request-Id")!])
            #expect(generated.hasPrefix("req_"))
            let other = try await api.request(.get, "/api/v1/health", key: nil)
            #expect(other.headers[.init("X-Request-Id")!] != generated)
        }
    }
}
