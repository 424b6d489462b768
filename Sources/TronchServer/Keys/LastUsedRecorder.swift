package import Foundation
package import Logging
import ServiceLifecycle
import Synchronization
import TronchCore
package import TronchStorage

/// Collects key uses and writes `last_used_at` in batches, off the verification path.
///
/// A verification only notes the use in memory; the service flushes every interval and once more on
/// graceful shutdown, so a clean stop loses nothing.
package final class LastUsedRecorder: Service {
    private let pending = Mutex<[UUID: Date]>([:])
    private let store: any KeyStore
    private let interval: Duration
    private let logger: Logger
    private let throttle = LogThrottle()

    package init(store: any KeyStore, interval: Duration, logger: Logger) {
        self.store = store
        self.interval = interval
        self.logger = logger
    }

    package func record(_ id: UUID, at date: Date) {
        pending.withLock { pending in
            if let existing = pending[id], existing >= date { return }
            pending[id] = date
        }
    }

    package var pendingCount: Int { pending.withLock { $0.count } }

    package func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: self.interval)
                await self.flush()
            }
        }
        await flush()
    }

    /// Writes everything noted so far; on failure the uses are kept for the next attempt.
    package func flush() async {
        let batch = pending.withLock { pending in
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            return batch
        }
        guard !batch.isEmpty else { return }
        do {
            try await store.recordUse(batch)
        } catch {
            if !(error is CancellationError) {
                throttle.log(
                    .warning,
                    "could not record key use; will retry",
                    topic: "flush",
                    metadata: ["error": "\(error)", "keys": "\(batch.count)"],
                    logger: logger
                )
            }
            for (id, date) in batch { record(id, at: date) }
        }
    }
}
