package import Foundation
package import Logging
package import TronchCore
package import TronchStorage

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Replacing the pepper. A digest cannot be re-keyed without the key it was made from (that is the point of
/// an HMAC), so a rotation works like a password-hash upgrade: both peppers are known for a while, a key
/// made with the old one is found by its old digest and re-keyed with the new one the first time it is
/// presented, and the old pepper goes once `tronch keys pepper-status` counts no live key left on it. Keys
/// that are never presented again stay on the old pepper; dropping it makes them unknown (`NOT_FOUND`).
package enum PepperRotation {
    /// The embedded store's previous pepper, next to `pepper` in the data directory.
    static let previousFileName = "pepper.previous"
    /// A rotation's new pepper until its transaction has committed (then renamed over `pepper`).
    static let pendingFileName = "pepper.new"

    package struct Status: Sendable {
        package var currentID: String
        package var previousID: String?
        /// Live (not revoked) keys still on a pepper other than the current one.
        package var remaining: Int
        /// Revoked keys on another pepper: they need no moving (once the pepper goes, they are unknown).
        package var revokedRemaining: Int
        package var onCurrent: Int
    }

    /// The previous pepper: `TRONCH_KEY_PEPPER_PREVIOUS`, or the embedded store's `pepper.previous`.
    package static func previousPepper(_ settings: Settings) throws -> [UInt8]? {
        if let previous = settings.previousPepper { return previous }
        guard settings.pepper == nil, case .sqliteFile = settings.database else { return nil }
        let path = settings.dataDirectory + "/" + previousFileName
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.utf8.count >= Settings.minimumPepperBytes else {
            throw ConfigurationError(key: "TRONCH_DATA_DIR", "\(path) is shorter than \(Settings.minimumPepperBytes) bytes")
        }
        return Array(text.utf8)
    }

    /// A `pepper.new` left by a rotation cut short: kept (renamed over `pepper`, the old one to
    /// `pepper.previous`) when the database recorded it, dropped when it did not.
    static func finishPending(directory: String, recorded: String?, logger: Logger) throws {
        let pending = directory + "/" + pendingFileName
        guard let data = FileManager.default.contents(atPath: pending) else { return }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard KeyHasher(pepper: Array(text.utf8)).fingerprint == recorded else {
            unlink(pending)
            logger.notice("dropped the pepper of a rotation that did not commit")
            return
        }
        try move(directory + "/" + PepperFile.name, to: directory + "/" + previousFileName)
        try move(pending, to: directory + "/" + PepperFile.name)
        logger.notice("finished an interrupted pepper rotation")
    }

    private static func move(_ from: String, to: String) throws {
        guard rename(from, to) == 0 else {
            throw ConfigurationError(key: "TRONCH_DATA_DIR", "could not rename \(from) to \(to): \(String(cString: strerror(errno)))")
        }
    }

    /// What the keys are hashed with now.
    package static func status(store: any KeyStore, current: KeyHasher, previous: KeyHasher?) async throws -> Status {
        var status = Status(currentID: current.id, previousID: previous?.id, remaining: 0, revokedRemaining: 0, onCurrent: 0)
        for count in try await store.keyCountsByPepper() {
            // Keys stored before peppers had ids were made with the pepper then in use: still the current
            // one until a rotation gives them the old one's id.
            if count.pepperID == nil || count.pepperID == current.id {
                status.onCurrent += count.count
            } else if count.revoked {
                status.revokedRemaining += count.count
            } else {
                status.remaining += count.count
            }
        }
        return status
    }

    /// `tronch keys rotate-pepper`. Embedded store (server stopped): a new pepper is generated into the data
    /// directory and the old one kept as `pepper.previous`. External database: every node already runs with
    /// the new pepper in `TRONCH_KEY_PEPPER` and the old one in `TRONCH_KEY_PEPPER_PREVIOUS`; this records
    /// the switch. Either way, in one transaction, keys without a pepper id are marked as the old pepper's
    /// (so that their first use re-keys them) and the new pepper's fingerprint is recorded.
    package static func rotate(settings: Settings, store: any Store, now: Date, logger: Logger) async throws -> Status {
        let recorded = try await store.setting(pepperFingerprintSetting)
        let old: KeyHasher
        let new: KeyHasher
        var pendingPath: String?
        if settings.pepper == nil, case .sqliteFile = settings.database {
            let current = KeyHasher(pepper: try await loadPepper(settings, store: store, logger: logger))
            if try previousPepper(settings) != nil {
                throw ConfigurationError(
                    key: "TRONCH_DATA_DIR",
                    "a rotation is still under way (\(settings.dataDirectory)/\(previousFileName) exists): finish it with 'tronch keys pepper-status --drop-previous' first"
                )
            }
            var generator = SystemRandomNumberGenerator()
            let text = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }.hexEncoded
            let path = settings.dataDirectory + "/" + pendingFileName
            unlink(path)
            _ = try SecretFile.loadOrCreate(at: path, what: "the new pepper file") { _ in text }
            pendingPath = path
            (old, new) = (current, KeyHasher(pepper: Array(text.utf8)))
        } else {
            guard let pepper = settings.pepper, let previous = settings.previousPepper else {
                throw ConfigurationError(
                    key: "TRONCH_KEY_PEPPER_PREVIOUS",
                    "is not set: give every node the new pepper in TRONCH_KEY_PEPPER and the old one in TRONCH_KEY_PEPPER_PREVIOUS, restart them, then run this"
                )
            }
            (old, new) = (KeyHasher(pepper: previous), KeyHasher(pepper: pepper))
            if recorded == new.fingerprint { return try await status(store: store, current: new, previous: old) }
            guard recorded == nil || recorded == old.fingerprint else {
                throw ConfigurationError(
                    key: "TRONCH_KEY_PEPPER_PREVIOUS",
                    "is not the pepper this database's keys were made with"
                )
            }
        }
        try await store.recordPepperRotation(
            previousID: old.id,
            fingerprint: (pepperFingerprintSetting, new.fingerprint),
            audit: AuditEvent(
                time: now,
                actor: .system,
                action: AuditAction.pepperRotated,
                targetType: "pepper",
                targetID: new.id,
                details: ["previous": .string(old.id)]
            )
        )
        if let pendingPath {
            try move(settings.dataDirectory + "/" + PepperFile.name, to: settings.dataDirectory + "/" + previousFileName)
            try move(pendingPath, to: settings.dataDirectory + "/" + PepperFile.name)
        }
        return try await status(store: store, current: new, previous: old)
    }

    /// Removes the embedded store's `pepper.previous` once no live key needs it (or when `force`d).
    package static func dropPrevious(settings: Settings, status: Status, force: Bool) throws -> Bool {
        guard settings.pepper == nil, case .sqliteFile = settings.database else {
            throw ConfigurationError(
                key: "TRONCH_KEY_PEPPER_PREVIOUS",
                "comes from the environment: remove it from every node's configuration instead"
            )
        }
        guard status.remaining == 0 || force else { return false }
        unlink(settings.dataDirectory + "/" + previousFileName)
        return true
    }
}
