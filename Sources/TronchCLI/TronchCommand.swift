package import ArgumentParser
import TronchServer

/// `tronch`: the server and its command-line client in one binary.
package struct TronchCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "tronch",
        abstract: "Issue, verify, rate-limit, rotate and revoke API keys; sign people in; decide permissions.",
        subcommands: [
            ServeCommand.self, MigrateCommand.self, BackupCommand.self, RestoreCommand.self, KeysCommand.self, UsersCommand.self,
            LoginCommand.self, AuthzCommand.self, TokensCommand.self, SecretsCommand.self, AuditCommand.self, BenchCommand.self,
            VersionCommand.self,
        ]
    )

    package init() {}
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version.")

    func run() {
        print("tronch \(TronchVersion.current)")
    }
}
