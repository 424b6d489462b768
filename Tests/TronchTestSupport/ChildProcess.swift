import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to completion from an async test without ever blocking a thread of the cooperative pool,
/// and without ever waiting forever.
///
/// Output goes to files, not pipes (a child that writes more than a pipe holds would block, and a daemon it
/// starts could hold a pipe open). The child is started with `posix_spawn` and reaped by `waitpid` on a
/// thread of its own, not through Foundation's `Process`, whose termination handler was seen to never fire
/// (the run then waited forever with every thread idle). A child still running after `timeout`, or when the
/// waiting task is cancelled (a suite's time limit), is killed with SIGKILL and the call throws; the kill
/// always ends the wait, since the exit is awaited from the one place that reaps it.
package enum ChildProcess {
    package struct Result: Sendable {
        package var status: Int32
        package var stdout: String
        package var stderr: String
    }

    package struct TimedOut: Error, CustomStringConvertible {
        package var command: String
        package var timeout: Duration
        package var description: String { "\(command) did not finish within \(timeout); killed" }
    }

    package struct SpawnFailed: Error, CustomStringConvertible {
        package var command: String
        package var error: Int32
        package var description: String { "could not start \(command): \(String(cString: strerror(error)))" }
    }

    package static func run(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        directory: String? = nil,
        input: String? = nil,
        timeout: Duration = .seconds(120)
    ) async throws -> Result {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString)").path
        let outPath = scratch + ".out"
        let errPath = scratch + ".err"
        let inPath = scratch + ".in"
        _ = FileManager.default.createFile(atPath: inPath, contents: Data((input ?? "").utf8))
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
            try? FileManager.default.removeItem(atPath: inPath)
        }
        let command = ([executable] + arguments).joined(separator: " ")
        let child = try start(
            executable,
            arguments,
            environment: environment,
            directory: directory,
            stdin: input == nil ? "/dev/null" : inPath,
            stdout: outPath,
            stderr: errPath
        )
        let pid = child.pid
        let finished = try await withTaskCancellationHandler {
            try await withThrowingTaskGroup(of: Int32?.self) { group in
                group.addTask { await child.exit.status() }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return nil
                }
                let first = try await group.next() ?? nil
                // The group ends when both have: the sleep on cancellation, the exit once killed.
                if first == nil { kill(pid, SIGKILL) }
                group.cancelAll()
                return first
            }
        } onCancel: {
            kill(pid, SIGKILL)
        }
        guard let status = finished else { throw TimedOut(command: command, timeout: timeout) }
        try Task.checkCancellation()
        return Result(
            status: status,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        )
    }

    /// Starts `executable` without waiting for it, its standard streams on files; a thread of its own reaps it
    /// with `waitpid`, so its exit is seen whatever else holds its descriptors.
    package static func start(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        directory: String? = nil,
        stdin: String = "/dev/null",
        stdout: String,
        stderr: String
    ) throws -> RunningChild {
        let command = ([executable] + arguments).joined(separator: " ")
        let pid = try spawn(
            executable,
            arguments,
            environment: environment,
            directory: directory,
            stdin: stdin,
            stdout: stdout,
            stderr: stderr,
            command: command
        )
        let child = RunningChild(pid: pid)
        let reaper = Thread {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 {
                guard errno == EINTR else {
                    child.exit.finish(-1)
                    return
                }
            }
            // Exited: the code; killed by a signal: 128 + the signal, as a shell reports it.
            child.exit.finish(status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f))
        }
        reaper.start()
        return child
    }

    /// Starts `executable` with its standard streams on files, in `directory`, with default signal handling and
    /// none of this process's other descriptors: a child that inherited, say, the socket by which Foundation's
    /// `Process` learns that another child exited would hide that exit for as long as it lives.
    private static func spawn(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]?,
        directory: String?,
        stdin: String,
        stdout: String,
        stderr: String,
        command: String
    ) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        closeInheritedDescriptors(&actions)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The test runner blocks or handles signals the child must not inherit.
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let environment = environment ?? ProcessInfo.processInfo.environment
        // Glibc's module does not export posix_spawn_file_actions_addchdir_np: GNU env changes directory.
        let program = directory == nil ? executable : "/usr/bin/env"
        let words = directory.map { ["/usr/bin/env", "-C", $0, executable] } ?? [executable]
        let argv = (words + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, program, &actions, &attributes, argv, envp)
        guard result == 0 else { throw SpawnFailed(command: command, error: result) }
        return pid
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later; Swift's Glibc module does not export
    /// it): closes every descriptor from 3 up in the child.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        guard let addCloseFrom else { return }
        _ = addCloseFrom(&actions, 3)
    }
}

/// A child started by ``ChildProcess/start(_:_:environment:directory:stdin:stdout:stderr:)``.
package final class RunningChild: Sendable {
    package let pid: Int32
    let exit = ExitSignal()

    init(pid: Int32) { self.pid = pid }

    /// False once it has exited and been reaped.
    package var isRunning: Bool { exit.current == nil }

    /// Its exit status (128 + the signal when a signal ended it), once it has exited.
    package var status: Int32? { exit.current }

    /// Waits for its exit, at most `timeout`; nil when it is still running then.
    package func wait(atMost timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while exit.current == nil && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return exit.current
    }
}

/// A child's exit status, awaited by at most one task, delivered whenever it comes.
final class ExitSignal: Sendable {
    private let state = Mutex<(status: Int32?, waiter: CheckedContinuation<Int32, Never>?)>((nil, nil))

    func finish(_ status: Int32) {
        let waiter = state.withLock { state -> CheckedContinuation<Int32, Never>? in
            state.status = status
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: status)
    }

    var current: Int32? { state.withLock { $0.status } }

    func status() async -> Int32 {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Int32? in
                if let status = state.status { return status }
                state.waiter = continuation
                return nil
            }
            if let done { continuation.resume(returning: done) }
        }
    }
}
