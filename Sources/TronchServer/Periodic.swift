import Logging
import ServiceLifecycle

/// The loop of the background services that work in passes: wait an interval, run a pass, again, until the task
/// is cancelled or the service group shuts down gracefully. Either ends a wait at once; a pass under way runs to
/// its end.
///
/// A failed pass is logged and tried again at the next interval, never the end of the service: the database
/// may be away for a moment.
enum Periodic {
    /// Runs `pass` every `interval`, the first one interval after start (at start-up the database is being
    /// migrated) unless `immediately`. A pass's error is logged at `level` as `failure`, with `error` metadata.
    static func run(
        every interval: Duration,
        immediately: Bool = false,
        logger: Logger,
        level: Logger.Level = .warning,
        failure: Logger.Message,
        _ pass: () async throws -> Void
    ) async {
        while !Task.isShuttingDownGracefully {
            if !immediately { guard await pause(interval) else { return } }
            do {
                try await pass()
            } catch {
                logger.log(level: level, failure, metadata: ["error": "\(error)"])
            }
            if immediately { guard await pause(interval) else { return } }
        }
    }

    /// Waits `interval`; false when cancellation or graceful shutdown cut the wait short.
    private static func pause(_ interval: Duration) async -> Bool {
        do {
            try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            return true
        } catch {
            return false
        }
    }
}
