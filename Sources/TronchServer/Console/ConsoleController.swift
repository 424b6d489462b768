import Foundation
import HTTPTypes
import Hummingbird
import TronchCore
import TronchRateLimit
import TronchStorage

/// `/console`: the web console, server-rendered HTML for people (TRONCH_CONSOLE, on by default).
///
/// A person signs in with their password (and second factor), which starts an ordinary session: its access
/// token and refresh token live in `HttpOnly`, `SameSite=Lax` cookies scoped to `/console` (`Secure` over
/// HTTPS), and an expired access token is refreshed on the next page. Every form carries a CSRF token that
/// must equal the console's CSRF cookie (double submit), and a cross-origin `Origin` is refused. Pages load
/// only the console's own style sheet and script (a strict CSP), and work without the script.
struct ConsoleController {
    let users: UserService
    let authz: AuthzService
    let keys: KeyService
    let rateLimits: RateLimits
    let mfaRequiredRoles: Set<Role>
    let groups: AuthzDirectory?
    /// Where a key's usage and the audit log are read.
    let store: any UsageStore & AuditStore
    let maxBodySize: Int
    /// Tronch terminates TLS itself: every cookie is `Secure`.
    let servesTLS: Bool

    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    static let accessCookie = "tronch_console_at"
    static let refreshCookie = "tronch_console_rt"
    static let csrfCookie = "tronch_console_csrf"

    func addRoutes(to router: Router<AppRequestContext>) {
        let console = router.group("console")
        console.get { _, _ in Self.redirect("/console/keys") }
        console.get("assets/console.css") { _, _ in Self.asset(ConsoleAssets.css, type: "text/css; charset=utf-8") }
        console.get("assets/console.js") { _, _ in Self.asset(ConsoleAssets.javascript, type: "text/javascript; charset=utf-8") }
        console.get("login", use: loginPage)
        console.post("login", use: login)
        console.post("mfa", use: completeMFA)
        console.post("logout", use: logout)
        console.get("keys", use: keysPage)
        console.post("keys", use: createKey)
        console.get("keys/{id}/revoke", use: revokePage)
        console.post("keys/{id}/revoke", use: revoke)
        addPages(to: console)
        addAdminPages(to: console)
    }

    // MARK: Signing in

    @Sendable func loginPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        if try await signedIn(request, context: context) != nil { return Self.redirect("/console/keys") }
        let csrf = csrf(request, context)
        return page(request, context: context, csrf: csrf, title: "Sign in", person: nil, main: ConsolePages.login(csrf: csrf.token, error: nil))
    }

    @Sendable func login(_ request: Request, context: AppRequestContext) async throws -> Response {
        let csrf = csrf(request, context)
        let form = try await Self.form(request, maxSize: maxBodySize)
        guard Self.accepts(request, form: form, csrf: csrf) else { return forbidden(request, context: context, csrf: csrf) }
        let origin = context.origin(request)
        if let decision = try await rateLimits.login(from: context.clientAddress), !decision.allowed {
            let main = ConsolePages.login(csrf: csrf.token, error: "Too many sign-in attempts from this address; wait a minute and try again.")
            return page(request, context: context, csrf: csrf, title: "Sign in", person: nil, main: main, status: .tooManyRequests)
        }
        let name = form["username"] ?? ""
        let loginName: UserService.LoginName = name.contains("@") ? .email(name) : .username(name)
        do {
            let pair = try await users.login(loginName, password: String((form["password"] ?? "").prefix(4096)), origin: origin)
            return signIn(context, pair)
        } catch let error as APIError where error.code == .mfaRequired {
            guard case .string(let token)? = error.members["mfa_token"] else { throw error }
            let main = ConsolePages.secondFactor(csrf: csrf.token, mfaToken: token, error: nil)
            return page(request, context: context, csrf: csrf, title: "Second factor", person: nil, main: main)
        } catch let error as APIError where error.status == .unauthorized {
            let main = ConsolePages.login(csrf: csrf.token, error: "The username or password is wrong.")
            return page(request, context: context, csrf: csrf, title: "Sign in", person: nil, main: main, status: .unauthorized)
        }
    }

    @Sendable func completeMFA(_ request: Request, context: AppRequestContext) async throws -> Response {
        let csrf = csrf(request, context)
        let form = try await Self.form(request, maxSize: maxBodySize)
        guard Self.accepts(request, form: form, csrf: csrf) else { return forbidden(request, context: context, csrf: csrf) }
        let token = form["mfa_token"] ?? ""
        let code = (form["code"] ?? "").filter { !$0.isWhitespace }
        // Six digits are a TOTP code; anything else is tried as a recovery code.
        let method = code.count == 6 && code.allSatisfy(\.isNumber) ? "totp" : "recovery_code"
        do {
            return signIn(context, try await users.completeLogin(mfaToken: token, method: method, answer: code, origin: context.origin(request)))
        } catch let error as APIError where error.status == .unauthorized {
            let main = ConsolePages.secondFactor(csrf: csrf.token, mfaToken: token, error: "That code was not accepted. Try the current one.")
            return page(request, context: context, csrf: csrf, title: "Second factor", person: nil, main: main, status: .unauthorized)
        }
    }

    @Sendable func logout(_ request: Request, context: AppRequestContext) async throws -> Response {
        let csrf = csrf(request, context)
        let form = try await Self.form(request, maxSize: maxBodySize)
        guard Self.accepts(request, form: form, csrf: csrf) else { return forbidden(request, context: context, csrf: csrf) }
        if let session = try await signedIn(request, context: context), let sessionID = session.principal.sessionID, let user = session.principal.user
        {
            _ = try await users.tokens.endSessions(
                [sessionID],
                reason: "logout",
                action: AuditAction.logout,
                actor: .user(user.id),
                origin: context.origin(request)
            )
        }
        var response = Self.redirect("/console/login")
        for name in [Self.accessCookie, Self.refreshCookie] {
            response.setCookie(cookie(name, "", context: context, maxAge: 0))
        }
        return response
    }

    // MARK: Keys

    @Sendable func keysPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await withSession(request, context: context) { session, csrf in
            try await keysPage(request, context, session, csrf, error: nil)
        }
    }

    func keysPage(
        _ request: Request,
        _ context: AppRequestContext,
        _ session: ConsoleSession,
        _ csrf: CSRFToken,
        error: String?
    ) async throws -> Response {
        let page = try await keys.keys(matching: KeyQuery(limit: 100, now: keys.clock.now), visibleTo: session.principal)
        let main = ConsolePages.keys(page.keys, now: keys.clock.now, csrf: csrf.token, error: error)
        return self.page(request, context, session, csrf, title: "Keys", main: main, error: error)
    }

    @Sendable func createKey(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await Self.form(request, maxSize: maxBodySize)
        return try await withSession(request, context: context, form: form) { session, csrf in
            var settings = KeySettings()
            settings.name = form["name"].flatMap { $0.isEmpty ? nil : $0 }
            settings.scopes = (form["scopes"] ?? "").split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
            if let days = form["expires_in_days"], !days.isEmpty {
                guard let count = Int(days), (1...3650).contains(count) else {
                    return try await keysPage(request, context, session, csrf, error: "Expiry must be a whole number of days from 1 to 3650.")
                }
                settings.expiresAt = Timestamp.truncated(keys.clock.now.addingTimeInterval(Double(count) * 86_400))
            }
            let environment = KeyEnvironment(rawValue: form["environment"] ?? "live") ?? .live
            if Scope.isCovered(Principal.adminScope, by: settings.scopes) || settings.scopes.contains(Principal.adminScope) {
                return try await keysPage(
                    request,
                    context,
                    session,
                    csrf,
                    error: "A key with the scope admin is made through the API, with a second factor (step-up)."
                )
            }
            do {
                let issued = try await keys.create(settings, environment: environment, by: session.principal, origin: context.origin(request))
                let main = ConsolePages.created(issued.record, secret: issued.secret)
                return page(
                    request,
                    context: context,
                    csrf: csrf,
                    title: "Key created",
                    person: session.person,
                    main: main,
                    status: .created,
                    cookies: session.cookies
                )
            } catch let error as DomainError {
                return try await keysPage(request, context, session, csrf, error: error.detail)
            } catch let error as APIError {
                return try await keysPage(request, context, session, csrf, error: error.detail)
            }
        }
    }

    @Sendable func revokePage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await withSession(request, context: context) { session, csrf in
            guard let id = UUID(strict: context.parameters.get("id") ?? ""),
                let record = try? await keys.key(id: id, visibleTo: session.principal)
            else {
                return notFound(request, context, session, csrf)
            }
            let main = ConsolePages.confirmRevoke(record, csrf: csrf.token)
            return page(request, context, session, csrf, title: "Revoke a key", main: main)
        }
    }

    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await Self.form(request, maxSize: maxBodySize)
        return try await withSession(request, context: context, form: form) { session, csrf in
            guard let id = UUID(strict: context.parameters.get("id") ?? "") else { return notFound(request, context, session, csrf) }
            do {
                _ = try await keys.revoke(id: id, by: session.principal, origin: context.origin(request))
            } catch let error as DomainError {
                return try await keysPage(request, context, session, csrf, error: error.detail)
            }
            var response = Self.redirect("/console/keys")
            for cookie in session.cookies { response.setCookie(cookie) }
            return response
        }
    }
}
