import Foundation
import Testing
import TronchCore
import TronchTestSupport

/// Two real `tronch serve` processes on one PostgreSQL and one Redis, as a scaled-out deployment runs.
/// Processes and servers can wedge; a stuck test fails after its time limit instead of hanging the run.
@Suite(.serialized, .timeLimit(.minutes(3))) struct MultiNodeTests {
    static var enabled: Bool { (TestPostgres.url != nil || TestPostgres.isRequired) && TestRedis.enabled }

    @Test(.enabled(if: MultiNodeTests.enabled)) func twoNodesShareLimitsAndRevocations() async throws {
        let directory = try Tronch.temporaryDirectory()
        let rootKey = KeyFormat(prefix: "tronch")!.generate(environment: .live)
        let environment = [
            "TRONCH_DATABASE_URL": try await TestPostgres.freshSchemaURL(),
            "TRONCH_REDIS_URL": try #require(TestRedis.url),
            "TRONCH_KEY_PEPPER": "multi-node-test-pepper-0123456789abcdef",
            "TRONCH_BOOTSTRAP_ROOT_KEY": rootKey,
            // Long enough that only the published invalidation can explain a revocation seen in time.
            "TRONCH_CACHE_TTL": "60",
        ]
        let nodeA = try ServerProcess(arguments: [], environment: environment, directory: directory, port: try Tronch.freePort())
        try await nodeA.waitUntilReady()
        let nodeB = try ServerProcess(arguments: [], environment: environment, directory: directory, port: try Tronch.freePort())
        try await nodeB.waitUntilReady()
        let nodes = [nodeA, nodeB]
        for node in nodes {
            let (status, ready) = try await HTTP.call("GET", node.baseURL + "/api/v1/health/ready", key: nil)
            #expect(status == 200)
            #expect(ready["checks"]?["redis"]?["status"] == "up", "\(ready)")
        }

        // Limits: 40 verifications spread over both nodes, concurrently, admit exactly the burst of 10.
        let (created, limited) = try await HTTP.call(
            "POST", nodeA.baseURL + "/api/v1/keys", key: rootKey,
            body: #"{"ratelimits": [{"name": "hour", "limit": 10, "period_seconds": 3600}]}"#
        )
        #expect(created == 201)
        let limitedKey = try #require(limited["key"]?.string)
        let urls = nodes.map(\.baseURL)
        let codes = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<40 {
                group.addTask {
                    let (_, answer) = try await HTTP.call(
                        "POST", urls[index % 2] + "/api/v1/keys/verify", key: rootKey, body: #"{"key": "\#(limitedKey)"}"#
                    )
                    return answer["code"]?.string ?? "?"
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(codes.filter { $0 == "VALID" }.count == 10)
        #expect(codes.filter { $0 == "RATE_LIMITED" }.count == 30)

        // Revocation: node B has the key cached; a revoke on node A reaches it within a second.
        let (_, plain) = try await HTTP.call("POST", nodeA.baseURL + "/api/v1/keys", key: rootKey, body: "{}")
        let key = try #require(plain["key"]?.string)
        let id = try #require(plain["id"]?.string)
        let verifyBody = #"{"key": "\#(key)"}"#
        #expect(try await HTTP.call("POST", nodeB.baseURL + "/api/v1/keys/verify", key: rootKey, body: verifyBody).1["code"] == "VALID")
        let (revoked, _) = try await HTTP.call("DELETE", nodeA.baseURL + "/api/v1/keys/\(id)", key: rootKey)
        #expect(revoked == 200)
        let start = ContinuousClock.now
        var code = "VALID"
        while code == "VALID" && ContinuousClock.now - start < .seconds(5) {
            code = try await HTTP.call("POST", nodeB.baseURL + "/api/v1/keys/verify", key: rootKey, body: verifyBody).1["code"]?.string ?? "?"
            if code == "VALID" { try await Task.sleep(for: .milliseconds(20)) }
        }
        let elapsed = ContinuousClock.now - start
        #expect(code == "REVOKED")
        #expect(elapsed < .seconds(1), "node B saw the revocation after \(elapsed)")

        for node in nodes { #expect(try await node.terminate() == 0) }
    }
}
