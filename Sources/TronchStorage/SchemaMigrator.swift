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

/// One versioned change to the schema, with the SQL that undoes it.
package struct Migration: Sendable {
    package var version: Int
    package var name: String
    package var up: [String]
    package var down: [String]
}

extension MigrationState {
    /// Every known version, applied or pending, followed by applied versions this build does not know.
    static func merge(known: [Migration], applied: [(version: Int, name: String, at: Date)]) -> [MigrationState] {
        var states = known.map { migration in
            MigrationState(
                version: migration.version,
                name: migration.name,
                appliedAt: applied.first { $0.version == migration.version }?.at
            )
        }
        for entry in applied where !known.contains(where: { $0.version == entry.version }) {
            states.append(MigrationState(version: entry.version, name: entry.name, appliedAt: entry.at, isUnknown: true))
        }
        return states.sorted { $0.version < $1.version }
    }

    /// The versions `migrateDown(to:)` reverts, newest first: those applied above `target`, or only the
    /// latest when `target` is nil.
    static func toRevert(_ known: [Migration], applied: [Int], target: Int?) -> [Migration] {
        let floor = target ?? (applied.sorted().dropLast().last ?? 0)
        return known.reversed().filter { $0.version > floor && applied.contains($0.version) }
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

extension StorageError {
    /// Whether waiting may help: an unreachable database may come back; a misconfigured one will not.
    package var isTransient: Bool {
        if case .unavailable = self { return true }
        return false
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
    /// The database refused Tronch for a reason retrying will not fix (credentials, missing database, TLS).
    case misconfigured(String)
    /// Any other error the database reported, with its message (never the query's values).
    case database(String)

    package var description: String {
        switch self {
        case .schemaTooNew(let version):
            "the database schema is at version \(version), newer than this build of tronch knows; upgrade tronch or run 'tronch migrate down' with the newer build"
        case .unsupportedURL(let message): message
        case .corruptRow(let message): "a stored row could not be read: \(message)"
        case .unavailable(let message): "the database is unavailable: \(message)"
        case .backup(let message): message
        case .misconfigured(let message): "the database refused the connection: \(message)"
        case .database(let message): "database error: \(message)"
        }
    }
}
