package import Configuration
import Foundation
package import Hummingbird
import HummingbirdCore
package import Logging
import Metrics
import OTel
import ServiceLifecycle
package import TronchCore
import TronchRateLimit
package import TronchRedis
package import TronchStorage

/// What differs between a real run and a test: where logs go, the clock, and who receives a new root key.
package struct BuildOptions: Sendable {
    package var logOutput: LogOutput = .standardError
    package var clock: WallClock = .system
    /// Receives the root key created on an empty database; by default it is printed to the terminal once.
    package var announceRootKey: @Sendable (RootKeyAnnouncement) -> Void = { $0.print() }

    package init() {}
}

/// A root key created at start-up.
package struct RootKeyAnnouncement: Sendable {
    /// The secret, nil when it came from `TRONCH_BOOTSTRAP_ROOT_KEY` (the operator already has it).
    package var generatedSecret: String?

    /// Prints to standard output, never to the log: the key must not land in log storage.
    package func print() {
        let text: String
        if let generatedSecret {
            text = """

                Tronch created a root key. It is shown only this once; store it somewhere safe:

                    \(generatedSecret)

                Use it as 'Authorization: Bearer <key>' or set TRONCH_API_KEY for the tronch CLI.

                """
        } else {
            text = "Tronch created the root key given in TRONCH_BOOTSTRAP_ROOT_KEY.\n"
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

/// Opens the configured database without touching the network; PostgreSQL's pool is returned as a service
/// that must run for the store to answer. Creates the data directory for the embedded default.
package func openStore(_ settings: Settings, logger: Logger) throws -> StoreHandle {
    switch settings.database {
    case .sqliteFile(let path):
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try PepperFile.ensureDirectory(directory) }
        return StoreHandle(store: try SQLiteStore.open(path: path), services: [], backend: "sqlite")
    case .sqliteMemory:
        return StoreHandle(store: try SQLiteStore.inMemory(), services: [], backend: "sqlite")
    case .postgres(let url):
        let location: PostgresLocation
        do {
            location = try PostgresLocation(url: url)
        } catch {
            throw ConfigurationError(key: "TRONCH_DATABASE_URL", error.description)
        }
        let store = PostgresStore(
            location: location,
            poolSize: settings.databasePoolSize,
            connectTimeout: settings.databaseConnectTimeout,
            queryTimeout: settings.databaseQueryTimeout,
            logger: logger
        )
        return StoreHandle(store: store, services: [store.client], backend: "postgresql")
    }
}

package let pepperFingerprintSetting = "pepper_fingerprint"
/// What the fingerprint is an HMAC of: a fixed text, so the stored value reveals nothing about the pepper.
package let pepperFingerprintText = "tronch pepper fingerprint v1"

/// The configured pepper, or the embedded store's pepper file (created on first start).
package func loadPepper(_ settings: Settings, store: any Store, logger: Logger) async throws -> [UInt8] {
    if let pepper = settings.pepper { return pepper }
    try PepperFile.ensureDirectory(settings.dataDirectory)
    if !PepperFile.exists(in: settings.dataDirectory), try await store.setting(pepperFingerprintSetting) != nil {
        // Generating a new pepper now would silently orphan every existing key.
        throw ConfigurationError(
            key: "TRONCH_DATA_DIR",
            "the pepper file \(settings.dataDirectory)/\(PepperFile.name) is missing, but the database holds keys hashed with it; restore the file from a backup"
        )
    }
    try PepperRotation.finishPending(
        directory: settings.dataDirectory,
        recorded: try await store.setting(pepperFingerprintSetting),
        logger: logger
    )
    let loaded = try PepperFile.loadOrCreate(in: settings.dataDirectory)
    if loaded.created { logger.notice("generated a new pepper", metadata: ["directory": "\(settings.dataDirectory)"]) }
    return loaded.pepper
}

/// Builds the whole server from configuration: what `tronch serve` runs and what tests drive.
///
/// Nothing here waits for the network: configuration errors surface at once, and everything that needs the
/// database (waiting for it, migrations, the pepper check, the first root key) runs in ``prepareDatabase``
/// once the application's services, the database pool among them, are running.
package func buildApplication(reader: ConfigReader, options: BuildOptions = .init()) async throws -> some ApplicationProtocol {
    let settings = try Settings(reader: reader)
    MetricsExport.bootstrap()
    let logger = makeLogger(settings, output: options.logOutput)
    let handle = try openStore(settings, logger: logger)
    let store = handle.store
    // Only the embedded store may have no configured pepper, and it needs no running service to be read.
    let pepper = try await loadPepper(settings, store: store, logger: logger)
    let hasher = KeyHasher(pepper: pepper)
    let previousHasher = try PepperRotation.previousPepper(settings).map { KeyHasher(pepper: $0) }
    let secrets = try await SecretsKey.load(settings, pepper: pepper, store: store, logger: logger)

    let lastUsed = LastUsedRecorder(store: store, interval: settings.lastUsedFlushInterval, logger: logger)
    let cache = KeyCache(
        ttl: settings.cacheTTL,
        negativeTTL: settings.negativeCacheTTL,
        maxEntries: settings.cacheMaxEntries,
        staleTTL: settings.cacheStaleTTL
    )
    let redis = try settings.redisURL.map { url in
        let configuration = try RedisConfiguration(url: url, commandTimeout: settings.redisTimeout)
        return RedisClient(configuration: configuration, logger: logger)
    }
    let invalidation = redis.map { RedisCacheInvalidation(client: $0, cache: cache, logger: logger) }
    let usage =
        settings.usageEnabled
        ? UsageRecorder(
            store: store,
            interval: settings.lastUsedFlushInterval,
            capacity: settings.usageMaxPending,
            retention: settings.usageRetention,
            clock: options.clock,
            logger: logger
        ) : nil
    let imports = ImportedKeys(settings: store)
    let directory = UserDirectory(store: store)
    let keys = KeyService(
        store: store,
        cache: cache,
        hasher: hasher,
        format: settings.keyPrefix,
        clock: options.clock,
        limits: settings.keyLimits,
        lastUsed: lastUsed,
        rateLimits: RateLimits(limiter: makeRateLimiter(settings, redis: redis, logger: logger), settings: settings.rateLimits),
        usage: usage,
        broadcast: invalidation,
        imports: imports,
        owners: directory,
        secrets: secrets,
        nonces: redis.map { RedisNonceCache(redis: $0, logger: logger) } ?? LocalNonceCache(),
        previousHasher: previousHasher,
        rateLimitedEvents: settings.rateLimitedEventInterval.map { RateLimitedEvents(store: store, interval: $0, logger: logger) }
    )
    if !settings.database.isEmbedded && !settings.accounts.issuerConfigured {
        logger.warning(
            "TRONCH_ISSUER is not set: access tokens name this node's own address as their issuer, so other nodes refuse them; set it to the public URL every node shares",
            metadata: ["issuer": "\(settings.accounts.issuer)"]
        )
    }
    let tokenEvents = redis.map { RedisTokenEvents(client: $0, logger: logger) }
    let authzDirectory = AuthzDirectory(store: store, fallbackAllows: settings.authz.fallbackAllows)
    let tokens = TokenService(
        store: store,
        settings: settings.accounts,
        secrets: secrets,
        clock: options.clock,
        hasher: hasher,
        refreshPrefix: settings.keyPrefix.prefix,
        logger: logger,
        events: tokenEvents,
        groups: authzDirectory,
        previousHasher: previousHasher
    )
    tokenEvents?.deliver(to: tokens)
    tokenEvents?.deliver(to: authzDirectory)
    let passwords = PasswordHasher(
        parameters: settings.accounts.passwordHash,
        threads: settings.accounts.passwordHashThreads,
        queue: settings.accounts.passwordHashQueue
    )
    let mfa = MFAService(
        store: store,
        secrets: secrets,
        hasher: hasher,
        clock: options.clock,
        issuerName: "Tronch",
        lockout: settings.accounts.lockout,
        previousHasher: previousHasher
    )
    let users = UserService(
        store: store,
        hasher: passwords,
        tokens: tokens,
        keys: keys,
        directory: directory,
        mfa: mfa,
        settings: settings.accounts
    )
    let authz = AuthzService(store: store, directory: authzDirectory, clock: options.clock, settings: settings.authz)
    let webhooks = WebhookService(store: store, secrets: secrets, clock: options.clock, settings: settings.webhooks)
    let router = buildRouter(
        keys: keys,
        users: users,
        authz: authz,
        webhooks: webhooks,
        settings: settings,
        database: handle,
        redis: redis
    )
    var services: [any Service] =
        handle.services + [
            lastUsed, KeyStatistics(store: store, clock: options.clock, logger: logger),
            ImportedKeys.Watcher(imports: imports, logger: logger), passwords, TokenMaintenance(tokens: tokens, logger: logger, challenges: store),
            AuthzDirectory.Refresher(directory: authzDirectory, interval: settings.authz.refreshInterval, logger: logger),
            IdempotencyPruning(store: store, clock: options.clock, logger: logger),
        ]
    if let usage { services.append(usage) }
    if let retention = settings.auditRetention {
        services.append(
            AuditRetention(
                store: store,
                retention: retention,
                interval: settings.auditRetentionInterval,
                clock: options.clock,
                logger: logger
            )
        )
    }
    if let period = settings.expiryReminderPeriod {
        services.append(
            ExpiryReminders(store: store, period: period, interval: settings.expiryReminderInterval, clock: options.clock, logger: logger)
        )
    }
    services.append(
        WebhookDispatcher(store: store, webhooks: webhooks, settings: settings.webhooks, clock: options.clock, logger: logger)
    )
    if settings.auditCheckpointEvery > 0 {
        services.append(
            AuditCheckpointing(
                store: store,
                signer: AuditCheckpointSigner(secrets: secrets),
                every: settings.auditCheckpointEvery,
                interval: settings.auditCheckpointInterval,
                clock: options.clock,
                logger: logger
            )
        )
    }
    if let redis, let invalidation { services += [redis, invalidation] }
    if let tokenEvents { services.append(tokenEvents) }
    if settings.tracing { services.append(try TracingBootstrap.start(logger: logger)) }
    let http = HTTP1Channel.Configuration(idleTimeout: .nanoseconds(Int64(settings.httpIdleTimeout / .nanoseconds(1))))
    var server = HTTPServerBuilder.http1(configuration: http)
    if let files = settings.edge.tls {
        let certificates = try TLSCertificates(certificateFile: files.certificateFile, keyFile: files.keyFile)
        server = .http1(tls: certificates, configuration: http)
        services.append(TLSReload(certificates: certificates, logger: logger))
    } else if settings.edge.requireHTTPS != .off, settings.trustedProxies.isEmpty {
        logger.warning(
            "TRONCH_REQUIRE_HTTPS is on but no proxy is trusted (TRONCH_HTTP_TRUSTED_PROXIES), so no request can show it came over HTTPS: every route but health and readiness is refused"
        )
    }
    var app = Application(
        router: router,
        server: server,
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil),
        services: services.map(NamedService.init),
        logger: logger
    )
    let announce = options.announceRootKey
    app.beforeServerStarts {
        try await prepareDatabase(settings: settings, handle: handle, keys: keys, logger: logger, announce: announce)
        try await SecretsKey.check(secrets, store: store, configured: settings.accounts.secretsKey != nil)
        try await tokens.prepare()
        try await authzDirectory.reload()
    }
    return app
}

/// Start-up work that needs the database: wait for it, migrate (or check the schema), check the pepper,
/// create the first root key.
func prepareDatabase(
    settings: Settings,
    handle: StoreHandle,
    keys: KeyService,
    logger: Logger,
    announce: @Sendable (RootKeyAnnouncement) -> Void
) async throws {
    let store = handle.store
    try await waitForDatabase(store, backend: handle.backend, timeout: settings.databaseStartupTimeout, logger: logger)
    if settings.autoMigrate {
        let applied = try await store.migrateUp(to: nil)
        if !applied.isEmpty { logger.info("applied database migrations", metadata: ["versions": "\(applied)"]) }
    } else {
        try await store.requireKnownSchema()
        let pending = try await store.pendingVersions()
        guard pending.isEmpty else {
            throw ConfigurationError(
                key: "TRONCH_DATABASE_AUTO_MIGRATE",
                "is false and migrations \(pending) are pending; run 'tronch migrate up' first"
            )
        }
    }
    // A fingerprint of the pepper, kept in the database: starting with a different pepper would make every
    // key fail verification, so it stops start-up instead. During a rotation the database may still name
    // the previous pepper (until `tronch keys rotate-pepper` records the new one).
    let fingerprint = keys.hasher.fingerprint
    let recorded = try await store.claimSetting(pepperFingerprintSetting, value: fingerprint)
    if let previous = keys.previousHasher, recorded == previous.fingerprint {
        logger.notice("the previous pepper is still the database's; run 'tronch keys rotate-pepper' to move the keys to the new one")
    } else if recorded != fingerprint {
        throw ConfigurationError(
            key: settings.pepper == nil ? "TRONCH_DATA_DIR" : "TRONCH_KEY_PEPPER",
            "the pepper does not match the one this database was created with; no key would verify"
        )
    }
    try await keys.imports.refresh()
    try await ListenAddressCheck.ensureAvailable(host: settings.host, port: settings.port)
    if let secret = try await keys.bootstrapRootKey(secret: settings.bootstrapRootKey) {
        logger.notice("created the root key on an empty database")
        announce(RootKeyAnnouncement(generatedSecret: settings.bootstrapRootKey == nil ? secret : nil))
    }
    // What this node runs with, for whoever reads the trail after an incident (never a secret).
    try await keys.audit(
        AuditEvent(
            time: keys.clock.now,
            actor: .system,
            action: AuditAction.serverStarted,
            details: [
                "version": .string(TronchVersion.current), "backend": .string(handle.backend),
                "redis": .bool(settings.redisURL != nil), "failure_mode": .string(settings.rateLimits.failureMode.rawValue),
                "key_prefix": .string(settings.keyPrefix.prefix), "host": .string(settings.host),
            ]
        )
    )
}

/// Pings the database until it answers, backing off from 250 ms to 5 s, for at most `timeout`.
package func waitForDatabase(_ store: any Store, backend: String, timeout: Duration, logger: Logger) async throws {
    let deadline = ContinuousClock.now + timeout
    var delay = Duration.milliseconds(250)
    var attempt = 1
    while true {
        do {
            try await store.ping()
            if attempt > 1 { logger.notice("database reachable", metadata: ["backend": "\(backend)", "attempts": "\(attempt)"]) }
            return
        } catch let error as StorageError where !error.isTransient {
            // Wrong credentials or a missing database do not fix themselves: say so now.
            throw error
        } catch {
            let remaining = deadline - ContinuousClock.now
            guard remaining > .zero else {
                throw StorageError.unavailable("the \(backend) database did not answer within \(timeout) of start-up: \(error)")
            }
            let wait = min(delay, remaining)
            logger.warning(
                "database unreachable at start-up; retrying",
                metadata: ["backend": "\(backend)", "attempt": "\(attempt)", "retry_in": "\(wait)", "error": "\(error)"]
            )
            try await Task.sleep(for: wait)
            delay = min(delay * 2, .seconds(5))
            attempt += 1
        }
    }
}

/// The routes and middleware; separate from ``buildApplication(reader:options:)`` so its shape is easy to read.
package func buildRouter(
    keys: KeyService,
    users: UserService,
    authz: AuthzService,
    webhooks: WebhookService,
    settings: Settings,
    database: StoreHandle,
    redis: RedisClient? = nil
) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    let authentication = AuthenticationMiddleware(
        keys: keys,
        tokens: users.tokens,
        rateLimits: keys.rateLimits,
        allowQueryParameter: settings.queryParameterKeys,
        mfaRequiredRoles: settings.accounts.mfaRequiredRoles,
        groups: authz.directory
    )
    // Set by the request id middleware outside the problem middleware: problems carry the headers too.
    let servesTLS = settings.edge.tls != nil
    let securityHeaders = SecurityHeaders(hstsMaxAge: settings.edge.hstsMaxAge, servesTLS: servesTLS)
    let clientAddress =
        settings.trustedProxies.isEmpty
        ? nil : ClientAddressMiddleware(trusted: settings.trustedProxies, strictTransportSecurity: securityHeaders.overHTTPS)
    // With TLS in Tronch every request is HTTPS; behind a proxy, the proxy says (ClientAddressMiddleware).
    let httpsRequirement = !servesTLS && settings.edge.requireHTTPS != .off ? HTTPSRequirementMiddleware(mode: settings.edge.requireHTTPS) : nil
    router.add(
        middleware: RequestStack(
            tracing: settings.tracing ? TracingMiddleware(redactingQueryParameters: ["api_key"]) : nil,
            requestID: RequestIDMiddleware(securityHeaders: securityHeaders, tagsSpans: settings.tracing),
            clientAddress: clientAddress,
            cors: settings.edge.cors.map(CORSMiddleware.init),
            httpsRequirement: httpsRequirement
        )
    )
    let permissions = EndpointPermissionMiddleware(policy: settings.authz.endpointPolicy, clock: keys.clock) { event in
        try await keys.audit(event)
    }
    let idempotency = IdempotencyMiddleware(
        store: database.store,
        secrets: users.tokens.secrets,
        clock: keys.clock,
        maxBodySize: settings.maxBodySize,
        logger: users.tokens.logger
    )
    let callerStack = CallerStack(
        authentication: authentication,
        usage: keys.usage.map { UsageMiddleware(usage: $0, clock: keys.clock) },
        callerLimit: APIRateLimitMiddleware(rateLimits: keys.rateLimits),
        permissions: permissions,
        idempotency: idempotency
    )
    /// Every route that needs a caller (``CallerStack``).
    let authenticated: @Sendable (RouterGroup<AppRequestContext>) -> RouterGroup<AppRequestContext> = { group in
        group.add(middleware: callerStack)
    }
    if settings.console {
        ConsoleController(
            users: users,
            authz: authz,
            keys: keys,
            rateLimits: keys.rateLimits,
            mfaRequiredRoles: settings.accounts.mfaRequiredRoles,
            groups: authz.directory,
            store: database.store,
            maxBodySize: settings.maxBodySize,
            servesTLS: settings.edge.tls != nil
        )
        .addRoutes(to: router)
    }
    let api = router.group("api/v1")
    switch settings.metricsAccess {
    case .open: MetricsController(access: .open).addRoutes(to: api)
    case .scope: MetricsController(access: .scope).addRoutes(to: authenticated(api.group()))
    case .off: break
    }
    SystemController(database: database, redis: redis, failureMode: settings.rateLimits.failureMode).addRoutes(to: api)
    if settings.forwardAuthEnabled {
        ForwardAuthController(keys: keys, rules: settings.gatewayRules, allowQueryParameter: settings.queryParameterKeys)
            .addRoutes(to: api)
    }
    let keyRoutes = authenticated(api.group("keys"))
    VerifyController(keys: keys, maxBodySize: settings.maxBodySize).addRoutes(to: keyRoutes)
    KeysController(
        keys: keys,
        maxBodySize: settings.maxBodySize,
        allowQueryParameterKeys: settings.queryParameterKeys,
        stepUp: users.stepUp
    )
    .addRoutes(to: keyRoutes)
    UsageController(keys: keys, store: database.store, allowQueryParameterKeys: settings.queryParameterKeys)
        .addRoutes(to: keyRoutes)
    AuditController(store: database.store, allowQueryParameterKeys: settings.queryParameterKeys)
        .addRoutes(to: authenticated(api.group("audit-logs")))
    let userRoutes = authenticated(api.group("users"))
    UsersController(users: users, maxBodySize: settings.maxBodySize, allowQueryParameterKeys: settings.queryParameterKeys, authz: authz)
        .addRoutes(to: userRoutes)
    let authRoutes = api.group("auth")
    AuthController(users: users, rateLimits: keys.rateLimits, maxBodySize: settings.maxBodySize, authenticated: authenticated)
        .addRoutes(to: authRoutes)
    MFAController(users: users, maxBodySize: settings.maxBodySize).addRoutes(users: userRoutes, auth: authRoutes)
    GroupsController(authz: authz, maxBodySize: settings.maxBodySize, allowQueryParameterKeys: settings.queryParameterKeys)
        .addRoutes(to: authenticated(api.group("groups")))
    ACLEntriesController(authz: authz, maxBodySize: settings.maxBodySize, allowQueryParameterKeys: settings.queryParameterKeys)
        .addRoutes(to: authenticated(api.group("acl-entries")))
    AuthzController(authz: authz, maxBodySize: settings.maxBodySize).addRoutes(to: authenticated(api.group("authz")))
    SessionsController(tokens: users.tokens, allowQueryParameterKeys: settings.queryParameterKeys)
        .addRoutes(to: authenticated(api.group("sessions")))
    WebhooksController(webhooks: webhooks, maxBodySize: settings.maxBodySize, allowQueryParameterKeys: settings.queryParameterKeys)
        .addRoutes(to: authenticated(api.group("webhooks")))
    WellKnownController(tokens: users.tokens, issuer: settings.accounts.issuer).addRoutes(to: router)
    router.addMethodNotAllowedResponses()
    return router
}

/// The in-process limiter alone on a single node; with Redis, the shared limiter with the configured
/// failure mode, every fallback counted (`tronch_ratelimit_fallbacks_total`) and logged at most every 10 s.
func makeRateLimiter(_ settings: Settings, redis: RedisClient?, logger: Logger) -> any RateLimiter {
    let local = LocalRateLimiter(maxEntries: settings.rateLimits.localMaxEntries)
    guard let redis else { return local }
    let mode = settings.rateLimits.failureMode
    let counter = Counter(label: "tronch_ratelimit_fallbacks_total", dimensions: [("mode", mode.rawValue)])
    let throttle = LogThrottle()
    return FallbackRateLimiter(primary: RedisRateLimiter(client: redis), local: local, mode: mode) { error in
        counter.increment()
        throttle.log(
            .warning,
            "Redis rate limiter unavailable; deciding by the failure mode",
            topic: "ratelimit",
            metadata: ["error": "\(error)", "failure_mode": "\(mode.rawValue)"],
            logger: logger
        )
    }
}

package func makeLogger(_ settings: Settings, output: LogOutput) -> Logger {
    let level = settings.logLevel
    let format: LineLogHandler.Format = settings.logFormat == .json ? .json : .text
    // With tracing, every line logged within a request carries its trace_id and span_id next to request_id.
    let provider: Logger.MetadataProvider? = settings.tracing ? OTel.makeLoggingMetadataProvider() : nil
    return Logger(label: "tronch") { label in
        LineLogHandler(label: label, level: level, format: format, output: output, metadataProvider: provider)
    }
}
