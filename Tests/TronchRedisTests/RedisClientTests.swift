import Foundation
import Logging
import NIOCore
import Synchronization
import Testing
import TronchRedis
import TronchTestSupport

/// The client against a real redis-server.
/// Processes and servers can wedge; a stuck test fails after its time limit instead of hanging the run.
@Suite(.serialized, .timeLimit(.minutes(3))) struct RedisClientTests {
    static let logger = Logger(label: "redis-test")

    func withClient(
        _ url: String,
        commandTimeout: Duration? = nil,
        _ body: @Sendable (RedisClient) async throws -> Void
    ) async throws {
        try await RedisClient.withConnected(url, commandTimeout: commandTimeout, body)
    }

    @Test(.enabled(if: TestRedis.enabled)) func commandsRoundTrip() async throws {
        try await withClient(try #require(TestRedis.url)) { client async throws in
            let key = "test:\(UUID().uuidString)"
            #expect(try await client.send(["SET", .string(key), "value", "PX", "10000"]).string == "OK")
            #expect(try await client.send(["GET", .string(key)]).string == "value")
            #expect(try await client.send(["GET", .string(key + ":missing")]).isNull)
            #expect(try await client.send(["INCRBY", .string(key + ":n"), "5"]).integer == 5)
            await #expect(throws: RedisError.self) { _ = try await client.send(["INCR", .string(key)]) }
            try await client.ping()
        }
    }

    @Test(.enabled(if: TestRedis.enabled)) func concurrentCommandsArePipelinedAndMatchedInOrder() async throws {
        try await withClient(try #require(TestRedis.url)) { client async throws in
            let prefix = "pipe:\(UUID().uuidString):"
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<500 {
                    group.addTask {
                        let key = prefix + String(index)
                        _ = try await client.send(["SET", .string(key), .string(String(index)), "PX", "10000"])
                        let value = try await client.send(["GET", .string(key)])
                        #expect(value.string == String(index))
                    }
                }
                try await group.waitForAll()
            }
        }
    }

    @Test(.enabled(if: TestRedis.enabled)) func scriptsRunBySHAAndAreLoadedWhenMissing() async throws {
        try await withClient(try #require(TestRedis.url)) { client async throws in
            let script = RedisScript("return {KEYS[1], ARGV[1], '\(UUID().uuidString)'}")
            _ = try await client.send(["SCRIPT", "FLUSH"])
            let first = try await client.evaluate(script, keys: ["k"], arguments: ["a"])
            #expect(first.array?.prefix(2).map(\.string) == ["k", "a"])
            let exists = try await client.send(["SCRIPT", "EXISTS", .string(script.sha1)])
            #expect(exists.array?.first?.integer == 1)
            let second = try await client.evaluate(script, keys: ["k2"], arguments: ["b"])
            #expect(second.array?.first?.string == "k2")
        }
    }

    @Test(.enabled(if: TestRedis.enabled)) func aStalledRedisTimesCallsOut() async throws {
        // A private server: pausing the shared one would stall every other suite's calls.
        let server = RedisServer(port: try TestPorts.free())
        try await server.start()
        try await withClient(server.url, commandTimeout: .milliseconds(250)) { client async throws in
            try await withClient(server.url) { pauser async throws in
                // Paused far longer than the timeout, so that only the timeout can end the call, however
                // slowly a loaded machine runs this test.
                _ = try await pauser.send(["CLIENT", "PAUSE", "2000", "ALL"])
                await #expect(throws: RedisError.timeout) { _ = try await client.send(["GET", "anything"]) }
            }
            try await Task.sleep(for: .milliseconds(2100))
            // The same client answers again once the pause is over; on a machine under full load one PING
            // may itself take longer than the 250 ms, so it gets a few tries.
            // Only timeouts are retried: any other error (a late reply read as the answer to the next call)
            // fails the test.
            var answered = false
            for _ in 0..<20 where !answered {
                do {
                    try await client.ping()
                    answered = true
                } catch RedisError.timeout {
                    continue
                }
            }
            #expect(answered, "the client works again after a timed-out call")
        }
        try await server.stop()
    }

    @Test(.enabled(if: TestRedis.enabled)) func passwordAndDatabaseFromTheURL() async throws {
        let server = RedisServer(port: try TestPorts.free(), password: "s3cret")
        try await server.start()
        try await withClient(server.url + "/5") { client async throws in
            _ = try await client.send(["SET", "where", "db5"])
            #expect(try await client.send(["GET", "where"]).string == "db5")
        }
        try await withClient(server.url + "/0") { client async throws in
            #expect(try await client.send(["GET", "where"]).isNull, "database 0 is another keyspace")
        }
        // A wrong password never connects, and says so.
        let wrong = RedisClient(configuration: try RedisConfiguration(url: "redis://:nope@127.0.0.1:\(server.port)"), logger: Self.logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await wrong.run() }
            defer { group.cancelAll() }
            try await Task.sleep(for: .milliseconds(300))
            #expect(!wrong.isConnected)
            await #expect(throws: RedisError.notConnected) { _ = try await wrong.send(["PING"]) }
        }
        try await server.stop()
    }

    @Test(.enabled(if: TestRedis.enabled)) func theClientAndSubscriberSurviveARestart() async throws {
        let server = RedisServer(port: try TestPorts.free())
        try await server.start()
        let received = Mutex<[String]>([])
        let resubscribed = Atomic<Int>(0)
        let configuration = try RedisConfiguration(url: server.url)
        let subscriber = RedisSubscriber(
            configuration: configuration,
            channels: ["events"],
            logger: Self.logger,
            onReconnect: { resubscribed.add(1, ordering: .relaxed) },
            onMessage: { channel, message in received.withLock { $0.append("\(channel):\(message)") } }
        )
        try await withClient(server.url) { client async throws in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await subscriber.run() }
                defer { group.cancelAll() }
                try await eventually { resubscribed.load(ordering: .relaxed) == 1 }
                #expect(try await client.publish("one", to: "events") == 1)
                try await eventually { received.withLock { $0 } == ["events:one"] }

                try await server.stop()
                try await eventually { !client.isConnected }
                await #expect(throws: RedisError.self) { _ = try await client.send(["PING"]) }

                try await server.start()
                try await client.waitUntilConnected()
                try await eventually { resubscribed.load(ordering: .relaxed) == 2 }
                try await client.ping()
                #expect(try await client.publish("two", to: "events") == 1)
                try await eventually { received.withLock { $0 } == ["events:one", "events:two"] }
            }
        }
        try await server.stop()
    }
}
