import ArgumentParser
import TronchCore
import TronchServer
import TronchStorage

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Apply, revert or list database schema migrations.",
        subcommands: [Up.self, Down.self, Status.self]
    )

    static func store(_ options: ServerOptions) async throws -> any Store {
        let settings = try Settings(reader: try await options.reader())
        return try openStore(settings)
    }

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply pending migrations.")
        @OptionGroup var options: ServerOptions
        @Option(help: "Stop at this version (default: the latest).") var to: Int?

        func run() async throws {
            let applied = try await MigrateCommand.store(options).migrateUp(to: to)
            print(applied.isEmpty ? "nothing to apply" : "applied \(applied.map(String.init).joined(separator: ", "))")
        }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revert the latest migration, or down to a version.")
        @OptionGroup var options: ServerOptions
        @Option(help: "Revert every version above this one (0 reverts all).") var to: Int?

        func run() async throws {
            let reverted = try await MigrateCommand.store(options).migrateDown(to: to)
            print(reverted.isEmpty ? "nothing to revert" : "reverted \(reverted.map(String.init).joined(separator: ", "))")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List applied and pending migrations.")
        @OptionGroup var options: ServerOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let states = try await MigrateCommand.store(options).migrationStates()
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
