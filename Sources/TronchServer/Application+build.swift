package import Configuration
import Foundation
package import Hummingbird
package import Logging
package import TronchCore
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

/// The store behind every backend.
package typealias Store = KeyStore & SchemaMigrator & SettingsStore

/// Opens the configured database, creating the data directory for the embedded default.
package func openStore(_ settings: Settings) throws -> any Store {
    switch settings.database {
    case .sqliteFile(let path):
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try PepperFile.ensureDirectory(directory) }
        return try SQLiteStore.open(path: path)
    case .sqliteMemory:
        return try SQLiteStore.inMemory()
    case .postgres:
        throw ConfigurationError(key: "TRONCH_DATABASE_URL", "PostgreSQL is not supported by this build yet; use sqlite://")
    }
}

let pepperFingerprintSetting = "pepper_fingerprint"

/// The configured pepper, or the embedded store's pepper file (created on first start).
func loadPepper(_ settings: Settings, store: any Store, logger: Logger) async throws -> [UInt8] {
    if let pepper = settings.pepper { return pepper }
    try PepperFile.ensureDirectory(settings.dataDirectory)
    if !PepperFile.exists(in: settings.dataDirectory), try await store.setting(pepperFingerprintSetting) != nil {
        // Generating a new pepper now would silently orphan every existing key.
        throw ConfigurationError(
            key: "TRONCH_DATA_DIR",
            "the pepper file \(settings.dataDirectory)/\(PepperFile.name) is missing, but the database holds keys hashed with it; restore the file from a backup"
        )
    }
    let loaded = try PepperFile.loadOrCreate(in: settings.dataDirectory)
    if loaded.created { logger.notice("generated a new pepper", metadata: ["directory": "\(settings.dataDirectory)"]) }
    return loaded.pepper
}

/// Builds the whole server from configuration: what `tronch serve` runs and what tests drive.
package func buildApplication(reader: ConfigReader, options: BuildOptions = .init()) async throws -> some ApplicationProtocol {
    let settings = try Settings(reader: reader)
    let logger = makeLogger(settings, output: options.logOutput)
    let store = try openStore(settings)

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

    let hasher = KeyHasher(pepper: try await loadPepper(settings, store: store, logger: logger))
    // A fingerprint of the pepper, kept in the database: starting with a different pepper would make every
    // key fail verification, so it stops start-up instead.
    let fingerprint = hasher.digest("tronch pepper fingerprint v1").hex
    guard try await store.claimSetting(pepperFingerprintSetting, value: fingerprint) == fingerprint else {
        throw ConfigurationError(
            key: settings.pepper == nil ? "TRONCH_DATA_DIR" : "TRONCH_KEY_PEPPER",
            "the pepper does not match the one this database was created with; no key would verify"
        )
    }

    let lastUsed = LastUsedRecorder(store: store, interval: settings.lastUsedFlushInterval, logger: logger)
    let keys = KeyService(
        store: store,
        cache: KeyCache(ttl: settings.cacheTTL, negativeTTL: settings.negativeCacheTTL, maxEntries: settings.cacheMaxEntries),
        hasher: hasher, format: settings.keyPrefix, clock: options.clock, limits: settings.keyLimits, lastUsed: lastUsed
    )
    if let secret = try await keys.bootstrapRootKey(secret: settings.bootstrapRootKey) {
        logger.notice("created the root key on an empty database")
        options.announceRootKey(RootKeyAnnouncement(generatedSecret: settings.bootstrapRootKey == nil ? secret : nil))
    }

    let router = buildRouter(keys: keys, settings: settings)
    return Application(
        router: router,
        configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil),
        services: [lastUsed],
        logger: logger
    )
}

/// The routes and middleware; separate from ``buildApplication(reader:options:)`` so its shape is easy to read.
package func buildRouter(keys: KeyService, settings: Settings) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: AccessLogMiddleware())
    router.add(middleware: ProblemMiddleware())
    let api = router.group("api/v1")
    SystemController().addRoutes(to: api)
    let keyRoutes = api.group("keys")
        .add(middleware: AuthenticationMiddleware(keys: keys, allowQueryParameter: settings.queryParameterKeys))
    VerifyController(keys: keys, maxBodySize: settings.maxBodySize).addRoutes(to: keyRoutes)
    KeysController(keys: keys, maxBodySize: settings.maxBodySize, allowQueryParameterKeys: settings.queryParameterKeys)
        .addRoutes(to: keyRoutes)
    return router
}

package func makeLogger(_ settings: Settings, output: LogOutput) -> Logger {
    let level = settings.logLevel
    switch settings.logFormat {
    case .json:
        return Logger(label: "tronch") { label in JSONLogHandler(label: label, level: level, output: output) }
    case .text:
        return Logger(label: "tronch") { label in TextLogHandler(label: label, level: level, output: output) }
    }
}
