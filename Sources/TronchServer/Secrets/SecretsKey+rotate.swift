package import Foundation
package import Logging
import TronchCore
package import TronchStorage

/// `tronch secrets rotate-key`: every sealed secret (signing keys, TOTP seeds) opened with whichever key sealed
/// it and sealed again under the new current key, in one transaction that also records the key's id.
package enum SecretsRotation {
    package struct Result: Sendable {
        package var previousKeyID: String
        package var keyID: String
        package var resealed: Int
        /// Where the new key was written, for the embedded store's key file.
        package var keyFile: String?
    }

    /// With `TRONCH_SECRETS_KEY` set: re-seals under it (the old key given in `TRONCH_SECRETS_PREVIOUS_KEYS`,
    /// or the pepper-derived one). With the key file: a new key becomes the first line, the old one stays
    /// below it (opening only, for a server that sealed with it during the rotation). Without either, on an
    /// external database: there is no new key to move to, which is an error.
    package static func rotate(settings: Settings, store: any Store, now: Date, logger: Logger) async throws -> Result {
        let pepper = try await loadPepper(settings, store: store, logger: logger)
        let box = try await SecretsKey.load(settings, pepper: pepper, store: store, logger: logger)
        try await SecretsKey.check(box, store: store, configured: settings.accounts.secretsKey != nil)
        let recorded = try await store.setting(SecretsKey.setting) ?? box.current.id
        var usesFile = false
        if settings.accounts.secretsKey == nil, case .sqliteFile = settings.database { usesFile = true }
        if settings.accounts.secretsKey == nil && !usesFile {
            throw ConfigurationError(
                key: "TRONCH_SECRETS_KEY",
                "is not set, so secrets are sealed with a key derived from the pepper; set TRONCH_SECRETS_KEY to a new key (openssl rand -base64 32) on every node and run this again to move them to it"
            )
        }
        var target = box
        var pendingPath: String?
        if usesFile {
            var generator = SystemRandomNumberGenerator()
            let fresh = SecretBox.Key(bytes: (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) })!
            target = SecretBox(current: fresh, previous: [box.current] + box.previous)
            let path = settings.dataDirectory + "/" + SecretsKey.pendingFileName
            try writePrivateFile(SecretsKey.fileText(target), to: path)
            pendingPath = path
        }
        // Should anything below fail, the pending key file stays: the next start keeps it if the database
        // says the transaction committed and drops it otherwise.
        let changes = try await store.sealedSecrets().map { secret in
            SealedSecret.Change(location: secret.location, from: secret.sealed, to: try target.reseal(secret.sealed, context: secret.context))
        }.filter { $0.from != $0.to }
        let replaced = try await store.replaceSealedSecrets(
            changes,
            setting: (SecretsKey.setting, target.current.id),
            audit: [
                AuditEvent(
                    time: now,
                    actor: .system,
                    action: AuditAction.secretsKeyRotated,
                    targetType: "secrets_key",
                    targetID: target.current.id,
                    details: ["previous": .string(recorded), "resealed": .int(Int64(changes.count))]
                )
            ]
        )
        var keyFile: String?
        if let pendingPath {
            let path = settings.dataDirectory + "/" + SecretsKey.fileName
            guard rename(pendingPath, path) == 0 else {
                throw ConfigurationError(key: "TRONCH_DATA_DIR", "could not rename \(pendingPath): \(String(cString: strerror(errno)))")
            }
            keyFile = path
        }
        return Result(previousKeyID: recorded, keyID: target.current.id, resealed: replaced, keyFile: keyFile)
    }

    private static func writePrivateFile(_ text: String, to path: String) throws {
        unlink(path)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else {
            throw ConfigurationError(key: "TRONCH_DATA_DIR", "could not create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        let written = text.withCString { write(descriptor, $0, strlen($0)) }
        guard written == text.utf8.count, fsync(descriptor) == 0 else {
            unlink(path)
            throw ConfigurationError(key: "TRONCH_DATA_DIR", "could not write \(path)")
        }
    }
}
