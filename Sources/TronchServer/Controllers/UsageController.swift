import Foundation
import Hummingbird
import TronchCore
import TronchStorage

/// `GET /api/v1/keys/{id}/usage`: a key's verifications and API requests over time, from the per-minute
/// rollups, with totals and latency quantiles (scope `keys:read`).
struct UsageController {
    let keys: KeyService
    let store: any UsageStore
    let allowQueryParameterKeys: Bool

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get("{id}/usage", use: usage)
    }

    enum Granularity: String {
        case minute, hour, day

        var milliseconds: Int64 {
            switch self {
            case .minute: 60_000
            case .hour: 3_600_000
            case .day: 86_400_000
            }
        }
    }

    /// Most buckets one answer may hold.
    static let maxBuckets: Int64 = 10_000

    @Sendable func usage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requirePrincipal()
        let id = try KeysController.id(context)
        var parameters = ListParameters(request, known: ["from", "to", "granularity"], allowQueryParameterKeys: allowQueryParameterKeys)
        var granularity = Granularity.hour
        if let text = parameters["granularity"] {
            if let value = Granularity(rawValue: text) {
                granularity = value
            } else {
                parameters.fail("granularity", "must be minute, hour or day")
            }
        }
        let now = keys.clock.now
        // By default up to now, the current (partial) bucket included.
        let to = parameters.timestamp("to") ?? now.addingTimeInterval(0.001)
        let from = parameters.timestamp("from") ?? to.addingTimeInterval(-86_400)
        // Whole buckets: from rounds down, to rounds up.
        let step = granularity.milliseconds
        let start = Self.floor(Timestamp.milliseconds(from), step)
        // A range that ends where (or before) it starts is empty, not an error: it holds no bucket.
        let end = max(start, Self.floor(Timestamp.milliseconds(to) + step - 1, step))
        if (end - start) / step > Self.maxBuckets {
            parameters.fail("from", "the range holds more than \(Self.maxBuckets) \(granularity.rawValue)s; narrow it or use a coarser granularity")
        }
        try parameters.finish()
        _ = try await keys.key(id: id, visibleTo: context.requirePrincipal())
        let counts = try await store.usage(keyID: id, from: start, to: end, bucket: step)
        return try Response.json(
            UsageReport(keyID: id, from: start, to: end, granularity: granularity.rawValue, counts: counts).json
        )
    }

    static func floor(_ value: Int64, _ step: Int64) -> Int64 { value - ((value % step) + step) % step }
}

/// The answer: one entry per bucket that saw traffic, the totals, and latency quantiles of API requests.
struct UsageReport {
    var keyID: UUID
    var from: Int64
    var to: Int64
    var granularity: String
    var counts: [UsageCount]

    var json: JSONValue {
        var buckets: [Int64: (verifications: [String: Int64], requests: [String: Int64])] = [:]
        var verifications = [String: Int64]()
        var requests = [String: Int64]()
        var endpoints = [String: Int64]()
        var histogram = [String: Int64]()
        for item in counts {
            let metric = item.counter.metric
            var bucket = buckets[item.counter.minute] ?? ([:], [:])
            if metric.hasPrefix(Usage.verifyPrefix) {
                let code = String(metric.dropFirst(Usage.verifyPrefix.count))
                bucket.verifications[code, default: 0] += item.count
                verifications[code, default: 0] += item.count
            } else if metric.hasPrefix(Usage.statusPrefix) {
                let status = String(metric.dropFirst(Usage.statusPrefix.count))
                bucket.requests[status, default: 0] += item.count
                requests[status, default: 0] += item.count
                endpoints[item.counter.route, default: 0] += item.count
            } else if metric.hasPrefix(Usage.latencyPrefix) {
                histogram[metric, default: 0] += item.count
            }
            buckets[item.counter.minute] = bucket
        }
        func object(_ counts: [String: Int64]) -> JSONValue { .object(counts.mapValues(JSONValue.int)) }
        func quantile(_ p: Double) -> JSONValue { Usage.quantile(p, histogram: histogram).map(JSONValue.int) ?? .null }
        let series: [JSONValue] = buckets.keys.sorted().map { start in
            let bucket = buckets[start]!
            return [
                "start": .string(Timestamp.format(Timestamp.date(milliseconds: start))),
                "verifications": object(bucket.verifications), "requests": object(bucket.requests),
            ]
        }
        return [
            "key_id": .string(keyID.lowercased),
            "from": .string(Timestamp.format(Timestamp.date(milliseconds: from))),
            "to": .string(Timestamp.format(Timestamp.date(milliseconds: to))),
            "granularity": .string(granularity),
            "series": .array(series),
            "totals": [
                "verifications": object(verifications), "requests": object(requests), "endpoints": object(endpoints),
            ],
            "latency_ms": ["p50": quantile(0.5), "p95": quantile(0.95), "p99": quantile(0.99)],
        ]
    }
}
