import Crypto
import Foundation
import Logging
import TronchCore
import TronchStorage

/// The key that seals secrets at rest (token signing keys, TOTP seeds): `TRONCH_SECRETS_KEY` when set; for the
/// embedded store a file `secrets.key` (0600) in the data directory, made on first start like the pepper; for
/// an external database, without `TRONCH_SECRETS_KEY`, one derived from the pepper (HKDF-SHA-256), which every
/// node already shares — so that several nodes agree without a second secret to distribute.
enum SecretsKey {
    static let fileName = "secrets.key"
    /// The database remembers the id of the key its secrets were sealed with: starting with another stops.
    static let setting = "secrets_key_id"

    static func load(_ settings: Settings, pepper: [UInt8], logger: Logger) throws -> SecretBox {
        if let configured = settings.accounts.secretsKey {
            return SecretBox(current: SecretBox.Key(bytes: configured)!)
        }
        if settings.database.isEmbedded, case .sqliteFile = settings.database {
            try PepperFile.ensureDirectory(settings.dataDirectory)
            let path = settings.dataDirectory + "/" + fileName
            let (text, created) = try SecretFile.loadOrCreate(at: path, what: "the secrets key file") { Data($0).base64EncodedString() }
            guard let bytes = Data(base64Encoded: text), let key = SecretBox.Key(bytes: Array(bytes)) else {
                throw ConfigurationError(key: "TRONCH_DATA_DIR", "\(path) does not hold a 32-byte key in base64")
            }
            if created { logger.notice("generated a new secrets key", metadata: ["directory": "\(settings.dataDirectory)"]) }
            return SecretBox(current: key)
        }
        let derived = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: pepper), salt: Array("tronch".utf8), info: Array("tronch secrets key v1".utf8),
            outputByteCount: 32
        )
        return SecretBox(current: SecretBox.Key(bytes: derived.withUnsafeBytes { Array($0) })!)
    }

    /// Stops start-up when the database's secrets were sealed with another key (the file lost, the variable
    /// changed): nothing sealed would open.
    static func check(_ box: SecretBox, store: any SettingsStore, configured: Bool) async throws {
        guard try await store.claimSetting(setting, value: box.current.id) == box.current.id else {
            throw ConfigurationError(
                key: configured ? "TRONCH_SECRETS_KEY" : "TRONCH_DATA_DIR",
                "the secrets key does not match the one this database's secrets were sealed with; restore it (or the secrets.key file) from a backup"
            )
        }
    }
}
