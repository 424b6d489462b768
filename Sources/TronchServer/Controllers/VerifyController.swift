import Foundation
import Hummingbird
import NIOCore
import TronchCore
import TronchRateLimit

/// `POST /api/v1/keys/verify`: is this key good for this request? Always 200 when the caller may verify;
/// the answer is in `valid` and `code`.
struct VerifyController {
    let keys: KeyService
    let maxBodySize: Int

    /// The body's fields, built once rather than on every verification.
    static let fields: Set<String> = ["key", "scopes", "ip", "cost", "request"]

    /// Largest `cost` accepted (credits are spent per verification).
    static let maxCost: Int64 = 1_000_000

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("verify", use: verify)
    }

    @Sendable func verify(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requirePrincipal()
        var body = JSONObjectReader(try await request.jsonBody(maxSize: maxBodySize), allowed: Self.fields)
        var key = ""
        switch body.string("key") {
        case .set(let value): key = value
        case .clear: body.fail("key", "must be a string")
        case .unchanged: if !body.contains("key") { body.fail("key", "is required") }
        }
        var scopes = [String]()
        if case .set(let requested) = body.stringArray("scopes") {
            scopes = requested
            for (index, scope) in requested.enumerated() {
                if let problem = Scope.problem(with: scope) { body.fail("scopes[\(index)]", problem) }
            }
        }
        var clientIP: IPAddress?
        if case .set(let text) = body.string("ip") {
            clientIP = IPAddress(text)
            if clientIP == nil { body.fail("ip", "'\(text)' is not an IPv4 or IPv6 address") }
        }
        var cost: Int64 = 1
        switch body.integer("cost") {
        case .set(let value) where !(0...Self.maxCost).contains(value): body.fail("cost", "must be from 0 to \(Self.maxCost)")
        case .set(let value): cost = value
        case .clear, .unchanged: break
        }
        let signature = body.signedRequest()
        try body.finish()
        let verification = try await keys.verify(key, scopes: scopes, clientIP: clientIP, cost: cost, signature: signature)
        return Response(
            status: .ok,
            headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: VerifyResponse(verification).json))
        )
    }
}

/// The verification answer. For `NOT_FOUND` every key field is null, so nothing about any key leaks.
struct VerifyResponse: Encodable {
    var verification: KeyService.Verification

    init(_ verification: KeyService.Verification) { self.verification = verification }

    enum CodingKeys: String, CodingKey {
        case valid, code, name, environment, scopes, meta, remaining, ratelimits
        case keyID = "key_id"
        case ownerID = "owner_id"
        case expiresAt = "expires_at"
    }

    /// The answer written directly (the hot path); the same JSON as ``encode(to:)``, keys sorted.
    var json: [UInt8] {
        let record = verification.code == .notFound ? nil : verification.record
        var writer = JSONWriter()
        writer.beginObject()
        writer.key("code")
        writer.string(verification.code.rawValue)
        writer.key("environment")
        writer.string(record?.environment.rawValue)
        writer.key("expires_at")
        writer.string(record?.endsAt.map(Timestamp.format))
        writer.key("key_id")
        writer.string(record?.id.lowercased)
        writer.key("meta")
        writer.value(record.map { .object($0.settings.meta) })
        writer.key("name")
        writer.string(record?.settings.name)
        writer.key("owner_id")
        writer.string(record?.settings.ownerID)
        writer.key("ratelimits")
        let limits = verification.rateLimit?.limits ?? []
        if limits.isEmpty {
            writer.null()
        } else {
            writer.beginArray()
            for limit in limits {
                writer.beginObject()
                writer.key("limit")
                writer.int(limit.limit)
                writer.key("name")
                writer.string(limit.name)
                writer.key("remaining")
                writer.int(limit.remaining)
                writer.key("reset_seconds")
                writer.int(limit.resetSeconds)
                writer.endObject()
            }
            writer.endArray()
        }
        writer.key("remaining")
        writer.int(record == nil ? nil : verification.remaining)
        writer.key("scopes")
        writer.strings(record?.settings.scopes)
        writer.key("valid")
        writer.bool(verification.code == .valid)
        writer.endObject()
        return writer.bytes
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let record = verification.code == .notFound ? nil : verification.record
        try container.encode(verification.code == .valid, forKey: .valid)
        try container.encode(verification.code.rawValue, forKey: .code)
        try container.encode(record?.id.lowercased, forKey: .keyID)
        try container.encode(record?.settings.ownerID, forKey: .ownerID)
        try container.encode(record?.settings.name, forKey: .name)
        try container.encode(record?.environment.rawValue, forKey: .environment)
        try container.encode(record?.settings.scopes, forKey: .scopes)
        try container.encode(record?.settings.meta, forKey: .meta)
        try container.encode(record?.endsAt.map(Timestamp.format), forKey: .expiresAt)
        try container.encode(record == nil ? nil : verification.remaining, forKey: .remaining)
        let limits = verification.rateLimit?.limits ?? []
        if limits.isEmpty {
            try container.encodeNil(forKey: .ratelimits)
        } else {
            try container.encode(limits.map(RateLimitState.init), forKey: .ratelimits)
        }
    }
}

/// One policy's state in a verify answer.
struct RateLimitState: Encodable {
    var name: String
    var limit: Int64
    var remaining: Int64
    var resetSeconds: Int64

    init(_ limit: RateLimitDecision.Limit) {
        name = limit.name
        self.limit = limit.limit
        remaining = limit.remaining
        resetSeconds = limit.resetSeconds
    }

    enum CodingKeys: String, CodingKey {
        case name, limit, remaining
        case resetSeconds = "reset_seconds"
    }
}

extension JSONObjectReader {
    /// `request` on verify: the request the key came with, for a key that signs its requests. Its shape is
    /// checked here (a 400); whether its signature holds is the verification's answer.
    mutating func signedRequest() -> KeyService.SignatureEvidence? {
        // Absent or null: no request (a wrong type is reported by `object`).
        guard case .set(let object) = object("request") else { return nil }
        var reader = JSONObjectReader(
            .object(object),
            allowed: ["method", "path", "query", "authority", "scheme", "headers", "body_sha256"],
            path: "request"
        )
        func text(_ name: String, required: Bool = false) -> String? {
            switch reader.string(name) {
            case .set(let value): return value
            case .clear: reader.fail(name, "must be a string")
            case .unchanged: if required { reader.fail(name, "is required") }
            }
            return nil
        }
        let method = text("method", required: true)
        if let method, method.isEmpty || !method.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) {
            reader.fail("method", "must be an HTTP method")
        }
        let path = text("path", required: true)
        if let path, !path.hasPrefix("/") { reader.fail("path", "must start with /") }
        let query = text("query")
        if let query, query.hasPrefix("?") { reader.fail("query", "is the query without its leading ?") }
        let authority = text("authority")
        let scheme = text("scheme")
        var headers = [String: String]()
        switch reader.object("headers") {
        case .set(let fields):
            for (name, value) in fields {
                guard case .string(let text) = value else {
                    reader.fail("headers.\(name)", "must be a string (join repeated fields with \", \")")
                    continue
                }
                headers[name.lowercased()] = text
            }
        case .clear: reader.fail("headers", "must be an object")
        case .unchanged: reader.fail("headers", "is required: at least Signature-Input, Signature and Content-Digest")
        }
        var digest: [UInt8]?
        if let encoded = text("body_sha256") {
            digest = Data(base64Encoded: encoded).map(Array.init)
            if digest?.count != 32 { reader.fail("body_sha256", "must be the body's SHA-256 in base64 (32 bytes)") }
        }
        absorb(reader.errors)
        guard reader.errors.isEmpty, let method, let path else { return nil }
        return KeyService.SignatureEvidence(
            request: SignedRequest(method: method, path: path, query: query ?? "", authority: authority, scheme: scheme, headers: headers),
            bodySHA256: digest
        )
    }
}
