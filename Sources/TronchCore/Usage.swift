#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// Per-minute usage counters of one key, free of I/O: what is counted, and the latency histogram.
///
/// A counter is named by `metric` (`verify:VALID`, `status:2xx`, `latency:le_5`) and `route` (the route
/// pattern of a request on Tronch's own API, `""` for verifications), and counted per key per minute.
package struct UsageCounter: Sendable, Hashable {
    package var keyID: UUID
    /// The minute's start, in milliseconds since the Unix epoch.
    package var minute: Int64
    package var route: String
    package var metric: String

    package init(keyID: UUID, minute: Int64, route: String, metric: String) {
        self.keyID = keyID
        self.minute = minute
        self.route = route
        self.metric = metric
    }
}

/// A counter and its count (a delta when written, a sum when read).
package struct UsageCount: Sendable, Hashable {
    package var counter: UsageCounter
    package var count: Int64

    package init(_ counter: UsageCounter, _ count: Int64) {
        self.counter = counter
        self.count = count
    }
}

package enum Usage {
    package static let verifyPrefix = "verify:"
    package static let statusPrefix = "status:"
    package static let latencyPrefix = "latency:le_"

    /// Latency histogram bounds in milliseconds; the last bucket is everything slower.
    package static let latencyBounds: [Int64] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500]

    package static func minute(of date: Date) -> Int64 {
        let milliseconds = Timestamp.milliseconds(date)
        return milliseconds - ((milliseconds % 60_000) + 60_000) % 60_000
    }

    package static func verifyMetric(_ code: VerifyCode) -> String { verifyPrefix + code.rawValue }

    package static func statusMetric(_ status: Int) -> String { statusPrefix + "\(status / 100)xx" }

    /// The histogram bucket of a latency: `latency:le_5` holds requests of at most 5 ms, `latency:le_inf` the rest.
    package static func latencyMetric(milliseconds: Double) -> String {
        for bound in latencyBounds where milliseconds <= Double(bound) { return latencyPrefix + String(bound) }
        return latencyPrefix + "inf"
    }

    /// The `p` quantile (0...1) of a histogram given as bucket counts by metric name: the upper bound of the
    /// bucket that holds it (an upper estimate, as Prometheus's histogram_quantile would bound it). Nil when
    /// there is nothing, or when it falls in the unbounded bucket.
    package static func quantile(_ p: Double, histogram: [String: Int64]) -> Int64? {
        let total = histogram.values.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = Int64((Double(total) * p).rounded(.up))
        var cumulative: Int64 = 0
        for bound in latencyBounds {
            cumulative += histogram[latencyPrefix + String(bound)] ?? 0
            if cumulative >= max(rank, 1) { return bound }
        }
        return nil
    }
}
