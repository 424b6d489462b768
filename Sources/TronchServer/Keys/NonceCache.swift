package import Foundation
package import Logging
import Metrics
import Synchronization
package import TronchRedis

/// The nonces of signed requests seen recently, so that a signed request is accepted once.
///
/// A nonce is remembered per key until its signature could no longer pass the time window; only nonces of
/// signatures that verified are stored (a forger cannot fill the cache without the signing secret).
package protocol NonceCache: Sendable {
    /// True the first time `nonce` is presented for `keyID` (it is remembered until `until`); false for a replay.
    func claim(keyID: UUID, nonce: String, until: Date, now: Date) async -> Bool
}

/// One node's memory of nonces: enough on a single node, and the fallback when Redis does not answer.
package final class LocalNonceCache: NonceCache {
    private let seen = Mutex<[String: Date]>([:])
    /// Past this many remembered nonces, the expired ones are dropped before another is added.
    private let pruneAbove: Int

    package init(pruneAbove: Int = 100_000) {
        self.pruneAbove = pruneAbove
    }

    package func claim(keyID: UUID, nonce: String, until: Date, now: Date) async -> Bool {
        let name = keyID.uuidString + " " + nonce
        return seen.withLock { seen in
            if let expiry = seen[name], expiry > now { return false }
            if seen.count >= pruneAbove { seen = seen.filter { $0.value > now } }
            seen[name] = until
            return true
        }
    }

    package var count: Int { seen.withLock { $0.count } }
}

/// Nonces in Redis (`SET … NX PX`), so a replay is refused whichever node it reaches; when Redis does not
/// answer, this node's memory decides (a replay to another node in that time is not caught) and the fallback
/// is counted in `tronch_signature_nonce_fallbacks_total`.
package struct RedisNonceCache: NonceCache {
    let redis: RedisClient
    let fallback: LocalNonceCache
    let logger: Logger
    private let fallbacks = Counter(label: "tronch_signature_nonce_fallbacks_total")

    package init(redis: RedisClient, fallback: LocalNonceCache = LocalNonceCache(), logger: Logger) {
        self.redis = redis
        self.fallback = fallback
        self.logger = logger
    }

    package func claim(keyID: UUID, nonce: String, until: Date, now: Date) async -> Bool {
        let milliseconds = max(1, Int64((until.timeIntervalSince(now) * 1000).rounded(.up)))
        do {
            let answer = try await redis.send([
                "SET", .string("tronch:nonce:\(keyID.uuidString.lowercased()):\(nonce)"), "1", "NX", "PX", .string(String(milliseconds)),
            ])
            switch answer {
            case .simpleString("OK"): return true
            case .bulkString(nil), .array(nil): return false
            default: throw RedisUnexpectedAnswer(answer: answer)
            }
        } catch {
            fallbacks.increment()
            logger.warning("Redis did not answer a nonce check; this node's memory decides", metadata: ["error": "\(error)"])
            return await fallback.claim(keyID: keyID, nonce: nonce, until: until, now: now)
        }
    }

    private struct RedisUnexpectedAnswer: Error, CustomStringConvertible {
        var answer: RESPValue
        var description: String { "unexpected answer to SET NX: \(answer)" }
    }
}
