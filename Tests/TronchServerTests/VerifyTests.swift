import Foundation
import HTTPTypes
import Testing
import TronchCore
import TronchRateLimit

@testable import TronchServer

@Suite struct VerifyTests {
    @Test(arguments: ServerBackend.all) func everyCodeInOrder(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            let valid = try await api.createKey(["scopes": ["orders:*"], "owner_id": "o", "name": "n", "meta": ["m": true]])
            let answer = try await api.verify(valid["key"]!.string!, scopes: ["orders:read"])
            #expect(answer["valid"] == .bool(true))
            #expect(answer.code == "VALID")
            #expect(answer["key_id"] == valid["id"])
            #expect(answer["owner_id"] == .string("o"))
            #expect(answer["name"] == .string("n"))
            #expect(answer["environment"] == .string("live"))
            #expect(answer["scopes"] == .array([.string("orders:*")]))
            #expect(answer["meta"] == .object(["m": .bool(true)]))
            #expect(answer["expires_at"] == .null)
            #expect(answer["remaining"] == .null)
            // No policy of its own: the default (1000 an hour) applies, 3.6 s per request.
            #expect(answer["ratelimits"] == [["name": "default", "limit": 1000, "remaining": 999, "reset_seconds": 4]])

            #expect(try await api.verify(valid["key"]!.string!, scopes: ["billing:read"]).code == "INSUFFICIENT_SCOPES")

            let limited = try await api.createKey(["allowed_ips": ["192.0.2.0/24"]])
            #expect(try await api.verify(limited["key"]!.string!).code == "FORBIDDEN")
            #expect(try await api.verify(limited["key"]!.string!, ip: "198.51.100.1").code == "FORBIDDEN")
            #expect(try await api.verify(limited["key"]!.string!, ip: "192.0.2.77").code == "VALID")

            let expiring = try await api.createKey(["expires_at": "2027-01-15T08:01:00Z"])
            let disabled = try await api.createKey(["enabled": false])
            #expect(try await api.verify(disabled["key"]!.string!).code == "DISABLED")
            server.clock.advance(seconds: 61)
            let expired = try await api.verify(expiring["key"]!.string!)
            #expect(expired.code == "EXPIRED")
            #expect(expired["key_id"] == expiring["id"])
        }
    }

    @Test(arguments: [
        "", "garbage", "tronch_sk_live_", String(repeating: "x", count: 5000),
        "tronch_sk_live_abcdefghijklmnopqrstuvwxyzABCDEF000000",
    ])
    func malformedKeysAreNotFoundAndRevealNothing(key: String) async throws {
        try await TestServer().run { api async throws in
            let answer = try await api.verify(key)
            #expect(answer.code == "NOT_FOUND")
            #expect(answer["valid"] == .bool(false))
            for field in ["key_id", "owner_id", "name", "environment", "scopes", "meta", "expires_at", "remaining"] {
                #expect(answer[field] == .null, "\(field)")
            }
        }
    }

    @Test(arguments: ServerBackend.all) func aWellFormedUnknownKeyIsNotFound(backend: ServerBackend) async throws {
        try await TestServer.on(backend).run { api async throws in
            let unknown = try await api.verify(KeyFormat(prefix: "tronch")!.generate(environment: .live))
            #expect(unknown.code == "NOT_FOUND")
            // A key made under another prefix is still looked up, and still not found.
            let otherPrefix = KeyFormat(prefix: "other")!.generate(environment: .test)
            #expect(try await api.verify(otherPrefix).code == "NOT_FOUND")
        }
    }

    @Test(arguments: ServerBackend.all) func revocationIsSeenByTheNextVerification(backend: ServerBackend) async throws {
        try await TestServer.on(backend).run { api async throws in
            let created = try await api.createKey()
            let secret = created["key"]!.string!
            #expect(try await api.verify(secret).code == "VALID")
            _ = try await api.request(.delete, "/api/v1/keys/\(created["id"]!.string!)")
            #expect(try await api.verify(secret).code == "REVOKED", "the cache must be invalidated by the revoke")
        }
    }

    @Test(arguments: ServerBackend.all) func badRequestsAreRejected(backend: ServerBackend) async throws {
        try await TestServer.on(backend).run { api async throws in
            let cases: [(JSONValue?, String?, String, String?)] = [
                (nil, "{", "MALFORMED_JSON", nil),
                (nil, "", "MALFORMED_JSON", nil),
                (.array([]), nil, "VALIDATION_FAILED", "body"),
                (.object([:]), nil, "VALIDATION_FAILED", "key"),
                (.object(["key": .int(5)]), nil, "VALIDATION_FAILED", "key"),
                (.object(["key": .null]), nil, "VALIDATION_FAILED", "key"),
                (.object(["key": .string("k"), "ip": .string("999.1.1.1")]), nil, "VALIDATION_FAILED", "ip"),
                (.object(["key": .string("k"), "scopes": .string("x")]), nil, "VALIDATION_FAILED", "scopes"),
                (.object(["key": .string("k"), "scopes": .array([.string("bad scope")])]), nil, "VALIDATION_FAILED", "scopes[0]"),
                (.object(["key": .string("k"), "scope": .array([])]), nil, "VALIDATION_FAILED", "scope"),
                (.object(["key": .string("k"), "cost": .int(-1)]), nil, "VALIDATION_FAILED", "cost"),
            ]
            for (json, raw, code, field) in cases {
                let response = try await api.request(.post, "/api/v1/keys/verify", json: json, raw: raw)
                #expect(response.status == .badRequest, "\(String(describing: json)) \(String(describing: raw))")
                #expect(response.code == code)
                if let field {
                    #expect(response["errors"]?.array?.filter { $0["field"] == .string(field) }.count == 1, "\(response.json)")
                }
            }
        }
    }
}

/// The verify answer is written by hand for speed; it must say exactly what the `Encodable` form says.
@Suite struct VerifyResponseWriterTests {
    @Test func theFastAnswerMatchesTheEncodedOne() throws {
        var settings = KeySettings()
        settings.name = "quote \" and \n newline / ünïcode"
        settings.ownerID = "cus_1"
        settings.scopes = ["orders:read", "a\\b"]
        settings.meta = ["plan": "pro", "n": 3, "nested": ["x": [1.5, .null, true]]]
        settings.remaining = 7
        let secret = KeyFormat(prefix: "tronch")!.generate(environment: .test)
        let record = KeyService.newRecord(
            secret: secret,
            environment: .test,
            settings: settings,
            now: Date(),
            createdBy: "t",
            hasher: KeyHasher(pepper: Array(TestServer.pepper.utf8))
        )
        let limits = RateLimitDecision(
            allowed: false,
            limits: [
                .init(name: "m", limit: 10, periodSeconds: 60, remaining: 0, resetAfterMicroseconds: 5_500_000, retryAfterMicroseconds: 1),
                .init(name: "d", limit: 1000, periodSeconds: 86_400, remaining: 990, resetAfterMicroseconds: 1, retryAfterMicroseconds: nil),
            ]
        )
        let cases = [
            KeyService.Verification(code: .valid, record: record),
            KeyService.Verification(code: .rateLimited, record: record, rateLimit: limits),
            KeyService.Verification(code: .usageExceeded, record: record, remaining: 0),
            KeyService.Verification(code: .notFound, record: nil),
            KeyService.Verification(code: .notFound, record: record),
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for verification in cases {
            let fast = VerifyResponse(verification).json
            let slow = try encoder.encode(VerifyResponse(verification))
            #expect(try JSONParser.parse(fast) == JSONParser.parse(Array(slow)), "\(verification.code)")
        }
        #expect(
            String(decoding: VerifyResponse(cases[3]).json, as: UTF8.self)
                == #"{"code":"NOT_FOUND","environment":null,"expires_at":null,"key_id":null,"meta":null,"name":null,"owner_id":null,"ratelimits":null,"remaining":null,"scopes":null,"valid":false}"#
        )
    }

    @Test func bearerTokensAreReadLikeTheSpecSays() {
        #expect(AuthenticationMiddleware.bearerToken("Bearer abc") == "abc")
        #expect(AuthenticationMiddleware.bearerToken("bEaReR   abc  ") == "abc")
        #expect(AuthenticationMiddleware.bearerToken("  Bearer\tabc") == nil)
        #expect(AuthenticationMiddleware.bearerToken("Bearer") == nil)
        #expect(AuthenticationMiddleware.bearerToken("Bearer    ") == nil)
        #expect(AuthenticationMiddleware.bearerToken("Basic abc") == nil)
        #expect(AuthenticationMiddleware.bearerToken("Bearerabc") == nil)
    }
}
