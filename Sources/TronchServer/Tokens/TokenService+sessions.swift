package import Foundation
package import TronchCore
import TronchStorage

extension TokenService {
    /// What a login (and a refresh) answers: `{"access_token", "token_type", "expires_in", "refresh_token", "session_id"}`.
    package struct TokenPair: Sendable {
        package var accessToken: String
        package var expiresIn: Int64
        package var refreshToken: String
        package var sessionID: UUID
    }

    /// A new session for `user` after a successful login, with its first refresh token and access token.
    package func startSession(
        for user: UserRecord,
        amr: [String],
        origin: RequestOrigin,
        expiresAt: Date? = nil,
        audit: @Sendable (SessionRecord) -> [AuditEvent]
    ) async throws -> TokenPair {
        let now = clock.now
        let session = SessionRecord(
            id: UUIDv7.make(at: now),
            userID: user.id,
            createdAt: now,
            expiresAt: expiresAt ?? now.addingTimeInterval(Self.seconds(settings.refreshTokenTTL)),
            ip: origin.clientIP,
            userAgent: origin.userAgent,
            amr: amr
        )
        let refresh = RefreshTokenFormat.generate(prefix: refreshPrefix)
        let record = RefreshTokenRecord(digest: hasher.digest(refresh), sessionID: session.id, createdAt: now, expiresAt: session.expiresAt)
        try await store.insertSession(session, refreshToken: record, audit: audit(session))
        let access = try await issue(for: UserIdentity(id: user.id, role: user.role), session: session)
        return TokenPair(accessToken: access.token, expiresIn: access.expiresIn, refreshToken: refresh, sessionID: session.id)
    }
}

extension TokenService {
    // MARK: Refresh

    /// A refresh token's stored digest: the current pepper's, or during a pepper rotation the previous one's
    /// when only that is stored (a token issued before the rotation; its successor is under the new pepper).
    func refreshDigest(_ token: String) async throws -> KeyDigest {
        let digest = hasher.digest(token)
        guard let previousHasher, try await store.refreshToken(digest: digest) == nil else { return digest }
        let previous = previousHasher.digest(token)
        return try await store.refreshToken(digest: previous) == nil ? digest : previous
    }

    /// `POST /api/v1/auth/refresh`: rotation with reuse detection (RFC 9700 §4.14.2). The presented token dies
    /// and a new pair is issued; a token presented again ends its session, and with it every token of the
    /// family and the session's access tokens (its id on the denylist).
    package func refresh(_ token: String, origin: RequestOrigin) async throws -> TokenPair {
        let now = clock.now
        let next = RefreshTokenFormat.generate(prefix: refreshPrefix)
        let nextDigest = hasher.digest(next)
        let idle = Self.seconds(settings.sessionIdleTimeout)
        let checkAnomaly = settings.sessionAnomaly == .revoke
        let outcome = try await store.exchangeRefreshToken(
            digest: try await refreshDigest(token),
            now: now,
            denyUntil: denyUntil,
            decide: { stored, session in
                RefreshDecision.decide(
                    token: stored,
                    session: session,
                    now: now,
                    idleTimeout: idle,
                    checkAnomaly: checkAnomaly,
                    ip: origin.clientIP,
                    userAgent: origin.userAgent
                ) {
                    RefreshTokenRecord(digest: nextDigest, sessionID: session!.id, createdAt: now, expiresAt: session!.expiresAt)
                }
            },
            audit: { outcome in Self.refreshAudit(outcome, origin: origin, now: now) }
        )
        switch outcome.decision {
        case .rotate:
            guard let session = outcome.session, let user = try await store.user(id: session.userID), user.status == .active else {
                throw APIError.unauthorized(.sessionRevoked, "the session's user is gone or disabled", invalidToken: true)
            }
            let access = try await issue(for: UserIdentity(id: user.id, role: user.role), session: session)
            return TokenPair(accessToken: access.token, expiresIn: access.expiresIn, refreshToken: next, sessionID: session.id)
        case .reused(let session):
            denyEverywhere([DenylistEntry(kind: .sid, value: session.id.lowercased, expiresAt: denyUntil)])
            throw APIError.unauthorized(
                .refreshTokenReused,
                "this refresh token was already used: it may have been stolen, so its session has ended; log in again",
                invalidToken: true
            )
        case .anomaly(let session):
            denyEverywhere([DenylistEntry(kind: .sid, value: session.id.lowercased, expiresAt: denyUntil)])
            throw APIError.unauthorized(
                .sessionRevoked,
                "the session was used from another address and client at once and has ended; log in again",
                invalidToken: true
            )
        case .sessionEnded:
            throw APIError.unauthorized(.sessionRevoked, "the session of this refresh token has ended; log in again", invalidToken: true)
        case .invalid:
            throw APIError.unauthorized(.tokenInvalid, "the refresh token is unknown or expired", invalidToken: true)
        }
    }

    static func refreshAudit(_ outcome: RefreshOutcome, origin: RequestOrigin, now: Date) -> [AuditEvent] {
        switch outcome.decision {
        case .reused(let session):
            [
                AuditEvent(
                    time: now,
                    actor: .user(session.userID),
                    action: AuditAction.refreshReuse,
                    targetType: "session",
                    targetID: session.id.lowercased,
                    outcome: .failure,
                    origin: origin
                )
            ]
        case .anomaly(let session):
            [
                AuditEvent(
                    time: now,
                    actor: .user(session.userID),
                    action: AuditAction.sessionAnomaly,
                    targetType: "session",
                    targetID: session.id.lowercased,
                    outcome: .failure,
                    origin: origin,
                    details: ["login_ip": session.ip.map(JSONValue.string) ?? .null]
                )
            ]
        case .rotate, .sessionEnded, .invalid:
            []
        }
    }

    // MARK: Ending sessions

    /// Ends sessions (logout, a user's "sign out", an administrator's revocation) and denies their tokens here
    /// at once; returns the sessions that were live.
    package func endSessions(
        _ ids: [UUID],
        reason: String,
        action: String,
        actor: AuditActor,
        origin: RequestOrigin
    ) async throws
        -> [SessionRecord]
    {
        let now = clock.now
        let until = denyUntil
        let ended = try await store.endSessions(
            ids: ids,
            userID: nil,
            except: nil,
            reason: reason,
            now: now,
            denyUntil: until,
            audit: { sessions in
                sessions.map {
                    AuditEvent(
                        time: now,
                        actor: actor,
                        action: action,
                        targetType: "session",
                        targetID: $0.id.lowercased,
                        origin: origin,
                        details: ["reason": .string(reason)]
                    )
                }
            }
        )
        denyEverywhere(ended.map { DenylistEntry(kind: .sid, value: $0.id.lowercased, expiresAt: until) })
        return ended
    }

    // MARK: Revocation and introspection

    /// RFC 7009: revokes an access token (its `jti` denied until it expires) or a refresh token (its whole
    /// session ends). Anything else — unknown, expired, malformed — is not an error: there is nothing to do.
    package func revoke(_ token: String, origin: RequestOrigin) async throws {
        if Self.looksLikeJWT(token) {
            guard case .success(let principal) = await validate(token), let claims = Self.claims(of: token),
                let jti = claims["jti"]?.string, let exp = claims["exp"]?.int
            else { return }
            let until = Date(timeIntervalSince1970: TimeInterval(exp + Self.leeway))
            let entry = DenylistEntry(kind: .jti, value: jti, expiresAt: until)
            try await store.deny(
                [entry],
                audit: [
                    AuditEvent(
                        time: clock.now,
                        actor: principal.auditActor,
                        action: AuditAction.tokenRevoked,
                        targetType: "access_token",
                        targetID: jti,
                        origin: origin
                    )
                ]
            )
            denyEverywhere([entry])
        } else if let (_, session) = try await store.refreshToken(digest: try await refreshDigest(token)) {
            _ = try await endSessions(
                [session.id],
                reason: "revoked",
                action: AuditAction.tokenRevoked,
                actor: .user(session.userID),
                origin: origin
            )
        }
    }

    /// RFC 7662: what a token is, for a resource server; `{"active": false}` for anything not active.
    package func introspect(_ token: String) async throws -> JSONValue {
        let inactive: JSONValue = ["active": false]
        if Self.looksLikeJWT(token) {
            guard case .success = await validate(token), var claims = Self.claims(of: token)?.objectValue else { return inactive }
            claims["active"] = true
            claims["token_type"] = "access_token"
            for name in ["nbf", "role", "groups", "amr"] { claims[name] = nil }
            return .object(claims)
        }
        guard let (stored, session) = try await store.refreshToken(digest: try await refreshDigest(token)) else { return inactive }
        let now = clock.now
        guard stored.usedAt == nil, stored.expiresAt > now, session.isLive(at: now, idleTimeout: Self.seconds(settings.sessionIdleTimeout)),
            let user = try await store.user(id: session.userID), user.status == .active
        else { return inactive }
        return [
            "active": true, "token_type": "refresh_token", "sub": .string(user.id.lowercased),
            "scope": .string(user.role.tokenScopes.joined(separator: " ")), "iss": .string(settings.issuer),
            "aud": .string(settings.audience), "sid": .string(session.id.lowercased),
            "iat": .int(Int64(stored.createdAt.timeIntervalSince1970)), "exp": .int(Int64(stored.expiresAt.timeIntervalSince1970)),
        ]
    }

    /// The payload of a JWT whose signature has been checked.
    static func claims(of token: String) -> JSONValue? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let bytes = Base64URL.decode(String(parts[1])) else { return nil }
        return try? JSONParser.parse(bytes)
    }
}

extension JSONValue {
    var objectValue: [String: JSONValue]? {
        if case .object(let members) = self { return members }
        return nil
    }
}
