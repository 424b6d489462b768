import Synchronization

/// Runs work with a time limit that holds even when the work ignores cancellation.
///
/// A task group racing the work against a sleep is not enough: the group does not return until every child
/// has, so work stuck in a call that never checks for cancellation (a driver waiting on a socket that will not
/// answer) keeps its caller waiting forever, however short the limit. Here the caller is answered by whichever
/// comes first; late work is cancelled and its result dropped.
enum Deadline {
    static func run<T: Sendable>(
        within limit: Duration,
        timedOut: @escaping @Sendable () -> any Error,
        _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let outcome = Outcome<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                outcome.wait(continuation)
                let work = Task {
                    do { outcome.settle(.success(try await body())) } catch { outcome.settle(.failure(error)) }
                }
                let timer = Task {
                    try? await Task.sleep(for: limit)
                    if outcome.settle(.failure(timedOut())) { work.cancel() }
                }
                outcome.onSettle {
                    work.cancel()
                    timer.cancel()
                }
            }
        } onCancel: {
            outcome.settle(.failure(CancellationError()))
        }
    }
}

/// The one answer of a ``Deadline``: the first `settle` resumes the caller, later ones are dropped.
private final class Outcome<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var early: Result<T, any Error>?
        var settled = false
        var cleanup: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    func wait(_ continuation: CheckedContinuation<T, any Error>) {
        let early = state.withLock { state -> Result<T, any Error>? in
            if let early = state.early { return early }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    /// Runs `cleanup` once settled (at once if already), to stop whichever task lost.
    func onSettle(_ cleanup: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if state.settled { return true }
            state.cleanup = cleanup
            return false
        }
        if now { cleanup() }
    }

    /// True when this settled it.
    @discardableResult func settle(_ result: Result<T, any Error>) -> Bool {
        let (won, continuation, cleanup) = state.withLock { state -> (Bool, CheckedContinuation<T, any Error>?, (@Sendable () -> Void)?) in
            guard !state.settled else { return (false, nil, nil) }
            state.settled = true
            let continuation = state.continuation
            if continuation == nil { state.early = result }
            state.continuation = nil
            defer { state.cleanup = nil }
            return (true, continuation, state.cleanup)
        }
        guard won else { return false }
        continuation?.resume(with: result)
        cleanup?()
        return true
    }
}
