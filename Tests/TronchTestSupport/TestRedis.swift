import Foundation
import Synchronization

/// The Redis that `scripts/test` starts, and private ones a test may stop and start.
package enum TestRedis {
    /// Set by `scripts/test` (`redis://127.0.0.1:PORT`).
    package static var url: String? {
        ProcessInfo.processInfo.environment["TRONCH_TEST_REDIS_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    package static var isRequired: Bool { ProcessInfo.processInfo.environment["TRONCH_TEST_REQUIRE_REDIS"] == "1" }

    /// Whether tests that need Redis should run (they fail, not skip, when `scripts/test` requires Redis).
    package static var enabled: Bool { url != nil || isRequired }

    /// A Redis Cluster of three masters that `scripts/test` starts (`redis-cluster://127.0.0.1:PORT,…`).
    package static var clusterURL: String? {
        ProcessInfo.processInfo.environment["TRONCH_TEST_REDIS_CLUSTER_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    package static var clusterEnabled: Bool { clusterURL != nil || isRequired }

    /// A master, its replica and a Sentinel watching them as `tronch`, which `scripts/test` starts
    /// (`redis-sentinel://127.0.0.1:PORT#tronch`).
    package static var sentinelURL: String? {
        ProcessInfo.processInfo.environment["TRONCH_TEST_REDIS_SENTINEL_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    package static var sentinelEnabled: Bool { sentinelURL != nil || isRequired }
}

/// A private redis-server on loopback, started and stopped through `scripts/redis`.
package final class RedisServer: Sendable {
    package let directory: String
    package let port: Int
    package let password: String?

    package init(port: Int, password: String? = nil) {
        self.port = port
        self.password = password
        directory = "/tmp/tronch-redis-\(UUID().uuidString.prefix(8))"
    }

    package var url: String {
        if let password { return "redis://:\(password)@127.0.0.1:\(port)" }
        return "redis://127.0.0.1:\(port)"
    }

    package func start() async throws {
        try await Script.run(Script.path("scripts/redis"), ["start", directory, String(port)] + (password.map { [$0] } ?? []))
    }

    package func stop() async throws { try await Script.run(Script.path("scripts/redis"), ["stop", directory]) }

    deinit {
        Script.runDetached(Script.path("scripts/redis"), ["destroy", directory])
    }
}

/// Runs the repository's scripts from tests.
package enum Script {
    package static func path(_ relative: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent(relative).path
    }

    /// Runs `bash script arguments…` and throws with its standard error when it fails; a script still running
    /// after `timeout` is killed and fails.
    package static func run(_ script: String, _ arguments: [String], timeout: Duration = .seconds(60)) async throws {
        let result = try await ChildProcess.run("/bin/bash", [script] + arguments, timeout: timeout)
        guard result.status == 0 else {
            throw ScriptError(message: "\(script) \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        }
    }

    /// Starts `bash script arguments…` without waiting (for clean-up in `deinit`).
    package static func runDetached(_ script: String, _ arguments: [String]) {
        _ = try? ChildProcess.start("/bin/bash", [script] + arguments, stdout: "/dev/null", stderr: "/dev/null")
    }
}

package struct ScriptError: Error, CustomStringConvertible {
    package var message: String
    package var description: String { message }
}

/// A private master, replica and Sentinel on loopback (`scripts/redis sentinel`), for a test that fails the
/// master over: the shared set that `scripts/test` starts must keep its master for the other tests.
package final class RedisSentinelSet: Sendable {
    package let directory = "/tmp/tronch-sentinel-\(UUID().uuidString.prefix(8))"
    private let base = Mutex(0)

    package init() {}

    /// `redis-sentinel://127.0.0.1:SENTINEL#tronch`.
    package var url: String { "redis-sentinel://127.0.0.1:\(base.withLock { $0 } + 2)#tronch" }

    /// Starts the three servers on three consecutive ports from ``TestPorts`` (a few tries, in case one is
    /// taken meanwhile).
    package func start() async throws {
        var lastError: (any Error)?
        for _ in 0..<5 {
            let port = try TestPorts.free(consecutive: 3)
            do {
                try await Script.run(Script.path("scripts/redis"), ["sentinel", directory, String(port)])
                base.withLock { $0 = port }
                return
            } catch {
                lastError = error
                try? await Script.run(Script.path("scripts/redis"), ["destroy", directory])
            }
        }
        throw lastError ?? ScriptError(message: "scripts/redis sentinel did not start")
    }

    deinit {
        Script.runDetached(Script.path("scripts/redis"), ["destroy", directory])
    }
}

/// The Redis deployments `scripts/test` starts: one server, a three-master cluster, a Sentinel set.
package enum RedisDeployment: String, CaseIterable, Sendable, CustomStringConvertible {
    case server, cluster, sentinel

    package var description: String { rawValue }

    /// Those a test run has (all three under `scripts/test`, which requires them).
    package static var available: [RedisDeployment] {
        allCases.filter { deployment in
            switch deployment {
            case .server: TestRedis.enabled
            case .cluster: TestRedis.clusterEnabled
            case .sentinel: TestRedis.sentinelEnabled
            }
        }
    }

    package var url: String? {
        switch self {
        case .server: TestRedis.url
        case .cluster: TestRedis.clusterURL
        case .sentinel: TestRedis.sentinelURL
        }
    }
}
