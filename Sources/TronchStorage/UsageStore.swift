package import Foundation
package import TronchCore

/// Per-minute usage counters per key (rollups: no row per request is ever kept).
package protocol UsageStore: Sendable {
    /// Adds `counts` (deltas) to their counters, creating them as needed, in one transaction.
    func addUsage(_ counts: [UsageCount]) async throws

    /// One key's counters from `from` (inclusive) to `to` (exclusive), both in epoch milliseconds, summed per
    /// bucket of `bucket` milliseconds: each result's `minute` is its bucket's start.
    func usage(keyID: UUID, from: Int64, to: Int64, bucket: Int64) async throws -> [UsageCount]

    /// Deletes counters of minutes before `minute`; returns how many rows went.
    @discardableResult
    func pruneUsage(before minute: Int64) async throws -> Int
}
