#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// Usage-limited keys: spending credits and topping them up, free of I/O.
///
/// A refill sets `remaining` to the refill amount (it does not add) at the first use after each boundary:
/// midnight UTC for `daily`, the first of the month at midnight UTC for `monthly`. Refilling lazily, at use,
/// needs no scheduler and gives the same answer on every node.
package enum Credits {
    /// The credits a key holds and when they were last topped up.
    package struct Balance: Sendable, Hashable {
        /// Nil means unlimited.
        package var remaining: Int64?
        package var refill: Refill?
        /// The last refill, or the key's creation when it has had none.
        package var refilledAt: Date

        package init(remaining: Int64?, refill: Refill?, refilledAt: Date) {
            self.remaining = remaining
            self.refill = refill
            self.refilledAt = refilledAt
        }
    }

    package struct Spend: Sendable, Hashable {
        /// Whether the credits covered the cost (always, for unlimited keys).
        package var allowed: Bool
        /// The balance to store: it changes when credits were spent or a refill fell due.
        package var balance: Balance
        package var changed: Bool
    }

    /// Spends `cost` credits at `now`: refused at zero, or when fewer than `cost` remain (nothing is spent
    /// then, and the balance never goes below zero). Cost zero checks without spending.
    package static func spend(_ balance: Balance, cost: Int64, now: Date) -> Spend {
        var balance = balance
        var changed = false
        if let refill = balance.refill, balance.refilledAt < lastBoundary(refill.interval, before: now) {
            balance.remaining = refill.amount
            balance.refilledAt = now
            changed = true
        }
        guard let remaining = balance.remaining else { return Spend(allowed: true, balance: balance, changed: changed) }
        guard remaining > 0, remaining >= cost else { return Spend(allowed: false, balance: balance, changed: changed) }
        if cost > 0 {
            balance.remaining = remaining - cost
            changed = true
        }
        return Spend(allowed: true, balance: balance, changed: changed)
    }

    /// The most recent refill boundary at or before `now`, in UTC.
    package static func lastBoundary(_ interval: Refill.Interval, before now: Date) -> Date {
        let milliseconds = Timestamp.milliseconds(now)
        var day = milliseconds / 86_400_000
        if milliseconds < 0 && milliseconds % 86_400_000 != 0 { day -= 1 }
        if interval == .monthly {
            let (year, month, _) = Timestamp.civil(fromDays: day)
            day = Timestamp.days(fromCivil: year, month, 1)
        }
        return Timestamp.date(milliseconds: day * 86_400_000)
    }
}

extension KeySettings {
    /// Whether an edit changed the key's credits or their refill, which restarts the refill period.
    package func creditsChanged(from before: KeySettings) -> Bool {
        remaining != before.remaining || refill != before.refill
    }
}
