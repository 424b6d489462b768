import Foundation
import Hummingbird
import NIOCore
import TronchCore
import TronchRateLimit

/// `/api/v1/auth/…`: logging in, and (with the tokens) refreshing, logging out, revoking and introspecting.
struct AuthController {
    let users: UserService
    let rateLimits: RateLimits
    let maxBodySize: Int
    /// Adds the caller checks (credential, then endpoint permission) to a group.
    let authenticated: @Sendable (RouterGroup<AppRequestContext>) -> RouterGroup<AppRequestContext>
    var tokens: TokenService { users.tokens }

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post("login", use: login)
        group.post("refresh", use: refresh)
        // RFC 7009: anyone holding a token may revoke it; no credential beyond the token itself.
        group.post("revoke", use: revoke)
        let authenticated = authenticated(group.group())
        authenticated.post("logout", use: logout)
        authenticated.post("introspect", use: introspect)
    }

    @Sendable func refresh(_ request: Request, context: AppRequestContext) async throws -> Response {
        // JSON, or an OAuth 2.0 client's form (`grant_type=refresh_token&refresh_token=…`, RFC 6749 §6).
        var body = JSONObjectReader(
            try await Self.body(request, maxSize: maxBodySize),
            allowed: ["refresh_token", "grant_type"]
        )
        let token = body.required("refresh_token")
        if let grant = body.notNull("grant_type"), grant != "refresh_token" {
            body.fail("grant_type", "must be refresh_token (log in with POST /api/v1/auth/login)")
        }
        if token?.isEmpty == true { body.fail("refresh_token", "must not be empty") }
        try body.finish()
        return try Response.json(TokenAnswer(try await tokens.refresh(token ?? "", origin: context.origin(request))))
    }

    @Sendable func logout(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        if let session = principal.sessionID, let user = principal.user {
            _ = try await tokens.endSessions(
                [session],
                reason: "logout",
                action: AuditAction.logout,
                actor: .user(user.id),
                origin: context.origin(request)
            )
        }
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        let (token, _) = try await Self.tokenRequest(request, maxSize: maxBodySize)
        try await tokens.revoke(token, origin: context.origin(request))
        return Response(status: .ok, headers: [.cacheControl: "no-store"])
    }

    @Sendable func introspect(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requirePrincipal()
        let (token, _) = try await Self.tokenRequest(request, maxSize: maxBodySize)
        return try Response.json(try await tokens.introspect(token))
    }

    /// The `token` and `token_type_hint` of an RFC 7009 / 7662 request, as JSON or as a form. The hint is
    /// only a hint (RFC 7009 §2.1): Tronch tells tokens apart by their shape, so any value is accepted.
    static func tokenRequest(_ request: Request, maxSize: Int) async throws -> (token: String, hint: String?) {
        var body = JSONObjectReader(try await Self.body(request, maxSize: maxSize), allowed: ["token", "token_type_hint"])
        let token = body.required("token")
        let hint = body.notNull("token_type_hint")
        if token?.isEmpty == true { body.fail("token", "must not be empty") }
        try body.finish()
        return (token ?? "", hint)
    }

    /// A JSON body, or an `application/x-www-form-urlencoded` one as a JSON object of strings.
    static func body(_ request: Request, maxSize: Int) async throws -> JSONValue {
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
            return try await request.jsonBody(maxSize: maxSize)
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxSize)
        } catch is NIOTooManyBytesError {
            throw APIError(.payloadTooLarge, "the request body is larger than \(maxSize) bytes")
        }
        return try FormBody.parse(String(buffer: buffer))
    }

    /// Longest password a login reads: longer than any password Tronch accepts (256 code points of up to
    /// four bytes), short enough that nobody makes the hash read megabytes.
    static let maxPasswordBytes = 4096

    @Sendable func login(_ request: Request, context: AppRequestContext) async throws -> Response {
        // Every attempt from an address counts, good or bad (seed 004: five a minute), before any work.
        let decision = try await rateLimits.login(from: context.clientAddress)
        if let decision, !decision.allowed {
            throw APIError.rateLimited(decision, "too many login attempts from this address")
        }
        var body = JSONObjectReader(try await request.jsonBody(maxSize: maxBodySize), allowed: ["username", "email", "password"])
        let username = body.notNull("username")
        let email = body.notNull("email")
        let password = body.required("password")
        if (username == nil) == (email == nil) && !body.hasErrors("username") && !body.hasErrors("email") {
            body.fail("username", "send exactly one of username and email")
        }
        if let password, password.utf8.count > Self.maxPasswordBytes {
            body.fail("password", "must be at most \(Self.maxPasswordBytes) bytes")
        }
        try body.finish()
        let name: UserService.LoginName = username.map { .username($0) } ?? .email(email ?? "")
        let pair = try await users.login(name, password: password ?? "", origin: context.origin(request))
        var response = try Response.json(TokenAnswer(pair))
        if let decision { response.headers.append(contentsOf: decision.headers) }
        return response
    }
}

/// `application/x-www-form-urlencoded` bodies (RFC 7009 and 7662 clients send them) as a JSON object of
/// strings, so that one reader checks both forms; a name given twice is refused.
enum FormBody {
    static func parse(_ text: String) throws -> JSONValue {
        var members: [String: JSONValue] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) throws -> String {
                guard let value = String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                    throw APIError(.malformedJSON, "the form body has a malformed percent-escape")
                }
                return value
            }
            let name = try decode(parts[0])
            guard members[name] == nil else { throw DomainError.invalid(name, "is given twice") }
            members[name] = .string(parts.count == 2 ? try decode(parts[1]) : "")
        }
        return .object(members)
    }
}

/// The answer of a login and a refresh (RFC 6749 §5.1 names, plus the session).
struct TokenAnswer: Encodable {
    var pair: TokenService.TokenPair

    init(_ pair: TokenService.TokenPair) { self.pair = pair }

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
        case refreshToken = "refresh_token"
        case sessionID = "session_id"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(pair.accessToken, forKey: .accessToken)
        try container.encode("Bearer", forKey: .tokenType)
        try container.encode(pair.expiresIn, forKey: .expiresIn)
        try container.encode(pair.refreshToken, forKey: .refreshToken)
        try container.encode(pair.sessionID.lowercased, forKey: .sessionID)
    }
}

/// `/.well-known/jwks.json` (RFC 7517) and `/.well-known/oauth-authorization-server` (RFC 8414): public, cacheable.
struct WellKnownController {
    let tokens: TokenService
    let issuer: String

    func addRoutes(to router: Router<AppRequestContext>) {
        let group = router.group(".well-known")
        group.get("jwks.json", use: jwks)
        group.get("oauth-authorization-server", use: metadata)
    }

    /// A client may keep the key set for five minutes: a rotation publishes the new key before it signs
    /// anything only in the sense that the old key keeps verifying for a whole token lifetime.
    static let cacheControl = "public, max-age=300"

    @Sendable func jwks(_ request: Request, context: AppRequestContext) async throws -> Response {
        Response(
            status: .ok,
            headers: [.contentType: "application/jwk-set+json", .cacheControl: Self.cacheControl],
            body: .init(byteBuffer: .init(string: tokens.jwks))
        )
    }

    @Sendable func metadata(_ request: Request, context: AppRequestContext) async throws -> Response {
        let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        let document: JSONValue = [
            "issuer": .string(issuer),
            "jwks_uri": .string(base + "/.well-known/jwks.json"),
            "token_endpoint": .string(base + "/api/v1/auth/refresh"),
            "revocation_endpoint": .string(base + "/api/v1/auth/revoke"),
            "introspection_endpoint": .string(base + "/api/v1/auth/introspect"),
            // Logins go to POST /api/v1/auth/login (JSON, not an OAuth grant); the token endpoint refreshes.
            "grant_types_supported": ["refresh_token"],
            "token_endpoint_auth_methods_supported": ["none"],
            "revocation_endpoint_auth_methods_supported": ["none"],
            "response_types_supported": [],
            "scopes_supported": [
                "*", "admin", "keys:read", "keys:write", "keys:verify", "audit:read", "metrics:read", "users:manage", "tokens:introspect",
            ],
        ]
        var response = try Response.json(document)
        response.headers[.cacheControl] = Self.cacheControl
        return response
    }
}
