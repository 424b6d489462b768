package import Foundation
import JWTKit
package import Logging
import Synchronization
package import TronchCore
package import TronchStorage

/// The claims of Tronch's access tokens (DESIGN.md, RFC 9068): NumericDates as integers, `groups` always
/// present, `scope` space-separated.
struct AccessTokenClaims: JWTPayload, Equatable {
    var iss: String
    var sub: String
    var aud: String
    var exp: Int64
    var iat: Int64
    var nbf: Int64
    var jti: String
    var sid: String
    var role: String
    var groups: [String]
    var scope: String
    var amr: [String]

    /// Tronch checks every claim itself (``TokenService/validate(_:)``), after the signature.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Why an access token was refused (for the audit log and the `detail`; the client sees `TOKEN_INVALID`).
package enum TokenRefusal: String, Error, Sendable {
    case malformed, algorithm, type
    case unknownKey = "unknown_key"
    case signature, issuer, audience, expired
    case notYetValid = "not_yet_valid"
    case revoked, claims
}

/// Access tokens: signing, validation (RFC 8725 / RFC 9068), the signing-key set and its JWKS, and the
/// denylist of ended sessions and revoked tokens.
///
/// Validation of a token already seen is a dictionary lookup (the signature and claims of a token never
/// change) plus the denylist check, which is never cached: a revocation applies to the very next request.
package final class TokenService: Sendable {
    package let store: any TokenStore & UserStore & AuditStore
    let settings: AccountSettings
    let secrets: SecretBox
    package let clock: WallClock
    let hasher: KeyHasher
    /// During a pepper rotation: refresh tokens issued before it are stored under the previous pepper.
    let previousHasher: KeyHasher?
    let refreshPrefix: String
    package let logger: Logger
    let keys = SigningKeys()
    /// Tells the other nodes (nil on a single node, or without Redis: they reload every few seconds).
    let events: RedisTokenEvents?
    /// Where the `groups` claim comes from (nil: always `[]`).
    let groups: AuthzDirectory?
    /// Denied session ids and token ids (`sid:<id>`, `jti:<id>`), until when.
    private let denied = Mutex<[String: Date]>([:])
    /// Tokens whose signature and claims checked out, until their expiry: the principal they stand for.
    private let verified = Mutex<[String: (principal: Principal, exp: Int64, sid: String, jti: String)]>([:])
    static let maxVerified = 100_000
    /// When a token named a kid this node did not know, the keys were reloaded at most this often: another node
    /// may have rotated a moment ago, and without Redis this node would otherwise wait for its next reload.
    private let lastUnknownKidReload = Mutex<ContinuousClock.Instant?>(nil)
    /// Leeway on `exp` and `nbf` for clocks a little apart (RFC 7519 §4.1.4).
    static let leeway: Int64 = 30

    package init(
        store: any TokenStore & UserStore & AuditStore,
        settings: AccountSettings,
        secrets: SecretBox,
        clock: WallClock,
        hasher: KeyHasher,
        refreshPrefix: String,
        logger: Logger,
        events: RedisTokenEvents? = nil,
        groups: AuthzDirectory? = nil,
        previousHasher: KeyHasher? = nil
    ) {
        self.previousHasher = previousHasher
        self.groups = groups
        self.store = store
        self.settings = settings
        self.secrets = secrets
        self.clock = clock
        self.hasher = hasher
        self.refreshPrefix = refreshPrefix
        self.logger = logger
        self.events = events
    }

    // MARK: Signing keys

    /// At start-up: makes the first signing key when the database has none (one node wins), then loads them.
    package func prepare() async throws {
        if try await store.signingKeys().allSatisfy({ $0.state != .active }) {
            let now = clock.now
            let key = try SigningKeys.generate(settings.algorithm, state: .active, secrets: secrets, now: now)
            let audit = AuditEvent(
                time: now,
                actor: .system,
                action: AuditAction.signingKeyCreated,
                targetType: "signing_key",
                targetID: key.kid,
                details: ["algorithm": .string(key.algorithm.rawValue)]
            )
            if try await store.insertFirstSigningKey(key, audit: [audit]) {
                logger.notice("created the first token signing key", metadata: ["kid": "\(key.kid)", "algorithm": "\(key.algorithm.rawValue)"])
            }
        }
        try await reload()
    }

    /// Reads the signing keys and the denylist again (another node may have rotated or revoked).
    package func reload() async throws {
        try await keys.reload(secrets: secrets) { try await store.signingKeys() }
        let entries = try await store.denylist(activeAt: clock.now)
        denied.withLock { denied in
            for entry in entries {
                denied["\(entry.kind.rawValue):\(entry.value)"] = max(
                    denied["\(entry.kind.rawValue):\(entry.value)"] ?? entry.expiresAt,
                    entry.expiresAt
                )
            }
        }
    }

    /// A new active signing key; the previous one verifies until every token it signed has expired.
    package func rotateSigningKey(actor: AuditActor) async throws -> SigningKeyRecord {
        let now = clock.now
        let key = try SigningKeys.generate(settings.algorithm, state: .active, secrets: secrets, now: now)
        let previous = keys.current.active?.kid
        try await store.rotateSigningKey(
            to: key,
            now: now,
            audit: [
                AuditEvent(
                    time: now,
                    actor: actor,
                    action: AuditAction.signingKeyRotated,
                    targetType: "signing_key",
                    targetID: key.kid,
                    details: ["algorithm": .string(key.algorithm.rawValue), "previous": previous.map(JSONValue.string) ?? .null]
                )
            ]
        )
        try await reload()
        events?.publishKeysChanged()
        return key
    }

    /// Retires passive keys whose tokens have all expired (deactivated more than the access-token lifetime ago).
    package func retireExpiredKeys() async throws {
        let now = clock.now
        let retired = try await store.retireSigningKeys(
            deactivatedBefore: now.addingTimeInterval(-Self.seconds(settings.accessTokenTTL) - TimeInterval(Self.leeway)),
            now: now
        ) { key in
            AuditEvent(time: now, actor: .system, action: AuditAction.signingKeyRetired, targetType: "signing_key", targetID: key.kid)
        }
        if !retired.isEmpty { try await reload() }
    }

    /// `GET /.well-known/jwks.json`.
    package var jwks: String { keys.current.jwks }

    // MARK: Issuing

    package struct Issued: Sendable {
        package var token: String
        package var jti: String
        package var expiresIn: Int64
    }

    /// Signs an access token for `user` in `session`.
    package func issue(for user: UserIdentity, session: SessionRecord) async throws -> Issued {
        let groups = self.groups?.groupIDs(ofUser: user.id) ?? []
        guard let active = keys.current.active else { throw StorageError.unavailable("no signing key is loaded yet") }
        let now = Int64(clock.now.timeIntervalSince1970.rounded(.down))
        let ttl = Int64(Self.seconds(settings.accessTokenTTL))
        let jti = UUIDv7.make(at: clock.now).lowercased
        let claims = AccessTokenClaims(
            iss: settings.issuer,
            sub: user.id.lowercased,
            aud: settings.audience,
            exp: now + ttl,
            iat: now,
            nbf: now,
            jti: jti,
            sid: session.id.lowercased,
            role: user.role.rawValue,
            groups: groups,
            scope: user.role.tokenScopes.joined(separator: " "),
            amr: session.amr
        )
        var header = JWTHeader()
        header.typ = "at+jwt"
        header.alg = active.algorithm.rawValue
        let token = try await active.signer.sign(claims, kid: JWKIdentifier(string: active.kid), header: header)
        return Issued(token: token, jti: jti, expiresIn: ttl)
    }

    // MARK: Validating

    /// Whether `token` has the shape of a JWT (three base64url parts), so the authentication middleware can
    /// tell it from an API key without trying both.
    package static func looksLikeJWT(_ token: String) -> Bool {
        var dots = 0
        for byte in token.utf8 {
            if byte == UInt8(ascii: ".") { dots += 1 } else if !Self.isBase64URL(byte) { return false }
        }
        return dots == 2
    }

    private static func isBase64URL(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }

    /// The principal an access token stands for, or why it is refused. Checks, in order: shape, header
    /// (`alg` on the allow-list and equal to the key's own algorithm, never `none` or HS*; `typ` `at+jwt`;
    /// a known `kid`), signature, `iss`, `aud`, `exp` and `nbf` with 30 s leeway, and the denylist.
    package func validate(_ token: String) async -> Result<Principal, TokenRefusal> {
        let now = Int64(clock.now.timeIntervalSince1970.rounded(.down))
        if let cached = verified.withLock({ $0[token] }) {
            guard now < cached.exp + Self.leeway else { return .failure(.expired) }
            if isDenied(sid: cached.sid, jti: cached.jti) { return .failure(.revoked) }
            return .success(cached.principal)
        }
        let result = await check(token, now: now)
        if case .success(let (principal, claims)) = result {
            verified.withLock { entries in
                if entries.count >= Self.maxVerified {
                    entries = entries.filter { now < $0.value.exp + Self.leeway }
                    if entries.count >= Self.maxVerified { entries.removeAll(keepingCapacity: true) }
                }
                entries[token] = (principal, claims.exp, claims.sid, claims.jti)
            }
        }
        return result.map(\.0)
    }

    private func check(_ token: String, now: Int64) async -> Result<(Principal, AccessTokenClaims), TokenRefusal> {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(String(parts[0])),
            case .object(let header)? = try? JSONParser.parse(headerBytes)
        else { return .failure(.malformed) }
        let typ = header["typ"]?.string?.lowercased()
        // RFC 8725 §3.1: the algorithm comes from the key, never from the token; `none` and HS* never pass.
        guard let alg = header["alg"]?.string, ["ES256", "RS256"].contains(alg) else { return .failure(.algorithm) }
        guard typ == "at+jwt" || typ == "application/at+jwt" else {
            return .failure(.type)
        }
        guard let kid = header["kid"]?.string else { return .failure(.unknownKey) }
        if keys.current.verifiers[kid] == nil {
            let due = lastUnknownKidReload.withLock { last in
                let now = ContinuousClock.now
                guard last.map({ now - $0 > .seconds(1) }) ?? true else { return false }
                last = now
                return true
            }
            if due { try? await reload() }
        }
        guard let verifier = keys.current.verifiers[kid] else { return .failure(.unknownKey) }
        guard verifier.algorithm.rawValue == alg else { return .failure(.algorithm) }
        let claims: AccessTokenClaims
        do {
            claims = try await verifier.keys.verify(token, as: AccessTokenClaims.self)
        } catch {
            return .failure(error is DecodingError ? .claims : .signature)
        }
        guard claims.iss == settings.issuer else { return .failure(.issuer) }
        guard claims.aud == settings.audience else { return .failure(.audience) }
        guard now < claims.exp + Self.leeway else { return .failure(.expired) }
        guard claims.nbf <= now + Self.leeway else { return .failure(.notYetValid) }
        guard let userID = UUID(uuidString: claims.sub), let sessionID = UUID(uuidString: claims.sid),
            let role = Role(rawValue: claims.role)
        else { return .failure(.claims) }
        if isDenied(sid: claims.sid, jti: claims.jti) { return .failure(.revoked) }
        var principal = Principal(
            keyID: nil,
            scopes: claims.scope.split(separator: " ").map(String.init),
            user: UserIdentity(id: userID, role: role),
            sessionID: sessionID
        )
        principal.amr = claims.amr
        return .success((principal, claims))
    }

    // MARK: Denylist

    private func isDenied(sid: String, jti: String) -> Bool {
        denied.withLock { denied in
            guard !denied.isEmpty else { return false }
            return denied["sid:" + sid] != nil || denied["jti:" + jti] != nil
        }
    }

    /// Denies on this node at once (what another node published; the store holds the entries for all).
    package func deny(_ entries: [DenylistEntry]) {
        guard !entries.isEmpty else { return }
        denied.withLock { denied in
            for entry in entries { denied["\(entry.kind.rawValue):\(entry.value)"] = entry.expiresAt }
        }
    }

    /// Denies here at once and tells the other nodes (after the store has the entries).
    package func denyEverywhere(_ entries: [DenylistEntry]) {
        guard !entries.isEmpty else { return }
        deny(entries)
        events?.publish(denied: entries)
    }

    /// Drops denylist entries that have expired (every token they covered has too).
    package func pruneDenied() {
        let now = clock.now
        denied.withLock { $0 = $0.filter { $0.value > now } }
    }

    /// Until when an ended session's tokens must stay denied: the longest an access token issued now lives.
    package var denyUntil: Date { clock.now.addingTimeInterval(Self.seconds(settings.accessTokenTTL) + TimeInterval(Self.leeway)) }

    static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
