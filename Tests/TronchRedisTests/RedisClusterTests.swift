import Foundation
import Logging
import Synchronization
import Testing
import TronchRedis
import TronchTestSupport

/// The client against the three-master Redis Cluster and the Sentinel set that `scripts/test` starts.
/// Serialized: one test moves a slot, which another's count of redirections must not see.
@Suite(.serialized, .timeLimit(.minutes(3))) struct RedisClusterTests {
    static let logger = Logger(label: "redis-cluster-test")

    /// The cluster's nodes, each as a plain one-server URL (for the test's own view of where keys live).
    static func nodeURLs() throws -> [String] {
        let url = try #require(TestRedis.clusterURL, "scripts/test starts a Redis Cluster and sets TRONCH_TEST_REDIS_CLUSTER_URL")
        guard case .cluster(let seeds) = try RedisConfiguration(url: url).topology else { throw RedisError.invalidURL(url) }
        return seeds.map { "redis://\($0)" }
    }

    @Test(.enabled(if: TestRedis.clusterEnabled)) func slotsAgreeWithTheCluster() async throws {
        try await RedisClient.withConnected(try Self.nodeURLs()[0]) { node async throws in
            for index in 0..<200 {
                let key = index % 3 == 0 ? "tronch:rl:{subject-\(index)}:default" : "key-\(index)-\(UUID().uuidString)"
                let slot = try await node.send(["CLUSTER", "KEYSLOT", .string(key)]).integer
                #expect(slot.map(Int.init) == RedisHashSlot.slot(of: key), "\(key)")
            }
        }
    }

    @Test(.enabled(if: TestRedis.clusterEnabled)) func commandsGoToTheMasterOfTheirKeysSlot() async throws {
        let nodes = try Self.nodeURLs()
        try await RedisClient.withConnected(try #require(TestRedis.clusterURL)) { cluster async throws in
            let prefix = "routed:\(UUID().uuidString):"
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<300 {
                    group.addTask { () async throws in
                        let key = prefix + String(index)
                        #expect(try await cluster.send(["SET", .string(key), .string(String(index)), "PX", "60000"]).string == "OK")
                        #expect(try await cluster.send(["GET", .string(key)]).string == String(index))
                    }
                }
                try await group.waitForAll()
            }
            #expect(cluster.clusterRedirections == 0)
            try await cluster.ping()
            // Each node holds some of the keys, and answers MOVED for the others: the client sent each to its owner.
            var holders = 0
            for url in nodes {
                let held = try await RedisClient.withConnected(url) { node async throws in
                    var held = 0
                    for index in 0..<30 {
                        let key = prefix + String(index)
                        do {
                            #expect(try await node.send(["GET", .string(key)]).string == String(index))
                            held += 1
                        } catch RedisError.server(let message) {
                            #expect(message.hasPrefix("MOVED"))
                        }
                    }
                    return held
                }
                if held > 0 { holders += 1 }
            }
            #expect(holders == 3)
        }
    }

    /// A slot moves between masters while the client runs: `ASK` during the migration, `MOVED` after it.
    @Test(.enabled(if: TestRedis.clusterEnabled)) func redirectionsAreFollowedWhileASlotMoves() async throws {
        let nodes = try Self.nodeURLs()
        try await RedisClient.withConnected(try #require(TestRedis.clusterURL)) { cluster async throws in
            let tag = UUID().uuidString
            let moved = "{\(tag)}:moved"
            let created = "{\(tag)}:created"
            let slot = RedisHashSlot.slot(of: moved)
            #expect(try await cluster.send(["SET", .string(moved), "before", "PX", "600000"]).string == "OK")

            // Which node owns the slot, and another to move it to.
            var found = [String]()
            var holder = -1
            for (position, url) in nodes.enumerated() {
                let (id, holds) = try await RedisClient.withConnected(url) { node async throws in
                    let id = try #require(try await node.send(["CLUSTER", "MYID"]).string)
                    return (id, (try? await node.send(["GET", .string(moved)]))?.string == "before")
                }
                found.append(id)
                if holds { holder = position }
            }
            try #require(holder >= 0)
            let (ids, owner) = (found, holder)
            let target = (owner + 1) % 3
            let destination = try RedisConfiguration(url: nodes[target])

            try await RedisClient.withConnected(nodes[owner]) { sourceNode async throws in
                try await RedisClient.withConnected(nodes[target]) { targetNode async throws in
                    _ = try await targetNode.send(["CLUSTER", "SETSLOT", .string(String(slot)), "IMPORTING", .string(ids[owner])])
                    _ = try await sourceNode.send(["CLUSTER", "SETSLOT", .string(String(slot)), "MIGRATING", .string(ids[target])])
                    // Every key of the slot moves (other tests may have keys there too), as redis-cli's resharding does.
                    while true {
                        let keys = try await sourceNode.send(["CLUSTER", "GETKEYSINSLOT", .string(String(slot)), "100"]).array ?? []
                        if keys.isEmpty { break }
                        _ = try await sourceNode.send(
                            ["MIGRATE", .string(destination.host), .string(String(destination.port)), "", "0", "5000", "KEYS"]
                                + keys.compactMap(\.string).map(RESPArgument.string)
                        )
                    }

                    // Migrating: the source no longer has the key and answers ASK; the client asks the target.
                    #expect(try await cluster.send(["GET", .string(moved)]).string == "before")
                    #expect(try await cluster.send(["SET", .string(created), "during", "PX", "600000"]).string == "OK")
                    #expect(cluster.clusterRedirections >= 2)
                    let afterAsk = cluster.clusterRedirections

                    // Done: every node learns the slot's new owner; the client's map is now wrong and MOVED corrects it.
                    for url in nodes {
                        try await RedisClient.withConnected(url) { node async throws in
                            _ = try await node.send(["CLUSTER", "SETSLOT", .string(String(slot)), "NODE", .string(ids[target])])
                        }
                    }
                    #expect(try await cluster.send(["GET", .string(created)]).string == "during")
                    #expect(cluster.clusterRedirections == afterAsk + 1)
                    // The slot's entry was corrected at once: no further redirection.
                    #expect(try await cluster.send(["GET", .string(moved)]).string == "before")
                    #expect(cluster.clusterRedirections == afterAsk + 1)
                    #expect(try await targetNode.send(["GET", .string(created)]).string == "during")
                }
            }
        }
    }

    @Test(.enabled(if: TestRedis.clusterEnabled)) func publishedMessagesReachASubscriberOnAnyNode() async throws {
        let url = try #require(TestRedis.clusterURL)
        let channel = "events:\(UUID().uuidString)"
        let received = Mutex<[String]>([])
        let subscribed = Atomic<Int>(0)
        let subscriber = RedisSubscriber(
            configuration: try RedisConfiguration(url: url),
            channels: [channel],
            logger: Self.logger,
            onReconnect: { subscribed.add(1, ordering: .relaxed) },
            onMessage: { _, message in received.withLock { $0.append(message) } }
        )
        try await RedisClient.withConnected(url) { cluster async throws in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await subscriber.run() }
                defer { group.cancelAll() }
                while subscribed.load(ordering: .relaxed) == 0 { try await Task.sleep(for: .milliseconds(20)) }
                let deadline = ContinuousClock.now + .seconds(10)
                var sent = 0
                while received.withLock({ $0.isEmpty }) && ContinuousClock.now < deadline {
                    sent += 1
                    _ = try await cluster.publish("hello \(sent)", to: channel)
                    try await Task.sleep(for: .milliseconds(50))
                }
                #expect(received.withLock { $0.first?.hasPrefix("hello") } == true)
            }
        }
    }

    @Test(.enabled(if: TestRedis.sentinelEnabled)) func theSentinelNamesTheMaster() async throws {
        let url = try #require(TestRedis.sentinelURL, "scripts/test starts a Sentinel set and sets TRONCH_TEST_REDIS_SENTINEL_URL")
        try await RedisClient.withConnected(url) { client async throws in
            let key = "sentinel:\(UUID().uuidString)"
            #expect(try await client.send(["SET", .string(key), "value", "PX", "60000"]).string == "OK")
            #expect(try await client.send(["ROLE"]).array?.first?.string == "master")
            #expect(try await client.send(["GET", .string(key)]).string == "value")
        }
    }

    /// On a private Sentinel set (the shared one keeps its master for the other tests): the client finds the
    /// master through the Sentinel, and after a failover its writes reach the new master.
    @Test(.enabled(if: TestRedis.sentinelEnabled), .timeLimit(.minutes(2))) func aSentinelFailoverIsFollowed() async throws {
        let set = RedisSentinelSet()
        try await set.start()
        let url = set.url
        guard case .sentinel(let name, let sentinels) = try RedisConfiguration(url: url).topology else {
            throw RedisError.invalidURL(url)
        }
        let sentinelURL = "redis://\(sentinels[0])"
        @Sendable func master() async throws -> String {
            try await RedisClient.withConnected(sentinelURL) { sentinel async throws in
                let answer = try await sentinel.send(["SENTINEL", "get-master-addr-by-name", .string(name)])
                return try #require(answer.array?.compactMap(\.string).joined(separator: ":"))
            }
        }
        try await RedisClient.withConnected(url) { client async throws in
            let key = "sentinel:\(UUID().uuidString)"
            #expect(try await client.send(["SET", .string(key), "before", "PX", "600000"]).string == "OK")
            // The replica has it before the failover (replication is asynchronous).
            #expect(try await client.send(["WAIT", "1", "3000"]).integer == 1)
            let before = try await master()
            try await RedisClient.withConnected("redis://\(before)") { node async throws in
                #expect(try await node.send(["ROLE"]).array?.first?.string == "master")
            }

            // Fail over (the Sentinel may need a moment to see the replica as a good candidate).
            let deadline = ContinuousClock.now + .seconds(60)
            try await RedisClient.withConnected(sentinelURL) { sentinel async throws in
                while true {
                    do {
                        _ = try await sentinel.send(["SENTINEL", "FAILOVER", .string(name)])
                        break
                    } catch RedisError.server(let message) where ContinuousClock.now < deadline {
                        // NOGOODSLAVE while the replica catches up, INPROG while another failover runs.
                        Self.logger.info("failover not started yet", metadata: ["answer": "\(message)"])
                        try await Task.sleep(for: .milliseconds(200))
                    }
                }
            }
            var after = before
            while after == before {
                try #require(ContinuousClock.now < deadline, "the Sentinel named no new master")
                try await Task.sleep(for: .milliseconds(100))
                after = try await master()
            }
            // Writes fail (READONLY, or a closed connection) until the client has asked the Sentinel again.
            let written = "after-\(UUID().uuidString)"
            while true {
                try #require(ContinuousClock.now < deadline, "writes never reached the new master")
                if (try? await client.send(["SET", .string(key + ":after"), .string(written), "PX", "600000"]))?.string == "OK" {
                    let landed = try await RedisClient.withConnected("redis://\(after)") { node async throws in
                        try await node.send(["GET", .string(key + ":after")]).string
                    }
                    if landed == written { break }
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(try await client.send(["GET", .string(key)]).string == "before")
            try await RedisClient.withConnected("redis://\(after)") { node async throws in
                #expect(try await node.send(["ROLE"]).array?.first?.string == "master")
            }
        }
    }
}
