import Crypto
import Foundation
import HTTPTypes
import Logging
import Testing
import TronchCore
import TronchRateLimit
import TronchRedis
import TronchTestSupport

@testable import TronchServer
@testable import TronchStorage

/// Keys that sign their requests: the signing secret at create and rotate, and the signature checked by
/// verification and forward authentication in its place in the order, with replays refused.
@Suite struct SignedRequestTests {
    static let body = Array(#"{"amount":100}"#.utf8)

    /// A request to the key holder's API, signed as the SDK signs it.
    static func signed(
        secret: String,
        at created: Date,
        nonce: String = UUID().uuidString,
        method: String = "POST",
        path: String = "/orders",
        query: String = "expand=items",
        body: [UInt8] = body
    ) throws -> [String: String] {
        let digest = "sha-256=:\(Data(SHA256.hash(data: body)).base64EncodedString()):"
        let request = SignedRequest(method: method, path: path, query: query, headers: ["content-digest": digest])
        let signature = try RequestSignature.sign(
            request,
            secret: try #require(Base64URL.decode(secret)),
            parameters: [("created", .integer(Int64(created.timeIntervalSince1970))), ("nonce", .string(nonce))]
        )
        return ["content-digest": digest, "signature-input": signature.signatureInput, "signature": signature.signature]
    }

    static func verify(
        _ api: APIClient,
        key: String,
        headers: [String: String]?,
        path: String = "/orders",
        scopes: [String] = [],
        body: [UInt8]? = nil,
        ip: String? = nil
    ) async throws -> APIResponse {
        var fields: [String: JSONValue] = ["key": .string(key), "scopes": .array(scopes.map(JSONValue.string))]
        if let ip { fields["ip"] = .string(ip) }
        if let headers {
            var request: [String: JSONValue] = [
                "method": "POST", "path": .string(path), "query": "expand=items",
                "headers": .object(headers.mapValues(JSONValue.string)),
            ]
            if let body { request["body_sha256"] = .string(Data(SHA256.hash(data: body)).base64EncodedString()) }
            fields["request"] = .object(request)
        }
        return try await api.request(.post, "/api/v1/keys/verify", json: .object(fields))
    }

    @Test(arguments: ServerBackend.all) func aSigningKeyNeedsASignedRequestOnceEach(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            let created = try await api.createKey(["signing": true, "scopes": ["orders:write"]])
            #expect(created.status == .created)
            #expect(created["signing"] == .bool(true))
            let secret = try #require(created["signing_secret"]?.string)
            #expect(Base64URL.decode(secret)?.count == 32)
            let key = created["key"]!.string!
            let shown = try await api.request(.get, "/api/v1/keys/\(created["id"]!.string!)")
            #expect(shown["signing"] == .bool(true) && shown["signing_secret"] == nil, "the secret is shown once")

            let headers = try Self.signed(secret: secret, at: server.clock.now)
            let first = try await Self.verify(api, key: key, headers: headers, scopes: ["orders:write"], body: Self.body)
            #expect(first.status == .ok)
            #expect(first.code == "VALID", "\(first.json)")
            #expect(try await Self.verify(api, key: key, headers: headers).code == "SIGNATURE_REPLAYED")
            #expect(try await Self.verify(api, key: key, headers: nil).code == "SIGNATURE_INVALID", "no request at all")
            let other = try Self.signed(secret: secret, at: server.clock.now)
            #expect(try await Self.verify(api, key: key, headers: other, path: "/refunds").code == "SIGNATURE_INVALID")
            let tampered = try Self.signed(secret: secret, at: server.clock.now)
            #expect(
                try await Self.verify(api, key: key, headers: tampered, body: Array("{}".utf8)).code == "SIGNATURE_INVALID",
                "another body than the signed digest"
            )
            let late = try Self.signed(secret: secret, at: server.clock.now.addingTimeInterval(-301))
            let expired = try await Self.verify(api, key: key, headers: late)
            #expect(expired.code == "SIGNATURE_EXPIRED")
            #expect(expired["key_id"] == created["id"], "a signature failure names the key, like the codes before it")
            let forged = try Self.signed(secret: Base64URL.encode(Array(repeating: 1, count: 32)), at: server.clock.now)
            #expect(try await Self.verify(api, key: key, headers: forged).code == "SIGNATURE_INVALID")

            // A key without a signing secret ignores signatures, as before.
            let plain = try await api.createKey([:])
            #expect(plain["signing"] == .bool(false) && plain["signing_secret"] == nil)
            #expect(try await Self.verify(api, key: plain["key"]!.string!, headers: nil).code == "VALID")
        }
    }

    @Test func theSignatureComesAfterTheAddressAndBeforeTheScopes() async throws {
        let server = try await TestServer.on(.sqlite)
        try await server.run { api async throws in
            let created = try await api.createKey(["signing": true, "allowed_ips": ["192.0.2.0/24"], "scopes": ["orders:read"]])
            let key = created["key"]!.string!
            let secret = created["signing_secret"]!.string!
            #expect(try await Self.verify(api, key: key, headers: nil, ip: "198.51.100.1").code == "FORBIDDEN")
            #expect(try await Self.verify(api, key: key, headers: nil, scopes: ["orders:write"], ip: "192.0.2.1").code == "SIGNATURE_INVALID")
            let headers = try Self.signed(secret: secret, at: server.clock.now)
            #expect(
                try await Self.verify(api, key: key, headers: headers, scopes: ["orders:write"], ip: "192.0.2.1").code
                    == "INSUFFICIENT_SCOPES"
            )
            _ = try await api.request(.delete, "/api/v1/keys/\(created["id"]!.string!)")
            let fresh = try Self.signed(secret: secret, at: server.clock.now)
            #expect(try await Self.verify(api, key: key, headers: fresh, ip: "192.0.2.1").code == "REVOKED")
        }
    }

    @Test func rotationDrawsANewSigningSecret() async throws {
        let server = try await TestServer.on(.sqlite)
        try await server.run { api async throws in
            let created = try await api.createKey(["signing": true])
            let oldSecret = created["signing_secret"]!.string!
            let rotated = try await api.request(.post, "/api/v1/keys/\(created["id"]!.string!)/rotate", json: ["grace_period_seconds": 60])
            #expect(rotated.status == .created && rotated["signing"] == .bool(true))
            let newSecret = try #require(rotated["signing_secret"]?.string)
            #expect(newSecret != oldSecret)
            let key = rotated["key"]!.string!
            #expect(try await Self.verify(api, key: key, headers: try Self.signed(secret: newSecret, at: server.clock.now)).code == "VALID")
            #expect(
                try await Self.verify(api, key: key, headers: try Self.signed(secret: oldSecret, at: server.clock.now)).code == "SIGNATURE_INVALID"
            )
            // The old key keeps its own secret through the grace period.
            #expect(
                try await Self.verify(api, key: created["key"]!.string!, headers: try Self.signed(secret: oldSecret, at: server.clock.now)).code
                    == "VALID"
            )
            let unsigned = try await api.request(.post, "/api/v1/keys/\(rotated["id"]!.string!)/rotate", json: ["signing": false])
            #expect(unsigned["signing"] == .bool(false) && unsigned["signing_secret"] == nil)
            #expect(try await Self.verify(api, key: unsigned["key"]!.string!, headers: nil).code == "VALID")
            let plain = try await api.createKey([:])
            let nowSigning = try await api.request(.post, "/api/v1/keys/\(plain["id"]!.string!)/rotate", json: ["signing": true])
            #expect(nowSigning["signing"] == .bool(true) && nowSigning["signing_secret"]?.string != nil)
        }
    }

    @Test func badShapesAreRefusedWithTheirField() async throws {
        try await TestServer().run { api async throws in
            let key = try await api.createKey(["signing": true])["key"]!.string!
            let cases: [(JSONValue, String)] = [
                ("yes", "request"),
                (["path": "/o", "headers": [:]], "request.method"),
                (["method": "GET", "path": "o", "headers": [:]], "request.path"),
                (["method": "GET", "path": "/o", "query": "?a=1", "headers": [:]], "request.query"),
                (["method": "GET", "path": "/o"], "request.headers"),
                (["method": "GET", "path": "/o", "headers": ["signature": 1]], "request.headers.signature"),
                (["method": "GET", "path": "/o", "headers": [:], "body_sha256": "abc"], "request.body_sha256"),
                (["method": "GET", "path": "/o", "headers": [:], "extra": 1], "request.extra"),
            ]
            for (request, field) in cases {
                let answer = try await api.request(.post, "/api/v1/keys/verify", json: ["key": .string(key), "request": request])
                #expect(answer.status == .badRequest, "\(field)")
                #expect(answer.json["errors"]?.array?.contains { $0["field"]?.string == field } == true, "\(field): \(answer.json)")
            }
            let badFlag = try await api.request(.post, "/api/v1/keys", json: ["signing": "yes"])
            #expect(badFlag.status == .badRequest)
            let patch = try await api.request(.patch, "/api/v1/keys/\(try await api.createKey([:])["id"]!.string!)", json: ["signing": true])
            #expect(patch.status == .badRequest, "set at create or rotate, where the secret can be shown")
        }
    }

    @Test func forwardAuthenticationChecksTheClientsSignature() async throws {
        let server = try await TestServer.on(.sqlite)
        try await server.run { api async throws in
            let created = try await api.createKey(["signing": true])
            let key = created["key"]!.string!
            let signed = try Self.signed(secret: created["signing_secret"]!.string!, at: server.clock.now)
            var headers: HTTPFields = [
                .init("X-API-Key")!: key, .init("X-Forwarded-Method")!: "POST", .init("X-Forwarded-Uri")!: "/orders?expand=items",
            ]
            for (name, value) in signed { headers[HTTPField.Name(name)!] = value }
            let first = try await api.request(.get, "/api/v1/auth/check", key: nil, headers: headers)
            #expect(first.status == .ok)
            #expect(first.headers[.tronchCode] == "VALID")
            let replay = try await api.request(.get, "/api/v1/auth/check", key: nil, headers: headers)
            #expect(replay.status == .unauthorized)
            #expect(replay.headers[.tronchCode] == "SIGNATURE_REPLAYED")
            headers[.init("X-Forwarded-Uri")!] = "/orders?expand=all"
            let moved = try await api.request(.get, "/api/v1/auth/check", key: nil, headers: headers)
            #expect(moved.headers[.tronchCode] == "SIGNATURE_INVALID")
        }
    }

    @Test func aSigningSecretIsSealedAndBoundToItsKey() async throws {
        let store = try SQLiteStore.inMemory()
        try await store.migrateUp(to: nil)
        let secrets = SecretBox(current: SecretBox.Key(bytes: Array(repeating: 3, count: 32))!)
        let keys = KeyService(
            store: store,
            cache: KeyCache(ttl: .seconds(30), negativeTTL: .seconds(5), maxEntries: 1000),
            hasher: KeyHasher(pepper: Array(TestServer.pepper.utf8)),
            format: KeyFormat(prefix: "tronch")!,
            clock: TestClock().wallClock,
            limits: KeyLimits(),
            lastUsed: LastUsedRecorder(store: store, interval: .seconds(1), logger: Logger(label: "test")),
            rateLimits: RateLimits(limiter: LocalRateLimiter(), settings: RateLimitSettings()),
            secrets: secrets
        )
        let issued = try await keys.create(KeySettings(), environment: .live, signing: true, by: Principal(keyID: UUID(), scopes: ["admin"]))
        let plain = try #require(issued.signingSecret)
        // Not a readable byte of it in the database: only its sealed form, bound to the key's id.
        let sealed = try #require(try await store.key(id: issued.record.id)?.signingSecret)
        #expect(!sealed.contains(plain) && sealed.hasPrefix("v1."))
        #expect(throws: (any Error).self) { try secrets.open(sealed, context: KeyService.signingContext(UUID())) }
        #expect(Base64URL.encode(try secrets.open(sealed, context: KeyService.signingContext(issued.record.id))) == plain)
        // A server that cannot seal (no secrets key) refuses to make a signing key rather than store it in the clear.
        let unsealed = KeyService(
            store: store,
            cache: keys.cache,
            hasher: keys.hasher,
            format: keys.format,
            clock: keys.clock,
            limits: keys.limits,
            lastUsed: keys.lastUsed,
            rateLimits: keys.rateLimits
        )
        await #expect(throws: DomainError.self) {
            _ = try await unsealed.create(KeySettings(), environment: .live, signing: true, by: Principal(keyID: UUID(), scopes: ["admin"]))
        }
    }
}

/// Nonces across nodes: two caches over one Redis refuse a replay to the other; without Redis, each node's
/// memory still refuses one to itself.
@Suite(.enabled(if: TestRedis.enabled)) struct NonceCacheTests {
    @Test func aNonceIsAcceptedOnceAcrossNodes() async throws {
        let url = try #require(TestRedis.url, "scripts/test starts Redis and sets TRONCH_TEST_REDIS_URL")
        try await RedisClient.withConnected(url) { first in
            try await RedisClient.withConnected(url) { second in
                let (one, two) = (
                    RedisNonceCache(redis: first, logger: Logger(label: "a")), RedisNonceCache(redis: second, logger: Logger(label: "b"))
                )
                let key = UUID()
                let nonce = UUID().uuidString
                let now = Date()
                #expect(await one.claim(keyID: key, nonce: nonce, until: now.addingTimeInterval(2), now: now))
                #expect(await two.claim(keyID: key, nonce: nonce, until: now.addingTimeInterval(2), now: now) == false)
                #expect(await two.claim(keyID: UUID(), nonce: nonce, until: now.addingTimeInterval(2), now: now), "per key")
                // Forgotten once its signature could no longer pass the window.
                try await Task.sleep(for: .milliseconds(2100))
                #expect(await two.claim(keyID: key, nonce: nonce, until: Date().addingTimeInterval(2), now: Date()))
            }
        }
    }

    @Test func withoutRedisThisNodesMemoryDecides() async throws {
        let cache = LocalNonceCache(pruneAbove: 4)
        let now = Date()
        let key = UUID()
        #expect(await cache.claim(keyID: key, nonce: "a", until: now.addingTimeInterval(10), now: now))
        #expect(await cache.claim(keyID: key, nonce: "a", until: now.addingTimeInterval(10), now: now) == false)
        for index in 0..<4 { _ = await cache.claim(keyID: key, nonce: "old\(index)", until: now.addingTimeInterval(1), now: now) }
        // Past the bound, what has expired is dropped; what has not is kept.
        #expect(await cache.claim(keyID: key, nonce: "b", until: now.addingTimeInterval(10), now: now.addingTimeInterval(2)))
        #expect(cache.count == 2)
        #expect(await cache.claim(keyID: key, nonce: "a", until: now.addingTimeInterval(10), now: now.addingTimeInterval(2)) == false)
    }
}
