import Foundation
import HTTPTypes
import Testing
import TronchCore
import TronchRateLimit
import TronchTestSupport

@testable import TronchServer

/// What each failure mode does when Redis goes away mid-run, and that everything recovers when it is back.
/// Processes and servers can wedge; a stuck test fails after its time limit instead of hanging the run.
@Suite(.serialized, .timeLimit(.minutes(3))) struct RedisFailureModeTests {
    @Test(.enabled(if: TestRedis.enabled), arguments: RateLimitFailureMode.allCases)
    func redisStopsAndComesBack(mode: RateLimitFailureMode) async throws {
        let redis = RedisServer(port: try TestPorts.free())
        try await redis.start()
        let server = TestServer(config: [
            "redis.url": redis.url, "redis.timeout": "2", "ratelimit.failureMode": mode.rawValue,
        ])
        try await server.run { api async throws in
            try await eventually(within: 15) { try await api.request(.get, "/api/v1/health/ready")["checks"]?["redis"]?["status"] == "up" }
            let key = try await api.createKey(["ratelimits": [["name": "minute", "limit": 2, "period_seconds": 60]]])["key"]!.string!
            let shared = try await api.verify(key)
            #expect(shared.code == "VALID")
            #expect(shared["ratelimits"]?.array?.first?["remaining"] == 1)

            try await redis.stop()
            let ready = try await api.request(.get, "/api/v1/health/ready")
            #expect(ready["checks"]?["redis"]?["status"] == "down")
            #expect(ready.status == (mode == .closed ? .serviceUnavailable : .ok))
            let codes = try await (0..<3).asyncMap { _ in try await api.verify(key) }
            switch mode {
            case .open:
                #expect(codes.map(\.code) == ["VALID", "VALID", "VALID"])
                #expect(codes.allSatisfy { $0["ratelimits"] == .null }, "nothing is known about the limit's state")
            case .closed:
                #expect(codes.map(\.code) == ["RATE_LIMITED", "RATE_LIMITED", "RATE_LIMITED"])
            case .local:
                // This node's own limiter starts from nothing: two more, then refused.
                #expect(codes.map(\.code) == ["VALID", "VALID", "RATE_LIMITED"])
            }
            // A request on Tronch's own API that the limiter cannot decide in closed mode is a 503, not a 429.
            let create = try await api.request(.post, "/api/v1/keys", json: [:])
            #expect(create.status == (mode == .closed ? .serviceUnavailable : .created))
            #expect(server.logs.text.contains("Redis rate limiter unavailable"))

            try await redis.start()
            try await eventually(within: 15) { try await api.request(.get, "/api/v1/health/ready")["checks"]?["redis"]?["status"] == "up" }
            try await eventually(within: 15) { try await api.verify(key)["ratelimits"] != .null }
        }
        try await redis.stop()
    }
}

extension Sequence {
    /// Maps one element after another, awaiting each.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results = [T]()
        for element in self { results.append(try await transform(element)) }
        return results
    }
}
