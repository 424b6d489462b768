import ArgumentParser
import Foundation
import TronchCore
import TronchServer
import TronchStorage

struct TokensCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Access-token signing keys, on the database the servers use (SQLite or PostgreSQL).",
        subcommands: [RotateSigningKey.self, SigningKeys.self]
    )

    /// The configured store, with the token service `serve` would build on it.
    static func withTokens<T: Sendable>(
        _ options: ServerOptions,
        _ body: @Sendable @escaping (TokenService, Settings) async throws -> T
    )
        async throws -> T
    {
        let settings = try Settings(reader: try await options.reader())
        let logger = makeLogger(settings, output: .standardError)
        let handle = try openStore(settings, logger: logger)
        return try await handle.withServices { store in
            try await waitForDatabase(store, backend: handle.backend, timeout: settings.databaseStartupTimeout, logger: logger)
            try await store.requireKnownSchema()
            return try await body(try await TokenService.forCommand(settings: settings, store: store, logger: logger), settings)
        }
    }

    struct RotateSigningKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-signing-key",
            abstract: "Make a new active signing key; the old one keeps verifying until its tokens have expired, then retires.",
            discussion:
                "Nobody is logged out: tokens signed by the old key stay valid until they expire. Running servers use the new key within a second through Redis, or within a few seconds without it."
        )
        @OptionGroup var options: ServerOptions

        func run() async throws {
            let (key, announced) = try await TokensCommand.withTokens(options) { tokens, settings in
                let key = try await tokens.rotateSigningKey(actor: .system)
                let announced = await TokenService.announceKeysChanged(settings: settings, logger: tokens.logger)
                return (key, announced)
            }
            print("new signing key \(key.kid) (\(key.algorithm.rawValue)) is active")
            print(announced ? "running servers were told through Redis" : "running servers pick it up within a few seconds")
        }
    }

    struct SigningKeys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "signing-keys", abstract: "List the signing keys and their states.")
        @OptionGroup var options: ServerOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let records = try await TokensCommand.withTokens(options) { tokens, _ in try await tokens.store.signingKeys() }
            if json {
                let rows: [JSONValue] = records.map { key in
                    [
                        "kid": .string(key.kid), "algorithm": .string(key.algorithm.rawValue), "state": .string(key.state.rawValue),
                        "created_at": .string(Timestamp.format(key.createdAt)),
                        "deactivated_at": key.deactivatedAt.map { .string(Timestamp.format($0)) } ?? .null,
                        "retired_at": key.retiredAt.map { .string(Timestamp.format($0)) } ?? .null,
                    ]
                }
                print(try JSONValue.encodeCanonical(JSONValue.array(rows)))
                return
            }
            print(
                Table(
                    headers: ["KID", "ALGORITHM", "STATE", "CREATED", "DEACTIVATED", "RETIRED"],
                    rows: records.map { key in
                        [
                            key.kid, key.algorithm.rawValue, key.state.rawValue, Timestamp.format(key.createdAt),
                            key.deactivatedAt.map(Timestamp.format) ?? "-", key.retiredAt.map(Timestamp.format) ?? "-",
                        ]
                    }
                ).rendered
            )
        }
    }
}
