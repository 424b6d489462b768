package import Logging
import ServiceLifecycle
import Synchronization
package import TronchStorage

/// Whether the store holds imported keys that verification must look for beyond Tronch's own format: keys in
/// another system's format (HMAC-hashed like Tronch's own) and keys known only by a plain SHA-256.
///
/// Both flags start false, so a deployment that never imported anything keeps rejecting malformed keys
/// without I/O. An import sets them in the database first (flags only ever widen the search); other nodes
/// read them at start-up and every ``ImportedKeys/Watcher/interval``.
package final class ImportedKeys: Sendable {
    static let foreignFormatSetting = "imported_foreign_format_keys"
    static let sha256Setting = "imported_sha256_hashes"

    let settings: (any SettingsStore)?
    private let foreign = Atomic<Bool>(false)
    private let sha256 = Atomic<Bool>(false)

    package init(settings: (any SettingsStore)?) { self.settings = settings }

    /// Keys in another format may exist: a key that does not parse as Tronch's is still looked up.
    var foreignFormat: Bool { foreign.load(ordering: .relaxed) }
    /// Keys known only by SHA-256 may exist: a key not found by its HMAC is looked up by its SHA-256 too.
    var sha256Hashes: Bool { sha256.load(ordering: .relaxed) }

    /// Reads both flags from the database.
    package func refresh() async throws {
        guard let settings else { return }
        if try await settings.setting(Self.foreignFormatSetting) != nil { foreign.store(true, ordering: .relaxed) }
        if try await settings.setting(Self.sha256Setting) != nil { sha256.store(true, ordering: .relaxed) }
    }

    /// Records that an import brings such keys, before the keys are stored.
    func mark(foreignFormat: Bool, sha256Hashes: Bool) async throws {
        if foreignFormat {
            _ = try await settings?.claimSetting(Self.foreignFormatSetting, value: "1")
            foreign.store(true, ordering: .relaxed)
        }
        if sha256Hashes {
            _ = try await settings?.claimSetting(Self.sha256Setting, value: "1")
            sha256.store(true, ordering: .relaxed)
        }
    }

    /// Re-reads the flags periodically, so an import made through another node is seen here too.
    package struct Watcher: Service {
        let imports: ImportedKeys
        var interval: Duration = .seconds(10)
        let logger: Logger

        package init(imports: ImportedKeys, logger: Logger) {
            self.imports = imports
            self.logger = logger
        }

        package func run() async throws {
            await Periodic.run(every: interval, logger: logger, level: .debug, failure: "could not read the imported-keys flags") {
                try await imports.refresh()
            }
        }
    }
}
