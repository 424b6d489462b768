import Foundation
import Testing
import TronchCore
import TronchTestSupport

/// Two real `tronch serve` processes on one PostgreSQL and one Redis, as a scaled-out deployment runs.
/// Processes and servers can wedge; a stuck test fails after its time limit instead of hanging the run.
@Suite(.serialized, .timeLimit(.minutes(3))) struct MultiNodeTests {
    static var enabled: Bool { (TestPostgres.url != nil || TestPostgres.isRequired) && TestRedis.enabled }

    /// With one Redis server, a Redis Cluster (the limiter's keys in their subject's slot, invalidations
    /// published on any node) and a master found through Sentinel.
    @Test(.enabled(if: MultiNodeTests.enabled), arguments: RedisDeployment.available)
    func twoNodesShareLimitsAndRevocations(redis: RedisDeployment) async throws {
        let directory = try Tronch.temporaryDirectory()
        let rootKey = KeyFormat(prefix: "tronch")!.generate(environment: .live)
        let environment = [
            "TRONCH_DATABASE_URL": try await TestPostgres.freshSchemaURL(),
            "TRONCH_REDIS_URL": try #require(redis.url, "scripts/test starts a Redis \(redis)"),
            "TRONCH_KEY_PEPPER": "multi-node-test-pepper-0123456789abcdef",
            "TRONCH_BOOTSTRAP_ROOT_KEY": rootKey,
            // Long enough that only the published invalidation can explain a revocation seen in time.
            "TRONCH_CACHE_TTL": "60",
            // Sharing is under test, not the fallback: with the default 0.1 s a loaded machine's slow Redis
            // answer sends a node to its local limiter, which admits its own burst (seen: 16 of 40 valid).
            "TRONCH_REDIS_TIMEOUT": "5",
        ]
        let nodeA = try ServerProcess(arguments: [], environment: environment, directory: directory, port: try Tronch.freePort())
        try await nodeA.waitUntilReady()
        let nodeB = try ServerProcess(arguments: [], environment: environment, directory: directory, port: try Tronch.freePort())
        try await nodeB.waitUntilReady()
        let nodes = [nodeA, nodeB]
        for node in nodes {
            // Redis must answer each node's readiness probe within TRONCH_REDIS_TIMEOUT; on a loaded CI machine
            // one probe can miss it, so a few are allowed before the node counts as without Redis.
            var (status, ready) = try await HTTP.call("GET", node.baseURL + "/api/v1/health/ready", key: nil)
            for _ in 0..<20 where ready["checks"]?["redis"]?["status"] != "up" {
                try await Task.sleep(for: .milliseconds(100))
                (status, ready) = try await HTTP.call("GET", node.baseURL + "/api/v1/health/ready", key: nil)
            }
            #expect(status == 200)
            #expect(ready["checks"]?["redis"]?["status"] == "up", "\(ready)")
        }

        // Limits: 40 verifications spread over both nodes, concurrently, admit exactly the burst of 10.
        let (created, limited) = try await HTTP.call(
            "POST",
            nodeA.baseURL + "/api/v1/keys",
            key: rootKey,
            body: #"{"ratelimits": [{"name": "hour", "limit": 10, "period_seconds": 3600}]}"#
        )
        #expect(created == 201)
        let limitedKey = try #require(limited["key"]?.string)
        let urls = nodes.map(\.baseURL)
        let codes = try await withThrowingTaskGroup(of: String.self) { group in
            for index in 0..<40 {
                group.addTask {
                    let (_, answer) = try await HTTP.call(
                        "POST",
                        urls[index % 2] + "/api/v1/keys/verify",
                        key: rootKey,
                        body: #"{"key": "\#(limitedKey)"}"#
                    )
                    return answer["code"]?.string ?? "?"
                }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(codes.filter { $0 == "VALID" }.count == 10)
        #expect(codes.filter { $0 == "RATE_LIMITED" }.count == 30)

        // Revocation: node B has the key cached; a revoke on node A reaches it through Redis, before its cache would expire.
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
        #expect(elapsed < Self.pushBound, "node B saw the revocation after \(elapsed)")

        for node in nodes { #expect(try await node.terminate() == 0) }
    }

    /// Waits until `condition` holds, at most five seconds, and returns how long it took.
    /// Pushed changes must arrive well before the 5-second poll that would otherwise catch them: less than
    /// this proves Redis carried them. (Typically tens of milliseconds; not a timing assertion on a busy machine.)
    static let pushBound: Duration = .seconds(3)

    static func timeUntil(_ condition: () async throws -> Bool) async throws -> Duration {
        let start = ContinuousClock.now
        while try await !condition() {
            guard ContinuousClock.now - start < .seconds(5) else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        return ContinuousClock.now - start
    }

    @Test(.enabled(if: MultiNodeTests.enabled)) func endedSessionsAndNewSigningKeysReachEveryNodeBeforeAPoll() async throws {
        let directory = try Tronch.temporaryDirectory()
        let rootKey = KeyFormat(prefix: "tronch")!.generate(environment: .live)
        let environment = [
            "TRONCH_DATABASE_URL": try await TestPostgres.freshSchemaURL(),
            "TRONCH_REDIS_URL": try #require(TestRedis.url),
            "TRONCH_KEY_PEPPER": "multi-node-test-pepper-0123456789abcdef",
            "TRONCH_BOOTSTRAP_ROOT_KEY": rootKey,
            "TRONCH_PASSWORD_SCRYPT_LOG_N": "10",
            "TRONCH_RATELIMIT_LOGIN": "off",
            // Every node must name the same issuer (the public URL), or one node's tokens fail on another.
            "TRONCH_ISSUER": "https://auth.example.com",
        ]
        let nodeA = try ServerProcess(arguments: [], environment: environment, directory: directory, port: try Tronch.freePort())
        try await nodeA.waitUntilReady()
        let nodeB = try ServerProcess(arguments: [], environment: environment, directory: directory, port: try Tronch.freePort())
        try await nodeB.waitUntilReady()
        let (created, _) = try await HTTP.call(
            "POST",
            nodeA.baseURL + "/api/v1/users",
            key: rootKey,
            body: #"{"username": "nora", "email": "nora@example.com", "password": "a long enough passphrase"}"#
        )
        #expect(created == 201)
        func login(_ node: ServerProcess) async throws -> JSONValue {
            try await HTTP.call(
                "POST",
                node.baseURL + "/api/v1/auth/login",
                key: nil,
                body: #"{"username": "nora", "password": "a long enough passphrase"}"#
            ).1
        }
        func status(_ node: ServerProcess, _ token: String) async throws -> Int {
            try await HTTP.call("GET", node.baseURL + "/api/v1/users/me", key: token).0
        }

        // A logout on node A: node B refuses the session's token before its next poll.
        let session = try await login(nodeA)
        let access = try #require(session["access_token"]?.string)
        #expect(try await status(nodeB, access) == 200, "one key set: a token of node A works on node B")
        #expect(try await HTTP.call("POST", nodeA.baseURL + "/api/v1/auth/logout", key: access).0 == 204)
        let logoutSeen = try await Self.timeUntil { try await status(nodeB, access) == 401 }
        #expect(try await status(nodeB, access) == 401)
        #expect(logoutSeen < Self.pushBound, "node B refused the ended session after \(logoutSeen)")

        // A refresh token replayed on node A: node B refuses the family's access token before its next poll.
        let second = try await login(nodeB)
        let refresh = try #require(second["refresh_token"]?.string)
        let secondAccess = try #require(second["access_token"]?.string)
        let body = #"{"refresh_token": "\#(refresh)"}"#
        #expect(try await HTTP.call("POST", nodeA.baseURL + "/api/v1/auth/refresh", key: nil, body: body).0 == 200)
        let replay = try await HTTP.call("POST", nodeA.baseURL + "/api/v1/auth/refresh", key: nil, body: body)
        #expect(replay.1["code"] == "REFRESH_TOKEN_REUSED")
        let reuseSeen = try await Self.timeUntil { try await status(nodeB, secondAccess) == 401 }
        #expect(reuseSeen < Self.pushBound, "node B refused the reused family after \(reuseSeen)")

        // A new signing key, made from the command line: both nodes sign with it before their next poll.
        let rotated = try await Tronch.run(["tokens", "rotate-signing-key"], environment: environment, directory: directory)
        #expect(rotated.status == 0, "\(rotated.stderr)")
        #expect(rotated.stdout.contains("told through Redis"))
        let newKid = try #require(rotated.stdout.split(separator: " ").dropFirst(3).first.map(String.init))
        func kid(_ token: String?) -> String? {
            token.flatMap { Base64URL.decode(String($0.split(separator: ".")[0])) }.flatMap { try? JSONParser.parse($0) }?["kid"]?.string
        }
        for node in [nodeA, nodeB] {
            let seen = try await Self.timeUntil { kid(try await login(node)["access_token"]?.string) == newKid }
            #expect(seen < Self.pushBound, "\(node.baseURL) signed with the new key after \(seen)")
        }
        for node in [nodeA, nodeB] { #expect(try await node.terminate() == 0) }
    }
}
