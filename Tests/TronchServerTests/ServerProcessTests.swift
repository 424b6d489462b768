import Foundation
import Testing
import TronchTestSupport

/// The tests' own harness: a server that does not stop on SIGTERM fails its test with what it was doing.
@Suite(.timeLimit(.minutes(3))) struct ServerProcessTests {
    @Test func aServerThatDoesNotStopIsDiagnosed() async throws {
        let directory = try Tronch.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let server = try ServerProcess(
            arguments: ["--data-dir", directory + "/data"],
            environment: [:],
            directory: directory,
            port: try Tronch.freePort()
        )
        try await server.waitUntilReady()
        // A stopped process cannot act on SIGTERM: the stand-in for one wedged in its shutdown.
        kill(server.process.processIdentifier, SIGSTOP)
        do {
            _ = try await server.terminate(timeout: .seconds(1))
            Issue.record("a stopped server stopped")
        } catch ServerProcessError.timeout(let message) {
            #expect(message.contains("did not stop after SIGTERM"))
            #expect(message.contains("open TCP sockets:") && message.contains(":\(server.port)"), "\(message.prefix(2_000))")
            #expect(message.contains("log (end):") && message.contains("listening on"))
            if FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb") { #expect(message.contains("Thread 1")) }
        }
        #expect(
            !server.process.isRunning
                || {
                    usleep(200_000)
                    return !server.process.isRunning
                }()
        )
    }
}
