import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Synchronization
import Testing
import TronchClient
import TronchCore
import TronchHummingbird

@testable import ProtectedAPI

/// The Swift client and the Hummingbird middleware against a real `tronch serve`: keys, people and tokens
/// through `TronchClient`, and the example app in Examples/ProtectedAPI protected by `TronchMiddleware`.
@Suite(.serialized, .timeLimit(.minutes(3))) struct SwiftClientTests {
    static let issuer = "https://tronch.test"

    @Test func theClientAndTheMiddlewareWorkAgainstARealServer() async throws {
        let server = try ServerProcess(
            arguments: [],
            environment: ["TRONCH_ISSUER": Self.issuer, "TRONCH_PASSWORD_SCRYPT_LOG_N": "10"],
            directory: try Tronch.temporaryDirectory(),
            port: try Tronch.freePort()
        )
        try await server.waitUntilReady()
        let rootKey = try #require(server.stdout.split(whereSeparator: \.isWhitespace).map(String.init).first { KeyFormat.parse($0) != nil })
        let admin = TronchClient(baseURL: server.baseURL, credential: .apiKey(rootKey))

        // Keys: created (the secret once), read, listed, verified, revoked.
        let reader = try await admin.createKey(KeyCreation(name: "orders reader", ownerId: "cus_42", scopes: ["orders:read"]))
        #expect(reader.key.name == "orders reader" && reader.key.scopes == ["orders:read"] && reader.secret.hasPrefix("tronch_sk_live_"))
        #expect(try await admin.key(id: reader.key.id).ownerId == "cus_42")
        #expect(try await admin.keys(ownerId: "cus_42").data.map(\.id) == [reader.key.id])
        let verified = try await admin.verify(reader.secret, scopes: ["orders:read"])
        #expect(verified.valid && verified.code == "VALID" && verified.keyId == reader.key.id)
        #expect(try await admin.verify(reader.secret, scopes: ["orders:write"]).code == "INSUFFICIENT_SCOPES")
        let doomed = try await admin.createKey(KeyCreation(name: "doomed", scopes: ["orders:read"]))
        #expect(try await admin.revokeKey(id: doomed.key.id).status == "revoked")
        let notFound = await #expect(throws: TronchError.self) { try await admin.key(id: "01a24b15-0000-7000-8000-000000000000") }
        #expect(notFound?.status == 404 && notFound?.code == "NOT_FOUND" && notFound?.requestID != nil)
        let invalid = await #expect(throws: TronchError.self) { try await admin.createKey(KeyCreation(scopes: ["bad scope"])) }
        #expect(invalid?.code == "VALIDATION_FAILED" && invalid?.errors.first?.field == "scopes[0]")

        // People: an account, a login, the caller's own account, a refresh, a logout.
        _ = try await admin.createUser(UserCreation(username: "alice", email: "alice@example.com", password: "correct horse battery", role: "member"))
        let anonymous = TronchClient(baseURL: server.baseURL)
        let refused = await #expect(throws: TronchError.self) { try await anonymous.login(username: "alice", password: "wrong password!!") }
        #expect(refused?.status == 401)
        let tokens = try await anonymous.login(username: "alice", password: "correct horse battery")
        let alice = anonymous.with(.accessToken(tokens.accessToken))
        #expect(try await alice.me().username == "alice")
        let next = try await anonymous.refresh(tokens.refreshToken)
        #expect(next.sessionId == tokens.sessionId && next.accessToken != tokens.accessToken)

        // The example app, protected by the middleware (a verifier key, the issuer, no cache for the test).
        let verifier = try await admin.createKey(KeyCreation(name: "verifier", scopes: ["keys:verify"]))
        let authenticator = TronchAuthenticator(
            client: TronchClient(baseURL: server.baseURL, credential: .apiKey(verifier.secret)),
            issuer: Self.issuer,
            keyCacheTTL: .zero
        )
        let app = Application(router: ProtectedAPI.buildRouter(authenticator: authenticator))
        try await app.test(.router) { client in
            func call(_ method: HTTPRequest.Method, _ path: String, _ headers: HTTPFields = [:]) async throws -> (Int, JSONValue) {
                let response = try await client.execute(uri: path, method: method, headers: headers)
                return (Int(response.status.code), (try? JSONDecoder().decode(JSONValue.self, from: Data(response.body.readableBytesView))) ?? .null)
            }
            #expect(try await call(.get, "/health").0 == 200)
            let (missing, problem) = try await call(.get, "/orders")
            #expect(missing == 401 && problem["code"] == "UNAUTHENTICATED")
            let (ok, orders) = try await call(.get, "/orders", [.authorization: "Bearer \(reader.secret)"])
            #expect(ok == 200 && orders["owner"] == "cus_42", "the key's owner reaches the handler")
            let (viaHeader, _) = try await call(.get, "/orders", [HTTPField.Name("X-API-Key")!: reader.secret])
            #expect(viaHeader == 200)
            let (forbidden, scopes) = try await call(.post, "/orders", [.authorization: "Bearer \(reader.secret)"])
            #expect(forbidden == 403 && scopes["code"] == "INSUFFICIENT_SCOPES")
            let (revoked, gone) = try await call(.get, "/orders", [.authorization: "Bearer \(doomed.secret)"])
            #expect(revoked == 401 && gone["code"] == "REVOKED")
            // A person's access token, verified locally against the JWKS: `*` in a member's token covers orders:read.
            let (me, caller) = try await call(.get, "/me", [.authorization: "Bearer \(next.accessToken)"])
            #expect(me == 200 && caller["kind"] == "user" && caller["role"] == "member", "\(caller)")
            #expect(try await call(.get, "/orders", [.authorization: "Bearer \(next.accessToken)"]).0 == 200)
            var tampered = next.accessToken
            tampered.removeLast(2)
            tampered += tampered.hasSuffix("AA") ? "BB" : "AA"
            let (bad, invalidToken) = try await call(.get, "/me", [.authorization: "Bearer \(tampered)"])
            #expect(bad == 401 && invalidToken["code"] == "TOKEN_INVALID")
        }
        // A token for another issuer is refused.
        let elsewhere = TronchAuthenticator(
            client: TronchClient(baseURL: server.baseURL, credential: .apiKey(verifier.secret)),
            issuer: "https://other"
        )
        #expect(try await elsewhere.authenticate(next.accessToken) == .failure(.init(status: 401, code: "TOKEN_INVALID")))

        try await alice.with(.accessToken(next.accessToken)).logout()
        #expect(try await server.terminate() == 0)
    }

    /// Answers `429` with `Retry-After: 1` `failures` times, then `201`, counting the calls and their
    /// idempotency keys.
    final class Flaky: Sendable {
        let calls = Mutex<[String]>([])
        let failures: Int
        init(failures: Int) { self.failures = failures }

        func router() -> Router<BasicRequestContext> {
            let router = Router()
            router.post("api/v1/keys") { request, _ -> Response in
                let count = self.calls.withLock { calls in
                    calls.append(request.headers[HTTPField.Name("Idempotency-Key")!] ?? "")
                    return calls.count
                }
                if count <= self.failures {
                    return Response(
                        status: .tooManyRequests,
                        headers: [.retryAfter: "1", .contentType: "application/problem+json"],
                        body: .init(
                            byteBuffer: ByteBuffer(
                                string:
                                    #"{"status":429,"code":"RATE_LIMITED","title":"Too Many Requests","type":"x","detail":"slow down","request_id":"r1"}"#
                            )
                        )
                    )
                }
                let key =
                    #"{"id":"01a24b15-0000-7000-8000-000000000001","name":null,"owner_id":null,"environment":"live","status":"active","enabled":true,"scopes":[],"start":"tronch_sk_live_ab","end":"cdef","created_at":"2026-12-06T10:00:00.000Z","updated_at":"2026-12-06T10:00:00.000Z","expires_at":null,"last_used_at":null,"revoked_at":null,"grace_until":null,"ratelimits":[],"remaining":null,"key":"tronch_sk_live_secret"}"#
                return Response(status: .created, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: key)))
            }
            return router
        }
    }

    @Test func a429IsRetriedAfterRetryAfterWithTheSameIdempotencyKey() async throws {
        let flaky = Flaky(failures: 1)
        try await Application(router: flaky.router()).test(.live) { client in
            let tronch = TronchClient(baseURL: "http://127.0.0.1:\(client.port!)", credential: .apiKey("k"))
            let created = try await tronch.createKey()
            #expect(created.secret == "tronch_sk_live_secret" && created.key.createdAt.timeIntervalSince1970 == 1_796_551_200)
            let keys = flaky.calls.withLock { $0 }
            #expect(keys.count == 2 && keys[0] == keys[1] && !keys[0].isEmpty, "one retry, with the first attempt's Idempotency-Key")
        }
        let stubborn = Flaky(failures: 5)
        try await Application(router: stubborn.router()).test(.live) { client in
            let tronch = TronchClient(baseURL: "http://127.0.0.1:\(client.port!)", credential: .apiKey("k"), retry: .init(maxRetries: 1))
            let error = await #expect(throws: TronchError.self) { try await tronch.createKey() }
            #expect(error?.code == "RATE_LIMITED" && error?.status == 429 && error?.requestID == "r1")
            #expect(stubborn.calls.withLock { $0.count } == 2)
        }
    }
}
