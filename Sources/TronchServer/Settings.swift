package import Configuration
import Foundation
package import Logging
package import TronchCore
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
    package var keyPrefix = KeyFormat(prefix: "tronch")!
    /// The pepper, when configured; nil means "generate one in the data directory" (embedded store only).
    package var pepper: [UInt8]?
    package var logLevel: Logger.Level = .info
    package var logFormat: LogFormat = .text
    package var maxBodySize = 65_536
    package var queryParameterKeys = false
    package var cacheTTL: Duration = .seconds(30)
    package var negativeCacheTTL: Duration = .seconds(5)
    package var cacheMaxEntries = 100_000
    package var keyLimits = KeyLimits()
    package var lastUsedFlushInterval: Duration = .seconds(2)
    /// The root key to create on an empty database instead of a random one.
    package var bootstrapRootKey: String?

    package init() {}

    /// Shortest pepper accepted, in bytes: HMAC keys shorter than the hash output weaken it.
    package static let minimumPepperBytes = 32

    package init(reader: ConfigReader) throws(ConfigurationError) {
        let values = ValueReader(reader: reader)
        host = values.string("host") ?? host
        if host.isEmpty { throw ConfigurationError(key: "TRONCH_HOST", "must not be empty") }
        port = try values.int("port") ?? port
        guard (0...65_535).contains(port) else { throw ConfigurationError(key: "TRONCH_PORT", "must be 0-65535") }
        dataDirectory = values.string("data.dir") ?? dataDirectory
        if dataDirectory.isEmpty { throw ConfigurationError(key: "TRONCH_DATA_DIR", "must not be empty") }
        let url = values.string("database.url") ?? "sqlite://\(dataDirectory)/tronch.sqlite"
        do {
            database = try DatabaseLocation(url: url)
        } catch {
            throw ConfigurationError(key: "TRONCH_DATABASE_URL", error.description)
        }
        autoMigrate = try values.bool("database.autoMigrate") ?? autoMigrate
        if let prefix = values.string("key.prefix") {
            guard let format = KeyFormat(prefix: prefix) else {
                throw ConfigurationError(key: "TRONCH_KEY_PREFIX", "must be 1-16 characters of a-z and 0-9")
            }
            keyPrefix = format
        }
        if let pepper = values.string("key.pepper", secret: true) {
            guard pepper.utf8.count >= Self.minimumPepperBytes else {
                throw ConfigurationError(key: "TRONCH_KEY_PEPPER", "must be at least \(Self.minimumPepperBytes) bytes")
            }
            self.pepper = Array(pepper.utf8)
        } else if let path = values.string("key.pepperFile") {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(key: "TRONCH_KEY_PEPPER_FILE", "cannot read '\(path)'")
            }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard text.utf8.count >= Self.minimumPepperBytes else {
                throw ConfigurationError(key: "TRONCH_KEY_PEPPER_FILE", "the pepper must be at least \(Self.minimumPepperBytes) bytes")
            }
            self.pepper = Array(text.utf8)
        }
        if pepper == nil && !database.isEmbedded {
            throw ConfigurationError(
                key: "TRONCH_KEY_PEPPER",
                "is required with an external database (every node must share it); set TRONCH_KEY_PEPPER or TRONCH_KEY_PEPPER_FILE"
            )
        }
        if let level = values.string("log.level") {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw ConfigurationError(key: "TRONCH_LOG_LEVEL", "must be one of trace, debug, info, notice, warning, error, critical")
            }
            logLevel = parsed
        }
        if let format = values.string("log.format") {
            guard let parsed = LogFormat(rawValue: format.lowercased()) else {
                throw ConfigurationError(key: "TRONCH_LOG_FORMAT", "must be text or json")
            }
            logFormat = parsed
        }
        maxBodySize = try values.int("http.maxBodySize") ?? maxBodySize
        guard (1024...(64 << 20)).contains(maxBodySize) else {
            throw ConfigurationError(key: "TRONCH_HTTP_MAX_BODY_SIZE", "must be between 1024 and 67108864 bytes")
        }
        queryParameterKeys = try values.bool("auth.queryParameter") ?? queryParameterKeys
        cacheTTL = try values.seconds("cache.ttl", range: 0...86_400) ?? cacheTTL
        negativeCacheTTL = try values.seconds("cache.negativeTtl", range: 0...3600) ?? negativeCacheTTL
        cacheMaxEntries = try values.int("cache.maxEntries") ?? cacheMaxEntries
        guard (1...100_000_000).contains(cacheMaxEntries) else {
            throw ConfigurationError(key: "TRONCH_CACHE_MAX_ENTRIES", "must be between 1 and 100000000")
        }
        let metaMax = try values.int("keys.metaMaxBytes") ?? keyLimits.metaMaxBytes
        guard (2...1_048_576).contains(metaMax) else {
            throw ConfigurationError(key: "TRONCH_KEYS_META_MAX_BYTES", "must be between 2 and 1048576")
        }
        keyLimits.metaMaxBytes = metaMax
        lastUsedFlushInterval = try values.seconds("usage.flushInterval", range: 0.05...3600) ?? lastUsedFlushInterval
        if let rootKey = values.string("bootstrap.rootKey", secret: true) {
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

/// Typed reads that report a present-but-invalid value instead of silently using the default.
private struct ValueReader {
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

    func string(_ key: String, secret: Bool = false) -> String? {
        reader.string(forKey: ConfigKey(key), isSecret: secret)
    }

    func int(_ key: String) throws(ConfigurationError) -> Int? {
        if let value = reader.int(forKey: ConfigKey(key)) { return value }
        if let text = reader.string(forKey: ConfigKey(key)) {
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
                throw ConfigurationError(key: Self.environmentName(key), "'\(text)' is not an integer")
            }
            return value
        }
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
        return nil
    }

    func seconds(_ key: String, range: ClosedRange<Double>) throws(ConfigurationError) -> Duration? {
        var value = reader.double(forKey: ConfigKey(key))
        if value == nil, let text = reader.string(forKey: ConfigKey(key)) {
            guard let parsed = Double(text.trimmingCharacters(in: .whitespaces)) else {
                throw ConfigurationError(key: Self.environmentName(key), "'\(text)' is not a number of seconds")
            }
            value = parsed
        }
        guard let value else { return nil }
        guard range.contains(value) else {
            throw ConfigurationError(key: Self.environmentName(key), "must be between \(range.lowerBound) and \(range.upperBound) seconds")
        }
        return .milliseconds(Int64(value * 1000))
    }
}
