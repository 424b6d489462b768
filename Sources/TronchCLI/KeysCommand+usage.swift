import ArgumentParser
import NIOHTTP1
import TronchCore

extension KeysCommand {
    struct Usage: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a key's verifications and API requests over time (per minute, hour or day)."
        )
        @OptionGroup var client: ClientOptions
        @Argument(help: "The key's id.") var id: String
        @Option(help: "Start, RFC 3339 (default: 24 hours before --to).") var from: String?
        @Option(help: "End, RFC 3339 (default: now).") var to: String?
        @Option(help: "minute, hour or day.") var granularity: String = "hour"

        func run() async throws {
            var query = [("granularity", granularity)]
            if let from { query.append(("from", from)) }
            if let to { query.append(("to", to)) }
            let report = try await client.client().send(.GET, "/api/v1/keys/\(try pathSegment(id))/usage", query: query)
            if client.json {
                print(report.prettyJSON)
                return
            }
            func summary(_ counts: JSONValue?) -> String {
                guard case .object(let members)? = counts, !members.isEmpty else { return "-" }
                let names = members.keys.sorted()
                let parts: [String] = names.map { name in name + "=" + (members[name]?.text ?? "") }
                return parts.joined(separator: " ")
            }
            var buckets = [JSONValue]()
            if case .array(let items)? = report["series"] { buckets = items }
            let rows: [[String]] = buckets.map { bucket in
                let start: String = bucket["start"]?.text ?? "-"
                return [start, summary(bucket["verifications"]), summary(bucket["requests"])]
            }
            print(Table(headers: ["START", "VERIFICATIONS", "REQUESTS"], rows: rows).rendered)
            print("total verifications: \(summary(report["totals"]?["verifications"]))")
            print("total requests:      \(summary(report["totals"]?["requests"]))")
            let latency = report["latency_ms"]
            let quantiles: [String] = ["p50", "p95", "p99"].map { name in
                let value: String = latency?[name]?.text ?? "-"
                return name + "=" + value
            }
            print("latency ms:          " + quantiles.joined(separator: " "))
        }
    }
}
