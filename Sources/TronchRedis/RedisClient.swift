package import Logging
import NIOConcurrencyHelpers
package import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import TronchTracing

/// A Redis client: one pipelined connection, kept open by its `run()` as a `Service`.
///
/// Every call is time-boxed and fails at once while disconnected, so a slow or absent Redis costs callers
/// a bounded wait (the rate limiter then falls back as configured). The connection is re-established with
/// backoff, logging in and selecting the database each time.
package final class RedisClient: Service, Sendable {
    package let configuration: RedisConfiguration
    private let logger: Logger
    private let channel = Mutex<(any Channel)?>(nil)
    private let group: any EventLoopGroup

    package init(configuration: RedisConfiguration, logger: Logger, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.logger = logger
        self.group = group
    }

    /// Whether a connection is open right now.
    package var isConnected: Bool { channel.withLock { $0?.isActive ?? false } }

    package func run() async throws {
        try await RedisConnector(configuration: configuration, logger: logger, group: group, role: "client").maintain(
            onPush: nil,
            connected: { channel in self.channel.withLock { $0 = channel } },
            disconnected: { self.channel.withLock { $0 = nil } }
        )
    }

    /// Sends one command and waits, at most the configured time box, for its answer.
    package func send(_ arguments: [RESPArgument]) async throws -> RESPValue {
        guard let channel = channel.withLock({ $0 }), channel.isActive else { throw RedisError.notConnected }
        guard ClientSpans.isEnabled else { return try await Self.send(arguments, on: channel, timeout: configuration.commandTimeout) }
        // The span is named by the command alone: keys and arguments may name keys or nonces.
        return try await ClientSpans.measure(system: "redis", operation: arguments.first?.commandName ?? "?") {
            try await Self.send(arguments, on: channel, timeout: configuration.commandTimeout)
        }
    }

    static func send(_ arguments: [RESPArgument], on channel: any Channel, timeout: Duration) async throws -> RESPValue {
        let eventLoop = channel.eventLoop
        let answer = eventLoop.makePromise(of: RESPValue.self)
        let result = eventLoop.makePromise(of: RESPValue.self)
        // Whichever comes first, the answer or the time box, completes the result; the other is ignored.
        let settled = NIOLockedValueBox(false)
        let timer = eventLoop.scheduleTask(
            in: .nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000)
        ) {
            if settled.withLockedValue({ done in
                defer { done = true }
                return !done
            }) {
                result.fail(RedisError.timeout)
            }
        }
        answer.futureResult.whenComplete { outcome in
            timer.cancel()
            if settled.withLockedValue({ done in
                defer { done = true }
                return !done
            }) {
                result.completeWith(outcome)
            }
        }
        channel.writeAndFlush(RedisRequest(arguments: arguments, promise: answer), promise: nil)
        return try await result.futureResult.get()
    }

    /// Runs a Lua script by its SHA1, sending the source only when Redis does not have it yet (`NOSCRIPT`).
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

    /// A round trip, for readiness.
    package func ping() async throws {
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
        try await RedisConnector(configuration: configuration, logger: logger, group: group, role: "subscriber").maintain(
            onPush: { value in
                guard let parts = value.array, parts.count == 3, let name = parts[1].string, let payload = parts[2].string else { return }
                onMessage(name, payload)
            },
            connected: { channel in
                let subscribe = [RESPArgument.string("SUBSCRIBE")] + channels.map(RESPArgument.string)
                // The answer to SUBSCRIBE is the first confirmation; later confirmations arrive as pushes.
                _ = try? await RedisClient.send(subscribe, on: channel, timeout: timeout)
                onReconnect()
            },
            disconnected: {}
        )
    }
}

/// The connection loop both clients share: connect, log in, select the database, hand the channel over,
/// wait for it to close, back off, repeat, until graceful shutdown.
struct RedisConnector: Sendable {
    let configuration: RedisConfiguration
    let logger: Logger
    let group: any EventLoopGroup
    let role: String

    func maintain(
        onPush: (@Sendable (RESPValue) -> Void)?,
        connected: @escaping @Sendable (any Channel) async -> Void,
        disconnected: @escaping @Sendable () -> Void
    ) async throws {
        var delay = Duration.milliseconds(100)
        var failures = 0
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let channel = try await connect(onPush: onPush)
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
                // One line per streak and then one every ten failures keeps an outage from flooding the log.
                if failures == 1 || failures % 10 == 0 {
                    logger.warning(
                        "cannot connect to Redis; retrying",
                        metadata: ["role": "\(role)", "error": "\(error)", "failures": "\(failures)", "retry_in": "\(delay)"]
                    )
                }
            }
            if Task.isCancelled || Task.isShuttingDownGracefully { break }
            let pause = delay
            do { try await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) } } catch { break }
            delay = min(delay * 2, .seconds(5))
        }
    }

    private func connect(onPush: (@Sendable (RESPValue) -> Void)?) async throws -> any Channel {
        let timeout = configuration.connectTimeout
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPDecoder()))
                    try channel.pipeline.syncOperations.addHandler(RedisConnectionHandler(onPush: onPush))
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .get()
        do {
            if let password = configuration.password {
                var arguments: [RESPArgument] = ["AUTH"]
                if let user = configuration.username { arguments.append(.string(user)) }
                arguments.append(.string(password))
                _ = try await RedisClient.send(arguments, on: channel, timeout: configuration.connectTimeout)
            }
            if configuration.database != 0 {
                _ = try await RedisClient.send(
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
}
