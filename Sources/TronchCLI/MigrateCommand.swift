import ArgumentParser
import Logging
import TronchCore
import TronchServer
import TronchStorage

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply, revert or list database schema migrations (SQLite or PostgreSQL).",
        subcommands: [Up.self, Down.self, Status.self]
    )

    /// Opens the configured store (no pepper needed) and runs `body` with its services running.
    static func withStore<T: Sendable>(
        _ options: ServerOptions,
        _ body: @Sendable @escaping (any Store) async throws -> T
    )
        async throws -> T
    {
        let settings = try Settings(reader: try await options.reader(), requirePepper: false)
        let logger = makeLogger(settings, output: .standardError)
        let handle = try openStore(settings, logger: logger)
        return try await handle.withServices { store in
            try await waitForDatabase(store, backend: handle.backend, timeout: settings.databaseStartupTimeout, logger: logger)
            return try await body(store)
        }
    }

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply pending migrations.")
        @OptionGroup var options: ServerOptions
        @Option(help: "Stop at this version (default: the latest).") var to: Int?

        func run() async throws {
            let target = to
            let applied = try await MigrateCommand.withStore(options) { try await $0.migrateUp(to: target) }
            print(applied.isEmpty ? "nothing to apply" : "applied \(applied.map(String.init).joined(separator: ", "))")
        }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revert the latest migration, or down to a version.")
        @OptionGroup var options: ServerOptions
        @Option(help: "Revert every version above this one (0 reverts all).") var to: Int?

        func run() async throws {
            let target = to
            let reverted = try await MigrateCommand.withStore(options) { try await $0.migrateDown(to: target) }
            print(reverted.isEmpty ? "nothing to revert" : "reverted \(reverted.map(String.init).joined(separator: ", "))")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List applied and pending migrations.")
        @OptionGroup var options: ServerOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let states = try await MigrateCommand.withStore(options) { try await $0.migrationStates() }
            if json {
                let rows: [JSONValue] = states.map { state in
                    .object([
                        "version": .int(Int64(state.version)), "name": .string(state.name),
                        "status": .string(state.isUnknown ? "unknown" : state.appliedAt == nil ? "pending" : "applied"),
                        "applied_at": state.appliedAt.map { .string(Timestamp.format($0)) } ?? .null,
                    ])
                }
                print(try JSONValue.encodeCanonical(rows))
                return
            }
            print(
                Table(
                    headers: ["VERSION", "NAME", "STATUS", "APPLIED AT"],
                    rows: states.map { state in
                        [
                            String(state.version), state.name,
                            state.isUnknown ? "unknown (newer tronch)" : state.appliedAt == nil ? "pending" : "applied",
                            state.appliedAt.map(Timestamp.format) ?? "-",
                        ]
                    }
                ).rendered
            )
        }
    }
}

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Copy the embedded SQLite database to a new file while the server keeps running.",
        discussion: "For PostgreSQL use pg_dump or point-in-time recovery (docs/operations.md)."
    )
    @OptionGroup var options: ServerOptions
    @Option(help: "The new backup file (must not exist).") var to: String

    func run() async throws {
        let target = to
        try await MigrateCommand.withStore(options) { store in
            guard let sqlite = store as? SQLiteStore else {
                throw CLIError("tronch backup copies the embedded SQLite store; for PostgreSQL use pg_dump (see docs/operations.md)")
            }
            try await sqlite.backup(to: target)
        }
        print("backed up to \(target)")
        print(
            "Keep the pepper and the secrets key (secrets.key, or TRONCH_SECRETS_KEY) with it: without the same pepper no key in the backup verifies, and without the secrets key no signing key or second factor opens."
        )
    }
}

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Replace the embedded SQLite database with a backup made by 'tronch backup'.",
        discussion: "Stop every server using the database first, and start them again afterwards."
    )
    @OptionGroup var options: ServerOptions
    @Option(help: "The backup file.") var from: String

    func run() async throws {
        let source = from
        try await MigrateCommand.withStore(options) { store in
            guard let sqlite = store as? SQLiteStore else {
                throw CLIError("tronch restore restores the embedded SQLite store; for PostgreSQL use pg_restore (see docs/operations.md)")
            }
            try await sqlite.restore(from: source)
        }
        print("restored from \(source)")
    }
}
