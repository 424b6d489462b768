package import Logging
import ServiceLifecycle
package import TronchCore
package import TronchRedis

/// Tells the other nodes that a key changed, so they drop it from their caches.
package protocol CacheInvalidationBroadcast: Sendable {
    /// Must not wait: it is called on the request path right after the write committed.
    func invalidate(_ digest: KeyDigest)
}

/// Cache invalidation over Redis pub/sub: every write publishes the key's digest on one channel, every node
/// subscribes and forgets that digest. A node whose subscription dropped clears its whole cache when it is
/// back, since it may have missed messages; the cache TTL bounds staleness if Redis is down altogether.
package final class RedisCacheInvalidation: CacheInvalidationBroadcast, Service {
    package static let channel = "tronch:keys:invalidate"

    private let client: RedisClient
    private let subscriber: RedisSubscriber
    private let outbox: AsyncStream<KeyDigest>
    private let continuation: AsyncStream<KeyDigest>.Continuation
    private let logger: Logger
    private let throttle = LogThrottle()

    package init(client: RedisClient, cache: KeyCache, logger: Logger) {
        self.client = client
        self.logger = logger
        (outbox, continuation) = AsyncStream.makeStream(of: KeyDigest.self, bufferingPolicy: .bufferingNewest(10_000))
        subscriber = RedisSubscriber(
            configuration: client.configuration,
            channels: [Self.channel],
            logger: logger,
            onReconnect: { cache.removeAll() },
            onMessage: { _, message in
                if let digest = KeyDigest(hex: message) { cache.invalidate(digest) }
            }
        )
    }

    package func invalidate(_ digest: KeyDigest) {
        continuation.yield(digest)
    }

    /// Runs the subscription and publishes queued invalidations, until graceful shutdown.
    package func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await self.subscriber.run() }
            for await digest in outbox.cancelOnGracefulShutdown() {
                do {
                    try await client.publish(digest.hex, to: Self.channel)
                } catch {
                    throttle.log(
                        .warning,
                        "cannot publish a cache invalidation; other nodes will see the change within the cache TTL",
                        topic: "publish",
                        metadata: ["error": "\(error)"],
                        logger: logger
                    )
                }
            }
            group.cancelAll()
        }
    }
}
