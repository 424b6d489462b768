import Crypto
import Foundation
import Logging
import TronchCore
import TronchStorage

/// The key that seals secrets at rest (token signing keys, TOTP seeds): `TRONCH_SECRETS_KEY` when set; for the
/// embedded store a file `secrets.key` (0600) in the data directory, made on first start like the pepper; for
/// an external database, without `TRONCH_SECRETS_KEY`, one derived from the pepper (HKDF-SHA-256), which every
/// node already shares — so that several nodes agree without a second secret to distribute.
///
/// The file holds one base64 key per line: the first seals, the others (left by `tronch secrets rotate-key`)
/// only open.
enum SecretsKey {
    static let fileName = "secrets.key"
    /// Written before a rotation's transaction and renamed over `secrets.key` after it: whichever one the
    /// database names wins at the next start, so a rotation cut short loses nothing.
    static let pendingFileName = "secrets.key.new"
    /// The database remembers the id of the key its secrets were sealed with: starting with another stops.
    static let setting = "secrets_key_id"

    static func load(_ settings: Settings, pepper: [UInt8], store: any SettingsStore, logger: Logger) async throws -> SecretBox {
        if let configured = settings.accounts.secretsKey {
            var previous = settings.accounts.previousSecretsKeys.compactMap(SecretBox.Key.init(bytes:))
            // The pepper-derived key stays readable, so moving from it to a configured key is one rotation.
            if !settings.database.isEmbedded { previous.append(derived(from: pepper)) }
            return SecretBox(current: SecretBox.Key(bytes: configured)!, previous: previous)
        }
        guard settings.database.isEmbedded, case .sqliteFile = settings.database else {
            if settings.previousPepper != nil {
                // The derived key would change with the pepper, and nothing sealed would open.
                throw ConfigurationError(
                    key: "TRONCH_KEY_PEPPER_PREVIOUS",
                    "needs TRONCH_SECRETS_KEY: without it the secrets key is derived from the pepper; give secrets their own key first (operations.md, rotating the secrets key)"
                )
            }
            return SecretBox(current: derived(from: pepper))
        }
        try PepperFile.ensureDirectory(settings.dataDirectory)
        let path = settings.dataDirectory + "/" + fileName
        let recorded = try await store.setting(setting)
        try finishPendingRotation(directory: settings.dataDirectory, recorded: recorded, logger: logger)
        if !FileManager.default.fileExists(atPath: path), recorded != nil {
            // A new key now would orphan every secret sealed with the old one.
            throw ConfigurationError(
                key: "TRONCH_DATA_DIR",
                "the secrets key file \(path) is missing, but the database holds secrets sealed with it; restore the file from a backup"
            )
        }
        let (text, created) = try SecretFile.loadOrCreate(at: path, what: "the secrets key file") { Data($0).base64EncodedString() }
        guard let box = box(fromFile: text) else {
            throw ConfigurationError(key: "TRONCH_DATA_DIR", "\(path) does not hold 32-byte keys in base64, one per line")
        }
        if created { logger.notice("generated a new secrets key", metadata: ["directory": "\(settings.dataDirectory)"]) }
        return box
    }

    static func derived(from pepper: [UInt8]) -> SecretBox.Key {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: pepper),
            salt: Array("tronch".utf8),
            info: Array("tronch secrets key v1".utf8),
            outputByteCount: 32
        )
        return SecretBox.Key(bytes: key.withUnsafeBytes { Array($0) })!
    }

    static func box(fromFile text: String) -> SecretBox? {
        let keys = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .map { Data(base64Encoded: $0).flatMap { SecretBox.Key(bytes: Array($0)) } }
        guard let first = keys.first, let current = first, keys.allSatisfy({ $0 != nil }) else { return nil }
        return SecretBox(current: current, previous: keys.dropFirst().compactMap { $0 })
    }

    static func fileText(_ box: SecretBox) -> String {
        ([box.current] + box.previous).map { Data($0.bytes).base64EncodedString() + "\n" }.joined()
    }

    /// A `secrets.key.new` left by a rotation: kept when the database says its transaction committed,
    /// dropped when it did not.
    private static func finishPendingRotation(directory: String, recorded: String?, logger: Logger) throws {
        let pending = directory + "/" + pendingFileName
        guard let data = FileManager.default.contents(atPath: pending) else { return }
        if let box = box(fromFile: String(decoding: data, as: UTF8.self)), box.current.id == recorded {
            guard rename(pending, directory + "/" + fileName) == 0 else {
                throw ConfigurationError(key: "TRONCH_DATA_DIR", "could not rename \(pending): \(String(cString: strerror(errno)))")
            }
            logger.notice("finished an interrupted secrets key rotation", metadata: ["key": "\(box.current.id)"])
        } else {
            unlink(pending)
            logger.notice("dropped the key of a secrets key rotation that did not commit")
        }
    }

    /// Stops start-up when the database's secrets were sealed with a key this node does not have (the file
    /// lost, the variable changed): nothing sealed would open.
    static func check(_ box: SecretBox, store: any SettingsStore, configured: Bool) async throws {
        let recorded = try await store.claimSetting(setting, value: box.current.id)
        guard ([box.current] + box.previous).contains(where: { $0.id == recorded }) else {
            throw ConfigurationError(
                key: configured ? "TRONCH_SECRETS_KEY" : "TRONCH_DATA_DIR",
                "the secrets key does not match the one this database's secrets were sealed with (\(recorded)); restore it (or the secrets.key file) from a backup"
            )
        }
    }
}
