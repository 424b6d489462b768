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
        kill(server.pid, SIGSTOP)
        do {
            _ = try await server.terminate(timeout: .seconds(1))
            Issue.record("a stopped server stopped")
        } catch ServerProcessError.timeout(let message) {
            #expect(message.contains("did not stop after SIGTERM"))
            #expect(message.contains("state: T"), "a stopped process: \(message.prefix(300))")
            #expect(message.contains("open TCP sockets:") && message.contains(":\(server.port)"), "\(message.prefix(2_000))")
            #expect(message.contains("log (end):") && message.contains("listening on"))
            if FileManager.default.isExecutableFile(atPath: "/usr/bin/gdb") { #expect(message.contains("Thread 1")) }
        }
        #expect(await server.child.wait(atMost: .seconds(10)) == 128 + SIGKILL, "killed after the diagnosis")
    }

    /// A child gets the standard streams and nothing else of the test process: a descriptor it inherited
    /// (Foundation's `Process` keeps a socket per child, open until that child exits) could outlive the test.
    @Test func childrenInheritNoDescriptor() async throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer {
            close(ends[0])
            close(ends[1])
        }
        let listing = try await ChildProcess.run("/bin/sh", ["-c", "ls /proc/$$/fd"])
        let descriptors = listing.stdout.split(separator: "\n").compactMap { Int32($0) }.sorted()
        #expect(descriptors == [0, 1, 2], "\(listing.stdout)")
        #expect(ends[1] > 2, "the pipe is open here")
    }
}
