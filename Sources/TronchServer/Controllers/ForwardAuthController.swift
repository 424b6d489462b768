import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TronchCore

/// `/api/v1/auth/check`: forward authentication for a gateway (nginx `auth_request`, Traefik ForwardAuth,
/// Envoy's HTTP ext_authz) in front of an API that should not change.
///
/// The gateway passes the client's request headers; the client's key is read the way Tronch's own API reads
/// keys and verified like `POST /keys/verify`, with the key's rate limits and credits. The answer is 200
/// with identity headers for the upstream, or 401/403/429 with a problem body and `X-Tronch-Code`. The
/// gateway itself needs no Tronch key: the route answers only what the protected API would.
struct ForwardAuthController {
    let keys: KeyService
    let rules: GatewayRules
    let allowQueryParameter: Bool

    static let methods: [HTTPRequest.Method] = [.get, .head, .post, .put, .patch, .delete, .options]

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        for method in Self.methods {
            group.on("auth/check", method: method, use: check)
            // Envoy appends the original path to its `path_prefix`.
            group.on("auth/check/**", method: method, use: check)
        }
    }

    @Sendable func check(_ request: Request, context: AppRequestContext) async throws -> Response {
        let original = Self.original(request, context: context)
        var scopes = rules.scopes(method: original.method, path: original.path)
        if let listed = request.headers[.tronchRequiredScopes] {
            for scope in listed.split(whereSeparator: { $0 == " " || $0 == "," }) {
                if let problem = Scope.problem(with: String(scope)) {
                    throw APIError(.validationFailed, "X-Tronch-Required-Scopes: \(problem)")
                }
                scopes.append(String(scope))
            }
        }
        guard let key = AuthenticationMiddleware.credential(in: request, allowQueryParameter: allowQueryParameter) else {
            var error = APIError.unauthenticated(
                "send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                invalidToken: false
            )
            error.headers[.tronchCode] = "UNAUTHENTICATED"
            throw error
        }
        let verification = try await keys.verify(
            key,
            scopes: scopes,
            clientIP: context.clientAddress,
            signature: Self.signatureEvidence(request, context: context)
        )
        var headers = verification.rateLimit?.headers ?? [:]
        headers[.tronchCode] = verification.code.rawValue
        switch verification.code {
        case .valid:
            guard let record = verification.record else { throw APIError(.internal, "a valid verification without a key") }
            headers[.tronchKeyID] = record.id.lowercased
            // Always present, empty when unset: a gateway that copies only headers present in the answer would
            // otherwise let a client's own X-Tronch-Owner-Id through.
            headers[.tronchOwnerID] = record.settings.ownerID.map(Self.headerValue) ?? ""
            headers[.tronchEnvironment] = record.environment.rawValue
            headers[.tronchScopes] = record.settings.scopes.joined(separator: " ")
            headers[.contentType] = "application/json"
            headers[.cacheControl] = "no-store"
            // Only what the headers say: the key's name and meta are for holders of keys:read or keys:verify.
            var body = JSONWriter()
            body.beginObject()
            body.key("code")
            body.string(verification.code.rawValue)
            body.key("key_id")
            body.string(record.id.lowercased)
            body.key("valid")
            body.bool(true)
            body.endObject()
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body.bytes)))
        case .notFound, .revoked, .disabled, .expired:
            var error = APIError.unauthenticated(AuthenticationMiddleware.reason(verification.code), invalidToken: true)
            error.headers.append(contentsOf: headers)
            throw error
        case .forbidden:
            throw APIError(.forbidden, AuthenticationMiddleware.reason(.forbidden), headers: headers)
        case .signatureInvalid, .signatureExpired, .signatureReplayed:
            var error = APIError.unauthenticated(AuthenticationMiddleware.reason(verification.code), invalidToken: true)
            error.headers.append(contentsOf: headers)
            throw error
        case .insufficientScopes:
            let missing = Scope.uncovered(scopes, by: verification.record?.settings.scopes ?? [])
            throw APIError(.forbidden, "the API key lacks the scopes \(missing.joined(separator: ", "))", headers: headers)
        case .rateLimited:
            guard let decision = verification.rateLimit else { throw APIError(.rateLimited, "rate limited", headers: headers) }
            var error = APIError.rateLimited(decision, "the API key is over its rate limit")
            // A limiter that could not decide (closed mode) is a 503, and the code says so too.
            error.headers[.tronchCode] = error.code == .serviceUnavailable ? ErrorCode.serviceUnavailable.rawValue : verification.code.rawValue
            throw error
        case .usageExceeded:
            throw APIError(.usageExceeded, "the API key has no credits left", headers: headers)
        }
    }

    /// The client's method and path (without its query). Behind Envoy, the path after `/auth/check` and this
    /// request's method; otherwise `X-Forwarded-Method` and `X-Forwarded-Uri`, which Traefik sets and the
    /// documented nginx configuration sets (both overwrite whatever the client sent).
    static func original(_ request: Request, context: AppRequestContext) -> (method: String, path: Substring) {
        let catchAll = context.parameters.getCatchAll()
        if !catchAll.isEmpty { return (request.method.rawValue, "/" + catchAll.joined(separator: "/")[...]) }
        let method = request.headers[.xForwardedMethod] ?? request.method.rawValue
        guard let uri = request.headers[.xForwardedURI] else { return (method, "/") }
        return (method, uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "/")
    }

    /// The client's request as a signature covers it: its method, path and query (as the gateway reports
    /// them), its host, and its headers, which the gateway passes on. The body does not reach Tronch: the
    /// upstream checks it against the signed `Content-Digest`.
    static func signatureEvidence(_ request: Request, context: AppRequestContext) -> KeyService.SignatureEvidence {
        let method = request.headers[.xForwardedMethod] ?? request.method.rawValue
        var target = request.headers[.xForwardedURI] ?? "/"
        let catchAll = context.parameters.getCatchAll()
        if !catchAll.isEmpty {
            target = "/" + catchAll.joined(separator: "/") + (request.uri.query.map { "?" + $0 } ?? "")
        }
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var headers = [String: String]()
        for field in request.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        let authority = request.headers[.xForwardedHost] ?? request.head.authority
        let scheme = request.headers[.xForwardedProto]
        return KeyService.SignatureEvidence(
            request: SignedRequest(
                method: method,
                path: String(parts.first ?? "/"),
                query: parts.count > 1 ? String(parts[1]) : "",
                authority: authority,
                scheme: scheme,
                headers: headers
            )
        )
    }

    /// Printable ASCII as is; anything else percent-encoded, so an owner id can never break a header.
    static func headerValue(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "%") }) { return text }
        var encoded = ""
        for byte in text.utf8 {
            if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "%") {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                encoded += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return encoded
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension HTTPField.Name {
    static let tronchCode = Self("X-Tronch-Code")!
    static let tronchKeyID = Self("X-Tronch-Key-Id")!
    static let tronchOwnerID = Self("X-Tronch-Owner-Id")!
    static let tronchEnvironment = Self("X-Tronch-Environment")!
    static let tronchScopes = Self("X-Tronch-Scopes")!
    static let tronchRequiredScopes = Self("X-Tronch-Required-Scopes")!
    static let xForwardedMethod = Self("X-Forwarded-Method")!
    static let xForwardedURI = Self("X-Forwarded-Uri")!
    static let xForwardedHost = Self("X-Forwarded-Host")!
}
