import Foundation
import PostgresNIO
import TronchCore

extension PostgresStore: SchemaMigrator {
    /// The PostgreSQL schema history, version for version the same as SQLite's. Never edit a released one.
    static let migrations: [Migration] = [
        Migration(
            version: 1,
            name: "create_api_keys",
            up: [
                """
                CREATE TABLE api_keys (
                    id uuid PRIMARY KEY,
                    digest bytea NOT NULL,
                    hash_version integer NOT NULL,
                    start text NOT NULL,
                    "end" text NOT NULL,
                    name text,
                    owner_id text,
                    environment text NOT NULL CHECK (environment IN ('live', 'test')),
                    status text NOT NULL CHECK (status IN ('active', 'revoked')),
                    enabled boolean NOT NULL,
                    scopes text[] NOT NULL,
                    meta jsonb NOT NULL,
                    allowed_ips text[] NOT NULL,
                    ratelimits jsonb NOT NULL,
                    remaining bigint,
                    refill jsonb,
                    created_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL,
                    expires_at timestamptz,
                    last_used_at timestamptz,
                    revoked_at timestamptz,
                    created_by text,
                    rotated_from uuid,
                    grace_until timestamptz
                )
                """,
                "CREATE UNIQUE INDEX api_keys_digest ON api_keys (digest)",
                "CREATE INDEX api_keys_owner ON api_keys (owner_id, id)",
            ],
            down: [
                "DROP INDEX api_keys_owner",
                "DROP INDEX api_keys_digest",
                "DROP TABLE api_keys",
            ]
        ),
        Migration(
            version: 2,
            name: "create_settings",
            up: ["CREATE TABLE tronch_settings (name text PRIMARY KEY, value text NOT NULL)"],
            down: ["DROP TABLE tronch_settings"]
        ),
    ]

    private static let createHistory = """
        CREATE TABLE IF NOT EXISTS tronch_schema_migrations (
            version integer PRIMARY KEY,
            name text NOT NULL,
            applied_at timestamptz NOT NULL
        )
        """

    package func migrationStates() async throws -> [MigrationState] {
        let applied = try await run {
            try await client.withTransaction(logger: logger) { connection in
                try await connection.rows("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
                try await connection.rows(PostgresQuery(unsafeSQL: Self.createHistory), logger: logger)
                var rows = [(version: Int, name: String, at: Date)]()
                for row in try await connection.rows(
                    "SELECT version, name, applied_at FROM tronch_schema_migrations", logger: logger
                ) {
                    let (version, name, at) = try row.decode((Int, String, Date).self)
                    rows.append((version, name, Timestamp.truncated(at)))
                }
                return rows
            }
        }
        var states = Self.migrations.map { migration in
            MigrationState(
                version: migration.version, name: migration.name,
                appliedAt: applied.first { $0.version == migration.version }?.at
            )
        }
        for entry in applied where !Self.migrations.contains(where: { $0.version == entry.version }) {
            states.append(MigrationState(version: entry.version, name: entry.name, appliedAt: entry.at, isUnknown: true))
        }
        return states.sorted { $0.version < $1.version }
    }

    @discardableResult
    package func migrateUp(to target: Int?) async throws -> [Int] {
        try await requireKnownSchema()
        var applied = [Int]()
        for migration in Self.migrations where migration.version <= (target ?? Int.max) {
            let now = Timestamp.truncated(Date())
            // Each version in its own transaction under the migration lock, so nodes starting together
            // apply it exactly once: the others wait, then see it applied.
            let didApply = try await run {
                try await client.withTransaction(logger: logger) { connection in
                    try await connection.rows("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
                    try await connection.rows(PostgresQuery(unsafeSQL: Self.createHistory), logger: logger)
                    let done = try await connection.rows(
                        "SELECT EXISTS (SELECT 1 FROM tronch_schema_migrations WHERE version = \(migration.version))",
                        logger: logger
                    ).first?.decode(Bool.self) ?? false
                    if done { return false }
                    for statement in migration.up { try await connection.rows(PostgresQuery(unsafeSQL: statement), logger: logger) }
                    try await connection.rows(
                        "INSERT INTO tronch_schema_migrations (version, name, applied_at) VALUES (\(migration.version), \(migration.name), \(pgTime(now))::timestamptz)",
                        logger: logger
                    )
                    return true
                }
            }
            if didApply { applied.append(migration.version) }
        }
        return applied
    }

    @discardableResult
    package func migrateDown(to target: Int?) async throws -> [Int] {
        try await requireKnownSchema()
        let appliedVersions = try await migrationStates().filter { $0.appliedAt != nil }.map(\.version)
        let floor = target ?? (appliedVersions.dropLast().last ?? 0)
        var reverted = [Int]()
        for migration in Self.migrations.reversed() where migration.version > floor && appliedVersions.contains(migration.version) {
            try await run {
                try await client.withTransaction(logger: logger) { connection in
                    try await connection.rows("SELECT pg_advisory_xact_lock(\(Self.migrationLock))", logger: logger)
                    for statement in migration.down { try await connection.rows(PostgresQuery(unsafeSQL: statement), logger: logger) }
                    try await connection.rows(
                        "DELETE FROM tronch_schema_migrations WHERE version = \(migration.version)", logger: logger
                    )
                }
            }
            reverted.append(migration.version)
        }
        return reverted
    }
}
