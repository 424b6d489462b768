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
        for user: UserRecord, amr: [String], origin: RequestOrigin, audit: @Sendable (SessionRecord) -> [AuditEvent]
    ) async throws -> TokenPair {
        let now = clock.now
        let session = SessionRecord(
            id: UUIDv7.make(at: now), userID: user.id, createdAt: now,
            expiresAt: now.addingTimeInterval(Self.seconds(settings.refreshTokenTTL)), ip: origin.clientIP,
            userAgent: origin.userAgent, amr: amr
        )
        let refresh = RefreshTokenFormat.generate(prefix: refreshPrefix)
        let record = RefreshTokenRecord(digest: hasher.digest(refresh), sessionID: session.id, createdAt: now, expiresAt: session.expiresAt)
        try await store.insertSession(session, refreshToken: record, audit: audit(session))
        let access = try await issue(for: UserIdentity(id: user.id, role: user.role), session: session)
        return TokenPair(accessToken: access.token, expiresIn: access.expiresIn, refreshToken: refresh, sessionID: session.id)
    }
}
