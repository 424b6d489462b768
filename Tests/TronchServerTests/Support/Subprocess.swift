import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import TronchCore
import TronchTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `tronch` binary for CLI and end-to-end tests.
enum Tronch {
    /// `tronch`, next to the test bundle in the build directory.
    static var binary: String {
        let testBinary = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // On Linux the test runner is `<build>/tronchPackageTests.xctest`; elsewhere it may be inside a bundle.
        for _ in 0..<4 where !FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("tronch").path) {
            directory = directory.deletingLastPathComponent()
        }
        return directory.appendingPathComponent("tronch").path
    }

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs `tronch arguments…` to completion with extra environment variables (killed and failed after
    /// `timeout`).
    static func run(
        _ arguments: [String],
        environment: [String: String] = [:],
        directory: String? = nil,
        input: String? = nil,
        timeout: Duration = .seconds(60)
    ) async throws -> Result {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TRONCH_") }
        for (key, value) in environment { env[key] = value }
        let result = try await ChildProcess.run(binary, arguments, environment: env, directory: directory, input: input, timeout: timeout)
        return Result(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }

    /// A port nothing listens on right now.
    static func freePort() throws -> Int { try TestPorts.free() }

    static func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tronch-e2e-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// A `tronch serve` process, its output captured to files. It is started and reaped as ``ChildProcess``
/// starts and reaps children, not through Foundation's `Process`: that learns of an exit from a socket
/// the child holds, so a child spawned meanwhile by another test that inherited the socket hid the exit
/// ("did not stop after SIGTERM" from a server that had stopped). It starts, as it would in production, with
/// no signal blocked.
final class ServerProcess {
    let child: RunningChild
    let stdoutPath: String
    let stderrPath: String
    let port: Int

    init(arguments: [String], environment: [String: String], directory: String, port: Int) throws {
        self.port = port
        stdoutPath = directory + "/stdout-\(UUID().uuidString).log"
        stderrPath = directory + "/stderr-\(UUID().uuidString).log"
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("TRONCH_") }
        for (key, value) in environment { env[key] = value }
        child = try ChildProcess.start(
            Tronch.binary,
            ["serve", "--port", String(port)] + arguments,
            environment: env,
            directory: directory,
            stdout: stdoutPath,
            stderr: stderrPath
        )
    }

    var pid: Int32 { child.pid }
    var isRunning: Bool { child.isRunning }
    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Waits until the server says it listens, or fails after `timeout`.
    func waitUntilReady(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let status = child.status { throw ServerProcessError.exited(status, stderr) }
            if stderr.contains("listening on") { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ServerProcessError.timeout(stderr)
    }

    /// Sends SIGTERM and waits for the exit status.
    func terminate(timeout: Duration = .seconds(20)) async throws -> Int32 {
        kill(pid, SIGTERM)
        if let status = await child.wait(atMost: timeout) { return status }
        let diagnosis = await stuckDiagnosis()
        kill(pid, SIGKILL)
        throw ServerProcessError.timeout("did not stop after SIGTERM\n\(diagnosis)")
    }

    /// What a server that does not stop is doing: its state, its open TCP connections, every thread's stack
    /// (gdb, which scripts/test installs for the watchdog) and the end of its log, for the failure's message.
    private func stuckDiagnosis() async -> String {
        let pid = String(self.pid)
        var parts = [String]()
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) {
            // The field after the parenthesised name: R running, S sleeping, T stopped, Z exited but not reaped.
            let state = stat.split(separator: ")").last?.split(separator: " ").first ?? "?"
            parts.append("state: \(state)")
        }
        if let sockets = try? await ChildProcess.run("/usr/bin/ss", ["-tanp"], timeout: .seconds(10)) {
            let mine = sockets.stdout.split(separator: "\n").filter { $0.contains("pid=\(pid),") }
            parts.append("open TCP sockets:\n" + mine.joined(separator: "\n"))
        }
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb"),
            let stacks = try? await ChildProcess.run(
                "/usr/bin/gdb",
                ["-batch", "-ex", "thread apply all bt 25", "-p", pid],
                timeout: .seconds(60)
            )
        {
            let frames = stacks.stdout.split(separator: "\n").filter { $0.hasPrefix("Thread") || $0.hasPrefix("#") }
            parts.append("threads:\n" + frames.joined(separator: "\n"))
        }
        parts.append("log (end):\n" + String(stderr.suffix(4_000)))
        return parts.joined(separator: "\n")
    }

    deinit {
        if child.isRunning { kill(child.pid, SIGKILL) }
    }
}

enum ServerProcessError: Error {
    case exited(Int32, String)
    case timeout(String)
}

/// JSON over real HTTP, for tests that run `tronch serve` processes.
enum HTTP {
    static func call(_ method: String, _ url: String, key: String?, body: String? = nil) async throws -> (Int, JSONValue) {
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method)
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), (try? JSONDecoder().decode(JSONValue.self, from: Data(bytes.readableBytesView))) ?? .null)
    }
}
