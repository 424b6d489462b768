package import Logging
import NIOConcurrencyHelpers
package import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import TronchTracing

/// A Redis client, kept connected by its `run()` as a `Service`: one pipelined connection to one server or
/// to the master the Sentinels name, or one per master of a Redis Cluster with commands routed by slot
/// (``RedisConfiguration/Topology``).
///
/// Every call is time-boxed and fails at once while disconnected, so a slow or absent Redis costs callers
/// a bounded wait (the rate limiter then falls back as configured). Connections are re-established with
/// backoff, logging in and selecting the database each time.
package final class RedisClient: Service, Sendable {
    private enum Servers: Sendable {
        case single(RedisConnection)
        case cluster(RedisCluster)
    }

    package let configuration: RedisConfiguration
    private let servers: Servers

    package init(configuration: RedisConfiguration, logger: Logger, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        switch configuration.topology {
        case .cluster(let seeds):
            servers = .cluster(RedisCluster(configuration: configuration, seeds: seeds, logger: logger, group: group))
        case .standalone, .sentinel:
            servers = .single(
                RedisConnection(configuration: configuration, endpoint: RedisEndpoint(configuration), logger: logger, group: group)
            )
        }
    }

    /// Whether a connection is open right now (in a cluster: to every master of the slot map).
    package var isConnected: Bool {
        switch servers {
        case .single(let connection): connection.isConnected
        case .cluster(let cluster): cluster.isConnected
        }
    }

    /// Redirections a cluster followed (`MOVED` and `ASK`); 0 for one server.
    package var clusterRedirections: Int {
        if case .cluster(let cluster) = servers { return cluster.redirections.load(ordering: .relaxed) }
        return 0
    }

    package func run() async throws {
        switch servers {
        case .single(let connection): try await connection.run()
        case .cluster(let cluster): await cluster.run()
        }
    }

    /// Sends one command and waits, at most the configured time box, for its answer.
    package func send(_ arguments: [RESPArgument]) async throws -> RESPValue {
        guard ClientSpans.isEnabled else { return try await route(arguments) }
        // The span is named by the command alone: keys and arguments may name keys or nonces.
        return try await ClientSpans.measure(system: "redis", operation: arguments.first?.commandName ?? "?") {
            try await route(arguments)
        }
    }

    private func route(_ arguments: [RESPArgument]) async throws -> RESPValue {
        switch servers {
        case .single(let connection): try await connection.send(arguments)
        case .cluster(let cluster): try await cluster.send(arguments)
        }
    }

    /// Runs a Lua script by its SHA1, sending the source only when Redis does not have it yet (`NOSCRIPT`).
    /// In a cluster every key must be in one slot (give them one hash tag, `{…}`).
    package func evaluate(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RESPValue {
        let tail = [RESPArgument.string(String(keys.count))] + keys.map(RESPArgument.string) + arguments.map(RESPArgument.string)
        do {
            return try await send(["EVALSHA", .string(script.sha1)] + tail)
        } catch RedisError.server(let message) where message.hasPrefix("NOSCRIPT") {
            return try await send(["EVAL", .string(script.source)] + tail)
        }
    }

    @discardableResult
    package func publish(_ message: String, to channelName: String) async throws -> Int64 {
        try await send(["PUBLISH", .string(channelName), .string(message)]).integer ?? 0
    }

    /// A round trip, for readiness (in a cluster, to every master).
    package func ping() async throws {
        if case .cluster(let cluster) = servers { return try await cluster.ping() }
        let answer = try await send(["PING"])
        guard answer.string == "PONG" else { throw RedisError.protocolError("unexpected PING answer") }
    }
}

/// Receives messages published on some channels, on a connection of its own (a subscribed connection can
/// do nothing else), re-subscribing after every reconnect.
package final class RedisSubscriber: Service, Sendable {
    private let configuration: RedisConfiguration
    private let logger: Logger
    private let channels: [String]
    private let onMessage: @Sendable (_ channel: String, _ message: String) -> Void
    private let onReconnect: @Sendable () -> Void
    private let group: any EventLoopGroup

    /// `onReconnect` runs after every successful (re)subscription: messages may have been missed meanwhile.
    package init(
        configuration: RedisConfiguration,
        channels: [String],
        logger: Logger,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onReconnect: @escaping @Sendable () -> Void = {},
        onMessage: @escaping @Sendable (_ channel: String, _ message: String) -> Void
    ) {
        self.configuration = configuration
        self.channels = channels
        self.logger = logger
        self.group = group
        self.onMessage = onMessage
        self.onReconnect = onReconnect
    }

    package func run() async throws {
        let onMessage = self.onMessage
        let channels = self.channels
        let timeout = configuration.commandTimeout
        let onReconnect = self.onReconnect
        // Any node of a cluster takes the subscription: Redis Cluster passes every PUBLISH to every node.
        try await RedisConnector(
            configuration: configuration,
            endpoint: RedisEndpoint(configuration),
            logger: logger,
            group: group,
            role: "subscriber"
        ).maintain(
            onPush: { value in
                guard let parts = value.array, parts.count == 3, let name = parts[1].string, let payload = parts[2].string else { return }
                onMessage(name, payload)
            },
            connected: { channel in
                let subscribe = [RESPArgument.string("SUBSCRIBE")] + channels.map(RESPArgument.string)
                // The answer to SUBSCRIBE is the first confirmation; later confirmations arrive as pushes.
                _ = try? await RedisConnection.send(subscribe, on: channel, timeout: timeout)
                onReconnect()
            },
            disconnected: {}
        )
    }
}
