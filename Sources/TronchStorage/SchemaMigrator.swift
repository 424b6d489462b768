package import Foundation

/// One schema version and whether it is applied.
package struct MigrationState: Sendable, Hashable {
    package var version: Int
    package var name: String
    /// When it was applied; nil while pending.
    package var appliedAt: Date?
    /// True for a version the database holds but this build does not know (a newer Tronch applied it).
    package var isUnknown: Bool

    package init(version: Int, name: String, appliedAt: Date?, isUnknown: Bool = false) {
        self.version = version
        self.name = name
        self.appliedAt = appliedAt
        self.isUnknown = isUnknown
    }
}

/// Versioned schema changes that go both ways, each in its own transaction.
package protocol SchemaMigrator: Sendable {
    /// Every known version (applied or pending) plus any unknown applied ones, in version order.
    func migrationStates() async throws -> [MigrationState]

    /// Applies pending versions up to `target` (all when nil); returns the versions applied.
    @discardableResult
    func migrateUp(to target: Int?) async throws -> [Int]

    /// Reverts applied versions above `target` (only the latest when nil; 0 reverts all), newest first;
    /// returns the versions reverted.
    @discardableResult
    func migrateDown(to target: Int?) async throws -> [Int]
}

extension SchemaMigrator {
    /// Throws when the database holds versions this build does not know: an older Tronch must not serve
    /// (or write to) a schema it cannot read.
    package func requireKnownSchema() async throws {
        let unknown = try await migrationStates().filter(\.isUnknown)
        if let newest = unknown.last {
            throw StorageError.schemaTooNew(version: newest.version)
        }
    }

    package func pendingVersions() async throws -> [Int] {
        try await migrationStates().filter { $0.appliedAt == nil }.map(\.version)
    }
}

/// A cheap round trip to the database, for readiness checks and start-up.
package protocol DatabaseHealth: Sendable {
    func ping() async throws
}

/// Failures of the storage layer that are not domain errors.
package enum StorageError: Error, CustomStringConvertible, Equatable {
    case schemaTooNew(version: Int)
    case unsupportedURL(String)
    case corruptRow(String)
    case unavailable(String)
    case backup(String)

    package var description: String {
        switch self {
        case .schemaTooNew(let version):
            "the database schema is at version \(version), newer than this build of tronch knows; upgrade tronch or run 'tronch migrate down' with the newer build"
        case .unsupportedURL(let message): message
        case .corruptRow(let message): "a stored row could not be read: \(message)"
        case .unavailable(let message): "the database is unavailable: \(message)"
        case .backup(let message): message
        }
    }
}
