import Logging
import ServiceLifecycle
import TronchCore
import TronchStorage

/// Keeps this node's view of the tokens current: every few seconds it reloads the signing keys (another node
/// may have rotated) and the denylist (another node may have ended a session), retires signing keys whose
/// tokens have all expired, and now and then deletes what can no longer matter (expired denylist entries,
/// refresh tokens, long-ended sessions).
struct TokenMaintenance: Service {
    let tokens: TokenService
    let logger: Logger
    var interval: Duration = .seconds(5)
    /// Ended sessions stay listed in the store this long (for "why was I logged out").
    var keepEnded: Double = 7 * 86_400
    /// Expired second-step challenges (`mfa_token`s nobody finished), deleted with the rest.
    var challenges: (any MFAStore)?

    func run() async throws {
        var rounds = 0
        await Periodic.run(every: interval, logger: logger, failure: "cannot refresh signing keys and the token denylist") {
            try await tokens.reload()
            tokens.pruneDenied()
            try await tokens.retireExpiredKeys()
            rounds += 1
            if rounds % 720 == 0 {
                let deleted = try await tokens.store.pruneTokens(now: tokens.clock.now, keepEnded: keepEnded)
                let challenges = try await self.challenges?.pruneChallenges(now: tokens.clock.now) ?? 0
                if deleted + challenges > 0 {
                    logger.info("pruned expired tokens, sessions and challenges", metadata: ["rows": "\(deleted + challenges)"])
                }
            }
        }
    }
}
