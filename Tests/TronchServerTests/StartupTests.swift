import Configuration
import Foundation
import GRDB
import HTTPTypes
import HummingbirdTesting
import Logging
import Synchronization
import SystemPackage
import Testing
import TronchCore

@testable import TronchServer
@testable import TronchStorage

@Suite struct StartupTests {
    static func temporaryDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tronch-startup-\(UUID().uuidString)").path
        return path
    }

    /// Configuration with any free port: these tests never listen, and on the default port (8080) their
    /// start-up check that the port is free would race with each other.
    static func reader(_ values: [AbsoluteConfigKey: ConfigValue]) -> ConfigReader {
        ConfigReader(provider: InMemoryProvider(values: values.merging(["port": .init(.int(0), isSecret: false)]) { old, _ in old }))
    }

    final class Announcements: Sendable {
        private let list = Mutex<[RootKeyAnnouncement]>([])
        func append(_ announcement: RootKeyAnnouncement) { list.withLock { $0.append(announcement) } }
        var all: [RootKeyAnnouncement] { list.withLock { $0 } }
    }

    /// Builds and starts the application (start-up work runs before the server listens), then stops it.
    func start(_ reader: ConfigReader, announcements: Announcements? = nil) async throws {
        let app = try await buildApplication(reader: reader, options: options(announcements: announcements))
        try await app.test(.router) { _ in }
    }

    func options(announcements: Announcements? = nil) -> BuildOptions {
        var options = BuildOptions()
        options.logOutput = LogOutput { _ in }
        if let announcements { options.announceRootKey = { announcements.append($0) } }
        return options
    }

    @Test func anEmptyEmbeddedStoreGetsAPepperFileAndOneRootKey() async throws {
        let directory = Self.temporaryDirectory()
        let reader = Self.reader(["data.dir": .init(.string(directory), isSecret: false)])
        let announcements = Announcements()
        try await start(reader, announcements: announcements)
        let first = announcements.all
        #expect(first.count == 1)
        let secret = try #require(first.first?.generatedSecret)
        #expect(KeyFormat.parse(secret) != nil)

        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/pepper")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let directoryAttributes = try FileManager.default.attributesOfItem(atPath: directory)
        #expect((directoryAttributes[.posixPermissions] as? NSNumber)?.intValue == 0o700)
        #expect(FileManager.default.fileExists(atPath: directory + "/tronch.sqlite"))

        try await start(reader, announcements: announcements)
        #expect(announcements.all.count == 1, "a second start must not create another root key")

        let store = try SQLiteStore.open(path: directory + "/tronch.sqlite")
        let keys = try await store.keys(matching: KeyQuery(now: Date())).keys
        #expect(keys.count == 1)
        #expect(keys.first?.settings.scopes == ["admin"])
        #expect(keys.first?.createdBy == "bootstrap")
    }

    @Test func theBootstrapKeyCanBeGiven() async throws {
        let announcements = Announcements()
        let app = try await buildApplication(reader: TestServer.reader(), options: options(announcements: announcements))
        try await app.test(.router) { client in
            let response = try await APIClient(client: client).request(.get, "/api/v1/keys")
            #expect(response.status == .ok)
        }
        #expect(announcements.all.map(\.generatedSecret) == [nil], "a given key is not printed back")
    }

    @Test func aDifferentPepperIsRefused() async throws {
        let directory = Self.temporaryDirectory()
        func reader(pepper: String) -> ConfigReader {
            Self.reader([
                "data.dir": .init(.string(directory), isSecret: false), "key.pepper": .init(.string(pepper), isSecret: true),
            ])
        }
        try await start(reader(pepper: String(repeating: "a", count: 40)))
        await #expect(throws: ConfigurationError.self) { try await start(reader(pepper: String(repeating: "b", count: 40))) }
    }

    @Test(arguments: [
        ("port", "eighty", "TRONCH_PORT"), ("port", "70000", "TRONCH_PORT"), ("key.prefix", "Bad_Prefix", "TRONCH_KEY_PREFIX"),
        ("key.pepper", "short", "TRONCH_KEY_PEPPER"), ("log.level", "loud", "TRONCH_LOG_LEVEL"), ("log.format", "xml", "TRONCH_LOG_FORMAT"),
        ("http.maxBodySize", "10", "TRONCH_HTTP_MAX_BODY_SIZE"), ("auth.queryParameter", "maybe", "TRONCH_AUTH_QUERY_PARAMETER"),
        ("cache.ttl", "-1", "TRONCH_CACHE_TTL"), ("cache.negativeTtl", "soon", "TRONCH_CACHE_NEGATIVE_TTL"),
        ("cache.maxEntries", "0", "TRONCH_CACHE_MAX_ENTRIES"), ("key.metaMaxBytes", "1", "TRONCH_KEY_META_MAX_BYTES"),
        ("database.url", "mysql://x", "TRONCH_DATABASE_URL"), ("bootstrap.rootKey", "not-a-key", "TRONCH_BOOTSTRAP_ROOT_KEY"),
        ("database.autoMigrate", "perhaps", "TRONCH_DATABASE_AUTO_MIGRATE"), ("usage.flushInterval", "0", "TRONCH_USAGE_FLUSH_INTERVAL"),
        ("key.pepperFile", "/nonexistent/pepper", "TRONCH_KEY_PEPPER_FILE"), ("host", "", "TRONCH_HOST"),
    ])
    func invalidConfigurationNamesTheKey(key: String, value: String, variable: String) async throws {
        var config = ["database.url": "sqlite::memory:", "key.pepper": TestServer.pepper]
        config[key] = value
        if key == "key.pepperFile" { config["key.pepper"] = nil }
        do {
            _ = try Settings(reader: TestServer.reader(config, defaults: false))
            Issue.record("expected a configuration error for \(key)=\(value)")
        } catch {
            #expect(error.key == variable)
            #expect(error.description.contains(variable))
        }
    }

    @Test func aLostPepperFileIsNotSilentlyReplaced() async throws {
        let directory = Self.temporaryDirectory()
        let reader = Self.reader(["data.dir": .init(.string(directory), isSecret: false)])
        try await start(reader)
        let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/tronch.sqlite")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        try FileManager.default.removeItem(atPath: directory + "/pepper")
        do {
            _ = try await buildApplication(reader: reader, options: options())
            Issue.record("start-up must refuse a missing pepper file")
        } catch let error as ConfigurationError {
            #expect(error.key == "TRONCH_DATA_DIR")
            #expect(error.message.contains("restore"))
        }
        #expect(!FileManager.default.fileExists(atPath: directory + "/pepper"))
    }

    @Test func onlyOnePepperSourceMayBeSet() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pepper-\(UUID().uuidString)").path
        try String(repeating: "p", count: 40).write(toFile: file, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError(key: "TRONCH_KEY_PEPPER_FILE", "")) {
            _ = try Settings(reader: TestServer.reader(["key.pepperFile": file]))
        }
    }

    @Test(arguments: [
        (#"{"port": true}"#, "TRONCH_PORT"), (#"{"port": 8080.5}"#, "TRONCH_PORT"), (#"{"port": "x"}"#, "TRONCH_PORT"),
        (#"{"log": {"level": 5}}"#, "TRONCH_LOG_LEVEL"), (#"{"auth": {"queryParameter": 1}}"#, "TRONCH_AUTH_QUERY_PARAMETER"),
        (#"{"cache": {"ttl": "long"}}"#, "TRONCH_CACHE_TTL"), (#"{"key": {"prefix": ["a"]}}"#, "TRONCH_KEY_PREFIX"),
        (#"{"prot": 8080}"#, "TRONCH_CONFIG_FILE"), (#"{"log": {"levle": "debug"}}"#, "TRONCH_CONFIG_FILE"),
        (#"["port"]"#, "TRONCH_CONFIG_FILE"), (#"{"log": "debug"}"#, "TRONCH_CONFIG_FILE"),
    ])
    func configFilesWithUnknownNamesOrWrongTypesAreRefused(json: String, variable: String) throws {
        let parsed = try JSONParser.parse(Array(json.utf8))
        #expect(throws: ConfigurationError(key: variable, "")) { try Settings.validateConfigFile(parsed) }
    }

    @Test func configFileValuesOfTheRightTypeAreRead() async throws {
        let json =
            #"{"port": 8081, "log": {"level": "debug"}, "auth": {"queryParameter": true}, "cache": {"ttl": 1.5}, "key": {"metaMaxBytes": 100}, "database": {"url": "sqlite::memory:"}}"#
        try Settings.validateConfigFile(try JSONParser.parse(Array(json.utf8)))
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("config-\(UUID().uuidString).json").path
        try json.write(toFile: file, atomically: true, encoding: .utf8)
        let reader = ConfigReader(provider: try await FileProvider<JSONSnapshot>(filePath: .init(file)))
        let settings = try Settings(reader: reader)
        #expect(settings.port == 8081)
        #expect(settings.logLevel == .debug)
        #expect(settings.queryParameterKeys)
        #expect(settings.cacheTTL == .milliseconds(1500))
        #expect(settings.keyLimits.metaMaxBytes == 100)
    }

    @Test func aSchemaNewerThanThisBuildIsRefused() async throws {
        let directory = Self.temporaryDirectory()
        let reader = Self.reader(["data.dir": .init(.string(directory), isSecret: false)])
        try await start(reader)
        let store = try SQLiteStore.open(path: directory + "/tronch.sqlite")
        try await store.writer.write { db in
            try db.execute(sql: "INSERT INTO tronch_schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)")
        }
        do {
            try await start(reader)
            Issue.record("start-up must refuse a newer schema")
        } catch let error as StorageError {
            #expect(error == .schemaTooNew(version: 99))
            #expect(error.description.contains("newer than this build"))
        }
    }

    @Test func anExternalDatabaseNeedsAPepper() {
        let reader = ConfigReader(
            provider: InMemoryProvider(values: ["database.url": .init(.string("postgres://localhost/tronch"), isSecret: false)])
        )
        #expect(throws: ConfigurationError(key: "TRONCH_KEY_PEPPER", "")) { _ = try Settings(reader: reader) }
    }

    @Test func environmentVariablesAreRead() throws {
        let reader = ConfigReader(
            provider: EnvironmentVariablesProvider(environmentVariables: [
                "TRONCH_PORT": "9999", "TRONCH_KEY_PREFIX": "acme", "TRONCH_CACHE_NEGATIVE_TTL": "2.5", "TRONCH_AUTH_QUERY_PARAMETER": "true",
                "TRONCH_DATABASE_URL": "sqlite::memory:", "TRONCH_HTTP_MAX_BODY_SIZE": "4096",
            ]).prefixKeys(with: "tronch")
        )
        let settings = try Settings(reader: reader)
        #expect(settings.port == 9999)
        #expect(settings.keyPrefix.prefix == "acme")
        #expect(settings.negativeCacheTTL == .milliseconds(2500))
        #expect(settings.queryParameterKeys)
        #expect(settings.database == .sqliteMemory)
        #expect(settings.maxBodySize == 4096)
    }

    @Test func autoMigrateOffRefusesAPendingSchema() async throws {
        let directory = Self.temporaryDirectory()
        let reader = Self.reader([
            "data.dir": .init(.string(directory), isSecret: false), "database.autoMigrate": .init(.bool(false), isSecret: false),
        ])
        await #expect(throws: ConfigurationError.self) { try await start(reader) }
    }
}
