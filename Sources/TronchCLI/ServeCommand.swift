import ArgumentParser
import Configuration
import Hummingbird
import TronchServer

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the Tronch server.",
        discussion: "On an empty database it creates a root key and prints it once."
    )

    @OptionGroup var options: ServerOptions

    @Option(help: "Address to listen on (TRONCH_HOST, default 127.0.0.1).")
    var host: String?

    @Option(help: "Port to listen on (TRONCH_PORT, default 8080).")
    var port: Int?

    func run() async throws {
        var extra: [AbsoluteConfigKey: ConfigValue] = [:]
        if let host { extra["host"] = .init(.string(host), isSecret: false) }
        if let port { extra["port"] = .init(.int(port), isSecret: false) }
        do {
            try await serve(reader: try await options.reader(extra: extra))
        } catch let error as ConfigurationError {
            throw CLIError(error.description)
        }
    }
}
