import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to completion from an async test without ever blocking a thread of the cooperative pool,
/// and without ever waiting forever.
///
/// Output goes to files, not pipes (a child that writes more than a pipe holds would block, and a daemon it
/// starts could hold a pipe open); the exit is awaited through Foundation's termination handler; a child
/// still running after `timeout`, or when the waiting task is cancelled (a suite's time limit), is killed
/// with SIGKILL and the call throws. A wedged child therefore fails its test instead of hanging the run.
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

    package static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String? = nil,
        input: String? = nil, timeout: Duration = .seconds(120)
    ) async throws -> Result {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString)").path
        let outPath = scratch + ".out"
        let errPath = scratch + ".err"
        let inPath = scratch + ".in"
        _ = FileManager.default.createFile(atPath: inPath, contents: Data((input ?? "").utf8))
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
            try? FileManager.default.removeItem(atPath: inPath)
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        process.standardInput = input == nil ? FileHandle.nullDevice : FileHandle(forReadingAtPath: inPath)
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        let exit = ExitSignal()
        process.terminationHandler = { exit.finish($0.terminationStatus) }
        try process.run()
        let pid = process.processIdentifier
        let finished = try await withTaskCancellationHandler {
            try await withThrowingTaskGroup(of: Int32?.self) { group in
                group.addTask { await exit.status() }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return nil
                }
                let first = try await group.next() ?? nil
                group.cancelAll()
                return first
            }
        } onCancel: {
            kill(pid, SIGKILL)
        }
        guard let status = finished else {
            kill(pid, SIGKILL)
            _ = await exit.status()
            throw TimedOut(command: ([executable] + arguments).joined(separator: " "), timeout: timeout)
        }
        try Task.checkCancellation()
        return Result(
            status: status,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        )
    }
}

/// A child's exit status, awaited by at most one task, delivered whenever it comes.
private final class ExitSignal: Sendable {
    private let state = Mutex<(status: Int32?, waiter: CheckedContinuation<Int32, Never>?)>((nil, nil))

    func finish(_ status: Int32) {
        let waiter = state.withLock { state -> CheckedContinuation<Int32, Never>? in
            state.status = status
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: status)
    }

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
