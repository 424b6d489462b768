package import Foundation
package import TronchCore

/// A page of sessions, newest first.
package struct SessionPage: Sendable, Hashable {
    package var sessions: [SessionRecord]
    package var nextCursor: UUID?

    package init(sessions: [SessionRecord], nextCursor: UUID?) {
        self.sessions = sessions
        self.nextCursor = nextCursor
    }
}

/// What an exchange of a refresh token did.
package struct RefreshOutcome: Sendable, Hashable {
    package var decision: RefreshDecision
    /// The session after the exchange (nil when the token was unknown).
    package var session: SessionRecord?

    package init(decision: RefreshDecision, session: SessionRecord?) {
        self.decision = decision
        self.session = session
    }
}

/// Signing keys, sessions, refresh tokens and the access-token denylist. Every backend passes the same
/// conformance suite; each method is one transaction.
package protocol TokenStore: Sendable {
    func signingKeys() async throws -> [SigningKeyRecord]

    /// Stores `key` as the active signing key when there is none; false (nothing stored) when one exists, so
    /// that nodes starting together on an empty database agree on one key.
    func insertFirstSigningKey(_ key: SigningKeyRecord, audit: [AuditEvent]) async throws -> Bool

    /// Rotation: the active key becomes passive (deactivated at `now`) and `key` becomes the active one.
    func rotateSigningKey(to key: SigningKeyRecord, now: Date, audit: [AuditEvent]) async throws

    /// Retires the passive keys deactivated before `cutoff` (every token they signed has expired); returns them.
    func retireSigningKeys(
        deactivatedBefore cutoff: Date,
        now: Date,
        audit: @escaping @Sendable (SigningKeyRecord) -> AuditEvent
    )
        async throws -> [SigningKeyRecord]

    /// A new login: its session and its first refresh token.
    func insertSession(_ session: SessionRecord, refreshToken: RefreshTokenRecord, audit: [AuditEvent]) async throws

    func session(id: UUID) async throws -> SessionRecord?

    /// Sessions not ended and not past their absolute end at `now`, newest first; of one user, or everyone's.
    func sessions(userID: UUID?, liveAt now: Date, limit: Int, after: UUID?) async throws -> SessionPage

    /// The refresh token with this digest and its session (for introspection and revocation).
    func refreshToken(digest: KeyDigest) async throws -> (token: RefreshTokenRecord, session: SessionRecord)?

    /// Exchanges a refresh token in one transaction holding its session: `decide` sees the stored token and
    /// session and says what happens (``RefreshDecision``); rotation marks the token used and stores the
    /// next (a concurrent exchange of the same token turns into reuse); reuse and anomaly end the session and
    /// put its id on the denylist until `denyUntil`. `audit` gives the entries to append for the decision.
    func exchangeRefreshToken(
        digest: KeyDigest,
        now: Date,
        denyUntil: Date,
        decide: @escaping @Sendable (RefreshTokenRecord?, SessionRecord?) -> RefreshDecision,
        audit: @escaping @Sendable (RefreshOutcome) -> [AuditEvent]
    ) async throws -> RefreshOutcome

    /// Ends the given live sessions (or, with `userID`, every live session of that user but `except`), puts their
    /// ids on the denylist until `denyUntil`, and appends what `audit` returns; returns the sessions ended.
    func endSessions(
        ids: [UUID],
        userID: UUID?,
        except: UUID?,
        reason: String,
        now: Date,
        denyUntil: Date,
        audit: @escaping @Sendable ([SessionRecord]) -> [AuditEvent]
    ) async throws -> [SessionRecord]

    /// Adds entries to the denylist.
    func deny(_ entries: [DenylistEntry], audit: [AuditEvent]) async throws

    /// The denylist entries still in force at `now`.
    func denylist(activeAt now: Date) async throws -> [DenylistEntry]

    /// Deletes what can no longer matter at `now`: denylist entries past their end, refresh tokens past their
    /// expiry, sessions that ended (or reached their end) more than `keepEnded` ago. Returns rows deleted.
    func pruneTokens(now: Date, keepEnded: TimeInterval) async throws -> Int
}
