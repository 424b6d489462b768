import Foundation
import HTTPTypes
import Hummingbird
import Logging
import TronchCore
import TronchRateLimit

/// Authenticates callers of Tronch's own API with one of their keys or a person's access token.
///
/// The credential comes from `Authorization: Bearer`, `X-API-Key`, or (only when enabled) the `api_key` query
/// parameter; URLs end up in proxy and server logs, so that last one is off by default. Its shape says what
/// it is: three dot-separated base64url parts are a JWT (checked by ``TokenService``), anything else a key.
/// Either way the request gets one ``Principal``. A missing credential and a refused one are both 401 with a
/// `WWW-Authenticate` challenge; a refused token is `TOKEN_INVALID`.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let keys: KeyService
    let tokens: TokenService?
    let rateLimits: RateLimits
    let allowQueryParameter: Bool
    /// Roles that must have a second factor before doing anything but enrol (`TRONCH_MFA_REQUIRED_ROLES`).
    var mfaRequiredRoles: Set<Role> = []
    /// Groups marked `mfa_required` bind their members (directly or through nesting) the same way.
    var groups: AuthzDirectory?

    /// What a person who must enrol may still do: see themselves, enrol, and log out.
    static let enrolmentRoutes: Set<String> = [
        "/api/v1/users/me", "/api/v1/users/me/mfa/totp", "/api/v1/users/me/mfa/totp/confirm", "/api/v1/auth/logout",
    ]

    static let queryParameter = "api_key"

    func handle(
        _ request: Request,
        context: AppRequestContext,
        next: (Request, AppRequestContext) async throws -> Response
    ) async throws -> Response {
        let address = context.clientAddress
        // An address over its failure limit is refused before any work, whatever it sends.
        if let wait = rateLimits.blockedFor(address) {
            throw APIError(
                .rateLimited,
                "too many failed authentications from this address; retry in \(wait) s",
                headers: [.retryAfter: String(wait)]
            )
        }
        guard let credential = credential(in: request) else {
            await recordFailure(request, context: context, reason: "missing", keyID: nil)
            try await countFailure(from: address)
            throw APIError.unauthenticated(
                "send an API key as 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                invalidToken: false
            )
        }
        let outcome: KeyService.Authentication
        if let tokens, TokenService.looksLikeJWT(credential) {
            switch await tokens.validate(credential) {
            case .success(let principal): outcome = .authenticated(principal)
            case .failure(let refusal):
                await recordFailure(request, context: context, reason: "token_\(refusal.rawValue)", keyID: nil)
                try await countFailure(from: address)
                throw APIError.unauthorized(.tokenInvalid, Self.reason(refusal), invalidToken: true)
            }
        } else if RefreshTokenFormat.looksLikeRefreshToken(credential) {
            await recordFailure(request, context: context, reason: "refresh_token", keyID: nil)
            try await countFailure(from: address)
            throw APIError.unauthorized(
                .tokenInvalid,
                "a refresh token cannot authenticate a request; send the access token",
                invalidToken: true
            )
        } else {
            outcome = try await keys.authenticate(credential, clientIP: address)
        }
        switch outcome {
        case .authenticated(let principal):
            if let user = principal.user, let owners = keys.owners {
                let byRole = mfaRequiredRoles.contains(user.role)
                let byGroup = !byRole && groups?.requiresMFA(user: user.id) == true
                if byRole || byGroup, !Self.enrolmentRoutes.contains(context.endpointPath ?? ""), try await !owners.mfaEnabled(user.id) {
                    throw APIError(
                        .mfaEnrollmentRequired,
                        "your \(byRole ? "role" : "group") must use a second factor: enrol with POST /api/v1/users/me/mfa/totp and confirm it first"
                    )
                }
            }
            var context = context
            context.principal = principal
            // Setting logger metadata allocates on every request; the principal is for debugging (errors carry
            // the request id, and the audit log the principal).
            if context.logger.logLevel <= .debug { context.logger[metadataKey: "principal"] = .string(principal.reference) }
            do {
                return try await next(request, context)
            } catch let error where Self.isDenial(error) {
                await record(
                    AuditEvent(
                        time: keys.clock.now,
                        actor: principal.auditActor,
                        action: AuditAction.permissionDenied,
                        outcome: .failure,
                        origin: context.origin(request),
                        details: ["method": .string(request.method.rawValue), "route": .string(context.endpointPath ?? "unmatched")]
                    ),
                    context: context
                )
                throw error
            }
        case .rejected(let code, let keyID):
            await recordFailure(request, context: context, reason: code.rawValue, keyID: keyID)
            try await countFailure(from: address)
            throw APIError.unauthenticated(Self.reason(code), invalidToken: true)
        }
    }

    /// A 403, whether a missing scope (``APIError``) or a rule of the key lifecycle (`DomainError`).
    static func isDenial(_ error: any Error) -> Bool {
        switch error {
        case let error as APIError: error.code == .forbidden
        case let error as DomainError: error.code == .forbidden
        default: false
        }
    }

    /// Audits a failed authentication: the key when it exists (a revoked key still in use is worth knowing),
    /// never the credential itself, and the route pattern rather than the raw path (which could hold a key).
    private func recordFailure(_ request: Request, context: AppRequestContext, reason: String, keyID: UUID?) async {
        await record(
            AuditEvent(
                time: keys.clock.now,
                actor: keyID.map(AuditActor.key) ?? .anonymous,
                action: AuditAction.authenticationFailed,
                outcome: .failure,
                origin: context.origin(request),
                details: [
                    "reason": .string(reason), "method": .string(request.method.rawValue), "route": .string(context.endpointPath ?? "unmatched"),
                ]
            ),
            context: context
        )
    }

    /// Writes a standalone audit entry; the request's answer stays the same if that fails (it is logged).
    private func record(_ event: AuditEvent, context: AppRequestContext) async {
        do {
            try await keys.audit(event)
        } catch {
            context.logger.error("cannot write an audit entry", metadata: ["action": "\(event.action)", "error": "\(error)"])
        }
    }

    /// Counts a failed authentication; the one that goes over the limit is answered 429 instead of 401.
    private func countFailure(from address: IPAddress?) async throws {
        guard let decision = try await rateLimits.authenticationFailure(from: address), !decision.allowed else { return }
        throw APIError.rateLimited(decision, "too many failed authentications from this address")
    }

    func credential(in request: Request) -> String? {
        Self.credential(in: request, allowQueryParameter: allowQueryParameter)
    }

    /// The key a request carries, read the same way for Tronch's API and for a gateway's forward-auth check.
    static func credential(in request: Request, allowQueryParameter: Bool) -> String? {
        if let authorization = request.headers[.authorization], let token = Self.bearerToken(authorization) {
            return token
        }
        if let key = request.headers[.apiKey], !key.isEmpty { return key }
        if allowQueryParameter, let key = request.uri.queryParameters[Self.queryParameter[...]], !key.isEmpty {
            return String(key)
        }
        return nil
    }

    /// The token of `Bearer <token>` (scheme case-insensitive, spaces around the token ignored), read byte
    /// by byte: this runs on every request, and Foundation's string helpers showed in profiles.
    static func bearerToken(_ header: String) -> String? {
        var utf8 = Substring(header).utf8[...]
        while utf8.first == UInt8(ascii: " ") { utf8 = utf8.dropFirst() }
        let scheme = Array("bearer".utf8)
        guard utf8.count > scheme.count else { return nil }
        for (byte, expected) in zip(utf8.prefix(scheme.count), scheme) where byte | 0x20 != expected { return nil }
        utf8 = utf8.dropFirst(scheme.count)
        guard utf8.first == UInt8(ascii: " ") else { return nil }
        while utf8.first == UInt8(ascii: " ") || utf8.first == UInt8(ascii: "\t") { utf8 = utf8.dropFirst() }
        while utf8.last == UInt8(ascii: " ") || utf8.last == UInt8(ascii: "\t") { utf8 = utf8.dropLast() }
        return utf8.isEmpty ? nil : String(Substring(utf8))
    }

    static func reason(_ refusal: TokenRefusal) -> String {
        switch refusal {
        case .expired: "the access token has expired; refresh it"
        case .revoked: "the access token's session has ended or the token was revoked"
        case .notYetValid: "the access token is not valid yet"
        default: "the access token is not valid"
        }
    }

    static func reason(_ code: VerifyCode) -> String {
        switch code {
        case .revoked: "the API key has been revoked"
        case .disabled: "the API key is disabled"
        case .expired: "the API key has expired"
        case .forbidden: "the API key may not be used from this address"
        case .signatureInvalid: "the request's signature is missing or does not match (the key signs its requests)"
        case .signatureExpired: "the request's signature was made more than five minutes from now, or has expired"
        case .signatureReplayed: "the request's signature was used before"
        default: "the API key is not valid"
        }
    }
}
