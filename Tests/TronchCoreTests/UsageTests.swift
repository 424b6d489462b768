import Foundation
import Testing
import TronchCore

struct UsageTests {
    @Test func minutesAndMetrics() {
        #expect(Usage.minute(of: Timestamp.parse("2026-11-25T10:17:59.999Z")!) == Timestamp.milliseconds(Timestamp.parse("2026-11-25T10:17:00Z")!))
        #expect(Usage.verifyMetric(.rateLimited) == "verify:RATE_LIMITED")
        #expect(Usage.statusMetric(204) == "status:2xx")
        #expect(Usage.statusMetric(429) == "status:4xx")
        #expect(Usage.latencyMetric(milliseconds: 0.3) == "latency:le_1")
        #expect(Usage.latencyMetric(milliseconds: 5) == "latency:le_5")
        #expect(Usage.latencyMetric(milliseconds: 5.01) == "latency:le_10")
        #expect(Usage.latencyMetric(milliseconds: 9_000) == "latency:le_inf")
    }

    @Test func quantilesComeFromTheHistogram() {
        let histogram: [String: Int64] = ["latency:le_1": 90, "latency:le_10": 8, "latency:le_250": 1, "latency:le_inf": 1]
        #expect(Usage.quantile(0.5, histogram: histogram) == 1)
        #expect(Usage.quantile(0.95, histogram: histogram) == 10)
        #expect(Usage.quantile(0.99, histogram: histogram) == 250)
        #expect(Usage.quantile(1.0, histogram: histogram) == nil, "the slowest request is beyond the last bound")
        #expect(Usage.quantile(0.5, histogram: [:]) == nil)
    }
}
