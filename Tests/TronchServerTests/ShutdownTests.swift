import Foundation
import Testing
import TronchCore
import TronchServer
import TronchTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Stopping `tronch serve`: SIGTERM finishes what is in flight, within TRONCH_SHUTDOWN_TIMEOUT; and what a
/// client cannot hold open: an idle or stalled connection, past TRONCH_HTTP_IDLE_TIMEOUT.
@Suite(.timeLimit(.minutes(3))) struct ShutdownTests {
    /// Accepts connections (the kernel does, from its backlog) and never answers.
    static let silentReceiver = """
        import socket, sys, time
        s = socket.socket()
        s.bind(("127.0.0.1", int(sys.argv[1])))
        s.listen(16)
        time.sleep(120)
        """

    /// A webhook delivery to an endpoint that never answers is a pass of the dispatcher that would hold the
    /// stop for the whole webhook timeout (60 s here): the node stops after TRONCH_SHUTDOWN_TIMEOUT instead.
    @Test func aStuckPartIsCancelledAfterTheShutdownTimeout() async throws {
        let directory = try Tronch.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let receiverPort = try Tronch.freePort()
        let receiver = try ChildProcess.start(
            "/usr/bin/env",
            ["python3", "-c", Self.silentReceiver, String(receiverPort)],
            stdout: "/dev/null",
            stderr: "/dev/null"
        )
        defer { kill(receiver.pid, SIGKILL) }
        let rootKey = KeyFormat(prefix: "tronch")!.generate(environment: .live)
        let server = try ServerProcess(
            arguments: ["--data-dir", directory + "/data"],
            environment: [
                "TRONCH_BOOTSTRAP_ROOT_KEY": rootKey, "TRONCH_WEBHOOKS_ALLOWED_NETWORKS": "127.0.0.0/8",
                "TRONCH_WEBHOOKS_TIMEOUT": "60", "TRONCH_SHUTDOWN_TIMEOUT": "1",
            ],
            directory: directory,
            port: try Tronch.freePort()
        )
        try await server.waitUntilReady()
        let (registered, _) = try await HTTP.call(
            "POST",
            server.baseURL + "/api/v1/webhooks",
            key: rootKey,
            body: #"{"url": "http://127.0.0.1:\#(receiverPort)/hooks", "events": ["key.created"]}"#
        )
        #expect(registered == 201)
        let (created, _) = try await HTTP.call("POST", server.baseURL + "/api/v1/keys", key: rootKey, body: #"{"name": "k"}"#)
        #expect(created == 201)
        // Wait until the delivery's request is on its way to the receiver.
        try await eventually(within: 20) {
            let sockets = try await ChildProcess.run("/usr/bin/ss", ["-Htn", "state", "established", "( dport = :\(receiverPort) )"])
            return !sockets.stdout.isEmpty
        }

        let start = ContinuousClock.now
        let status = try await server.terminate(timeout: .seconds(30))
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .seconds(1) && elapsed < .seconds(15), "stopped after \(elapsed)")
        let log = server.stderr
        #expect(log.contains("stopping: finishing the requests in flight"), "\(log.suffix(2_000))")
        #expect(log.contains("did not finish stopping within TRONCH_SHUTDOWN_TIMEOUT"), "\(log.suffix(2_000))")
        #expect(status != 128 + SIGKILL, "\(log.suffix(2_000))")
    }

    /// Nothing in flight: the node stops at once, says so, and exits 0. At debug level the log names each part
    /// as it is stopped (troubleshooting.md), by its type alone, not by a dump of what it holds.
    @Test func anIdleNodeStopsAtOnce() async throws {
        let directory = try Tronch.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try ServerProcess(
            arguments: ["--data-dir", directory + "/data"],
            environment: ["TRONCH_LOG_LEVEL": "debug"],
            directory: directory,
            port: try Tronch.freePort()
        )
        try await server.waitUntilReady()
        #expect(try await server.terminate() == 0)
        let log = server.stderr
        #expect(log.contains("stopping: finishing the requests in flight") && log.contains("notice tronch: stopped"), "\(log.suffix(2_000))")
        #expect(!log.contains("TRONCH_SHUTDOWN_TIMEOUT"))
        #expect(log.contains("Triggering graceful shutdown for service sl-service=WebhookDispatcher\n"), "\(log.suffix(3_000))")
        #expect(log.contains("sl-service=LastUsedRecorder\n"))
        #expect(!log.contains("SQLiteStore(") && !log.contains("SymmetricKey"), "\(log.suffix(3_000))")
    }

    /// Connects, sends `payload`, and prints how many seconds passed until the server closed the connection
    /// (or "open" after 10 s), and what it answered.
    static let idleClient = """
        import socket, sys, time
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
        s.sendall(sys.argv[2].encode().decode("unicode_escape").encode())
        s.settimeout(10)
        start, answer = time.time(), b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk: break
                answer += chunk
            print("%.1f" % (time.time() - start), answer.split(b"\\r\\n")[0].decode())
        except socket.timeout:
            print("open", answer.split(b"\\r\\n")[0].decode())
        """

    /// A connection kept alive after its request, and one that stops in the middle of a request, are both
    /// closed after TRONCH_HTTP_IDLE_TIMEOUT; the complete request was answered first.
    @Test func idleAndStalledConnectionsAreClosed() async throws {
        let directory = try Tronch.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try ServerProcess(
            arguments: ["--data-dir", directory + "/data"],
            environment: ["TRONCH_HTTP_IDLE_TIMEOUT": "1"],
            directory: directory,
            port: try Tronch.freePort()
        )
        try await server.waitUntilReady()
        let port = String(server.port)
        async let idle = ChildProcess.run(
            "/usr/bin/env",
            ["python3", "-c", Self.idleClient, port, #"GET /api/v1/health HTTP/1.1\r\nHost: t\r\n\r\n"#]
        )
        async let stalled = ChildProcess.run(
            "/usr/bin/env",
            [
                "python3", "-c", Self.idleClient, port,
                #"POST /api/v1/keys/verify HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"key\":"#,
            ]
        )
        let (kept, cut) = try await (idle, stalled)
        let keptWords = kept.stdout.split(separator: " ")
        #expect(keptWords.first.flatMap { Double($0) }.map { (0.5...5).contains($0) } == true, "\(kept.stdout) \(kept.stderr)")
        #expect(kept.stdout.contains("HTTP/1.1 200 OK"), "answered before it was closed")
        #expect(cut.stdout.split(separator: " ").first.flatMap { Double($0) }.map { (0.5...5).contains($0) } == true, "\(cut.stdout) \(cut.stderr)")
        #expect(try await server.terminate() == 0)
    }

    /// Both timeouts take 1 to 3600 seconds; anything else stops start-up naming the variable.
    @Test(arguments: [("shutdown.timeout", "TRONCH_SHUTDOWN_TIMEOUT"), ("http.idleTimeout", "TRONCH_HTTP_IDLE_TIMEOUT")])
    func timeoutsOutOfRangeStopStartUp(key: String, variable: String) throws {
        for bad in ["0", "3601", "soon"] {
            #expect(throws: ConfigurationError(key: variable, "")) { _ = try Settings(reader: TestServer.reader([key: bad])) }
        }
        let defaults = try Settings(reader: TestServer.reader())
        #expect(defaults.shutdownTimeout == .seconds(25) && defaults.httpIdleTimeout == .seconds(75))
        let set = try Settings(reader: TestServer.reader([key: "30"]))
        #expect((key == "shutdown.timeout" ? set.shutdownTimeout : set.httpIdleTimeout) == .seconds(30))
    }
}
