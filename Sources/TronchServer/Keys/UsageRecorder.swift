package import Foundation
package import Logging
import Metrics
import ServiceLifecycle
import Synchronization
package import TronchCore
package import TronchStorage

/// Counts verifications and API requests per key and minute in memory, and adds them to the stored rollups
/// in one batch every interval (and once more on graceful shutdown).
///
/// Recording takes one short lock and never waits for the database. The memory is bounded by `capacity`
/// distinct counters: when a slow or unreachable database lets them pile up, new counters are dropped and
/// counted (`tronch_usage_dropped_total`) instead of blocking requests or growing without end. The number
/// of counters each flush found waiting is `tronch_usage_pending`.
package final class UsageRecorder: Service {
    private let pending = Mutex<[UsageCounter: Int64]>([:])
    private let store: any UsageStore
    private let interval: Duration
    private let capacity: Int
    private let logger: Logger
    private let throttle = LogThrottle()
    private let droppedCount = Atomic<Int>(0)
    private let dropped = Counter(label: "tronch_usage_dropped_total")
    private let depth = Gauge(label: "tronch_usage_pending")

    private let retention: Duration?
    private let clock: WallClock

    /// `retention`: counters older than this are deleted about once an hour (nil keeps them).
    package init(
        store: any UsageStore,
        interval: Duration,
        capacity: Int,
        retention: Duration?,
        clock: WallClock,
        logger: Logger
    ) {
        self.store = store
        self.interval = interval
        self.capacity = capacity
        self.retention = retention
        self.clock = clock
        self.logger = logger
    }

    package func recordVerification(of keyID: UUID, code: VerifyCode, at date: Date) {
        add([(UsageCounter(keyID: keyID, minute: Usage.minute(of: date), route: "", metric: Usage.verifyMetric(code)), 1)])
    }

    /// A request on Tronch's own API made with `keyID`.
    package func recordRequest(by keyID: UUID, route: String, status: Int, milliseconds: Double, at date: Date) {
        let minute = Usage.minute(of: date)
        add([
            (UsageCounter(keyID: keyID, minute: minute, route: route, metric: Usage.statusMetric(status)), 1),
            (UsageCounter(keyID: keyID, minute: minute, route: route, metric: Usage.latencyMetric(milliseconds: milliseconds)), 1),
        ])
    }

    private func add(_ increments: [(UsageCounter, Int64)]) {
        let lost = pending.withLock { pending in
            var lost = 0
            for (counter, count) in increments {
                if let current = pending[counter] {
                    pending[counter] = current + count
                } else if pending.count < capacity {
                    pending[counter] = count
                } else {
                    lost += 1
                }
            }
            return lost
        }
        if lost > 0 {
            droppedCount.add(lost, ordering: .relaxed)
            dropped.increment(by: Int64(lost))
        }
    }

    /// Counters dropped because the queue was full, since start.
    package var drops: Int { droppedCount.load(ordering: .relaxed) }

    package var pendingCount: Int { pending.withLock { $0.count } }

    package func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastPrune = ContinuousClock.now
            while !Task.isCancelled {
                try? await Task.sleep(for: self.interval)
                await self.flush()
                if ContinuousClock.now - lastPrune > .seconds(3600) {
                    lastPrune = ContinuousClock.now
                    await self.prune()
                }
            }
        }
        await flush()
    }

    /// Deletes counters older than the retention.
    package func prune() async {
        guard let retention else { return }
        let cutoff = Usage.minute(of: clock.now.addingTimeInterval(-Double(retention.components.seconds)))
        do {
            try await store.pruneUsage(before: cutoff)
        } catch {
            throttle.log(.warning, "could not prune usage counters", topic: "prune", metadata: ["error": "\(error)"], logger: logger)
        }
    }

    /// Writes what was counted so far; on failure the counts go back for the next attempt (within capacity).
    package func flush() async {
        let batch = pending.withLock { pending in
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            return batch
        }
        depth.record(batch.count)
        guard !batch.isEmpty else { return }
        do {
            try await store.addUsage(batch.map { UsageCount($0.key, $0.value) })
        } catch {
            // Cancelled by a graceful shutdown: the final flush writes these, so nothing is lost to warn about.
            if !(error is CancellationError) {
                throttle.log(
                    .warning,
                    "could not write usage counters; will retry",
                    topic: "usage",
                    metadata: ["error": "\(error)", "counters": "\(batch.count)"],
                    logger: logger
                )
            }
            add(batch.map { ($0.key, $0.value) })
        }
    }
}
