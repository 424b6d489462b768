package import Configuration
import Foundation
package import Logging
package import TronchCore
package import TronchRateLimit
import TronchRedis
package import TronchStorage

/// A configuration value that stops start-up, named by its environment variable.
package struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    /// Errors are equal when they name the same key; the message is for people.
    package static func == (lhs: ConfigurationError, rhs: ConfigurationError) -> Bool { lhs.key == rhs.key }

    /// The environment-variable form of the key (`TRONCH_PORT`), which is also what the docs list.
    package var key: String
    package var message: String

    package init(key: String, _ message: String) {
        self.key = key
        self.message = message
    }

    package var description: String { "invalid configuration \(key): \(message)" }
}

/// The rate limits Tronch applies by itself; each policy may be turned off (nil).
package struct RateLimitSettings: Sendable {
    /// For verifying keys that have no policy of their own (the seeds ask for 1000 an hour).
    package var defaultPolicy: RateLimitPolicy? = RateLimitPolicy(name: "default", limit: 1000, periodSeconds: 3600)
    /// Failed authentications on Tronch's own API, per client address.
    package var authFailures: RateLimitPolicy? = RateLimitPolicy(name: "auth_failures", limit: 5, periodSeconds: 60)
    /// Keys created through the API, per principal.
    package var keyCreation: RateLimitPolicy? = RateLimitPolicy(name: "key_creation", limit: 10, periodSeconds: 3600)
    /// Every login attempt, per client address (seed 004: five a minute).
    package var login: RateLimitPolicy? = RateLimitPolicy(name: "login", limit: 5, periodSeconds: 60)
    /// Calls on Tronch's own API (not verifications or checks) per key without policies of its own, and per
    /// person (seed 004: 1000 requests an hour per user or key).
    package var api: RateLimitPolicy? = RateLimitPolicy(name: "api", limit: 1000, periodSeconds: 3600)
    package var failureMode: RateLimitFailureMode = .local
    /// Bound on the in-process limiter's state (one entry per subject and policy).
    package var localMaxEntries = 100_000

    package init() {}
}

/// Everything `tronch serve` reads from configuration, validated once at start-up.
///
/// Keys are read without the `tronch` prefix (`port`, `database.url`); the environment provider adds it, so
/// `database.url` is `TRONCH_DATABASE_URL`, and a config file holds `{"database": {"url": …}}`.
package struct Settings: Sendable {
    package enum LogFormat: String, Sendable { case text, json }

    package var host = "127.0.0.1"
    package var port = 8080
    package var dataDirectory = "./tronch-data"
    package var database: DatabaseLocation = .sqliteFile(path: "./tronch-data/tronch.sqlite")
    package var autoMigrate = true
    /// PostgreSQL connections per node.
    package var databasePoolSize = 10
    /// Time to open one PostgreSQL connection.
    package var databaseConnectTimeout: Duration = .seconds(5)
    /// Time box of every database call; past it the call fails as unavailable (503).
    package var databaseQueryTimeout: Duration = .seconds(5)
    /// How long start-up keeps retrying an unreachable database before giving up.
    package var databaseStartupTimeout: Duration = .seconds(60)
    package var keyPrefix = KeyFormat(prefix: "tronch")!
    /// The pepper, when configured; nil means "generate one in the data directory" (embedded store only).
    package var pepper: [UInt8]?
    /// The pepper before a rotation (`TRONCH_KEY_PEPPER_PREVIOUS`): keys hashed with it still verify, and
    /// move to the current pepper at their first use. Nil when no rotation is under way (the embedded store
    /// reads `pepper.previous` in its data directory instead).
    package var previousPepper: [UInt8]?
    package var logLevel: Logger.Level = .info
    package var logFormat: LogFormat = .text
    package var maxBodySize = 65_536
    /// A connection that sends nothing for this long is closed: idle between requests, or stalled in the middle
    /// of one (a request still being answered is never cut). Longer than the 60 s after which proxies and load
    /// balancers drop an idle connection, so that they, not Tronch, close the ones they keep.
    package var httpIdleTimeout: Duration = .seconds(75)
    /// After SIGTERM or SIGINT: the longest a node takes to finish the requests in flight and write what it
    /// holds (key uses, usage) before what is left is cancelled. Below the 30 s an orchestrator waits by default.
    package var shutdownTimeout: Duration = .seconds(25)
    package var queryParameterKeys = false
    /// Proxies whose `X-Forwarded-For` is believed (load balancers in front of Tronch).
    package var trustedProxies: [CIDR] = []
    package var cacheTTL: Duration = .seconds(30)
    package var negativeCacheTTL: Duration = .seconds(5)
    package var cacheMaxEntries = 100_000
    /// How long past its TTL a cached key may still answer while the database is unreachable.
    package var cacheStaleTTL: Duration = .seconds(300)
    package var keyLimits = KeyLimits()
    package var lastUsedFlushInterval: Duration = .seconds(2)
    /// The root key to create on an empty database instead of a random one.
    package var bootstrapRootKey: String?
    package var rateLimits = RateLimitSettings()
    /// How long audit entries are kept; nil keeps them forever.
    package var auditRetention: Duration? = .seconds(365 * 86_400)
    package var auditRetentionInterval: Duration = .seconds(3600)
    /// A keyed checkpoint of the audit chain every this many entries; 0 writes none.
    package var auditCheckpointEvery: Int64 = 1000
    /// The longest an entry waits for a checkpoint when fewer than `auditCheckpointEvery` arrive.
    package var auditCheckpointInterval: Duration = .seconds(3600)
    /// How long before its expiry a key gets its `key.expiring` entry; nil writes none.
    package var expiryReminderPeriod: Duration? = .seconds(7 * 86_400)
    /// How often keys are looked at for expiry reminders.
    package var expiryReminderInterval: Duration = .seconds(60)
    /// At most one `key.rate_limited` entry per key in this span on each node; nil writes none.
    package var rateLimitedEventInterval: Duration? = .seconds(60)
    /// OpenTelemetry tracing, exported over OTLP/HTTP (`TRONCH_TRACING=otlp`); off by default.
    package var tracing = false
    /// The web console at `/console` (`TRONCH_CONSOLE`, on by default).
    package var console = true
    package var metricsAccess: MetricsAccess = .scope
    /// Whether verifications and API requests are counted per key (`GET /api/v1/keys/{id}/usage`).
    package var usageEnabled = true
    /// Bound on usage counters waiting to be written (distinct key, minute and metric).
    package var usageMaxPending = 100_000
    /// How long per-minute usage counters are kept; nil keeps them forever.
    package var usageRetention: Duration? = .seconds(90 * 86_400)
    /// Shared rate limits and cache invalidation across nodes; nil keeps both in this process.
    package var redisURL: String?
    /// Time box of every Redis call; past it the failure mode decides.
    package var redisTimeout: Duration = .milliseconds(100)
    /// Whether `/api/v1/auth/check` (forward authentication for gateways) is served.
    package var forwardAuthEnabled = true
    /// Scopes the forward-auth check requires by method and path.
    package var gatewayRules = GatewayRules()
    /// People, passwords, lockout, sessions and tokens.
    package var accounts = AccountSettings()
    /// Security headers and CORS.
    package var edge = EdgeSettings()
    package var webhooks = WebhookSettings()
    package var authz = AuthzSettings()

    package init() {}

    /// Shortest pepper accepted, in bytes: HMAC keys shorter than the hash output weaken it.
    package static let minimumPepperBytes = 32

    /// Reads and checks everything. `requirePepper: false` is for commands that never hash a key
    /// (`tronch migrate`, `tronch backup`), which must work without the secret.
    package init(reader: ConfigReader, requirePepper: Bool = true) throws(ConfigurationError) {
        let values = ValueReader(reader: reader)
        host = try values.string("host") ?? host
        if host.isEmpty { throw ConfigurationError(key: "TRONCH_HOST", "must not be empty") }
        port = try values.int("port") ?? port
        guard (0...65_535).contains(port) else { throw ConfigurationError(key: "TRONCH_PORT", "must be 0-65535") }
        dataDirectory = try values.string("data.dir") ?? dataDirectory
        if dataDirectory.isEmpty { throw ConfigurationError(key: "TRONCH_DATA_DIR", "must not be empty") }
        // Secret: a PostgreSQL URL may carry a password.
        let url = try values.string("database.url", secret: true) ?? "sqlite://\(dataDirectory)/tronch.sqlite"
        do {
            database = try DatabaseLocation(url: url)
        } catch {
            throw ConfigurationError(key: "TRONCH_DATABASE_URL", error.description)
        }
        autoMigrate = try values.bool("database.autoMigrate") ?? autoMigrate
        databasePoolSize = try values.int("database.poolSize") ?? databasePoolSize
        guard (1...1000).contains(databasePoolSize) else {
            throw ConfigurationError(key: "TRONCH_DATABASE_POOL_SIZE", "must be between 1 and 1000")
        }
        databaseConnectTimeout = try values.seconds("database.connectTimeout", range: 0.1...600) ?? databaseConnectTimeout
        databaseQueryTimeout = try values.seconds("database.queryTimeout", range: 0.1...600) ?? databaseQueryTimeout
        databaseStartupTimeout = try values.seconds("database.startupTimeout", range: 0...3600) ?? databaseStartupTimeout
        if let prefix = try values.string("key.prefix") {
            guard let format = KeyFormat(prefix: prefix) else {
                throw ConfigurationError(key: "TRONCH_KEY_PREFIX", "must be 1-16 characters of a-z and 0-9")
            }
            keyPrefix = format
        }
        let pepperFile = try values.string("key.pepperFile")
        if let pepper = try values.string("key.pepper", secret: true) {
            guard pepperFile == nil else {
                throw ConfigurationError(key: "TRONCH_KEY_PEPPER_FILE", "set either TRONCH_KEY_PEPPER or TRONCH_KEY_PEPPER_FILE, not both")
            }
            guard pepper.utf8.count >= Self.minimumPepperBytes else {
                throw ConfigurationError(key: "TRONCH_KEY_PEPPER", "must be at least \(Self.minimumPepperBytes) bytes")
            }
            self.pepper = Array(pepper.utf8)
        } else if let path = pepperFile {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(key: "TRONCH_KEY_PEPPER_FILE", "cannot read '\(path)'")
            }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard text.utf8.count >= Self.minimumPepperBytes else {
                throw ConfigurationError(key: "TRONCH_KEY_PEPPER_FILE", "the pepper must be at least \(Self.minimumPepperBytes) bytes")
            }
            self.pepper = Array(text.utf8)
        }
        if let previous = try values.string("key.pepperPrevious", secret: true) {
            guard previous.utf8.count >= Self.minimumPepperBytes else {
                throw ConfigurationError(key: "TRONCH_KEY_PEPPER_PREVIOUS", "must be at least \(Self.minimumPepperBytes) bytes")
            }
            guard pepper != nil else {
                throw ConfigurationError(key: "TRONCH_KEY_PEPPER_PREVIOUS", "needs TRONCH_KEY_PEPPER (or TRONCH_KEY_PEPPER_FILE): the new pepper")
            }
            previousPepper = Array(previous.utf8)
        }
        if pepper == nil && !database.isEmbedded && requirePepper {
            throw ConfigurationError(
                key: "TRONCH_KEY_PEPPER",
                "is required with an external database (every node must share it); set TRONCH_KEY_PEPPER or TRONCH_KEY_PEPPER_FILE"
            )
        }
        if let level = try values.string("log.level") {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw ConfigurationError(key: "TRONCH_LOG_LEVEL", "must be one of trace, debug, info, notice, warning, error, critical")
            }
            logLevel = parsed
        }
        if let format = try values.string("log.format") {
            guard let parsed = LogFormat(rawValue: format.lowercased()) else {
                throw ConfigurationError(key: "TRONCH_LOG_FORMAT", "must be text or json")
            }
            logFormat = parsed
        }
        maxBodySize = try values.int("http.maxBodySize") ?? maxBodySize
        guard (1024...(64 << 20)).contains(maxBodySize) else {
            throw ConfigurationError(key: "TRONCH_HTTP_MAX_BODY_SIZE", "must be between 1024 and 67108864 bytes")
        }
        httpIdleTimeout = try values.seconds("http.idleTimeout", range: 1...3600) ?? httpIdleTimeout
        shutdownTimeout = try values.seconds("shutdown.timeout", range: 1...3600) ?? shutdownTimeout
        queryParameterKeys = try values.bool("auth.queryParameter") ?? queryParameterKeys
        if let list = try values.string("http.trustedProxies") {
            trustedProxies = []
            for item in list.split(separator: ",") {
                let text = item.filter { $0 != " " }
                do {
                    trustedProxies.append(try CIDR(parsing: text))
                } catch {
                    throw ConfigurationError(key: "TRONCH_HTTP_TRUSTED_PROXIES", "'\(text)': \(error)")
                }
            }
        }
        cacheTTL = try values.seconds("cache.ttl", range: 0...86_400) ?? cacheTTL
        negativeCacheTTL = try values.seconds("cache.negativeTtl", range: 0...3600) ?? negativeCacheTTL
        cacheMaxEntries = try values.int("cache.maxEntries") ?? cacheMaxEntries
        cacheStaleTTL = try values.seconds("cache.staleTtl", range: 0...86_400) ?? cacheStaleTTL
        guard (1...100_000_000).contains(cacheMaxEntries) else {
            throw ConfigurationError(key: "TRONCH_CACHE_MAX_ENTRIES", "must be between 1 and 100000000")
        }
        let metaMax = try values.int("key.metaMaxBytes") ?? keyLimits.metaMaxBytes
        guard (2...1_048_576).contains(metaMax) else {
            throw ConfigurationError(key: "TRONCH_KEY_META_MAX_BYTES", "must be between 2 and 1048576")
        }
        keyLimits.metaMaxBytes = metaMax
        lastUsedFlushInterval = try values.seconds("usage.flushInterval", range: 0.05...3600) ?? lastUsedFlushInterval
        rateLimits.defaultPolicy = try values.policy("ratelimit.default", name: "default", current: rateLimits.defaultPolicy)
        rateLimits.api = try values.policy("ratelimit.api", name: "api", current: rateLimits.api)
        rateLimits.authFailures = try values.policy(
            "ratelimit.authFailures",
            name: "auth_failures",
            current: rateLimits.authFailures
        )
        rateLimits.keyCreation = try values.policy("ratelimit.keyCreation", name: "key_creation", current: rateLimits.keyCreation)
        rateLimits.login = try values.policy("ratelimit.login", name: "login", current: rateLimits.login)
        if let mode = try values.string("ratelimit.failureMode") {
            guard let parsed = RateLimitFailureMode(rawValue: mode.lowercased()) else {
                throw ConfigurationError(key: "TRONCH_RATELIMIT_FAILURE_MODE", "must be open, closed or local")
            }
            rateLimits.failureMode = parsed
        }
        rateLimits.localMaxEntries = try values.int("ratelimit.localMaxEntries") ?? rateLimits.localMaxEntries
        guard (16...100_000_000).contains(rateLimits.localMaxEntries) else {
            throw ConfigurationError(key: "TRONCH_RATELIMIT_LOCAL_MAX_ENTRIES", "must be between 16 and 100000000")
        }
        if let days = try values.int("audit.retentionDays") {
            guard (0...36_500).contains(days) else {
                throw ConfigurationError(key: "TRONCH_AUDIT_RETENTION_DAYS", "must be between 0 (keep forever) and 36500")
            }
            auditRetention = days == 0 ? nil : .seconds(days * 86_400)
        }
        if let access = try values.string("metrics.access") {
            guard let parsed = MetricsAccess(rawValue: access.lowercased()) else {
                throw ConfigurationError(key: "TRONCH_METRICS_ACCESS", "must be open, scope or off")
            }
            metricsAccess = parsed
        }
        usageEnabled = try values.bool("usage.enabled") ?? usageEnabled
        forwardAuthEnabled = try values.bool("forwardAuth.enabled") ?? forwardAuthEnabled
        if let text = try values.string("forwardAuth.rules") {
            do {
                gatewayRules = try GatewayRules(parsing: text)
            } catch {
                throw ConfigurationError(key: "TRONCH_FORWARD_AUTH_RULES", error.detail)
            }
        }
        usageMaxPending = try values.int("usage.maxPending") ?? usageMaxPending
        guard (100...100_000_000).contains(usageMaxPending) else {
            throw ConfigurationError(key: "TRONCH_USAGE_MAX_PENDING", "must be between 100 and 100000000")
        }
        if let days = try values.int("usage.retentionDays") {
            guard (0...36_500).contains(days) else {
                throw ConfigurationError(key: "TRONCH_USAGE_RETENTION_DAYS", "must be between 0 (keep forever) and 36500")
            }
            usageRetention = days == 0 ? nil : .seconds(days * 86_400)
        }
        auditRetentionInterval = try values.seconds("audit.retentionInterval", range: 1...86_400) ?? auditRetentionInterval
        if let every = try values.int("audit.checkpointEvery") {
            guard (0...10_000_000).contains(every) else {
                throw ConfigurationError(key: "TRONCH_AUDIT_CHECKPOINT_EVERY", "must be between 0 (no checkpoints) and 10000000")
            }
            auditCheckpointEvery = Int64(every)
        }
        auditCheckpointInterval = try values.seconds("audit.checkpointInterval", range: 1...86_400) ?? auditCheckpointInterval
        if let console = try values.string("console") {
            switch console {
            case "on": self.console = true
            case "off": self.console = false
            default: throw ConfigurationError(key: "TRONCH_CONSOLE", "'\(console)' is not on or off")
            }
        }
        if let tracing = try values.string("tracing") {
            switch tracing {
            case "off": self.tracing = false
            case "otlp": self.tracing = true
            default: throw ConfigurationError(key: "TRONCH_TRACING", "'\(tracing)' is not off or otlp")
            }
        }
        if let days = try values.int("expiryReminder.days") {
            guard (0...365).contains(days) else {
                throw ConfigurationError(key: "TRONCH_EXPIRY_REMINDER_DAYS", "must be between 0 (no reminders) and 365")
            }
            expiryReminderPeriod = days == 0 ? nil : .seconds(days * 86_400)
        }
        expiryReminderInterval = try values.seconds("expiryReminder.interval", range: 0.1...86_400) ?? expiryReminderInterval
        if let interval = try values.seconds("audit.rateLimitedInterval", range: 0...86_400) {
            rateLimitedEventInterval = interval == .zero ? nil : interval
        }
        if let url = try values.string("redis.url", secret: true), !url.isEmpty {
            do {
                _ = try RedisConfiguration(url: url)
            } catch {
                throw ConfigurationError(key: "TRONCH_REDIS_URL", "\(error)")
            }
            redisURL = url
        }
        redisTimeout = try values.seconds("redis.timeout", range: 0.001...60) ?? redisTimeout
        accounts = try AccountSettings(values: values, host: host, port: port)
        authz = try AuthzSettings(values: values)
        edge = try EdgeSettings(values: values)
        webhooks = try WebhookSettings(values: values)
        if let rootKey = try values.string("bootstrap.rootKey", secret: true) {
            guard KeyFormat.parse(rootKey) != nil else {
                throw ConfigurationError(
                    key: "TRONCH_BOOTSTRAP_ROOT_KEY",
                    "is not a well-formed Tronch key (make one with 'tronch keys generate')"
                )
            }
            bootstrapRootKey = rootKey
        }
    }
}

extension Settings {
    /// The JSON type a setting takes in a config file.
    package enum ValueKind: Sendable {
        case string, integer, boolean, seconds
    }

    /// Every setting a config file may hold, by its dotted path.
    package static let fileSchema: [String: ValueKind] = [
        "host": .string, "port": .integer, "data.dir": .string, "database.url": .string,
        "database.autoMigrate": .boolean, "database.poolSize": .integer, "database.connectTimeout": .seconds,
        "database.queryTimeout": .seconds, "database.startupTimeout": .seconds, "cache.staleTtl": .seconds,
        "key.prefix": .string, "key.pepper": .string, "key.pepperFile": .string, "key.pepperPrevious": .string,
        "key.metaMaxBytes": .integer, "log.level": .string, "log.format": .string, "http.maxBodySize": .integer,
        "http.idleTimeout": .seconds, "shutdown.timeout": .seconds,
        "auth.queryParameter": .boolean, "cache.ttl": .seconds, "cache.negativeTtl": .seconds,
        "cache.maxEntries": .integer, "usage.flushInterval": .seconds, "bootstrap.rootKey": .string,
        "ratelimit.default": .string, "ratelimit.api": .string, "ratelimit.authFailures": .string, "ratelimit.keyCreation": .string,
        "ratelimit.failureMode": .string, "ratelimit.localMaxEntries": .integer, "redis.url": .string,
        "redis.timeout": .seconds, "audit.retentionDays": .integer, "audit.retentionInterval": .seconds,
        "audit.checkpointEvery": .integer, "audit.checkpointInterval": .seconds, "audit.rateLimitedInterval": .seconds,
        "expiryReminder.days": .integer, "tracing": .string, "console": .string, "expiryReminder.interval": .seconds,
        "usage.maxPending": .integer, "usage.enabled": .boolean, "http.trustedProxies": .string, "usage.retentionDays": .integer,
        "metrics.access": .string,
        "forwardAuth.enabled": .boolean, "forwardAuth.rules": .string, "ratelimit.login": .string,
    ].merging(AccountSettings.fileSchema) { $1 }.merging(AuthzSettings.fileSchema) { $1 }.merging(EdgeSettings.fileSchema) { $1 }
        .merging(WebhookSettings.fileSchema) { $1 }

    /// Checks a config file's JSON against ``fileSchema``: an unknown name (a typo) or a value of the wrong
    /// JSON type stops start-up instead of being ignored.
    package static func validateConfigFile(_ json: JSONValue) throws(ConfigurationError) {
        guard case .object = json else { throw ConfigurationError(key: "TRONCH_CONFIG_FILE", "must hold a JSON object") }
        func walk(_ value: JSONValue, path: String) throws(ConfigurationError) {
            if case .object(let members) = value, fileSchema[path] == nil {
                for (name, member) in members.sorted(by: { $0.key < $1.key }) {
                    try walk(member, path: path.isEmpty ? name : "\(path).\(name)")
                }
                return
            }
            guard let kind = fileSchema[path] else {
                throw ConfigurationError(key: "TRONCH_CONFIG_FILE", "'\(path)' is not a setting (see docs/configuration.md)")
            }
            let fits: Bool
            switch (kind, value) {
            case (.string, .string), (.integer, .int), (.boolean, .bool), (.seconds, .int), (.seconds, .double): fits = true
            default: fits = false
            }
            if !fits {
                let expected =
                    switch kind {
                    case .string: "a string"
                    case .integer: "an integer"
                    case .boolean: "true or false"
                    case .seconds: "a number of seconds"
                    }
                throw ConfigurationError(key: ValueReader.environmentName(path), "must be \(expected) in the config file")
            }
        }
        try walk(json, path: "")
    }
}

/// Typed reads that report a present-but-invalid value instead of silently using the default.
struct ValueReader {
    let reader: ConfigReader

    static func environmentName(_ key: String) -> String {
        var name = "TRONCH_"
        var previousWasLower = false
        for character in key {
            if character == "." {
                name += "_"
                previousWasLower = false
            } else if character.isUppercase {
                if previousWasLower { name += "_" }
                name += String(character)
                previousWasLower = false
            } else {
                name += character.uppercased()
                previousWasLower = true
            }
        }
        return name
    }

    /// Whether any provider holds a value of any type for `key` (a config file may hold the wrong type).
    private func isPresent(_ key: String) -> Bool {
        let name = ConfigKey(key)
        return reader.string(forKey: name, isSecret: true) != nil || reader.int(forKey: name) != nil
            || reader.double(forKey: name) != nil || reader.bool(forKey: name) != nil
            || reader.stringArray(forKey: name, isSecret: true) != nil
    }

    private func wrongType(_ key: String, _ expected: String) -> ConfigurationError {
        ConfigurationError(key: Self.environmentName(key), "must be \(expected)")
    }

    func string(_ key: String, secret: Bool = false) throws(ConfigurationError) -> String? {
        if let value = reader.string(forKey: ConfigKey(key), isSecret: secret) { return value }
        if isPresent(key) { throw wrongType(key, "a string") }
        return nil
    }

    func int(_ key: String) throws(ConfigurationError) -> Int? {
        if let value = reader.int(forKey: ConfigKey(key)) { return value }
        if let text = reader.string(forKey: ConfigKey(key)) {
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw ConfigurationError(key: Self.environmentName(key), "'\(text)' is not an integer")
            }
            return value
        }
        if isPresent(key) { throw wrongType(key, "an integer") }
        return nil
    }

    func bool(_ key: String) throws(ConfigurationError) -> Bool? {
        if let value = reader.bool(forKey: ConfigKey(key)) { return value }
        if let text = reader.string(forKey: ConfigKey(key)) {
            switch text.lowercased() {
            case "true", "yes", "1", "on": return true
            case "false", "no", "0", "off": return false
            default: throw ConfigurationError(key: Self.environmentName(key), "'\(text)' is not true or false")
            }
        }
        if isPresent(key) { throw wrongType(key, "true or false") }
        return nil
    }

    /// A policy written `LIMIT/PERIOD[/BURST]`, or `off` for none.
    func policy(_ key: String, name: String, current: RateLimitPolicy?) throws(ConfigurationError) -> RateLimitPolicy? {
        guard let text = try string(key) else { return current }
        if text.lowercased() == "off" { return nil }
        guard let policy = RateLimitPolicy(parsing: text, name: name) else {
            throw ConfigurationError(
                key: Self.environmentName(key),
                "'\(text)' is not LIMIT/PERIOD[/BURST] (for example 1000/1h) or off"
            )
        }
        return policy
    }

    func seconds(_ key: String, range: ClosedRange<Double>) throws(ConfigurationError) -> Duration? {
        var value = reader.double(forKey: ConfigKey(key))
        if value == nil, let text = reader.string(forKey: ConfigKey(key)) {
            guard let parsed = Double(text.trimmingCharacters(in: .whitespaces)) else {
                throw ConfigurationError(key: Self.environmentName(key), "'\(text)' is not a number of seconds")
            }
            value = parsed
        }
        guard let value else {
            if isPresent(key) { throw wrongType(key, "a number of seconds") }
            return nil
        }
        guard range.contains(value) else {
            throw ConfigurationError(key: Self.environmentName(key), "must be between \(range.lowerBound) and \(range.upperBound) seconds")
        }
        return .milliseconds(Int64(value * 1000))
    }
}
