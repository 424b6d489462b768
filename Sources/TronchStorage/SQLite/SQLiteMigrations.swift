extension SQLiteStore {
    /// The SQLite schema history. Never edit a released migration; add a new one.
    static let migrations: [Migration] = [
        Migration(
            version: 1,
            name: "create_api_keys",
            up: [
                """
                CREATE TABLE api_keys (
                    id TEXT PRIMARY KEY NOT NULL,
                    digest TEXT NOT NULL,
                    hash_version INTEGER NOT NULL,
                    start TEXT NOT NULL,
                    "end" TEXT NOT NULL,
                    name TEXT,
                    owner_id TEXT,
                    environment TEXT NOT NULL CHECK (environment IN ('live', 'test')),
                    status TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
                    enabled INTEGER NOT NULL,
                    scopes TEXT NOT NULL,
                    meta TEXT NOT NULL,
                    allowed_ips TEXT NOT NULL,
                    ratelimits TEXT NOT NULL,
                    remaining INTEGER,
                    refill TEXT,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    expires_at INTEGER,
                    last_used_at INTEGER,
                    revoked_at INTEGER,
                    created_by TEXT,
                    rotated_from TEXT,
                    grace_until INTEGER
                )
                """,
                // Verification looks keys up by digest; ids are UUIDv7, so the primary key is also the
                // creation-order index that pagination walks.
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
            up: [
                "CREATE TABLE tronch_settings (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL)"
            ],
            down: [
                "DROP TABLE tronch_settings"
            ]
        ),
        Migration(
            version: 3,
            name: "add_refilled_at",
            // When a usage-limited key's credits were last topped up (null: never, count from creation).
            up: ["ALTER TABLE api_keys ADD COLUMN refilled_at INTEGER"],
            down: ["ALTER TABLE api_keys DROP COLUMN refilled_at"]
        ),
        Migration(
            version: 4,
            name: "create_audit_log",
            up: [
                """
                CREATE TABLE audit_log (
                    sequence INTEGER PRIMARY KEY NOT NULL,
                    id TEXT NOT NULL UNIQUE,
                    time INTEGER NOT NULL,
                    actor_kind TEXT NOT NULL,
                    actor_id TEXT,
                    action TEXT NOT NULL,
                    target_type TEXT,
                    target_id TEXT,
                    outcome TEXT NOT NULL,
                    request_id TEXT,
                    client_ip TEXT,
                    user_agent TEXT,
                    details TEXT NOT NULL,
                    previous_hash TEXT NOT NULL,
                    hash TEXT NOT NULL
                )
                """,
                "CREATE INDEX audit_log_time ON audit_log (time)",
                "CREATE INDEX audit_log_actor ON audit_log (actor_id, sequence)",
                "CREATE INDEX audit_log_target ON audit_log (target_id, sequence)",
                "CREATE INDEX audit_log_action ON audit_log (action, sequence)",
                // The chain's head (where the next entry attaches) and the checkpoint verification starts from.
                """
                CREATE TABLE audit_head (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    sequence INTEGER NOT NULL,
                    hash TEXT NOT NULL,
                    checkpoint_sequence INTEGER NOT NULL,
                    checkpoint_hash TEXT NOT NULL
                )
                """,
                "INSERT INTO audit_head VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', 0, '0000000000000000000000000000000000000000000000000000000000000000')",
                // Append-only, as far as a file the operator owns can be: the chain shows whatever gets past this.
                "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END",
            ],
            down: [
                "DROP TRIGGER audit_log_no_update",
                "DROP TABLE audit_head",
                "DROP TABLE audit_log",
            ]
        ),
        Migration(
            version: 5,
            name: "create_usage_rollups",
            up: [
                """
                CREATE TABLE usage_rollups (
                    key_id TEXT NOT NULL,
                    minute INTEGER NOT NULL,
                    route TEXT NOT NULL,
                    metric TEXT NOT NULL,
                    count INTEGER NOT NULL,
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
                    id TEXT PRIMARY KEY NOT NULL,
                    username TEXT NOT NULL,
                    email TEXT NOT NULL,
                    email_key TEXT NOT NULL,
                    display_name TEXT,
                    role TEXT NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
                    status TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
                    password_hash TEXT,
                    failed_logins INTEGER NOT NULL,
                    lockouts INTEGER NOT NULL,
                    locked_until INTEGER,
                    mfa_enabled INTEGER NOT NULL,
                    search_text TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL,
                    last_login_at INTEGER
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
                    kid TEXT PRIMARY KEY NOT NULL,
                    algorithm TEXT NOT NULL,
                    state TEXT NOT NULL CHECK (state IN ('active', 'passive', 'retired')),
                    private_key TEXT NOT NULL,
                    public_jwk TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    deactivated_at INTEGER,
                    retired_at INTEGER
                )
                """,
                // At most one key signs.
                "CREATE UNIQUE INDEX signing_keys_active ON signing_keys (state) WHERE state = 'active'",
                """
                CREATE TABLE sessions (
                    id TEXT PRIMARY KEY NOT NULL,
                    user_id TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    last_seen_at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL,
                    ip TEXT,
                    user_agent TEXT,
                    amr TEXT NOT NULL,
                    revoked_at INTEGER,
                    revoked_reason TEXT
                )
                """,
                "CREATE INDEX sessions_user ON sessions (user_id, id)",
                """
                CREATE TABLE refresh_tokens (
                    digest TEXT PRIMARY KEY NOT NULL,
                    session_id TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL,
                    used_at INTEGER
                )
                """,
                "CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id)",
                """
                CREATE TABLE token_denylist (
                    kind TEXT NOT NULL CHECK (kind IN ('sid', 'jti')),
                    value TEXT NOT NULL,
                    expires_at INTEGER NOT NULL,
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
                    user_id TEXT NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('totp')),
                    sealed_secret TEXT NOT NULL,
                    confirmed_at INTEGER,
                    last_step INTEGER,
                    created_at INTEGER NOT NULL,
                    PRIMARY KEY (user_id, kind)
                )
                """,
                """
                CREATE TABLE recovery_codes (
                    user_id TEXT NOT NULL,
                    digest TEXT NOT NULL,
                    used_at INTEGER,
                    PRIMARY KEY (user_id, digest)
                )
                """,
                """
                CREATE TABLE mfa_challenges (
                    digest TEXT PRIMARY KEY NOT NULL,
                    user_id TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL,
                    failures INTEGER NOT NULL,
                    ip TEXT,
                    user_agent TEXT,
                    session_id TEXT
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
                    id TEXT PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    name_key TEXT NOT NULL UNIQUE,
                    description TEXT,
                    mfa_required INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                )
                """,
                """
                CREATE TABLE group_members (
                    group_id TEXT NOT NULL,
                    member TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    PRIMARY KEY (group_id, member)
                )
                """,
                "CREATE INDEX group_members_member ON group_members (member)",
                """
                CREATE TABLE acl_entries (
                    id TEXT PRIMARY KEY NOT NULL,
                    resource TEXT NOT NULL,
                    principal TEXT NOT NULL,
                    action TEXT NOT NULL,
                    effect TEXT NOT NULL CHECK (effect IN ('allow', 'deny')),
                    kind TEXT NOT NULL CHECK (kind IN ('acl', 'dacl')),
                    created_at INTEGER NOT NULL,
                    created_by TEXT,
                    UNIQUE (resource, principal, action, effect, kind)
                )
                """,
                "CREATE INDEX acl_entries_principal ON acl_entries (principal)",
                "CREATE TABLE authz_version (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
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
                    caller TEXT NOT NULL,
                    key TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    status INTEGER,
                    answer TEXT,
                    lease_until INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL,
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
                // One row per keyed checkpoint; `previous_sequence` is unique, so the checkpoints form one list
                // however many nodes write them.
                """
                CREATE TABLE audit_checkpoints (
                    sequence INTEGER PRIMARY KEY,
                    hash TEXT NOT NULL,
                    previous_sequence INTEGER NOT NULL UNIQUE,
                    key_id TEXT NOT NULL,
                    time INTEGER NOT NULL,
                    mac TEXT NOT NULL
                )
                """,
                "CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END",
                "CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'audit_checkpoints is append-only'); END",
            ],
            down: ["DROP TABLE audit_checkpoints"]
        ),
        Migration(
            version: 12,
            name: "add_signing_secret",
            // A key's request-signing secret, sealed with the secrets key (null: the key signs nothing).
            up: ["ALTER TABLE api_keys ADD COLUMN signing_secret TEXT"],
            down: ["ALTER TABLE api_keys DROP COLUMN signing_secret"]
        ),
        Migration(
            version: 13,
            name: "add_pepper_id",
            // Which pepper a key's digest was made with (null: the database's first, before peppers had ids).
            up: ["ALTER TABLE api_keys ADD COLUMN pepper_id TEXT"],
            down: ["ALTER TABLE api_keys DROP COLUMN pepper_id"]
        ),
        Migration(
            version: 14,
            name: "create_webhooks",
            up: [
                """
                CREATE TABLE webhook_endpoints (
                    id TEXT PRIMARY KEY,
                    url TEXT NOT NULL,
                    events TEXT NOT NULL,
                    description TEXT,
                    enabled INTEGER NOT NULL,
                    secret TEXT NOT NULL,
                    start_sequence INTEGER NOT NULL,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                )
                """,
                """
                CREATE TABLE webhook_deliveries (
                    id TEXT PRIMARY KEY,
                    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
                    event_id TEXT NOT NULL,
                    event_type TEXT NOT NULL,
                    sequence INTEGER NOT NULL,
                    payload TEXT NOT NULL,
                    status TEXT NOT NULL,
                    attempts INTEGER NOT NULL,
                    next_attempt_at INTEGER,
                    last_attempt_at INTEGER,
                    lease_until INTEGER,
                    response_status INTEGER,
                    error TEXT,
                    created_at INTEGER NOT NULL,
                    delivered_at INTEGER,
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
            up: ["ALTER TABLE api_keys ADD COLUMN expiry_reminded_for INTEGER"],
            down: ["ALTER TABLE api_keys DROP COLUMN expiry_reminded_for"]
        ),
    ]
}

extension SQLiteStore {
    /// Every schema version, oldest first (PostgreSQL's history has the same versions).
    package static var migrationVersions: [Int] { migrations.map(\.version) }
}
