import Foundation
package import Logging
import Metrics
import ServiceLifecycle
package import TronchCore
package import TronchStorage

/// Counts keys by status, and those about to stop working, into gauges once a minute: what an alert on
/// "keys expiring this week" reads (`tronch_keys{status}`, `tronch_keys_expiring_soon`).
package struct KeyStatistics: Service {
    let store: any KeyStore
    let clock: WallClock
    let interval: Duration
    let logger: Logger
    /// "Soon" is within this many seconds (seven days).
    static let soon: Double = 7 * 86_400

    private let byStatus = DisplayStatus.allCases.map { ($0, Gauge(label: "tronch_keys", dimensions: [("status", $0.rawValue)])) }
    private let expiringSoon = Gauge(label: "tronch_keys_expiring_soon")

    package init(store: any KeyStore, clock: WallClock, interval: Duration = .seconds(60), logger: Logger) {
        self.store = store
        self.clock = clock
        self.interval = interval
        self.logger = logger
    }

    package func run() async throws {
        await Periodic.run(every: interval, logger: logger, level: .debug, failure: "could not count keys for metrics") { try await update() }
    }

    package func update() async throws {
        let now = clock.now
        for (status, gauge) in byStatus {
            gauge.record(try await store.countKeys(matching: KeyQuery(status: status, now: now)))
        }
        var soon = KeyQuery(now: now)
        soon.expiringBefore = now.addingTimeInterval(Self.soon)
        expiringSoon.record(try await store.countKeys(matching: soon))
    }
}
