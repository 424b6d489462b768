package import Foundation

/// Answers kept for `Idempotency-Key` replays, per caller. Every backend passes the same conformance suite;
/// each method is one transaction, so two nodes racing for one key see one winner.
package protocol IdempotencyStore: Sendable {
    /// Claims `key` of `caller` for a request with `fingerprint`: a new key (or one whose answer has expired)
    /// is taken, and so is one whose request stopped without an answer (its lease ran out: the node died).
    func claimIdempotencyKey(_ claim: IdempotencyClaim) async throws -> IdempotencyClaim.Outcome
    /// Keeps the answer of a claimed key (sealed: it may hold a secret) until the claim's expiry.
    func completeIdempotencyKey(caller: String, key: String, status: Int, sealedAnswer: String) async throws
    /// Gives up a claimed key without an answer (the request failed and changed nothing): it can be used again.
    func releaseIdempotencyKey(caller: String, key: String) async throws
    /// Deletes keys whose answers expired before `now`; returns how many. (Kept answers are re-sealed with
    /// the other secrets by ``MFAStore/replaceSealedSecrets(_:setting:audit:)``.)
    func pruneIdempotencyKeys(now: Date) async throws -> Int
}

/// A request's claim on an idempotency key.
package struct IdempotencyClaim: Sendable, Equatable {
    package enum Outcome: Sendable, Equatable {
        /// The request is the key's: run it, then complete or release the key.
        case claimed
        /// Another request with the key is running.
        case inProgress
        /// The key was used for another request (another method, path or body).
        case mismatch
        /// The key's request ran: its answer, to replay.
        case completed(status: Int, sealedAnswer: String)
    }

    /// Who sent it: `key:<id>` or `user:<id>`.
    package var caller: String
    package var key: String
    /// SHA-256 of the method, the path with its query, and the body.
    package var fingerprint: String
    package var now: Date
    /// How long the answer is kept (24 hours after the claim).
    package var expiresAt: Date
    /// Until when a running request holds the key; after it, a retry may take over.
    package var leaseUntil: Date

    package init(caller: String, key: String, fingerprint: String, now: Date, expiresAt: Date, leaseUntil: Date) {
        self.caller = caller
        self.key = key
        self.fingerprint = fingerprint
        self.now = now
        self.expiresAt = expiresAt
        self.leaseUntil = leaseUntil
    }
}
