import Configuration
import Foundation
import HTTPTypes
import HummingbirdTesting
import Testing
import TronchCore
import TronchRateLimit
import TronchTestSupport

@testable import TronchServer

/// Rate limits on verification (per key) and on Tronch's own API (key creation, failed authentication).
@Suite struct RateLimitTests {
    @Test(arguments: ServerBackend.all) func aKeysPoliciesLimitVerification(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            let created = try await api.createKey([
                "scopes": ["orders:read"],
                "ratelimits": [
                    ["name": "burst", "limit": 3, "period_seconds": 60],
                    ["name": "daily", "limit": 1000, "period_seconds": 86_400],
                ],
            ])
            let key = created["key"]!.string!
            // Failed checks come first and are never counted.
            for _ in 0..<5 { #expect(try await api.verify(key, scopes: ["billing:read"]).code == "INSUFFICIENT_SCOPES") }
            for remaining in [2, 1, 0] {
                let answer = try await api.verify(key, scopes: ["orders:read"])
                #expect(answer.code == "VALID")
                #expect(answer["ratelimits"]?.array?.first?["remaining"] == .int(Int64(remaining)))
            }
            let limited = try await api.verify(key)
            #expect(limited.code == "RATE_LIMITED")
            #expect(limited["valid"] == .bool(false))
            #expect(limited["key_id"] == created["id"])
            let states = limited["ratelimits"]?.array ?? []
            #expect(states.first?["name"] == "burst" && states.first?["limit"] == 3 && states.first?["remaining"] == 0)
            // A full period ahead, less the time the test took (seconds on a machine under full load).
            #expect((54...60).contains(states.first?["reset_seconds"]?.int ?? 0), "\(states)")
            #expect(states.last?["remaining"] == 997, "the refused request spent nothing of the daily limit")
            // 3 × 86.4 s ahead, less the time the test took (seconds on a busy machine).
            #expect((240...260).contains(states.last?["reset_seconds"]?.int ?? 0))
        }
    }

    @Test func costIsChargedAndZeroOnlyReads() async throws {
        try await TestServer().run { api async throws in
            let key = try await api.createKey(["ratelimits": [["name": "units", "limit": 10, "period_seconds": 3600]]])["key"]!.string!
            let heavy = try await api.request(.post, "/api/v1/keys/verify", json: ["key": .string(key), "cost": 7])
            #expect(heavy["ratelimits"]?.array?.first?["remaining"] == 3)
            let peek = try await api.request(.post, "/api/v1/keys/verify", json: ["key": .string(key), "cost": 0])
            #expect(peek.code == "VALID")
            #expect(peek["ratelimits"]?.array?.first?["remaining"] == 3)
            let tooMuch = try await api.request(.post, "/api/v1/keys/verify", json: ["key": .string(key), "cost": 4])
            #expect(tooMuch.code == "RATE_LIMITED")
        }
    }

    @Test func theDefaultPolicyCanBeTurnedOff() async throws {
        try await TestServer(config: ["ratelimit.default": "off"]).run { api async throws in
            let key = try await api.createKey()["key"]!.string!
            let answer = try await api.verify(key)
            #expect(answer.code == "VALID")
            #expect(answer["ratelimits"] == .null)
        }
        try await TestServer(config: ["ratelimit.default": "2/1m"]).run { api async throws in
            let key = try await api.createKey()["key"]!.string!
            #expect(try await api.verify(key).code == "VALID")
            #expect(try await api.verify(key).code == "VALID")
            #expect(try await api.verify(key).code == "RATE_LIMITED")
        }
    }

    @Test func keyCreationIsLimitedPerPrincipal() async throws {
        try await TestServer(config: ["ratelimit.keyCreation": "2/1h"]).run { api async throws in
            // A rejected request is not counted.
            let invalid = try await api.request(.post, "/api/v1/keys", json: ["scopes": "nope"])
            #expect(invalid.status == .badRequest)
            #expect(invalid.headers[.rateLimit] == nil)

            let first = try await api.createKey(["scopes": ["keys:write", "keys:read"]])
            #expect(first.headers[.rateLimitPolicy] == #""key_creation";q=2;w=3600"#)
            #expect(first.headers[.rateLimit] == #""key_creation";r=1;t=1800"#)
            #expect(first.headers[.xRateLimitLimit] == "2")
            #expect(first.headers[.xRateLimitRemaining] == "1")
            #expect(first.headers[.xRateLimitReset] == "1800")
            _ = try await api.createKey()
            let refused = try await api.request(.post, "/api/v1/keys", json: [:])
            #expect(refused.status == .tooManyRequests)
            #expect(refused.code == "RATE_LIMITED")
            #expect(refused.headers[.contentType] == "application/problem+json")
            // Half an hour for the next one, less the time the test took.
            #expect((1790...1800).contains(Int(refused.headers[.retryAfter] ?? "") ?? 0))
            #expect(refused.headers[.xRateLimitRemaining] == "0")
            let state = refused.headers[.rateLimit] ?? ""
            #expect(state.hasPrefix(#""key_creation";r=0;t="#))
            #expect((3590...3600).contains(Int(state.split(separator: "=").last ?? "") ?? 0))

            // Another principal has a budget of its own.
            let other = try await api.request(.post, "/api/v1/keys", key: first["key"]!.string!, json: [:])
            #expect(other.status == .created)
            let list = try await api.request(.get, "/api/v1/keys")
            #expect(list["data"]?.array?.count == 4, "the refused request created nothing")
        }
    }

    @Test func callsOnTronchsAPISpendTheCallersBudget() async throws {
        try await TestServer(config: ["ratelimit.api": "3/1h"]).run { api async throws in
            // The root key has no policy of its own: the API policy, per key. Verification is not counted.
            let reader = try await api.createKey(["scopes": ["keys:read", "keys:verify"]])["key"]!.string!
            for _ in 0..<5 { #expect(try await api.verify(reader).code == "VALID") }
            let first = try await api.request(.get, "/api/v1/keys")
            #expect(first.status == .ok)
            #expect(first.headers[.rateLimitPolicy] == #""api";q=3;w=3600"#)
            #expect(first.headers[.xRateLimitRemaining] == "1", "the key creation above counted too")
            #expect(try await api.request(.get, "/api/v1/keys").status == .ok)
            let refused = try await api.request(.get, "/api/v1/audit-logs")
            #expect(refused.status == .tooManyRequests)
            #expect(refused.code == "RATE_LIMITED")
            #expect(refused.headers[.retryAfter] != nil)
            #expect(try await api.verify(reader).code == "VALID", "verification is your API's traffic, never limited by this")

            // Another key has a budget of its own; a key with policies spends them, the budget its verifications spend.
            #expect(try await api.request(.get, "/api/v1/keys", key: reader).status == .ok)
            let verifier = try await api.request(.post, "/api/v1/keys/verify", key: reader, json: ["key": .string(reader)])
            #expect(verifier.status == .ok, "the reader verifies without spending its API budget")
        }
        try await TestServer(config: ["ratelimit.api": "off"]).run { api async throws in
            let limited = try await api.createKey(["scopes": ["keys:read"], "ratelimits": [["name": "own", "limit": 2, "period_seconds": 60]]])
            let key = limited["key"]!.string!
            let first = try await api.request(.get, "/api/v1/keys", key: key)
            #expect(first.headers[.rateLimitPolicy] == #""own";q=2;w=60"#)
            #expect(try await api.request(.get, "/api/v1/keys", key: key).status == .ok)
            #expect(try await api.request(.get, "/api/v1/keys", key: key).status == .tooManyRequests)
            #expect(try await api.verify(key).code == "RATE_LIMITED", "one key, one budget")
            #expect(try await api.request(.get, "/api/v1/keys").headers[.rateLimitPolicy] == nil, "off: the root key is not limited")
        }
        // People are limited per person, whichever session or token they use.
        try await TestServer(config: ["ratelimit.api": "2/1h"]).run { api async throws in
            _ = try await UsersTests.createUser(api, "rita")
            _ = try await UsersTests.createUser(api, "sam")
            let rita = try await UsersTests.token(api, "rita")
            let ritaAgain = try await UsersTests.token(api, "rita")
            #expect(try await api.request(.get, "/api/v1/users/me", key: rita).status == .ok)
            #expect(try await api.request(.get, "/api/v1/users/me", key: ritaAgain).status == .ok)
            #expect(try await api.request(.get, "/api/v1/users/me", key: rita).status == .tooManyRequests)
            #expect(try await api.request(.get, "/api/v1/users/me", key: try await UsersTests.token(api, "sam")).status == .ok)
        }
    }

    @Test func failedAuthenticationIsLimitedPerAddress() async throws {
        try await TestServer(config: ["ratelimit.authFailures": "3/1m"]).run(.live) { api async throws in
            let wrong = KeyFormat(prefix: "tronch")!.generate(environment: .live)
            for _ in 0..<3 {
                let response = try await api.request(.get, "/api/v1/keys", key: wrong)
                #expect(response.status == .unauthorized)
            }
            let fourth = try await api.request(.get, "/api/v1/keys", key: nil)
            #expect(fourth.status == .tooManyRequests)
            #expect(fourth.code == "RATE_LIMITED")
            // One failure every 20 s is the steady rate, less the time the first three took.
            #expect((1...20).contains(Int(fourth.headers[.retryAfter] ?? "") ?? 0))
            #expect(fourth.headers[.rateLimitPolicy] == #""auth_failures";q=3;w=60"#)
            // The address is refused outright now, even with a good key: guessing gains nothing.
            let good = try await api.request(.get, "/api/v1/keys")
            #expect(good.status == .tooManyRequests)
            #expect(Int(good.headers[.retryAfter] ?? "") ?? 0 > 0)
        }
    }

    @Test func policiesInConfigurationAreChecked() {
        let invalid = [
            ("ratelimit.default", "many/1h", "TRONCH_RATELIMIT_DEFAULT"),
            ("ratelimit.authFailures", "5/0", "TRONCH_RATELIMIT_AUTH_FAILURES"),
            ("ratelimit.keyCreation", "10/1w", "TRONCH_RATELIMIT_KEY_CREATION"),
            ("ratelimit.api", "1000", "TRONCH_RATELIMIT_API"),
        ]
        for (name, value, variable) in invalid {
            #expect(throws: ConfigurationError(key: variable, "")) { _ = try Settings(reader: TestServer.reader([name: value])) }
        }
        #expect(throws: ConfigurationError(key: "TRONCH_RATELIMIT_FAILURE_MODE", "")) {
            _ = try Settings(reader: TestServer.reader(["ratelimit.failureMode": "maybe"]))
        }
        #expect(throws: ConfigurationError(key: "TRONCH_REDIS_URL", "")) {
            _ = try Settings(reader: TestServer.reader(["redis.url": "http://example.com"]))
        }
        let settings = try? Settings(reader: TestServer.reader(["ratelimit.default": "100/1m/20", "ratelimit.failureMode": "closed"]))
        #expect(settings?.rateLimits.defaultPolicy == RateLimitPolicy(name: "default", limit: 100, periodSeconds: 60, burst: 20))
        #expect(settings?.rateLimits.failureMode == .closed)
    }
}

/// Usage-limited keys through the API.
@Suite struct CreditTests {
    @Test(arguments: ServerBackend.all) func creditsAreSpentLastAndNeverBelowZero(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            let created = try await api.createKey(["remaining": 5, "scopes": ["a"]])
            let key = created["key"]!.string!
            // A check that fails earlier spends nothing.
            #expect(try await api.verify(key, scopes: ["b"]).code == "INSUFFICIENT_SCOPES")
            let first = try await api.request(.post, "/api/v1/keys/verify", json: ["key": .string(key), "cost": 3])
            #expect(first.code == "VALID")
            #expect(first["remaining"] == 2)
            let tooMuch = try await api.request(.post, "/api/v1/keys/verify", json: ["key": .string(key), "cost": 3])
            #expect(tooMuch.code == "USAGE_EXCEEDED")
            #expect(tooMuch["valid"] == .bool(false))
            #expect(tooMuch["remaining"] == 2, "a refused spend takes nothing")
            #expect(try await api.verify(key)["remaining"] == 1)
            #expect(try await api.verify(key)["remaining"] == 0)
            let exhausted = try await api.verify(key)
            #expect(exhausted.code == "USAGE_EXCEEDED")
            #expect(exhausted["remaining"] == 0)
            let stored = try await api.request(.get, "/api/v1/keys/\(created["id"]!.string!)")
            #expect(stored["remaining"] == 0)
            // Topping up through the API takes effect at once.
            _ = try await api.request(.patch, "/api/v1/keys/\(created["id"]!.string!)", json: ["remaining": 1])
            #expect(try await api.verify(key).code == "VALID")
        }
    }

    @Test(arguments: ServerBackend.all) func aTopUpIsNotOverwrittenAndASuccessorKeepsTheRefillPeriod(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            let created = try await api.createKey(["remaining": 1, "refill": ["interval": "daily", "amount": 3]])
            let id = created["id"]!.string!
            #expect(try await api.verify(created["key"]!.string!)["remaining"] == 0)
            server.clock.advance(seconds: 86_400)
            // A paid top-up after midnight, before the key's next use: the refill must not replace it.
            _ = try await api.request(.patch, "/api/v1/keys/\(id)", json: ["remaining": 50])
            #expect(try await api.verify(created["key"]!.string!)["remaining"] == 49)

            let other = try await api.createKey(["remaining": 1, "refill": ["interval": "daily", "amount": 3]])
            #expect(try await api.verify(other["key"]!.string!)["remaining"] == 0)
            server.clock.advance(seconds: 86_400)
            // Rotated after midnight: the successor's refill is due, as its predecessor's was.
            let rotated = try await api.request(.post, "/api/v1/keys/\(other["id"]!.string!)/rotate", json: [:])
            #expect(try await api.verify(rotated["key"]!.string!)["remaining"] == 2)
        }
    }

    @Test func aDailyRefillTopsUpAtMidnightUTC() async throws {
        let server = TestServer()
        try await server.run { api async throws in
            let key = try await api.createKey(["remaining": 1, "refill": ["interval": "daily", "amount": 3]])["key"]!.string!
            #expect(try await api.verify(key).code == "VALID")
            #expect(try await api.verify(key).code == "USAGE_EXCEEDED")
            server.clock.advance(seconds: 86_400)
            let refilled = try await api.verify(key)
            #expect(refilled.code == "VALID")
            #expect(refilled["remaining"] == 2)
        }
    }
}
