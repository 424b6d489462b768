import NIOCore
import Testing

@testable import TronchRedis

@Suite struct RESPDecoderTests {
    func decode(_ text: String) throws -> [RESPValue] {
        var buffer = ByteBuffer(string: text)
        var decoder = RESPDecoder()
        var values = [RESPValue]()
        while let value = try decoder.decode(buffer: &buffer) { values.append(value) }
        return values
    }

    @Test func decodesEveryType() throws {
        let values = try decode("+OK\r\n-ERR wrong\r\n:42\r\n:-7\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*2\r\n$1\r\na\r\n:1\r\n*-1\r\n*0\r\n")
        #expect(
            values == [
                .simpleString("OK"), .error("ERR wrong"), .integer(42), .integer(-7), .bulkString(ByteBuffer(string: "hello")),
                .bulkString(ByteBuffer()), .bulkString(nil), .array([.bulkString(ByteBuffer(string: "a")), .integer(1)]),
                .array(nil), .array([]),
            ]
        )
    }

    @Test func bulkStringsMayHoldCRLF() throws {
        #expect(try decode("$4\r\na\r\nb\r\n") == [.bulkString(ByteBuffer(string: "a\r\nb"))])
    }

    @Test func partialRepliesWaitForTheRest() throws {
        // Bytes, not Characters: "\r\n" is a single Character in Swift.
        let whole = Array("*3\r\n$3\r\nfoo\r\n:12\r\n*1\r\n+x\r\n".utf8)
        for cut in 1..<whole.count {
            var buffer = ByteBuffer(bytes: whole.prefix(cut))
            var decoder = RESPDecoder()
            #expect(try decoder.decode(buffer: &buffer) == nil, "cut at \(cut)")
            buffer.writeBytes(whole.dropFirst(cut))
            let value = try decoder.decode(buffer: &buffer)
            #expect(value == .array([.bulkString(ByteBuffer(string: "foo")), .integer(12), .array([.simpleString("x")])]))
        }
    }

    @Test(arguments: ["?x\r\n", ":notanumber\r\n", "$-5\r\n", "$3\r\nabcXY", "*-9\r\n"])
    func rejectsWhatIsNotRESP(text: String) {
        #expect(throws: RedisError.self) { _ = try decode(text) }
    }

    @Test func encodesCommandsAsBulkStringArrays() {
        var buffer = ByteBuffer()
        RESPEncoder.encode(["SET", "k", .bytes(ByteBuffer(string: "v\r\n"))], into: &buffer)
        #expect(String(buffer: buffer) == "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n")
    }

    @Test func parsesRedisURLs() throws {
        let full = try RedisConfiguration(url: "redis://user:p%40ss@cache.internal:6380/3")
        #expect(full.host == "cache.internal")
        #expect(full.port == 6380)
        #expect(full.username == "user")
        #expect(full.password == "p@ss")
        #expect(full.database == 3)
        let passwordOnly = try RedisConfiguration(url: "redis://:secret@localhost")
        #expect(passwordOnly.username == nil)
        #expect(passwordOnly.password == "secret")
        #expect(passwordOnly.port == 6379)
        #expect(passwordOnly.database == 0)
        for bad in ["http://x", "redis://h/x", "redis://h/-1", "rediss://h", "redis://a:1,b:2", "redis://h:0", "redis://h?x=1"] {
            #expect(throws: RedisError.self) { _ = try RedisConfiguration(url: bad) }
        }
    }

    @Test func parsesClusterAndSentinelURLs() throws {
        let cluster = try RedisConfiguration(url: "redis-cluster://:secret@10.0.0.1:7000,10.0.0.2:7001,[::1]:7002")
        #expect(
            cluster.topology
                == .cluster(seeds: [
                    RedisAddress(host: "10.0.0.1", port: 7000), RedisAddress(host: "10.0.0.2", port: 7001), RedisAddress(host: "::1", port: 7002),
                ])
        )
        #expect(cluster.password == "secret")
        let sentinel = try RedisConfiguration(url: "redis-sentinel://app:pw@s1:26379,s2/2#mymaster")
        #expect(
            sentinel.topology
                == .sentinel(master: "mymaster", sentinels: [RedisAddress(host: "s1", port: 26379), RedisAddress(host: "s2", port: 6379)])
        )
        #expect(sentinel.username == "app")
        #expect(sentinel.password == "pw")
        #expect(sentinel.database == 2)
        // As with redis://, a missing host is this machine and a missing port Redis's own.
        #expect(try RedisConfiguration(url: "redis-cluster://").topology == .cluster(seeds: [RedisAddress(host: "127.0.0.1", port: 6379)]))
        for bad in ["redis-cluster://h:1/2", "redis-cluster://h:1#m", "redis-sentinel://h:26379", "redis-sentinel://h:26379#"] {
            #expect(throws: RedisError.self, "\(bad)") { _ = try RedisConfiguration(url: bad) }
        }
    }

    /// Redis Cluster's own examples (the specification's "Keys hash tags" section) and CRC16's check value.
    @Test func keysHashToRedisClusterSlots() {
        #expect(RedisHashSlot.slot(of: "123456789") == 0x31C3)
        #expect(RedisHashSlot.slot(of: "{user1000}.following") == RedisHashSlot.slot(of: "{user1000}.followers"))
        #expect(RedisHashSlot.slot(of: "{user1000}.following") == RedisHashSlot.slot(of: "user1000"))
        #expect(RedisHashSlot.slot(of: "foo{}{bar}") != RedisHashSlot.slot(of: "bar"))
        #expect(RedisHashSlot.slot(of: "foo{{bar}}zap") == RedisHashSlot.slot(of: "{bar"))
        #expect(RedisHashSlot.slot(of: "foo{bar}{zap}") == RedisHashSlot.slot(of: "bar"))
        #expect(RedisHashSlot.slot(of: "") == 0)
    }

    @Test func scriptsKnowTheirSHA1() {
        #expect(RedisScript("return 1").sha1 == "e0e1f9fabfc9d4800c877a703b823ac0578ff8db")
    }
}
