package import Foundation
import PostgresNIO
package import TronchCore

extension PostgresStore: UsageStore {
    package func addUsage(_ counts: [UsageCount]) async throws {
        guard !counts.isEmpty else { return }
        // One statement per flush: the deltas travel as arrays and are summed per counter first, since one
        // INSERT … ON CONFLICT may not touch the same row twice.
        let ids = counts.map(\.counter.keyID)
        let minutes = counts.map(\.counter.minute)
        let routes = counts.map(\.counter.route)
        let metrics = counts.map(\.counter.metric)
        let values = counts.map(\.count)
        try await run {
            try await client.rows(
                """
                INSERT INTO usage_rollups (key_id, minute, route, metric, count)
                SELECT key_id, minute, route, metric, SUM(count) FROM unnest(\(ids)::uuid[], \(minutes)::bigint[],
                    \(routes)::text[], \(metrics)::text[], \(values)::bigint[]) AS d(key_id, minute, route, metric, count)
                GROUP BY key_id, minute, route, metric
                -- One order for every node's flush, so two flushes of the same counters cannot deadlock.
                ORDER BY key_id, minute, route, metric
                ON CONFLICT (key_id, minute, route, metric) DO UPDATE SET count = usage_rollups.count + excluded.count
                """,
                logger: logger
            )
        }
    }

    package func usage(keyID: UUID, from: Int64, to: Int64, bucket: Int64) async throws -> [UsageCount] {
        try await run {
            try await client.rows(
                """
                SELECT (minute / \(bucket)) * \(bucket) AS start, route, metric, SUM(count)::bigint FROM usage_rollups
                WHERE key_id = \(keyID) AND minute >= \(from) AND minute < \(to)
                GROUP BY start, route, metric ORDER BY start, route, metric
                """,
                logger: logger
            ).map { row in
                let (start, route, metric, total) = try row.decode((Int64, String, String, Int64).self)
                return UsageCount(UsageCounter(keyID: keyID, minute: start, route: route, metric: metric), total)
            }
        }
    }

    package func pruneUsage(before minute: Int64) async throws -> Int {
        try await run {
            try await client.rows(
                "WITH gone AS (DELETE FROM usage_rollups WHERE minute < \(minute) RETURNING 1) SELECT COUNT(*) FROM gone",
                logger: logger
            ).first?.decode(Int.self) ?? 0
        }
    }
}
