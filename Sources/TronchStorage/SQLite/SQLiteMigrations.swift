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
    ]
}
