import Foundation
package import TronchCore
import TronchStorage

extension KeyService {
    /// One key to import, as the request described it.
    package struct ImportEntry: Sendable {
        package var secret: ImportedSecret
        package var environment: KeyEnvironment
        package var settings: KeySettings

        package init(secret: ImportedSecret, environment: KeyEnvironment, settings: KeySettings) {
            self.secret = secret
            self.environment = environment
            self.settings = settings
        }
    }

    /// Most keys one import request may carry: one transaction, one audit entry per key.
    package static let maxImportBatch = 1000

    /// Stores keys from another system, all of them or none, each with a `key.imported` audit entry.
    ///
    /// A plain-text secret is hashed here and never stored; a SHA-256 hash is stored as it came and replaced by
    /// Tronch's HMAC on the key's first successful verification. The caller must hold every scope it grants,
    /// as for creation. Errors name the entry (`keys[3].scopes[0]`).
    package func importKeys(
        _ entries: [ImportEntry],
        by principal: Principal,
        origin: RequestOrigin = .none
    )
        async throws -> [KeyRecord]
    {
        guard !entries.isEmpty else { throw DomainError.invalid("keys", "must hold at least one key") }
        guard entries.count <= Self.maxImportBatch else {
            throw DomainError.invalid("keys", "holds \(entries.count) keys; send at most \(Self.maxImportBatch) per request")
        }
        let now = clock.now
        var problems = [FieldError]()
        var records = [KeyRecord]()
        var seen = [KeyDigest: Int]()
        for (index, original) in entries.enumerated() {
            var entry = original
            do {
                entry.settings = try Self.owned(entry.settings, by: principal)
                try entry.settings.validate(now: now, limits: limits)
            } catch {
                problems += error.errors.map { FieldError(field: "keys[\(index)].\($0.field)", message: $0.message) }
                if error.errors.isEmpty { problems.append(FieldError(field: "keys[\(index)]", message: error.detail)) }
            }
            let digest: KeyDigest
            let hashVersion: Int
            let hints: (start: String, end: String)
            switch entry.secret {
            case .plaintext(let key):
                digest = hasher.digest(key)
                hashVersion = hasher.version
                hints = ImportedSecret.hints(forPlaintext: key)
            case .sha256(let hash):
                digest = hash
                hashVersion = KeyHasher.importedSHA256Version
                hints = ("", "")
            }
            // The same key twice, in either form: a plain key is also known by its SHA-256.
            var forms = [digest]
            if case .plaintext(let key) = entry.secret { forms.append(KeyHasher.sha256(key)) }
            if let first = forms.lazy.compactMap({ seen[$0] }).first {
                problems.append(FieldError(field: "keys[\(index)]", message: "is the same key as keys[\(first)]"))
            }
            for form in forms where seen[form] == nil { seen[form] = index }
            records.append(
                KeyRecord(
                    id: UUIDv7.make(at: now),
                    digest: digest,
                    hashVersion: hashVersion,
                    start: hints.start,
                    end: hints.end,
                    environment: entry.environment,
                    settings: entry.settings,
                    createdAt: now,
                    createdBy: principal.reference,
                    pepperID: hashVersion == hasher.version ? hasher.id : nil
                )
            )
        }
        guard problems.isEmpty else { throw DomainError.validation(problems) }
        try Self.requireGrantable(Array(Set(entries.flatMap(\.settings.scopes))).sorted(), by: principal)
        // Already here, under Tronch's hash or the imported one: say which entry, instead of a bare conflict.
        for (index, record) in records.enumerated() {
            if try await store.key(digest: record.digest) != nil {
                throw DomainError(.conflict, "keys[\(index)] is already stored (imported before, or issued by Tronch)")
            }
        }
        try await imports.mark(
            foreignFormat: entries.contains { if case .plaintext(let key) = $0.secret { KeyFormat.parse(key) == nil } else { false } },
            sha256Hashes: entries.contains { if case .sha256 = $0.secret { true } else { false } }
        )
        let audit = zip(records, entries).map { record, entry in
            var details = Self.auditDetails(record)
            if case .sha256 = entry.secret { details["hash"] = "sha256" } else { details["hash"] = "plaintext" }
            return AuditEvent(
                time: now,
                actor: principal.auditActor,
                action: AuditAction.keyImported,
                targetType: "key",
                targetID: record.id.lowercased,
                origin: origin,
                details: details
            )
        }
        try await store.insert(batch: records, audit: audit)
        // A key presented before its import may be cached as unknown, here or on other nodes.
        for record in records { invalidate(record.digest) }
        return records
    }

    /// Replaces an imported key's SHA-256, or a digest made with the previous pepper, with Tronch's HMAC under
    /// the current pepper, once the key has been presented. A failure (database down, a racing node) leaves the
    /// old digest, which keeps working; the next presentation tries again.
    func upgradeDigest(of record: KeyRecord, key: String) async -> KeyRecord {
        let digest = hasher.digest(key)
        guard
            (try? await store.replaceDigest(
                id: record.id,
                old: record.digest,
                new: digest,
                hashVersion: hasher.version,
                pepperID: hasher.id
            )) == true
        else { return record }
        invalidate(record.digest)
        invalidate(digest)
        var upgraded = record
        upgraded.digest = digest
        upgraded.hashVersion = hasher.version
        upgraded.pepperID = hasher.id
        return upgraded
    }
}
