package import Foundation
import GRDB
package import TronchCore

extension SQLiteStore: UsageStore {
    package func addUsage(_ counts: [UsageCount]) async throws {
        guard !counts.isEmpty else { return }
        try await writer.write { db in
            let statement = try db.cachedStatement(
                sql: """
                    INSERT INTO usage_rollups (key_id, minute, route, metric, count) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (key_id, minute, route, metric) DO UPDATE SET count = count + excluded.count
                    """
            )
            for item in counts {
                let counter = item.counter
                try statement.execute(arguments: [counter.keyID.lowercased, counter.minute, counter.route, counter.metric, item.count])
            }
        }
    }

    package func usage(keyID: UUID, from: Int64, to: Int64, bucket: Int64) async throws -> [UsageCount] {
        try await writer.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT (minute / ?) * ? AS start, route, metric, SUM(count) AS total FROM usage_rollups
                    WHERE key_id = ? AND minute >= ? AND minute < ?
                    GROUP BY start, route, metric ORDER BY start, route, metric
                    """,
                arguments: [bucket, bucket, keyID.lowercased, from, to]
            ).map { row in
                UsageCount(UsageCounter(keyID: keyID, minute: row["start"], route: row["route"], metric: row["metric"]), row["total"])
            }
        }
    }

    package func pruneUsage(before minute: Int64) async throws -> Int {
        try await writer.write { db in
            try db.execute(sql: "DELETE FROM usage_rollups WHERE minute < ?", arguments: [minute])
            return db.changesCount
        }
    }
}
