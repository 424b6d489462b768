import Logging
import NIOConcurrencyHelpers
import NIOCore
import Synchronization

/// One pipelined connection to one server (or to whichever master the Sentinels name), kept open by `run()`.
///
/// Every call is time-boxed and fails at once while disconnected. An answer `READONLY` (a master that a
/// failover made a replica) closes the connection, so the next one asks the Sentinels again.
final class RedisConnection: Sendable {
    let configuration: RedisConfiguration
    private let endpoint: RedisEndpoint
    private let logger: Logger
    private let group: any EventLoopGroup
    private let channel = Mutex<(any Channel)?>(nil)
    private let retired = Atomic<Bool>(false)

    init(configuration: RedisConfiguration, endpoint: RedisEndpoint, logger: Logger, group: any EventLoopGroup) {
        self.configuration = configuration
        self.endpoint = endpoint
        self.logger = logger
        self.group = group
    }

    var isConnected: Bool { channel.withLock { $0?.isActive ?? false } }

    func run() async throws {
        try await RedisConnector(configuration: configuration, endpoint: endpoint, logger: logger, group: group, role: "client")
            .maintain(
                onPush: nil,
                isRetired: { self.retired.load(ordering: .relaxed) },
                connected: { channel in self.channel.withLock { $0 = channel } },
                disconnected: { self.channel.withLock { $0 = nil } }
            )
    }

    /// Closes the connection for good: `run()` returns (a cluster node that left the slot map).
    func retire() {
        retired.store(true, ordering: .relaxed)
        channel.withLock { $0 }?.close(promise: nil)
    }

    /// Waits up to `timeout` for a connection that is being opened (a cluster node just discovered).
    func waitUntilConnected(within timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while !isConnected {
            guard ContinuousClock.now < deadline, !retired.load(ordering: .relaxed) else { throw RedisError.notConnected }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// Sends one command (after `ASKING` when `asking`, for a slot being migrated) and waits for its answer.
    func send(_ arguments: [RESPArgument], asking: Bool = false) async throws -> RESPValue {
        guard let channel = channel.withLock({ $0 }), channel.isActive else { throw RedisError.notConnected }
        do {
            return try await Self.send(arguments, on: channel, timeout: configuration.commandTimeout, asking: asking)
        } catch RedisError.server(let message) where message.hasPrefix("READONLY") {
            channel.close(promise: nil)
            throw RedisError.server(message)
        }
    }

    static func send(_ arguments: [RESPArgument], on channel: any Channel, timeout: Duration, asking: Bool = false) async throws -> RESPValue {
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
        if asking {
            // ASKING applies to the connection's next command: both are written in one turn of the event
            // loop, so no other caller's command comes between them.
            let askingAnswer = eventLoop.makePromise(of: RESPValue.self)
            eventLoop.execute {
                channel.write(RedisRequest(arguments: ["ASKING"], promise: askingAnswer), promise: nil)
                channel.writeAndFlush(RedisRequest(arguments: arguments, promise: answer), promise: nil)
            }
        } else {
            channel.writeAndFlush(RedisRequest(arguments: arguments, promise: answer), promise: nil)
        }
        return try await result.futureResult.get()
    }
}
