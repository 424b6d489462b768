package import Logging
package import TronchRedis

extension RedisClient {
    /// Runs `body` with a connected client whose service runs for the duration.
    package static func withConnected<T: Sendable>(
        _ url: String,
        commandTimeout: Duration? = nil,
        logger: Logger = Logger(label: "redis-test"),
        _ body: @Sendable (RedisClient) async throws -> T
    ) async throws -> T {
        var configuration = try RedisConfiguration(url: url)
        // Generous by default: a loaded test machine must not turn into timeouts.
        configuration.commandTimeout = commandTimeout ?? .seconds(5)
        let client = RedisClient(configuration: configuration, logger: logger)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await client.run() }
            defer { group.cancelAll() }
            try await client.waitUntilConnected()
            return try await body(client)
        }
    }

    /// Waits for the connection to open, or throws `RedisError.notConnected`: generous, because the first
    /// seconds of a parallel run on a loaded machine can starve every task (seen: 12 s).
    package func waitUntilConnected(within seconds: Double = 30) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !isConnected {
            guard ContinuousClock.now < deadline else { throw RedisError.notConnected }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
