import Foundation
import Hummingbird
import TronchCore

extension KeysController {
    static let importEntryFields = createFields.union(["key", "hash"])

    /// An import body may be larger than other requests: up to 1000 keys with their settings.
    var importMaxBodySize: Int { max(maxBodySize, 4 << 20) }

    /// `POST /api/v1/keys/import`: `{"keys": [...]}`, each entry a create request plus the secret, either
    /// `key` (plain text) or `hash` (`{"algorithm": "sha256", "value": "<64 hex>"}`). All or nothing.
    @Sendable func importKeys(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        var body = JSONObjectReader(try await request.jsonBody(maxSize: importMaxBodySize), allowed: ["keys"])
        var entries = [KeyService.ImportEntry]()
        switch body.array("keys") {
        case .set(let items):
            if items.count > KeyService.maxImportBatch {
                body.fail("keys", "holds \(items.count) keys; send at most \(KeyService.maxImportBatch) per request")
                break
            }
            for (index, item) in items.enumerated() {
                var reader = JSONObjectReader(item, allowed: Self.importEntryFields, path: "keys[\(index)]")
                let secret = reader.importedSecret()
                let environment = reader.environment()
                let settings = reader.keyPatch().applied(to: KeySettings())
                body.absorb(reader.errors)
                if let secret { entries.append(.init(secret: secret, environment: environment, settings: settings)) }
            }
        case .clear: body.fail("keys", "must be an array of keys")
        case .unchanged: if !body.contains("keys") { body.fail("keys", "is required") }
        }
        try body.finish()
        if entries.contains(where: { $0.settings.scopes.contains(Principal.adminScope) }), principal.isAdmin {
            try await stepUp?.require(principal, for: "a key with the scope admin", origin: context.origin(request))
        }
        let records = try await keys.importKeys(entries, by: principal, origin: context.origin(request))
        let now = keys.clock.now
        return try Response.json(
            ImportResponse(imported: records.count, data: records.map { KeyResponse(record: $0, now: now, secret: nil) }),
            status: .created
        )
    }

    struct ImportResponse: Encodable {
        var imported: Int
        var data: [KeyResponse]
    }
}

extension JSONObjectReader {
    /// Exactly one of `key` (plain text) and `hash` (`{"algorithm": "sha256", "value": hex}`).
    mutating func importedSecret() -> ImportedSecret? {
        switch (contains("key"), contains("hash")) {
        case (true, true):
            fail("key", "send either key or hash, not both")
            return nil
        case (false, false):
            fail("key", "is required (or hash, for a key known only by its SHA-256)")
            return nil
        case (true, false):
            guard case .set(let key) = string("key") else {
                fail("key", "must be a string")
                return nil
            }
            if let problem = ImportedSecret.problem(withPlaintext: key) {
                fail("key", problem)
                return nil
            }
            return .plaintext(key)
        case (false, true):
            guard case .set(let hash) = object("hash") else {
                fail("hash", "must be an object: {\"algorithm\": \"sha256\", \"value\": \"<64 hexadecimal characters>\"}")
                return nil
            }
            var reader = JSONObjectReader(.object(hash), allowed: ["algorithm", "value"], path: field("hash"))
            let algorithm = reader.string("algorithm")
            let value = reader.string("value")
            absorb(reader.errors)
            guard case .set("sha256") = algorithm else {
                fail("hash.algorithm", "must be sha256 (the only hash Tronch can check a key against)")
                return nil
            }
            guard case .set(let hex) = value, let digest = KeyDigest(hex: hex) else {
                fail("hash.value", "must be the SHA-256 of the key in 64 hexadecimal characters")
                return nil
            }
            return .sha256(digest)
        }
    }
}
