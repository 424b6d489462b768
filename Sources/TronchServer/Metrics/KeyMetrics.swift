import Metrics
import TronchCore

/// The counters of the verification path, made once so that counting costs no lookup per request.
struct KeyMetrics: Sendable {
    private let verifications: [VerifyCode: Counter]
    let cacheHits = Counter(label: "tronch_cache_hits_total")
    let cacheMisses = Counter(label: "tronch_cache_misses_total")
    let rateLimitAllowed = Counter(label: "tronch_ratelimit_decisions_total", dimensions: [("decision", "allowed")])
    let rateLimitRefused = Counter(label: "tronch_ratelimit_decisions_total", dimensions: [("decision", "refused")])

    init() {
        var counters = [VerifyCode: Counter]()
        for code in VerifyCode.allCases {
            counters[code] = Counter(label: "tronch_verifications_total", dimensions: [("code", code.rawValue)])
        }
        verifications = counters
    }

    func verified(_ code: VerifyCode) { verifications[code]?.increment() }
}
