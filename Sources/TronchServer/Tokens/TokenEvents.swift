import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TronchCore
import TronchRedis

/// Token changes every node must hear of at once: denylist entries (a session ended, a token revoked),
/// signing-key rotations and changes of groups and ACL entries, published on one Redis channel. A node whose subscription dropped reloads both
/// from the database when it is back; without Redis, ``TokenMaintenance`` reloads them every few seconds.
package final class RedisTokenEvents: Service {
    static let channel = "tronch:tokens"

    private let client: RedisClient
    private let logger: Logger
    private let throttle = LogThrottle()
    private let target = Mutex<TokenService?>(nil)
    private let authz = Mutex<AuthzDirectory?>(nil)
    private let outbox: AsyncStream<String>
    private let outboxContinuation: AsyncStream<String>.Continuation
    /// Reloads asked for by messages (rotations, reconnects), done by `run` off the subscriber's loop.
    private let reloads: AsyncStream<Void>
    private let reloadContinuation: AsyncStream<Void>.Continuation

    init(client: RedisClient, logger: Logger) {
        self.client = client
        self.logger = logger
        (outbox, outboxContinuation) = AsyncStream.makeStream(of: String.self, bufferingPolicy: .bufferingNewest(10_000))
        (reloads, reloadContinuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The token service that applies what other nodes publish (set once, after both exist).
    func deliver(to tokens: TokenService) { target.withLock { $0 = tokens } }

    /// The authorization snapshot that reloads when another node changes groups or entries (and announces this
    /// node's changes).
    func deliver(to directory: AuthzDirectory) {
        authz.withLock { $0 = directory }
        directory.onChange { [weak self] in self?.outboxContinuation.yield("authz") }
    }

    func publish(denied entries: [DenylistEntry]) {
        for entry in entries {
            outboxContinuation.yield("deny \(entry.kind.rawValue) \(entry.value) \(Int64(entry.expiresAt.timeIntervalSince1970.rounded(.up)))")
        }
    }

    func publishKeysChanged() { outboxContinuation.yield("keys") }

    package func run() async throws {
        let reloadContinuation = self.reloadContinuation
        let subscriber = RedisSubscriber(
            configuration: client.configuration,
            channels: [Self.channel],
            logger: logger,
            onReconnect: { reloadContinuation.yield() },
            onMessage: { [weak self] _, message in self?.receive(message) }
        )
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { try await subscriber.run() }
            group.addTask {
                for await _ in self.reloads.cancelOnGracefulShutdown() {
                    do {
                        try await self.target.withLock({ $0 })?.reload()
                    } catch {
                        self.throttle.log(
                            .warning,
                            "cannot reload tokens after a change on another node",
                            topic: "reload",
                            metadata: ["error": "\(error)"],
                            logger: self.logger
                        )
                    }
                }
            }
            for await message in outbox.cancelOnGracefulShutdown() {
                do {
                    try await client.publish(message, to: Self.channel)
                } catch {
                    throttle.log(
                        .warning,
                        "cannot publish a token change; other nodes will see it at their next reload",
                        topic: "publish",
                        metadata: ["error": "\(error)"],
                        logger: logger
                    )
                }
            }
            group.cancelAll()
        }
    }

    private func receive(_ message: String) {
        let parts = message.split(separator: " ")
        if parts.first == "keys" {
            reloadContinuation.yield()
        } else if parts.first == "authz", let directory = authz.withLock({ $0 }) {
            // Our own announcement comes back too: the version check makes that a cheap no-op.
            Task { try? await directory.reloadIfStale() }
        } else if parts.count == 4, parts[0] == "deny", let kind = DenylistEntry.Kind(rawValue: String(parts[1])),
            let seconds = Int64(parts[3])
        {
            let entry = DenylistEntry(kind: kind, value: String(parts[2]), expiresAt: Date(timeIntervalSince1970: TimeInterval(seconds)))
            target.withLock({ $0 })?.deny([entry])
        }
    }
}
