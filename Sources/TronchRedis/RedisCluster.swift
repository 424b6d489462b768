import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// A Redis Cluster: a connection per master, a slot map read with `CLUSTER SLOTS`, and commands routed by
/// their key's slot.
///
/// `MOVED` (the slot has a new owner) updates the slot and asks for a new map; `ASK` (the slot is being
/// migrated and the key is already at the target) sends that one command to the target after `ASKING`;
/// `TRYAGAIN` (a multi-key command during a migration) is retried shortly. The map is read again every
/// 30 seconds and after each `MOVED`, at most once a second.
final class RedisCluster: Sendable {
    private struct State {
        /// The master serving each slot, nil while unknown.
        var slots = [RedisAddress?](repeating: nil, count: RedisHashSlot.count)
        var masters: Set<RedisAddress> = []
        var connections: [RedisAddress: RedisConnection] = [:]
    }

    private let configuration: RedisConfiguration
    private let seeds: [RedisAddress]
    private let logger: Logger
    private let group: any EventLoopGroup
    private let state = Mutex(State())
    /// New connections for `run()` to keep open.
    private let started: (stream: AsyncStream<RedisConnection>, continuation: AsyncStream<RedisConnection>.Continuation)
    private let refreshRequests: (stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation)
    /// Redirections followed (`MOVED` and `ASK`), for tests and metrics.
    let redirections = Atomic<Int>(0)

    init(configuration: RedisConfiguration, seeds: [RedisAddress], logger: Logger, group: any EventLoopGroup) {
        self.configuration = configuration
        self.seeds = seeds
        self.logger = logger
        self.group = group
        started = AsyncStream.makeStream(of: RedisConnection.self)
        refreshRequests = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Whether the slot map is known and every master in it is connected.
    var isConnected: Bool {
        state.withLock { state in
            !state.masters.isEmpty && state.masters.allSatisfy { state.connections[$0]?.isConnected ?? false }
        }
    }

    func run() async {
        let finish: @Sendable () -> Void = { [started, refreshRequests] in
            started.continuation.finish()
            refreshRequests.continuation.finish()
        }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withDiscardingTaskGroup { group in
                    group.addTask { await self.refreshLoop() }
                    group.addTask {
                        while (try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(30)) }) != nil {
                            self.refreshRequests.continuation.yield()
                        }
                    }
                    for await connection in started.stream {
                        group.addTask { try? await connection.run() }
                    }
                    group.cancelAll()
                }
            } onGracefulShutdown: {
                finish()
            }
        } onCancel: {
            finish()
        }
    }

    /// Reads the slot map at once (retrying with backoff until it succeeds), then whenever asked.
    private func refreshLoop() async {
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await refresh()
                break
            } catch {
                logger.warning("cannot read the Redis Cluster's slot map; retrying", metadata: ["error": "\(error)", "retry_in": "\(delay)"])
                let pause = delay
                guard (try? await cancelWhenGracefulShutdown { try await Task.sleep(for: pause) }) != nil else { return }
                delay = min(delay * 2, .seconds(5))
            }
        }
        for await _ in refreshRequests.stream {
            do {
                try await refresh()
            } catch {
                logger.warning("cannot read the Redis Cluster's slot map", metadata: ["error": "\(error)"])
            }
            // At most one refresh a second, however many redirections ask for one.
            guard (try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }) != nil else { return }
        }
    }

    /// Asks a connected master, or else each seed on a connection of its own, for `CLUSTER SLOTS`.
    func refresh() async throws {
        var lastError: any Error = RedisError.notConnected
        let connected = state.withLock { state in state.connections.filter { $0.value.isConnected } }
        for (address, connection) in connected {
            do {
                return apply(try await connection.send(["CLUSTER", "SLOTS"]), askedAt: address)
            } catch {
                lastError = error
            }
        }
        for seed in seeds {
            do {
                let channel = try await RedisConnector.open(seed, configuration: configuration, group: group)
                defer { channel.close(promise: nil) }
                if let password = configuration.password {
                    let login: [RESPArgument] = ["AUTH"] + (configuration.username.map { [.string($0)] } ?? []) + [.string(password)]
                    _ = try await RedisConnection.send(login, on: channel, timeout: configuration.connectTimeout)
                }
                let answer = try await RedisConnection.send(["CLUSTER", "SLOTS"], on: channel, timeout: configuration.connectTimeout)
                return apply(answer, askedAt: seed)
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    /// Replaces the slot map with `CLUSTER SLOTS`'s answer: opens connections to new masters and retires those
    /// to servers that no longer serve any slot.
    private func apply(_ answer: RESPValue, askedAt asked: RedisAddress) {
        var slots = [RedisAddress?](repeating: nil, count: RedisHashSlot.count)
        for range in answer.array ?? [] {
            guard let parts = range.array, parts.count >= 3, let first = parts[0].integer, let last = parts[1].integer,
                let node = parts[2].array, node.count >= 2, let port = node[1].integer,
                first >= 0, last < RedisHashSlot.count, first <= last
            else { continue }
            // An empty host means "the host you asked".
            let host = node[0].string.flatMap { $0.isEmpty || $0 == "?" ? nil : $0 } ?? asked.host
            let master = RedisAddress(host: host, port: Int(port))
            for slot in Int(first)...Int(last) { slots[slot] = master }
        }
        let masters = Set(slots.compactMap { $0 })
        let (new, retired) = state.withLock { state in
            state.slots = slots
            state.masters = masters
            var new = [RedisConnection]()
            for master in masters where state.connections[master] == nil {
                let connection = makeConnection(master)
                state.connections[master] = connection
                new.append(connection)
            }
            let gone = state.connections.keys.filter { !masters.contains($0) }
            let retired = gone.compactMap { state.connections.removeValue(forKey: $0) }
            return (new, retired)
        }
        for connection in new { started.continuation.yield(connection) }
        for connection in retired { connection.retire() }
        if !new.isEmpty || !retired.isEmpty {
            logger.info("Redis Cluster slot map", metadata: ["masters": "\(masters.map(\.description).sorted())"])
        }
    }

    private func makeConnection(_ address: RedisAddress) -> RedisConnection {
        var configuration = configuration
        configuration.host = address.host
        configuration.port = address.port
        return RedisConnection(configuration: configuration, endpoint: .fixed(address), logger: logger, group: group)
    }

    /// The connection to `address`, opened (and waited for, up to the time box) when it is new.
    private func connection(to address: RedisAddress) async throws -> RedisConnection {
        let (connection, isNew) = state.withLock { state in
            if let existing = state.connections[address] { return (existing, false) }
            let connection = makeConnection(address)
            state.connections[address] = connection
            return (connection, true)
        }
        if isNew { started.continuation.yield(connection) }
        if !connection.isConnected { try await connection.waitUntilConnected(within: configuration.commandTimeout) }
        return connection
    }

    func send(_ arguments: [RESPArgument]) async throws -> RESPValue {
        let slot = RedisHashSlot.routingKey(arguments).map(RedisHashSlot.slot(of:))
        var target = try state.withLock { state throws(RedisError) -> (RedisAddress, RedisConnection) in
            if let slot {
                guard let master = state.slots[slot], let connection = state.connections[master] else { throw .notConnected }
                return (master, connection)
            }
            // Any node answers a command without a key; a connected one first.
            guard let any = state.connections.first(where: { $0.value.isConnected }) ?? state.connections.first else {
                throw .notConnected
            }
            return (any.key, any.value)
        }
        var asking = false
        for _ in 0..<5 {
            do {
                return try await target.1.send(arguments, asking: asking)
            } catch RedisError.server(let message) {
                guard let redirect = Redirection(message, from: target.0) else {
                    if message.hasPrefix("TRYAGAIN") {
                        try await Task.sleep(for: .milliseconds(10))
                        asking = false
                        continue
                    }
                    throw RedisError.server(message)
                }
                redirections.add(1, ordering: .relaxed)
                asking = !redirect.isPermanent
                if redirect.isPermanent {
                    state.withLock { $0.slots[redirect.slot] = redirect.address }
                    refreshRequests.continuation.yield()
                }
                target = (redirect.address, try await connection(to: redirect.address))
            }
        }
        throw RedisError.server("TRYAGAIN: too many Redis Cluster redirections")
    }

    /// PING to every master.
    func ping() async throws {
        let masters = state.withLock { state in state.masters.compactMap { state.connections[$0] } }
        guard !masters.isEmpty else { throw RedisError.notConnected }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for connection in masters {
                group.addTask {
                    let answer = try await connection.send(["PING"])
                    guard answer.string == "PONG" else { throw RedisError.protocolError("unexpected PING answer") }
                }
            }
            try await group.waitForAll()
        }
    }
}

/// `MOVED <slot> <host:port>` or `ASK <slot> <host:port>`.
struct Redirection: Equatable {
    var isPermanent: Bool
    var slot: Int
    var address: RedisAddress

    /// An empty host (`:6380`, sent when the node does not know its own address) is the host of `from`.
    init?(_ message: String, from: RedisAddress) {
        let parts = message.split(separator: " ")
        guard parts.count == 3, parts[0] == "MOVED" || parts[0] == "ASK", let slot = Int(parts[1]),
            (0..<RedisHashSlot.count).contains(slot), var address = RedisAddress(redirect: parts[2])
        else { return nil }
        if parts[2].hasPrefix(":") { address.host = from.host }
        isPermanent = parts[0] == "MOVED"
        self.slot = slot
        self.address = address
    }
}
