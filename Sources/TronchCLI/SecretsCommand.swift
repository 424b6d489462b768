import ArgumentParser
import Foundation
import TronchServer
import TronchStorage

struct SecretsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "secrets",
        abstract: "The secrets key that seals signing keys and second factors at rest.",
        subcommands: [RotateKey.self]
    )

    struct RotateKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-key",
            abstract: "Seal every stored secret again under a new secrets key, in one transaction.",
            discussion: """
                Embedded store: stop the server, run this; a new key is generated into secrets.key (the old one stays \
                on the line below it, opening only). PostgreSQL: set TRONCH_SECRETS_KEY to the new key and \
                TRONCH_SECRETS_PREVIOUS_KEYS to the old one on every node, restart them, then run this once; the \
                previous keys may then be removed. Back up the new key with the database: older backups need the old one.
                """
        )
        @OptionGroup var options: ServerOptions

        func run() async throws {
            let settings = try Settings(reader: try await options.reader())
            let logger = makeLogger(settings, output: .standardError)
            let handle = try openStore(settings, logger: logger)
            let result = try await handle.withServices { store in
                try await waitForDatabase(store, backend: handle.backend, timeout: settings.databaseStartupTimeout, logger: logger)
                try await store.requireKnownSchema()
                return try await SecretsRotation.rotate(settings: settings, store: store, now: Date(), logger: logger)
            }
            print(
                "sealed \(result.resealed) secret\(result.resealed == 1 ? "" : "s") again under secrets key \(result.keyID) (was \(result.previousKeyID))"
            )
            if let file = result.keyFile { print("the new key is in \(file); back it up with the database") }
        }
    }
}
