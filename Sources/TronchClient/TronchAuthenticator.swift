import Crypto
import Foundation
import JWTKit
import Synchronization
import TronchCore

/// Checks the credentials your API receives: a Tronch key by asking Tronch (with a short local cache), a
/// person's access token locally, against Tronch's public keys (fetched once and refreshed when a token names
/// an unknown one).
public final class TronchAuthenticator: Sendable {
    /// Why a credential was refused, with the HTTP status your API answers.
    public struct Refusal: Error, Sendable, Hashable {
        /// `401` (no or a bad credential), `403` (missing scopes), `429` (a key over its rate limit or credits).
        public var status: Int
        /// Tronch's code: a verification code (`NOT_FOUND`, `REVOKED`, `INSUFFICIENT_SCOPES`, `RATE_LIMITED`, …),
        /// `TOKEN_INVALID` or `UNAUTHENTICATED`.
        public var code: String
        /// Seconds to wait, for `429` after a rate limit.
        public var retryAfter: Int64?

        public init(status: Int, code: String, retryAfter: Int64? = nil) {
            self.status = status
            self.code = code
            self.retryAfter = retryAfter
        }
    }

    let client: TronchClient
    let issuer: String
    let audience: String
    let keyCacheTTL: Duration
    let clock = ContinuousClock()
    private let signingKeys = Mutex<(keys: JWTKeyCollection, kids: Set<String>, fetched: ContinuousClock.Instant?)>((JWTKeyCollection(), [], nil))
    private let verdicts = Mutex<[String: (until: ContinuousClock.Instant, verdict: Result<TronchIdentity, Refusal>)]>([:])
    /// Tokens may be this many seconds past `exp` or before `nbf` (clocks differ a little).
    static let leeway: Int64 = 30
    static let maxCachedVerdicts = 10_000

    /// - Parameters:
    ///   - client: A client of the Tronch server with a key holding `keys:verify`.
    ///   - issuer: The `iss` of Tronch's tokens (its TRONCH_ISSUER), which tokens must carry.
    ///   - audience: Their `aud` (TRONCH_AUDIENCE, `tronch` by default).
    ///   - keyCacheTTL: How long a key's verdict is reused. Only verdicts that spend nothing are kept: a key with
    ///     rate limits or credits is verified on every request, so that Tronch counts each one.
    public init(client: TronchClient, issuer: String, audience: String = "tronch", keyCacheTTL: Duration = .seconds(10)) {
        self.client = client
        self.issuer = issuer
        self.audience = audience
        self.keyCacheTTL = keyCacheTTL
    }

    /// The identity behind `credential` (a key or an access token), if it may use a route that needs `scopes`.
    public func authenticate(_ credential: String, scopes: [String] = []) async throws -> Result<TronchIdentity, Refusal> {
        let parts = credential.split(separator: ".", omittingEmptySubsequences: false)
        if parts.count == 3 { return await authenticate(token: credential, scopes: scopes) }
        return try await authenticate(key: credential, scopes: scopes)
    }

    // MARK: Keys

    func authenticate(key: String, scopes: [String]) async throws -> Result<TronchIdentity, Refusal> {
        // The cache is keyed by a digest: the process never keeps a key it was shown.
        let cacheKey = SHA256.hash(data: Array((scopes.joined(separator: " ") + "\n" + key).utf8)).hexEncoded
        let now = clock.now
        if let cached = verdicts.withLock({ $0[cacheKey] }), cached.until > now { return cached.verdict }
        let verification = try await client.verify(key, scopes: scopes)
        let verdict: Result<TronchIdentity, Refusal>
        if verification.valid, let id = verification.keyId {
            verdict = .success(
                TronchIdentity(
                    kind: .key,
                    id: id,
                    ownerID: verification.ownerId,
                    scopes: verification.scopes ?? [],
                    environment: verification.environment
                )
            )
        } else {
            let status =
                switch verification.code {
                case "INSUFFICIENT_SCOPES", "FORBIDDEN": 403
                case "RATE_LIMITED", "USAGE_EXCEEDED": 429
                default: 401
                }
            let wait = verification.ratelimits?.filter { $0.remaining == 0 }.map(\.resetSeconds).max()
            verdict = .failure(Refusal(status: status, code: verification.code, retryAfter: status == 429 ? wait : nil))
        }
        // A verdict that spent a rate limit or credits is never reused: the next request must be counted too.
        let spends =
            !(verification.ratelimits ?? []).isEmpty || verification.remaining != nil
            || ["RATE_LIMITED", "USAGE_EXCEEDED"].contains(verification.code)
        if !spends {
            verdicts.withLock { verdicts in
                if verdicts.count >= Self.maxCachedVerdicts { verdicts = verdicts.filter { $0.value.until > now } }
                if verdicts.count >= Self.maxCachedVerdicts { verdicts.removeAll() }
                verdicts[cacheKey] = (now + keyCacheTTL, verdict)
            }
        }
        return verdict
    }

    // MARK: Access tokens

    struct AccessClaims: JWTPayload {
        var iss: String
        var sub: String
        var aud: String
        var exp: Int64
        var nbf: Int64
        var sid: String
        var role: String
        var scope: String

        /// Checked by ``TronchAuthenticator`` itself, with its leeway.
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    func authenticate(token: String, scopes: [String]) async -> Result<TronchIdentity, Refusal> {
        let refused = Refusal(status: 401, code: "TOKEN_INVALID")
        // RFC 8725: the header is read only to find the key; its algorithm must be the key's own (JWTKit checks).
        guard let header = Self.header(of: token), header.typ?.lowercased() == "at+jwt" || header.typ?.lowercased() == "application/at+jwt",
            let kid = header.kid, let alg = header.alg, ["ES256", "RS256"].contains(alg)
        else { return .failure(refused) }
        if !signingKeys.withLock({ $0.kids.contains(kid) }) { await refreshSigningKeys() }
        let keys = signingKeys.withLock { $0.keys }
        guard let claims = try? await keys.verify(token, as: AccessClaims.self) else { return .failure(refused) }
        let now = Int64(Date().timeIntervalSince1970)
        guard claims.iss == issuer, claims.aud == audience, now < claims.exp + Self.leeway, claims.nbf <= now + Self.leeway else {
            return .failure(refused)
        }
        let granted = claims.scope.split(separator: " ").map(String.init)
        if !Scope.uncovered(scopes, by: granted).isEmpty { return .failure(Refusal(status: 403, code: "INSUFFICIENT_SCOPES")) }
        return .success(TronchIdentity(kind: .user, id: claims.sub, scopes: granted, role: claims.role, sessionID: claims.sid))
    }

    /// Fetches the JWKS again, at most once a second (a token with an unknown `kid` cannot make it hammer Tronch).
    func refreshSigningKeys() async {
        let due = signingKeys.withLock { state in
            guard state.fetched.map({ clock.now - $0 > .seconds(1) }) ?? true else { return false }
            state.fetched = clock.now
            return true
        }
        guard due, let body = try? await client.jwks() else { return }
        struct Set: Decodable {
            struct Key: Decodable { var kid: String }
            var keys: [Key]
        }
        let collection = JWTKeyCollection()
        guard (try? await collection.add(jwksJSON: String(decoding: body, as: UTF8.self))) != nil,
            let kids = try? JSONDecoder().decode(Set.self, from: Data(body)).keys.map(\.kid)
        else { return }
        signingKeys.withLock { $0 = (collection, Swift.Set(kids), $0.fetched) }
    }

    struct Header: Decodable {
        var typ: String?
        var kid: String?
        var alg: String?
    }

    static func header(of token: String) -> Header? {
        guard let first = token.split(separator: ".").first else { return nil }
        var base64 = first.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64) else { return nil }
        return try? JSONDecoder().decode(Header.self, from: data)
    }
}
