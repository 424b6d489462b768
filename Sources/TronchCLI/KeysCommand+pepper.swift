import ArgumentParser
import Foundation
import TronchCore
import TronchServer
import TronchStorage

extension KeysCommand {
    struct RotatePepper: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-pepper",
            abstract: "Move the keys to a new pepper: each is re-keyed the next time it is presented.",
            discussion: """
                Embedded store: stop the server, run this; a new pepper is generated into the data directory and \\
                the old one kept as pepper.previous. PostgreSQL: give every node the new pepper in \\
                TRONCH_KEY_PEPPER and the old one in TRONCH_KEY_PEPPER_PREVIOUS (and TRONCH_SECRETS_KEY), restart \\
                them, then run this once with the same configuration. Then watch 'tronch keys pepper-status' until \\
                no live key is left on the old pepper, and drop it.
                """
        )
        @OptionGroup var options: ServerOptions

        func run() async throws {
            let settings = try Settings(reader: try await options.reader())
            let logger = makeLogger(settings, output: .standardError)
            let handle = try openStore(settings, logger: logger)
            let status = try await handle.withServices { store in
                try await waitForDatabase(store, backend: handle.backend, timeout: settings.databaseStartupTimeout, logger: logger)
                try await store.requireKnownSchema()
                return try await PepperRotation.rotate(settings: settings, store: store, now: Date(), logger: logger)
            }
            print("keys now move to pepper \(status.currentID) (from \(status.previousID ?? "-")) at their next use")
            PepperStatus.report(status)
        }
    }

    struct PepperStatus: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pepper-status",
            abstract: "How many keys still need the previous pepper (exit 0 when none does).",
            discussion: "Reads the database directly, like 'tronch migrate'. Exit status 3 while live keys are left on it."
        )
        @OptionGroup var options: ServerOptions
        @Flag(help: "Embedded store: delete pepper.previous once no live key needs it.") var dropPrevious = false
        @Flag(help: "With --drop-previous: delete it even though live keys need it (they become unknown).") var force = false

        func run() async throws {
            let settings = try Settings(reader: try await options.reader())
            let logger = makeLogger(settings, output: .standardError)
            let handle = try openStore(settings, logger: logger)
            let status = try await handle.withServices { store in
                try await waitForDatabase(store, backend: handle.backend, timeout: settings.databaseStartupTimeout, logger: logger)
                let current = KeyHasher(pepper: try await loadPepper(settings, store: store, logger: logger))
                let previous = try PepperRotation.previousPepper(settings).map { KeyHasher(pepper: $0) }
                return try await PepperRotation.status(store: store, current: current, previous: previous)
            }
            Self.report(status)
            if dropPrevious {
                if try PepperRotation.dropPrevious(settings: settings, status: status, force: force) {
                    print("dropped the previous pepper")
                } else {
                    FileHandle.standardError.write(Data("not dropped: \(status.remaining) live keys still need it (--force drops it anyway)\n".utf8))
                    throw ExitCode(3)
                }
            } else if status.remaining > 0 {
                throw ExitCode(3)
            }
        }

        static func report(_ status: PepperRotation.Status) {
            print("current pepper \(status.currentID): \(status.onCurrent) keys")
            print("other peppers: \(status.remaining) live keys, \(status.revokedRemaining) revoked")
            print(status.remaining == 0 ? "no live key needs the previous pepper: it can be dropped" : "the previous pepper is still needed")
        }
    }
}
