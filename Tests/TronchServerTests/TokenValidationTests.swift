import Crypto
import Foundation
import JWTKit
import Logging
import Testing
import TronchCore
import TronchStorage

@testable import TronchServer

/// Access-token validation against RFC 8725's list of attacks and RFC 9068's rules, at the token service.
@Suite struct TokenValidationTests {
    let clock = TestClock()
    let store: SQLiteStore
    let secrets = SecretBox(current: SecretBox.Key(bytes: (0..<32).map { _ in UInt8.random(in: 0...255) })!)
    let tokens: TokenService
    let user = UserIdentity(id: UUID(), role: .member)
    let session: SessionRecord

    init() async throws {
        store = try SQLiteStore.inMemory()
        try await store.migrateUp(to: nil)
        var settings = AccountSettings()
        settings.issuer = "https://issuer.test"
        tokens = TokenService(
            store: store,
            settings: settings,
            secrets: secrets,
            clock: clock.wallClock,
            hasher: KeyHasher(pepper: Array("token-validation-pepper-0123456789".utf8)),
            refreshPrefix: "tronch",
            logger: Logger(label: "tokens")
        )
        try await tokens.prepare()
        session = SessionRecord(
            id: UUID(),
            userID: user.id,
            createdAt: clock.now,
            expiresAt: clock.now.addingTimeInterval(3600),
            ip: nil,
            userAgent: nil,
            amr: ["pwd"]
        )
    }

    /// The stored signing key, opened: what an attacker who has nothing must not be able to imitate.
    func signingKey() async throws -> (kid: String, key: ES256PrivateKey) {
        let record = try #require(try await store.signingKeys().first)
        let pem = String(decoding: try secrets.open(record.sealedPrivateKey, context: SigningKeys.context(record.kid)), as: UTF8.self)
        return (record.kid, try ES256PrivateKey(pem: pem))
    }

    func claims(_ change: (inout AccessTokenClaims) -> Void = { _ in }) -> AccessTokenClaims {
        let now = Int64(clock.now.timeIntervalSince1970)
        var claims = AccessTokenClaims(
            iss: "https://issuer.test",
            sub: user.id.lowercased,
            aud: "tronch",
            exp: now + 600,
            iat: now,
            nbf: now,
            jti: UUID().uuidString.lowercased(),
            sid: session.id.lowercased,
            role: "member",
            groups: [],
            scope: "* keys:read",
            amr: ["pwd"]
        )
        change(&claims)
        return claims
    }

    /// A token signed with `key` (the real one by default), with the given header fields.
    func sign(_ claims: AccessTokenClaims, key: ES256PrivateKey? = nil, kid: String? = nil, typ: String? = "at+jwt") async throws -> String {
        let real = try await signingKey()
        let collection = JWTKeyCollection()
        await collection.add(ecdsa: key ?? real.key, kid: JWKIdentifier(string: kid ?? real.kid))
        var header = JWTHeader()
        header.typ = typ
        return try await collection.sign(claims, kid: JWKIdentifier(string: kid ?? real.kid), header: header)
    }

    /// `header.payload.signature` from raw JSON parts.
    static func compose(_ header: String, _ payload: String, _ signature: String = "") -> String {
        [Base64URL.encode(Array(header.utf8)), Base64URL.encode(Array(payload.utf8)), signature].joined(separator: ".")
    }

    func refusal(_ token: String) async -> TokenRefusal? {
        if case .failure(let refusal) = await tokens.validate(token) { return refusal }
        return nil
    }

    @Test func theTokensTronchIssuesAreValid() async throws {
        let issued = try await tokens.issue(for: user, session: session)
        guard case .success(let principal) = await tokens.validate(issued.token) else {
            Issue.record("refused")
            return
        }
        #expect(principal.user == user)
        #expect(principal.sessionID == session.id)
        #expect(principal.keyID == nil)
        #expect(await refusal(try await sign(claims())) == nil, "a token signed the same way is valid")
    }

    @Test func rfc8725AttacksAreRefused() async throws {
        let (kid, _) = try await signingKey()
        let payload = String(decoding: try JSONEncoder().encode(claims()), as: UTF8.self)
        let good = try await sign(claims())
        let parts = good.split(separator: ".").map(String.init)

        // §2.1 / §3.1: "none", and an algorithm the key is not for (HMAC with the public key as the secret).
        #expect(await refusal(Self.compose(#"{"alg":"none","typ":"at+jwt","kid":"\#(kid)"}"#, payload)) == .algorithm)
        let publicPEM = try await signingKey().key.publicKey.pemRepresentation
        let hmac = JWTKeyCollection()
        await hmac.add(hmac: HMACKey(from: publicPEM), digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
        var hsHeader = JWTHeader()
        hsHeader.typ = "at+jwt"
        let confused = try await hmac.sign(claims(), kid: JWKIdentifier(string: kid), header: hsHeader)
        #expect(await refusal(confused) == .algorithm)
        #expect(await refusal(Self.compose(#"{"alg":"RS256","typ":"at+jwt","kid":"\#(kid)"}"#, payload, parts[2])) == .algorithm)
        #expect(await refusal(Self.compose(#"{"alg":"ES512","typ":"at+jwt","kid":"\#(kid)"}"#, payload, parts[2])) == .algorithm)

        // RFC 9068 §4 / RFC 8725 §3.11: explicit typing, so an ID token or another JWT is not taken for an access token.
        #expect(await refusal(try await sign(claims(), typ: "JWT")) == .type)
        #expect(await refusal(try await sign(claims(), typ: nil)) == .type)

        // Keys: an unknown kid, a missing kid, a key of the right kind that is not Tronch's.
        #expect(await refusal(try await sign(claims(), kid: "not-a-tronch-key")) == .unknownKey)
        #expect(await refusal(Self.compose(#"{"alg":"ES256","typ":"at+jwt"}"#, payload, parts[2])) == .unknownKey)
        #expect(await refusal(try await sign(claims(), key: ES256PrivateKey(), kid: kid)) == .signature)

        // Tampering: the payload changed (a member making themselves admin), the signature cut or swapped.
        let forged = Self.compose(
            String(decoding: Base64URL.decode(parts[0])!, as: UTF8.self),
            String(
                decoding: try JSONEncoder().encode(
                    claims {
                        $0.role = "admin"
                        $0.scope = "admin"
                    }
                ),
                as: UTF8.self
            ),
            parts[2]
        )
        #expect(await refusal(forged) == .signature)
        #expect(await refusal(parts[0] + "." + parts[1] + ".") == .signature)
        #expect(await refusal(parts[0] + "." + parts[1] + "." + String(parts[2].reversed())) == .signature)

        // §3.9 / §3.10: issuer and audience.
        #expect(await refusal(try await sign(claims { $0.iss = "https://evil.test" })) == .issuer)
        #expect(await refusal(try await sign(claims { $0.aud = "another-api" })) == .audience)

        // Malformed.
        for garbage in ["", "a.b", "a.b.c.d", "!!!.???.***", "eyJ9.eyJ9.sig"] {
            #expect(await refusal(garbage) != nil, "\(garbage)")
        }
        #expect(TokenService.looksLikeJWT(good))
        #expect(!TokenService.looksLikeJWT("tronch_sk_live_abc"))
    }

    @Test func timesAreCheckedWithThirtySecondsOfLeeway() async throws {
        let now = Int64(clock.now.timeIntervalSince1970)
        #expect(await refusal(try await sign(claims { $0.exp = now - 29 })) == nil)
        #expect(await refusal(try await sign(claims { $0.exp = now - 31 })) == .expired)
        #expect(await refusal(try await sign(claims { $0.nbf = now + 29 })) == nil)
        #expect(await refusal(try await sign(claims { $0.nbf = now + 31 })) == .notYetValid)
        // A token validated once expires all the same.
        let issued = try await tokens.issue(for: user, session: session)
        #expect(await refusal(issued.token) == nil)
        clock.advance(seconds: 600 + 31)
        #expect(await refusal(issued.token) == .expired)
    }

    @Test func deniedSessionsAndTokensAreRefusedAtOnce() async throws {
        let issued = try await tokens.issue(for: user, session: session)
        #expect(await refusal(issued.token) == nil, "validated and cached")
        tokens.deny([DenylistEntry(kind: .sid, value: session.id.lowercased, expiresAt: clock.now.addingTimeInterval(700))])
        #expect(await refusal(issued.token) == .revoked, "the cache does not outlive a denial")

        let other = SessionRecord(
            id: UUID(),
            userID: user.id,
            createdAt: clock.now,
            expiresAt: clock.now.addingTimeInterval(60),
            ip: nil,
            userAgent: nil,
            amr: ["pwd"]
        )
        let token = try await tokens.issue(for: user, session: other)
        tokens.deny([DenylistEntry(kind: .jti, value: token.jti, expiresAt: clock.now.addingTimeInterval(700))])
        #expect(await refusal(token.token) == .revoked)
        // Claims that are not what Tronch writes are refused, not guessed at.
        #expect(await refusal(try await sign(claims { $0.sub = "someone" })) == .claims)
        #expect(await refusal(try await sign(claims { $0.role = "superuser" })) == .claims)
    }
}
