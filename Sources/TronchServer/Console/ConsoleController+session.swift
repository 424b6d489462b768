import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TronchCore
import TronchStorage

/// A signed-in person's request: who, with what rights, and the cookies to send back when the session's
/// access token was refreshed on the way.
struct ConsoleSession: Sendable {
    var principal: Principal
    var person: ConsolePerson
    var cookies: [Cookie]
}

/// The CSRF token of a browser: the cookie's value, or a new one (then `cookie` is set on the answer).
struct CSRFToken: Sendable {
    var token: String
    var cookie: Cookie?
}

extension ConsoleController {
    /// The person behind the request's cookies: the access token when it is still good, otherwise the refresh
    /// token, which is used up for a new pair (a refresh token presented twice ends its session: reuse
    /// detection). Nil when neither works.
    func signedIn(_ request: Request, context: AppRequestContext) async throws -> ConsoleSession? {
        var cookies = [Cookie]()
        var principal: Principal?
        if let token = request.cookies[Self.accessCookie]?.value, !token.isEmpty, case .success(let valid) = await users.tokens.validate(token) {
            principal = valid
        } else if let refresh = request.cookies[Self.refreshCookie]?.value, !refresh.isEmpty,
            let pair = try? await users.tokens.refresh(refresh, origin: context.origin(request)),
            case .success(let valid) = await users.tokens.validate(pair.accessToken)
        {
            principal = valid
            cookies = sessionCookies(context, pair)
        }
        guard let principal, let identity = principal.user, let user = try await users.store.user(id: identity.id), user.status == .active else {
            return nil
        }
        return ConsoleSession(principal: principal, person: ConsolePerson(username: user.username, role: user.role.rawValue), cookies: cookies)
    }

    /// Runs `body` for a signed-in person (checking the CSRF token when `form` is given), or sends the browser to
    /// the sign-in page. A person whose role or group requires a second factor they have not enrolled sees only
    /// a page that says so.
    func withSession(
        _ request: Request,
        context: AppRequestContext,
        form: [String: String]? = nil,
        _ body: (ConsoleSession, CSRFToken) async throws -> Response
    ) async throws -> Response {
        let csrf = csrf(request, context)
        if let form, !Self.accepts(request, form: form, csrf: csrf) { return forbidden(request, context: context, csrf: csrf) }
        guard let session = try await signedIn(request, context: context) else { return Self.redirect("/console/login") }
        if let user = session.principal.user {
            let byRole = mfaRequiredRoles.contains(user.role)
            if byRole || groups?.requiresMFA(user: user.id) == true, try await users.store.user(id: user.id)?.mfaEnabled != true {
                let main = ConsolePages.enrolmentRequired(byRole: byRole)
                return page(
                    request,
                    context: context,
                    csrf: csrf,
                    title: "Second factor required",
                    person: session.person,
                    main: main,
                    status: .forbidden,
                    cookies: session.cookies
                )
            }
        }
        var response = try await body(session, csrf)
        // Every answer (a page, a redirect, a 403 or 404) carries a session refreshed by this request: its old
        // refresh token is spent, and the browser must not send it again.
        let sent = response.headers[values: .setCookie]
        for cookie in session.cookies where !sent.contains(where: { $0.hasPrefix(cookie.name + "=") }) { response.setCookie(cookie) }
        return response
    }

    /// The answer of a successful sign-in: the session's cookies, and on to the keys.
    func signIn(_ context: AppRequestContext, _ pair: TokenService.TokenPair) -> Response {
        var response = Self.redirect("/console/keys")
        for cookie in sessionCookies(context, pair) { response.setCookie(cookie) }
        return response
    }

    func sessionCookies(_ context: AppRequestContext, _ pair: TokenService.TokenPair) -> [Cookie] {
        [
            cookie(Self.accessCookie, pair.accessToken, context: context, maxAge: Int(pair.expiresIn)),
            cookie(Self.refreshCookie, pair.refreshToken, context: context, maxAge: Int(users.tokens.settings.refreshTokenTTL.components.seconds)),
        ]
    }

    /// A console cookie: `Secure` when the browser reached Tronch over HTTPS (Tronch's own TLS, or as a trusted
    /// proxy said).
    func cookie(_ name: String, _ value: String, context: AppRequestContext, maxAge: Int?) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/console", secure: servesTLS || context.isHTTPS, httpOnly: true, sameSite: .lax)
    }

    // MARK: CSRF

    func csrf(_ request: Request, _ context: AppRequestContext) -> CSRFToken {
        if let value = request.cookies[Self.csrfCookie]?.value, value.utf8.count == 43 { return CSRFToken(token: value, cookie: nil) }
        let token = Base64URL.encode(SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
        return CSRFToken(token: token, cookie: cookie(Self.csrfCookie, token, context: context, maxAge: nil))
    }

    /// A form is accepted when its `csrf` field equals the CSRF cookie (compared in constant time) and the
    /// request does not come from another origin.
    static func accepts(_ request: Request, form: [String: String], csrf: CSRFToken) -> Bool {
        guard csrf.cookie == nil, let sent = form["csrf"], ConstantTime.equal(Array(sent.utf8), Array(csrf.token.utf8)) else { return false }
        if let origin = request.headers[.origin], let host = request.head.authority {
            guard origin == "http://\(host)" || origin == "https://\(host)" else { return false }
        }
        return true
    }

    func forbidden(_ request: Request, context: AppRequestContext, csrf: CSRFToken) -> Response {
        page(request, context: context, csrf: csrf, title: "Refused", person: nil, main: ConsolePages.csrfRefused, status: .forbidden)
    }

    // MARK: Answers

    /// A page for the signed-in person, with the cookies of a refreshed session; a form shown again with its
    /// `error` is a 400.
    func page(
        _ request: Request,
        _ context: AppRequestContext,
        _ session: ConsoleSession,
        _ csrf: CSRFToken,
        title: String,
        main: String,
        error: String? = nil
    ) -> Response {
        page(
            request,
            context: context,
            csrf: csrf,
            title: title,
            person: session.person,
            main: main,
            status: error == nil ? .ok : .badRequest,
            cookies: session.cookies
        )
    }

    /// The 404 page, for an id that is not one or names nothing this person may see.
    func notFound(_ request: Request, _ context: AppRequestContext, _ session: ConsoleSession, _ csrf: CSRFToken) -> Response {
        page(request, context: context, csrf: csrf, title: "Not found", person: session.person, main: ConsolePages.notFound, status: .notFound)
    }

    func page(
        _ request: Request,
        context: AppRequestContext,
        csrf: CSRFToken,
        title: String,
        person: ConsolePerson?,
        main: String,
        status: HTTPResponse.Status = .ok,
        cookies: [Cookie] = []
    ) -> Response {
        var response = Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .contentSecurityPolicy: Self.contentSecurityPolicy,
                // Not no-referrer: with it, browsers send `Origin: null` on the forms' POSTs.
                .referrerPolicy: "same-origin",
            ],
            body: .init(byteBuffer: ByteBuffer(string: HTML.page(title: title, signedIn: person, csrf: csrf.token, main: main)))
        )
        if let cookie = csrf.cookie { response.setCookie(cookie) }
        for cookie in cookies { response.setCookie(cookie) }
        return response
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(
            status: .ok,
            headers: [.contentType: type, .cacheControl: "public, max-age=300"],
            body: .init(byteBuffer: ByteBuffer(string: text))
        )
    }

    /// An `application/x-www-form-urlencoded` body as its fields (a field sent twice keeps the first).
    static func form(_ request: Request, maxSize: Int) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: maxSize)
        var fields: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (part: Substring) in String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            let name = decode(parts[0])
            if fields[name] == nil { fields[name] = parts.count == 2 ? decode(parts[1]) : "" }
        }
        return fields
    }
}
