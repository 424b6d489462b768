import Foundation
import Hummingbird
import TronchCore
import TronchStorage

/// The console's pages beyond the key list: one key with its usage chart and rotation, the audit log, and the
/// person's sessions.
extension ConsoleController {
    func addPages(to console: RouterGroup<AppRequestContext>) {
        console.get("keys/{id}", use: keyPage)
        console.post("keys/{id}/rotate", use: rotate)
        console.post("keys/{id}/edit", use: editKey)
        console.get("audit", use: auditPage)
        console.get("sessions", use: sessionsPage)
        console.post("sessions/end-all", use: endAllSessions)
    }

    // MARK: One key

    @Sendable func keyPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await withSession(request, context: context) { session, csrf in
            try await keyPage(request, context, session, csrf, error: nil)
        }
    }

    func keyPage(
        _ request: Request,
        _ context: AppRequestContext,
        _ session: ConsoleSession,
        _ csrf: CSRFToken,
        error: String?
    ) async throws -> Response {
        guard let id = UUID(strict: context.parameters.get("id") ?? ""),
            let record = try? await keys.key(id: id, visibleTo: session.principal)
        else {
            return notFound(request, context, session, csrf)
        }
        let daily = request.uri.queryParameters.get("period") == "30d"
        let step: Int64 = daily ? 86_400_000 : 3_600_000
        let now = Timestamp.milliseconds(keys.clock.now)
        let end = now - ((now % step) + step) % step + step
        let start = end - step * (daily ? 30 : 24)
        let counts = try await store.usage(keyID: id, from: start, to: end, bucket: 60_000)
        let chart = UsageChart(
            counts: counts,
            start: start,
            end: end,
            step: step,
            label: daily ? "Verifications per day, last 30 days" : "Verifications per hour, last 24 hours"
        )
        var histogram = [String: Int64]()
        for item in counts where item.counter.metric.hasPrefix(Usage.latencyPrefix) { histogram[item.counter.metric, default: 0] += item.count }
        let latency = [0.5, 0.95, 0.99].map { Usage.quantile($0, histogram: histogram) }
        let main = ConsolePages.key(record, now: keys.clock.now, chart: chart, daily: daily, latency: latency, csrf: csrf.token, error: error)
        return page(request, context, session, csrf, title: record.settings.name ?? "Key", main: main, error: error)
    }

    /// Changes a key's name, scopes, expiry, rate limits, address allowlist and whether it is enabled.
    @Sendable func editKey(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await Self.form(request, maxSize: maxBodySize)
        return try await withSession(request, context: context, form: form) { session, csrf in
            guard let id = UUID(strict: context.parameters.get("id") ?? "") else { return Self.redirect("/console/keys") }
            var patch = KeyPatch()
            var problems = [String]()
            let name = (form["name"] ?? "").trimmingCharacters(in: .whitespaces)
            patch.name = name.isEmpty ? .clear : .set(name)
            patch.scopes = (form["scopes"] ?? "").split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
            patch.enabled = form["enabled"] == "on"
            switch (form["expires_on"] ?? "").trimmingCharacters(in: .whitespaces) {
            case "": patch.expiresAt = .clear
            case let day:
                if let date = Timestamp.parse(day + "T00:00:00Z") {
                    patch.expiresAt = .set(date)
                } else {
                    problems.append("expiry: not a date (YYYY-MM-DD)")
                }
            }
            var policies = [RateLimitPolicy]()
            for item in (form["ratelimits"] ?? "").split(whereSeparator: { $0 == " " || $0 == "," }) {
                // name:limit/seconds
                let parts = item.split(separator: ":", maxSplits: 1)
                let numbers = parts.count == 2 ? parts[1].split(separator: "/") : []
                guard numbers.count == 2, let limit = Int64(numbers[0]), let period = Int64(numbers[1]) else {
                    problems.append("rate limits: '\(item)' is not name:limit/seconds")
                    continue
                }
                policies.append(RateLimitPolicy(name: String(parts[0]), limit: limit, periodSeconds: period))
            }
            patch.ratelimits = policies
            var networks = [CIDR]()
            for item in (form["allowed_ips"] ?? "").split(whereSeparator: { $0 == " " || $0 == "," }) {
                if let network = try? CIDR(parsing: String(item)) {
                    networks.append(network)
                } else {
                    problems.append("addresses: '\(item)' is not an address or a CIDR range")
                }
            }
            patch.allowedIPs = networks
            if Scope.isCovered(Principal.adminScope, by: patch.scopes ?? []) || patch.scopes?.contains(Principal.adminScope) == true {
                problems.append("scopes: admin is given through the API, with a second factor (step-up)")
            }
            guard problems.isEmpty else { return try await keyPage(request, context, session, csrf, error: problems.joined(separator: "; ")) }
            do {
                _ = try await keys.update(id: id, patch, by: session.principal, origin: context.origin(request))
            } catch {
                guard let message = Self.message(error) else { throw error }
                return try await keyPage(request, context, session, csrf, error: message)
            }
            return Self.redirect("/console/keys/\(id.lowercased)")
        }
    }

    @Sendable func rotate(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await Self.form(request, maxSize: maxBodySize)
        return try await withSession(request, context: context, form: form) { session, csrf in
            guard let id = UUID(strict: context.parameters.get("id") ?? "") else { return notFound(request, context, session, csrf) }
            let minutes = Int64(form["grace_minutes"] ?? "0") ?? -1
            guard (0...(30 * 24 * 60)).contains(minutes) else {
                return try await keysPage(request, context, session, csrf, error: "The grace period is a whole number of minutes from 0 to 43200.")
            }
            do {
                let (_, issued) = try await keys.rotate(
                    id: id,
                    gracePeriod: minutes * 60,
                    expiresAt: .unchanged,
                    by: session.principal,
                    origin: context.origin(request)
                )
                let main = ConsolePages.created(issued.record, secret: issued.secret, rotated: minutes)
                return page(
                    request,
                    context: context,
                    csrf: csrf,
                    title: "Key rotated",
                    person: session.person,
                    main: main,
                    status: .created,
                    cookies: session.cookies
                )
            } catch let error as DomainError {
                return try await keysPage(request, context, session, csrf, error: error.detail)
            }
        }
    }

    // MARK: Audit log

    /// Administrators see every entry; anyone else sees their own actions.
    @Sendable func auditPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await withSession(request, context: context) { session, csrf in
            let parameters = request.uri.queryParameters
            var query = AuditQuery()
            query.limit = 50
            func filter(_ name: String) -> String? { parameters.get(name).flatMap { $0.isEmpty ? nil : String($0.prefix(256)) } }
            query.action = filter("action")
            query.targetID = filter("target_id")
            query.actorID = filter("actor_id")
            if let before = filter("before") { query.before = Int64(before) }
            let everyone = session.principal.allows(.auditRead)
            if !everyone { query.actorID = session.principal.user?.id.lowercased }
            let page = try await store.auditEntries(matching: query)
            let main = ConsolePages.audit(
                page.entries,
                next: page.nextCursor,
                filters: (query.action, query.actorID, query.targetID),
                everyone: everyone
            )
            return self.page(request, context, session, csrf, title: "Audit log", main: main)
        }
    }

    // MARK: Sessions

    @Sendable func sessionsPage(_ request: Request, context: AppRequestContext) async throws -> Response {
        try await withSession(request, context: context) { session, csrf in
            guard let user = session.principal.user else { return Self.redirect("/console/login") }
            let now = keys.clock.now
            let idle = TokenService.seconds(users.tokens.settings.sessionIdleTimeout)
            let sessions = try await users.tokens.store.sessions(userID: user.id, liveAt: now, limit: 100, after: nil).sessions
                .filter { $0.isLive(at: now, idleTimeout: idle) }
            let main = ConsolePages.sessions(sessions, current: session.principal.sessionID, csrf: csrf.token)
            return page(request, context, session, csrf, title: "Sessions", main: main)
        }
    }

    /// "Sign out everywhere": every live session of the person ends, this one included.
    @Sendable func endAllSessions(_ request: Request, context: AppRequestContext) async throws -> Response {
        let form = try await Self.form(request, maxSize: maxBodySize)
        return try await withSession(request, context: context, form: form) { session, _ in
            guard let user = session.principal.user else { return Self.redirect("/console/login") }
            let now = keys.clock.now
            var ids = [UUID]()
            var after: UUID?
            repeat {
                let page = try await users.tokens.store.sessions(userID: user.id, liveAt: now, limit: 100, after: after)
                ids += page.sessions.map(\.id)
                after = page.nextCursor
            } while after != nil
            _ = try await users.tokens.endSessions(
                ids,
                reason: "revoked",
                action: AuditAction.sessionRevoked,
                actor: .user(user.id),
                origin: context.origin(request)
            )
            var response = Self.redirect("/console/login")
            for name in [Self.accessCookie, Self.refreshCookie] { response.setCookie(cookie(name, "", context: context, maxAge: 0)) }
            return response
        }
    }
}
