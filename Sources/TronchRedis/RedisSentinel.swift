import NIOCore

/// Finds a master through Redis Sentinel: asks each Sentinel in turn for the master's address
/// (`SENTINEL get-master-addr-by-name`) on a short connection of its own.
struct RedisSentinel: Sendable, Hashable {
    let master: String
    let sentinels: [RedisAddress]

    func masterAddress(configuration: RedisConfiguration, group: any EventLoopGroup) async throws -> RedisAddress {
        var lastError: any Error = RedisError.notConnected
        for sentinel in sentinels {
            do {
                let channel = try await RedisConnector.open(sentinel, configuration: configuration, group: group)
                defer { channel.close(promise: nil) }
                let answer = try await RedisConnection.send(
                    ["SENTINEL", "get-master-addr-by-name", .string(master)],
                    on: channel,
                    timeout: configuration.connectTimeout
                )
                guard let parts = answer.array, parts.count == 2, let host = parts[0].string, let port = parts[1].integer
                else {
                    // A null answer: this Sentinel does not watch a master of that name.
                    lastError = RedisError.server("the Sentinel at \(sentinel) knows no master named '\(master)'")
                    continue
                }
                return RedisAddress(host: host, port: Int(port))
            } catch {
                lastError = error
            }
        }
        throw lastError
    }
}
