import ArgumentParser
package import Configuration
import Foundation
import SystemPackage
import TronchCore
import TronchServer

/// Options that locate the configuration and the database, shared by `serve` and `migrate`.
///
/// Precedence: these flags, then `TRONCH_*` environment variables, then the JSON config file, then defaults.
struct ServerOptions: ParsableArguments {
    @Option(help: "A JSON configuration file (also TRONCH_CONFIG_FILE).")
    var config: String?

    @Option(name: .customLong("data-dir"), help: "Directory for the embedded database and pepper (TRONCH_DATA_DIR).")
    var dataDirectory: String?

    @Option(
        name: .customLong("database-url"),
        help: "sqlite:///path/file.sqlite, sqlite::memory: or postgres://user:password@host:port/db (TRONCH_DATABASE_URL)."
    )
    var databaseURL: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (TRONCH_LOG_LEVEL).")
    var logLevel: String?

    @Option(name: .customLong("log-format"), help: "text or json (TRONCH_LOG_FORMAT).")
    var logFormat: String?

    /// Values given on the command line, under the same keys as the other providers.
    func flagValues() -> [AbsoluteConfigKey: ConfigValue] {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        func set(_ key: String, _ value: String?) {
            if let value { values[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = .init(.string(value), isSecret: false) }
        }
        set("data.dir", dataDirectory)
        set("database.url", databaseURL)
        set("log.level", logLevel)
        set("log.format", logFormat)
        return values
    }

    func reader(extra: [AbsoluteConfigKey: ConfigValue] = [:]) async throws -> ConfigReader {
        try await ConfigurationSources.reader(flags: flagValues().merging(extra) { $1 }, configFile: config)
    }
}

/// Builds the provider hierarchy.
package enum ConfigurationSources {
    /// Environment variables that hold secrets, redacted wherever configuration is printed.
    static let secretVariables: Set<String> = [
        "TRONCH_KEY_PEPPER", "TRONCH_BOOTSTRAP_ROOT_KEY", "TRONCH_DATABASE_URL", "TRONCH_REDIS_URL", "TRONCH_SECRETS_KEY",
        "TRONCH_SECRETS_PREVIOUS_KEYS",
    ]

    /// The environment's `TRONCH_*` variables, secrets marked so that printing the provider redacts them.
    package static func environmentProvider(_ environment: [String: String]) -> EnvironmentVariablesProvider {
        EnvironmentVariablesProvider(environmentVariables: environment, secretsSpecifier: .specific(secretVariables))
    }

    package static func reader(
        flags: [AbsoluteConfigKey: ConfigValue],
        configFile: String?,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async throws -> ConfigReader {
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "command line", values: flags),
            environmentProvider(environment).prefixKeys(with: "tronch"),
        ]
        if let path = configFile ?? environment["TRONCH_CONFIG_FILE"] {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(key: "TRONCH_CONFIG_FILE", "cannot read '\(path)'")
            }
            let json: JSONValue
            do {
                json = try JSONParser.parse(data)
            } catch {
                throw ConfigurationError(key: "TRONCH_CONFIG_FILE", "'\(path)' is not valid JSON: \(error.description)")
            }
            try Settings.validateConfigFile(json)
            providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(path)))
        }
        return ConfigReader(providers: providers)
    }
}
