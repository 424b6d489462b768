import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Where a maintained connection goes: asked again before every attempt, so that a Sentinel's answer after
/// a failover, or the next seed node of a cluster, is where the next attempt goes.
enum RedisEndpoint: Sendable {
    /// Always this server.
    case fixed(RedisAddress)
    /// These servers in turn, one per attempt (any node of a cluster takes a subscription).
    case rotating([RedisAddress])
    /// The master that these Sentinels name, checked with `ROLE` once connected.
    case sentinel(RedisSentinel)

    init(_ configuration: RedisConfiguration) {
        switch configuration.topology {
        case .standalone: self = .fixed(RedisAddress(host: configuration.host, port: configuration.port))
        case .cluster(let seeds): self = .rotating(seeds)
        case .sentinel(let master, let sentinels): self = .sentinel(RedisSentinel(master: master, sentinels: sentinels))
        }
    }
}

/// The connection loop every client shares: connect, log in, select the database, hand the channel over,
/// wait for it to close, back off, repeat, until graceful shutdown, cancellation or `isRetired`.
struct RedisConnector: Sendable {
    let configuration: RedisConfiguration
    let endpoint: RedisEndpoint
    let logger: Logger
    let group: any EventLoopGroup
    let role: String

    func maintain(
        onPush: (@Sendable (RESPValue) -> Void)?,
        isRetired: @escaping @Sendable () -> Bool = { false },
        connected: @escaping @Sendable (any Channel) async -> Void,
        disconnected: @escaping @Sendable () -> Void
    ) async throws {
        var delay = Duration.milliseconds(100)
        var failures = 0
        var attempt = 0
        func stopping() -> Bool { Task.isCancelled || Task.isShuttingDownGracefully || isRetired() }
        while !stopping() {
            do {
                let channel = try await connect(attempt: attempt, onPush: onPush)
                if failures > 0 {
                    logger.notice("connected to Redis", metadata: ["role": "\(role)", "after_failures": "\(failures)"])
                }
                failures = 0
                delay = .milliseconds(100)
                await connected(channel)
                // Cancellation or graceful shutdown closes the channel, which ends the wait.
                try await withTaskCancellationHandler {
                    try await withGracefulShutdownHandler {
                        try await channel.closeFuture.get()
                    } onGracefulShutdown: {
                        channel.close(promise: nil)
                    }
                } onCancel: {
                    channel.close(promise: nil)
                }
                disconnected()
            } catch {
                disconnected()
                failures += 1
                attempt += 1
                // One line per streak and then one every ten failures keeps an outage from flooding the log.
                if failures == 1 || failures % 10 == 0 {
                    logger.warning(
                        "cannot connect to Redis; retrying",
                        metadata: ["role": "\(role)", "error": "\(error)", "failures": "\(failures)", "retry_in": "\(delay)"]
                    )
                }
            }
            if stopping() { break }
            let pause = delay
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) } } catch { break }
            delay = min(delay * 2, .seconds(5))
        }
    }

    private func connect(attempt: Int, onPush: (@Sendable (RESPValue) -> Void)?) async throws -> any Channel {
        let address: RedisAddress
        switch endpoint {
        case .fixed(let fixed): address = fixed
        case .rotating(let addresses): address = addresses[attempt % addresses.count]
        case .sentinel(let sentinel): address = try await sentinel.masterAddress(configuration: configuration, group: group)
        }
        let channel = try await Self.open(address, configuration: configuration, group: group, onPush: onPush)
        do {
            if let password = configuration.password {
                var arguments: [RESPArgument] = ["AUTH"]
                if let user = configuration.username { arguments.append(.string(user)) }
                arguments.append(.string(password))
                _ = try await RedisConnection.send(arguments, on: channel, timeout: configuration.connectTimeout)
            }
            if case .sentinel(let sentinel) = endpoint {
                // A Sentinel's answer can be stale for a moment during a failover: only a master will do.
                let role = try await RedisConnection.send(["ROLE"], on: channel, timeout: configuration.connectTimeout)
                guard role.array?.first?.string == "master" else {
                    throw RedisError.server("\(address), named by the Sentinels as '\(sentinel.master)', is not a master")
                }
            }
            if configuration.database != 0 {
                _ = try await RedisConnection.send(
                    ["SELECT", .string(String(configuration.database))],
                    on: channel,
                    timeout: configuration.connectTimeout
                )
            }
        } catch {
            try? await channel.close()
            throw error
        }
        return channel
    }

    /// A TCP connection to `address` with the RESP handlers, not yet logged in.
    static func open(
        _ address: RedisAddress,
        configuration: RedisConfiguration,
        group: any EventLoopGroup,
        onPush: (@Sendable (RESPValue) -> Void)? = nil
    ) async throws -> any Channel {
        let timeout = configuration.connectTimeout
        return try await ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPDecoder()))
                    try channel.pipeline.syncOperations.addHandler(RedisConnectionHandler(onPush: onPush))
                }
            }
            .connect(host: address.host, port: address.port)
            .get()
    }
}
