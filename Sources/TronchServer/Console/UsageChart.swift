import Foundation
import TronchCore

/// A key's verifications over time as an SVG bar chart, drawn by the server: one bar per bucket, stacked by
/// outcome (`VALID` and the refusals), with a title and the numbers in a table for screen readers and for
/// anyone who wants them exactly.
struct UsageChart {
    struct Bucket {
        var start: Int64
        var valid: Int64
        var refused: Int64
    }

    var buckets: [Bucket]
    var step: Int64
    var label: String

    /// The buckets from `start` to `end` (every one, empty ones included) from the store's per-minute counts.
    init(counts: [UsageCount], start: Int64, end: Int64, step: Int64, label: String) {
        var byStart: [Int64: Bucket] = [:]
        for item in counts where item.counter.metric.hasPrefix(Usage.verifyPrefix) {
            let bucketStart = item.counter.minute - ((item.counter.minute % step) + step) % step
            var bucket = byStart[bucketStart] ?? Bucket(start: bucketStart, valid: 0, refused: 0)
            if item.counter.metric == Usage.verifyPrefix + "VALID" { bucket.valid += item.count } else { bucket.refused += item.count }
            byStart[bucketStart] = bucket
        }
        buckets = stride(from: start, to: end, by: Int(step)).map { byStart[$0] ?? Bucket(start: $0, valid: 0, refused: 0) }
        self.step = step
        self.label = label
    }

    var total: (valid: Int64, refused: Int64) { buckets.reduce((0, 0)) { ($0.0 + $1.valid, $0.1 + $1.refused) } }

    func svg() -> String {
        let width = 720.0
        let height = 180.0
        let bottom = 160.0
        let peak = max(1, buckets.map { $0.valid + $0.refused }.max() ?? 1)
        let slot = width / Double(max(1, buckets.count))
        var bars = ""
        for (index, bucket) in buckets.enumerated() {
            let x = Double(index) * slot + 1
            let validHeight = Double(bucket.valid) / Double(peak) * (bottom - 10)
            let refusedHeight = Double(bucket.refused) / Double(peak) * (bottom - 10)
            let label = "\(Timestamp.format(Timestamp.date(milliseconds: bucket.start))): \(bucket.valid) valid, \(bucket.refused) refused"
            bars += #"<g><title>\#(HTML.escape(label))</title>"#
            if bucket.valid > 0 {
                bars +=
                    #"<rect class="bar-valid" x="\#(fmt(x))" y="\#(fmt(bottom - validHeight))" width="\#(fmt(slot - 2))" height="\#(fmt(validHeight))"/>"#
            }
            if bucket.refused > 0 {
                bars +=
                    #"<rect class="bar-refused" x="\#(fmt(x))" y="\#(fmt(bottom - validHeight - refusedHeight))" width="\#(fmt(slot - 2))" height="\#(fmt(refusedHeight))"/>"#
            }
            bars += "</g>"
        }
        let (valid, refused) = total
        return """
            <svg class="chart" viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-labelledby="chart-title">
              <title id="chart-title">\(HTML.escape(label)): \(valid) valid and \(refused) refused verifications</title>
              <line class="axis" x1="0" y1="\(Int(bottom))" x2="\(Int(width))" y2="\(Int(bottom))"/>
              \(bars)
              <text class="tick" x="0" y="176">\(HTML.escape(Self.tick(buckets.first?.start)))</text>
              <text class="tick" x="\(Int(width))" y="176" text-anchor="end">\(HTML.escape(Self.tick(buckets.last?.start)))</text>
              <text class="tick" x="0" y="10">\(peak)</text>
            </svg>
            """
    }

    /// The numbers behind the chart, buckets with traffic only.
    func table() -> String {
        let rows = buckets.filter { $0.valid + $0.refused > 0 }.map { bucket in
            "<tr><td>\(HTML.escape(Timestamp.format(Timestamp.date(milliseconds: bucket.start))))</td><td>\(bucket.valid)</td><td>\(bucket.refused)</td></tr>"
        }
        guard !rows.isEmpty else { return #"<p class="hint">No verifications in this period.</p>"# }
        return """
            <table class="numbers">
              <caption class="hint">Verifications per bucket</caption>
              <thead><tr><th scope="col">From</th><th scope="col">Valid</th><th scope="col">Refused</th></tr></thead>
              <tbody>\(rows.joined())</tbody>
            </table>
            """
    }

    private func fmt(_ value: Double) -> String { String(format: "%.1f", value) }

    static func tick(_ start: Int64?) -> String {
        guard let start else { return "" }
        return String(Timestamp.format(Timestamp.date(milliseconds: start)).prefix(16)).replacingOccurrences(of: "T", with: " ")
    }
}
