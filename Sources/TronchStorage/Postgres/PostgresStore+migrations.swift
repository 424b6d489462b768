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
        Migration(
            version: 3,
            name: "add_refilled_at",
            up: ["ALTER TABLE api_keys ADD COLUMN refilled_at timestamptz"],
            down: ["ALTER TABLE api_keys DROP COLUMN refilled_at"]
        ),
        Migration(
            version: 4,
            name: "create_audit_log",
            up: [
                """
                CREATE TABLE audit_log (
                    sequence bigint PRIMARY KEY,
                    id uuid NOT NULL UNIQUE,
                    time timestamptz NOT NULL,
                    actor_kind text NOT NULL,
                    actor_id text,
                    action text NOT NULL,
                    target_type text,
                    target_id text,
                    outcome text NOT NULL,
                    request_id text,
                    client_ip text,
                    user_agent text,
                    details text NOT NULL,
                    previous_hash text NOT NULL,
                    hash text NOT NULL
                )
                """,
                "CREATE INDEX audit_log_time ON audit_log (time)",
                "CREATE INDEX audit_log_actor ON audit_log (actor_id, sequence)",
                "CREATE INDEX audit_log_target ON audit_log (target_id, sequence)",
                "CREATE INDEX audit_log_action ON audit_log (action, sequence)",
                """
                CREATE TABLE audit_head (
                    id integer PRIMARY KEY CHECK (id = 1),
                    sequence bigint NOT NULL,
                    hash text NOT NULL,
                    checkpoint_sequence bigint NOT NULL,
                    checkpoint_hash text NOT NULL
                )
                """,
                "INSERT INTO audit_head VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0, '0000000000000000000000000000000000000000000000000000000000000000')",
                // Append-only in the database itself: no UPDATE, no TRUNCATE, and DELETE only for the retention
                // service, which says so with a transaction-local setting.
                """
                CREATE FUNCTION tronch_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF TG_OP = 'DELETE' AND current_setting('tronch.audit_retention', true) = 'on' THEN
                        RETURN OLD;
                    END IF;
                    RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP;
                END
                $$
                """,
                "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION tronch_audit_append_only()",
                "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION tronch_audit_append_only()",
            ],
            down: [
                "DROP TABLE audit_head",
                "DROP TABLE audit_log",
                "DROP FUNCTION tronch_audit_append_only()",
            ]
        ),
        Migration(
            version: 5,
            name: "create_usage_rollups",
            up: [
                """
                CREATE TABLE usage_rollups (
                    key_id uuid NOT NULL,
                    minute bigint NOT NULL,
                    route text NOT NULL,
                    metric text NOT NULL,
                    count bigint NOT NULL,
                    PRIMARY KEY (key_id, minute, route, metric)
                )
                """,
                // Retention deletes by minute across keys.
                "CREATE INDEX usage_rollups_minute ON usage_rollups (minute)",
            ],
            down: [
                "DROP TABLE usage_rollups"
            ]
        ),
        Migration(
            version: 6,
            name: "create_users",
            up: [
                """
                CREATE TABLE users (
                    id uuid PRIMARY KEY,
                    username text NOT NULL,
                    email text NOT NULL,
                    email_key text NOT NULL,
                    display_name text,
                    role text NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
                    status text NOT NULL CHECK (status IN ('active', 'disabled')),
                    password_hash text,
                    failed_logins integer NOT NULL,
                    lockouts integer NOT NULL,
                    locked_until timestamptz,
                    mfa_enabled boolean NOT NULL,
                    search_text text NOT NULL,
                    created_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL,
                    last_login_at timestamptz
                )
                """,
                "CREATE UNIQUE INDEX users_username ON users (username)",
                "CREATE UNIQUE INDEX users_email ON users (email_key)",
            ],
            down: [
                "DROP TABLE users"
            ]
        ),
        Migration(
            version: 7,
            name: "create_tokens",
            up: [
                """
                CREATE TABLE signing_keys (
                    kid text PRIMARY KEY,
                    algorithm text NOT NULL,
                    state text NOT NULL CHECK (state IN ('active', 'passive', 'retired')),
                    private_key text NOT NULL,
                    public_jwk text NOT NULL,
                    created_at timestamptz NOT NULL,
                    deactivated_at timestamptz,
                    retired_at timestamptz
                )
                """,
                "CREATE UNIQUE INDEX signing_keys_active ON signing_keys (state) WHERE state = 'active'",
                """
                CREATE TABLE sessions (
                    id uuid PRIMARY KEY,
                    user_id uuid NOT NULL,
                    created_at timestamptz NOT NULL,
                    last_seen_at timestamptz NOT NULL,
                    expires_at timestamptz NOT NULL,
                    ip text,
                    user_agent text,
                    amr text NOT NULL,
                    revoked_at timestamptz,
                    revoked_reason text
                )
                """,
                "CREATE INDEX sessions_user ON sessions (user_id, id)",
                """
                CREATE TABLE refresh_tokens (
                    digest bytea PRIMARY KEY,
                    session_id uuid NOT NULL,
                    created_at timestamptz NOT NULL,
                    expires_at timestamptz NOT NULL,
                    used_at timestamptz
                )
                """,
                "CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id)",
                """
                CREATE TABLE token_denylist (
                    kind text NOT NULL CHECK (kind IN ('sid', 'jti')),
                    value text NOT NULL,
                    expires_at timestamptz NOT NULL,
                    PRIMARY KEY (kind, value)
                )
                """,
            ],
            down: [
                "DROP TABLE token_denylist",
                "DROP TABLE refresh_tokens",
                "DROP TABLE sessions",
                "DROP TABLE signing_keys",
            ]
        ),
        Migration(
            version: 8,
            name: "create_mfa",
            up: [
                """
                CREATE TABLE mfa_factors (
                    user_id uuid NOT NULL,
                    kind text NOT NULL CHECK (kind IN ('totp')),
                    sealed_secret text NOT NULL,
                    confirmed_at timestamptz,
                    last_step bigint,
                    created_at timestamptz NOT NULL,
                    PRIMARY KEY (user_id, kind)
                )
                """,
                """
                CREATE TABLE recovery_codes (
                    user_id uuid NOT NULL,
                    digest bytea NOT NULL,
                    used_at timestamptz,
                    PRIMARY KEY (user_id, digest)
                )
                """,
                """
                CREATE TABLE mfa_challenges (
                    digest bytea PRIMARY KEY,
                    user_id uuid NOT NULL,
                    created_at timestamptz NOT NULL,
                    expires_at timestamptz NOT NULL,
                    failures integer NOT NULL,
                    ip text,
                    user_agent text,
                    session_id uuid
                )
                """,
            ],
            down: [
                "DROP TABLE mfa_challenges",
                "DROP TABLE recovery_codes",
                "DROP TABLE mfa_factors",
            ]
        ),
        Migration(
            version: 9,
            name: "create_authz",
            up: [
                """
                CREATE TABLE groups (
                    id uuid PRIMARY KEY,
                    name text NOT NULL,
                    name_key text NOT NULL,
                    description text,
                    mfa_required boolean NOT NULL DEFAULT false,
                    created_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL,
                    CONSTRAINT groups_name UNIQUE (name_key)
                )
                """,
                """
                CREATE TABLE group_members (
                    group_id uuid NOT NULL,
                    member text NOT NULL,
                    created_at timestamptz NOT NULL,
                    PRIMARY KEY (group_id, member)
                )
                """,
                "CREATE INDEX group_members_member ON group_members (member)",
                """
                CREATE TABLE acl_entries (
                    id uuid PRIMARY KEY,
                    resource text NOT NULL,
                    principal text NOT NULL,
                    action text NOT NULL,
                    effect text NOT NULL CHECK (effect IN ('allow', 'deny')),
                    kind text NOT NULL CHECK (kind IN ('acl', 'dacl')),
                    created_at timestamptz NOT NULL,
                    created_by text,
                    CONSTRAINT acl_entries_rule UNIQUE (resource, principal, action, effect, kind)
                )
                """,
                "CREATE INDEX acl_entries_principal ON acl_entries (principal)",
                "CREATE TABLE authz_version (id integer PRIMARY KEY CHECK (id = 1), version bigint NOT NULL)",
                "INSERT INTO authz_version (id, version) VALUES (1, 0)",
            ],
            down: [
                "DROP TABLE authz_version",
                "DROP TABLE acl_entries",
                "DROP TABLE group_members",
                "DROP TABLE groups",
            ]
        ),
        Migration(
            version: 10,
            name: "create_idempotency_keys",
            up: [
                """
                CREATE TABLE idempotency_keys (
                    caller text NOT NULL,
                    key text NOT NULL,
                    fingerprint text NOT NULL,
                    status integer,
                    answer text,
                    lease_until timestamptz NOT NULL,
                    created_at timestamptz NOT NULL,
                    expires_at timestamptz NOT NULL,
                    PRIMARY KEY (caller, key)
                )
                """,
                "CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at)",
            ],
            down: ["DROP TABLE idempotency_keys"]
        ),
        Migration(
            version: 11,
            name: "create_audit_checkpoints",
            up: [
                """
                CREATE TABLE audit_checkpoints (
                    sequence bigint PRIMARY KEY,
                    hash text NOT NULL,
                    previous_sequence bigint NOT NULL UNIQUE,
                    key_id text NOT NULL,
                    time timestamptz NOT NULL,
                    mac text NOT NULL
                )
                """,
                // Append-only as the log itself (the same function; nothing ever deletes a checkpoint).
                "CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION tronch_audit_append_only()",
                "CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON audit_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION tronch_audit_append_only()",
            ],
            down: ["DROP TABLE audit_checkpoints"]
        ),
        Migration(
            version: 12,
            name: "add_signing_secret",
            // A key's request-signing secret, sealed with the secrets key (null: the key signs nothing).
            up: ["ALTER TABLE api_keys ADD COLUMN signing_secret text"],
            down: ["ALTER TABLE api_keys DROP COLUMN signing_secret"]
        ),
        Migration(
            version: 13,
            name: "add_pepper_id",
            // Which pepper a key's digest was made with (null: the database's first, before peppers had ids).
            up: ["ALTER TABLE api_keys ADD COLUMN pepper_id text"],
            down: ["ALTER TABLE api_keys DROP COLUMN pepper_id"]
        ),
        Migration(
            version: 14,
            name: "create_webhooks",
            up: [
                """
                CREATE TABLE webhook_endpoints (
                    id uuid PRIMARY KEY,
                    url text NOT NULL,
                    events jsonb NOT NULL,
                    description text,
                    enabled boolean NOT NULL,
                    secret text NOT NULL,
                    start_sequence bigint NOT NULL,
                    created_at timestamptz NOT NULL,
                    updated_at timestamptz NOT NULL
                )
                """,
                """
                CREATE TABLE webhook_deliveries (
                    id uuid PRIMARY KEY,
                    endpoint_id uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
                    event_id uuid NOT NULL,
                    event_type text NOT NULL,
                    sequence bigint NOT NULL,
                    payload text NOT NULL,
                    status text NOT NULL,
                    attempts integer NOT NULL,
                    next_attempt_at timestamptz,
                    last_attempt_at timestamptz,
                    lease_until timestamptz,
                    response_status integer,
                    error text,
                    created_at timestamptz NOT NULL,
                    delivered_at timestamptz,
                    UNIQUE (endpoint_id, event_id)
                )
                """,
                "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at)",
                "CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id)",
            ],
            down: ["DROP TABLE webhook_deliveries", "DROP TABLE webhook_endpoints"]
        ),
        Migration(
            version: 15,
            name: "add_expiry_reminded_for",
            // The expiry a key's `key.expiring` reminder was sent for (null: none yet); a new expiry is reminded again.
            up: ["ALTER TABLE api_keys ADD COLUMN expiry_reminded_for timestamptz"],
            down: ["ALTER TABLE api_keys DROP COLUMN expiry_reminded_for"]
        ),
    ]

    /// A migration's time box: schema changes on a large table (an index over millions of keys) take far longer
    /// than TRONCH_DATABASE_QUERY_TIMEOUT allows a request; this bounds only a database that stopped answering.
    static let migrationTimeout: Duration = .seconds(3600)

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
                // Reading the history creates nothing: a user without CREATE rights can still see the status.
                let exists =
                    try await connection.rows(
                        "SELECT to_regclass('tronch_schema_migrations') IS NOT NULL",
                        logger: logger
                    ).first?.decode(Bool.self) ?? false
                var rows = [(version: Int, name: String, at: Date)]()
                guard exists else { return rows }
                for row in try await connection.rows(
                    "SELECT version, name, applied_at FROM tronch_schema_migrations",
                    logger: logger
                ) {
                    let (version, name, at) = try row.decode((Int, String, Date).self)
                    rows.append((version, name, Timestamp.truncated(at)))
                }
                return rows
            }
        }
        return MigrationState.merge(known: Self.migrations, applied: applied)
    }

    @discardableResult
    package func migrateUp(to target: Int?) async throws -> [Int] {
        try await requireKnownSchema()
        var applied = [Int]()
        for migration in Self.migrations where migration.version <= (target ?? Int.max) {
            let now = Timestamp.truncated(Date())
            // Each version in its own transaction under the migration lock, so nodes starting together
            // apply it exactly once: the others wait, then see it applied.
            let didApply = try await run(timeout: Self.migrationTimeout) {
                try await client.withTransaction(logger: logger) { connection in
                    try await connection.rows(Self.advisoryLock(Self.migrationLock), logger: logger)
                    try await connection.rows(PostgresQuery(unsafeSQL: Self.createHistory), logger: logger)
                    let done =
                        try await connection.rows(
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
        let applied = try await migrationStates().filter { $0.appliedAt != nil }.map(\.version)
        var reverted = [Int]()
        for migration in MigrationState.toRevert(Self.migrations, applied: applied, target: target) {
            try await run(timeout: Self.migrationTimeout) {
                try await client.withTransaction(logger: logger) { connection in
                    try await connection.rows(Self.advisoryLock(Self.migrationLock), logger: logger)
                    // Another node may have reverted it while this one waited for the lock.
                    let applied =
                        try await connection.rows(
                            "SELECT EXISTS (SELECT 1 FROM tronch_schema_migrations WHERE version = \(migration.version))",
                            logger: logger
                        ).first?.decode(Bool.self) ?? false
                    guard applied else { return }
                    for statement in migration.down { try await connection.rows(PostgresQuery(unsafeSQL: statement), logger: logger) }
                    try await connection.rows(
                        "DELETE FROM tronch_schema_migrations WHERE version = \(migration.version)",
                        logger: logger
                    )
                }
            }
            reverted.append(migration.version)
        }
        return reverted
    }
}
