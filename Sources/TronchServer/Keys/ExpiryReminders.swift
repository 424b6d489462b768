import Foundation
package import Logging
import ServiceLifecycle
package import TronchCore
package import TronchStorage

/// Writes one `key.expiring` audit entry for each key whose `expires_at` comes within the reminder period
/// (TRONCH_EXPIRY_REMINDER_DAYS): what a webhook subscribed to `key.expiring` delivers, days before a
/// customer's integration stops working.
///
/// Each key is reminded once per expiry: the store records the expiry it reminded of with the entry, in one
/// transaction that only one node can win, and a new `expires_at` makes the key due again.
package struct ExpiryReminders: Service {
    let store: any KeyStore
    let period: Duration
    let interval: Duration
    let clock: WallClock
    let logger: Logger
    /// Keys read per query; a pass goes on until none is left.
    static let batch = 100

    package init(store: any KeyStore, period: Duration, interval: Duration, clock: WallClock, logger: Logger) {
        self.store = store
        self.period = period
        self.interval = interval
        self.clock = clock
        self.logger = logger
    }

    package func run() async throws {
        await Periodic.run(every: interval, logger: logger, failure: "could not look for keys about to expire; retrying") {
            let sent = try await remindOnce()
            if sent > 0 { logger.info("reminded of keys about to expire", metadata: ["keys": "\(sent)"]) }
        }
    }

    /// Writes the reminders due now; returns how many this node wrote.
    @discardableResult
    package func remindOnce() async throws -> Int {
        let now = clock.now
        let horizon = now.addingTimeInterval(Double(period.components.seconds))
        var sent = 0
        while true {
            let due = try await store.keysDueExpiryReminder(now: now, horizon: horizon, limit: Self.batch)
            let before = sent
            for record in due {
                guard let expiresAt = record.settings.expiresAt else { continue }
                var details = KeyService.auditDetails(record)
                details["expires_at"] = .string(Timestamp.format(expiresAt))
                details["expires_in_seconds"] = .int(Int64(max(0, expiresAt.timeIntervalSince(now)).rounded(.down)))
                let event = AuditEvent(
                    time: now,
                    actor: .system,
                    action: AuditAction.keyExpiring,
                    targetType: "key",
                    targetID: record.id.lowercased,
                    details: details
                )
                if try await store.recordExpiryReminder(id: record.id, expiresAt: expiresAt, audit: event) { sent += 1 }
            }
            // A key another node reminded of meanwhile is not due any more; a batch with no progress at all
            // (every key changed under this pass) ends it too, until the next pass.
            if due.count < Self.batch || sent == before { return sent }
        }
    }
}
