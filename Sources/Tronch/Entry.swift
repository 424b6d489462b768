import ArgumentParser
import TronchCLI

@main
enum Entry {
    static func main() async {
        do {
            var command = try await TronchCommand.asyncParseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            TronchCommand.exit(withError: error)
        }
    }
}
