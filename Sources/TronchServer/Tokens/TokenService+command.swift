import Foundation
package import Logging
import TronchCore
import TronchRedis
package import TronchStorage

extension TokenService {
    /// A token service on `store` for a command run beside the servers (`tronch tokens …`): same pepper and
    /// secrets key as `serve` reads, no Redis (the command publishes its change itself).
    package static func forCommand(settings: Settings, store: any Store, logger: Logger) async throws -> TokenService {
        let pepper = try await loadPepper(settings, store: store, logger: logger)
        let secrets = try await SecretsKey.load(settings, pepper: pepper, store: store, logger: logger)
        try await SecretsKey.check(secrets, store: store, configured: settings.accounts.secretsKey != nil)
        return TokenService(
            store: store,
            settings: settings.accounts,
            secrets: secrets,
            clock: .system,
            hasher: KeyHasher(pepper: pepper),
            refreshPrefix: settings.keyPrefix.prefix,
            logger: logger
        )
    }

    /// Tells running nodes that the signing keys changed (when Redis is configured; otherwise they notice
    /// within a few seconds on their own). Waits at most `timeout` for Redis.
    package static func announceKeysChanged(settings: Settings, logger: Logger, timeout: Duration = .seconds(3)) async -> Bool {
        guard let url = settings.redisURL, let configuration = try? RedisConfiguration(url: url, commandTimeout: settings.redisTimeout)
        else { return false }
        let client = RedisClient(configuration: configuration, logger: logger)
        return await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                try? await client.run()
                return false
            }
            group.addTask {
                let deadline = ContinuousClock.now + timeout
                while !client.isConnected && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
                return (try? await client.publish("keys", to: RedisTokenEvents.channel)) != nil
            }
            let published = await group.first { _ in true } ?? false
            group.cancelAll()
            return published
        }
    }
}
