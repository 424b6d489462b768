import Foundation
import Hummingbird
import TronchCore
import TronchStorage

/// `/api/v1/keys`: create, list, show, update, revoke and rotate keys.
struct KeysController {
    let keys: KeyService
    let maxBodySize: Int
    let allowQueryParameterKeys: Bool
    /// Asks a person for a second factor before they grant the scope admin.
    var stepUp: StepUp?

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post(use: create)
        group.post("import", use: importKeys)
        group.get(use: list)
        group.get("{id}", use: show)
        group.patch("{id}", use: update)
        group.delete("{id}", use: revoke)
        group.post("{id}/rotate", use: rotate)
    }

    // MARK: Create

    static let createFields = JSONObjectReader.settingsFields.union(["environment", "signing"])

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        var body = JSONObjectReader(try await request.jsonBody(maxSize: maxBodySize), allowed: Self.createFields)
        let environment = body.environment()
        let settings = body.keyPatch().applied(to: KeySettings())
        let signing = body.signing() ?? false
        try body.finish()
        // Only an administrator may grant admin at all (the service refuses the others with 403): ask them.
        if settings.scopes.contains(Principal.adminScope), principal.isAdmin {
            try await stepUp?.require(principal, for: "a key with the scope admin", origin: context.origin(request))
        }
        let issued = try await keys.create(
            settings,
            environment: environment,
            signing: signing,
            by: principal,
            origin: context.origin(request)
        )
        var response = try Response.json(
            KeyResponse(record: issued.record, now: keys.clock.now, secret: issued.secret, signingSecret: issued.signingSecret),
            status: .created
        )
        if let decision = issued.rateLimit { response.headers.append(contentsOf: decision.headers) }
        return response
    }

    // MARK: Read

    static let listParameters: Set<String> = [
        "limit", "cursor", "owner_id", "environment", "status", "name_prefix", "expiring_within",
    ]

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requirePrincipal()
        var parameters = ListParameters(request, known: Self.listParameters, allowQueryParameterKeys: allowQueryParameterKeys)
        let now = keys.clock.now
        var query = KeyQuery(now: now)
        if let limit = parameters.limit() { query.limit = limit }
        if let cursor = parameters.text("cursor") {
            if let id = Cursor.decode(cursor) {
                query.after = id
            } else {
                parameters.fail("cursor", "is not a cursor this API returned")
            }
        }
        query.ownerID = parameters.text("owner_id")
        if let environment = parameters["environment"] {
            if let value = KeyEnvironment(rawValue: environment) {
                query.environment = value
            } else {
                parameters.fail("environment", "must be live or test")
            }
        }
        if let status = parameters["status"] {
            if let value = DisplayStatus(rawValue: status) {
                query.status = value
            } else {
                parameters.fail("status", "must be active, revoked or expired")
            }
        }
        query.namePrefix = parameters.text("name_prefix")
        if let span = parameters.seconds("expiring_within", max: 3650 * 86_400) {
            query.expiringBefore = now.addingTimeInterval(TimeInterval(span))
        }
        try parameters.finish()
        let page = try await keys.keys(matching: query, visibleTo: context.requirePrincipal())
        return try Response.json(
            ListResponse(data: page.keys.map { KeyResponse(record: $0, now: now) }, nextCursor: page.nextCursor.map { Cursor.encode($0) })
        )
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requirePrincipal()
        let record = try await keys.key(id: try Self.id(context), visibleTo: context.requirePrincipal())
        return try Response.json(KeyResponse(record: record, now: keys.clock.now))
    }

    // MARK: Change

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try Self.id(context)
        var body = JSONObjectReader(
            try await request.jsonBody(maxSize: maxBodySize),
            allowed: JSONObjectReader.settingsFields.union(["environment"])
        )
        if body.contains("environment") { body.fail("environment", "cannot be changed; create a new key instead") }
        let patch = body.keyPatch()
        try body.finish()
        if patch.scopes?.contains(Principal.adminScope) == true, principal.isAdmin {
            try await stepUp?.require(principal, for: "a key with the scope admin", origin: context.origin(request))
        }
        let record = try await keys.update(id: id, patch, by: principal, origin: context.origin(request))
        return try Response.json(KeyResponse(record: record, now: keys.clock.now))
    }

    @Sendable func revoke(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let record = try await keys.revoke(id: try Self.id(context), by: principal, origin: context.origin(request))
        return try Response.json(KeyResponse(record: record, now: keys.clock.now))
    }

    /// Longest grace period a rotation may give the old key: 30 days.
    static let maxGracePeriod: Int64 = 30 * 86_400

    @Sendable func rotate(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try Self.id(context)
        var gracePeriod: Int64 = 0
        var expiresAt: Patch<Date> = .unchanged
        var signing: Bool?
        // The body is optional: an empty POST rotates with no grace period.
        if let json = try await request.jsonBodyIfPresent(maxSize: maxBodySize) {
            var body = JSONObjectReader(json, allowed: ["grace_period_seconds", "expires_at", "signing"])
            switch body.integer("grace_period_seconds") {
            case .set(let value) where (0...Self.maxGracePeriod).contains(value): gracePeriod = value
            case .set, .clear: body.fail("grace_period_seconds", "must be an integer from 0 to \(Self.maxGracePeriod)")
            case .unchanged: break
            }
            expiresAt = body.timestamp("expires_at")
            signing = body.signing()
            try body.finish()
        }
        // A new secret for a key with the scope admin is as sensitive as a new such key.
        if let stepUp, principal.isAdmin, try await keys.store.key(id: id)?.settings.scopes.contains(Principal.adminScope) == true {
            try await stepUp.require(principal, for: "a new secret for a key with the scope admin", origin: context.origin(request))
        }
        let (_, issued) = try await keys.rotate(
            id: id,
            gracePeriod: gracePeriod,
            expiresAt: expiresAt,
            signing: signing,
            by: principal,
            origin: context.origin(request)
        )
        return try Response.json(
            KeyResponse(record: issued.record, now: keys.clock.now, secret: issued.secret, signingSecret: issued.signingSecret),
            status: .created
        )
    }

    static func id(_ context: AppRequestContext) throws(DomainError) -> UUID {
        let text = context.parameters.get("id") ?? ""
        guard let id = UUID(strict: text) else { throw DomainError.invalid("id", "'\(text)' is not a key id (a UUID)") }
        return id
    }
}

extension JSONObjectReader {
    /// `signing` on create and rotate: whether the key signs its requests; nil when not sent.
    mutating func signing() -> Bool? {
        switch bool("signing") {
        case .set(let value): return value
        case .clear:
            fail("signing", "must be true or false")
            return nil
        case .unchanged: return nil
        }
    }

    /// `environment` on create: `live` unless the body says `test`.
    mutating func environment() -> KeyEnvironment {
        switch string("environment") {
        case .unchanged, .clear: return .live
        case .set(let text):
            guard let environment = KeyEnvironment(rawValue: text) else {
                fail("environment", "must be live or test")
                return .live
            }
            return environment
        }
    }
}

/// Opaque pagination cursors: base64url of the last item's id and its kind (`k` keys, `u` users, `s`
/// sessions), so clients do not build them by hand and one list's cursor is no other's.
enum Cursor {
    static func encode(_ id: UUID, kind: String = "k") -> String {
        Data("\(kind):\(id.lowercased)".utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ cursor: String, kind: String = "k") -> UUID? {
        var text = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while text.count % 4 != 0 { text += "=" }
        guard let data = Data(base64Encoded: text), let decoded = String(data: data, encoding: .utf8),
            decoded.hasPrefix(kind + ":")
        else { return nil }
        return UUID(strict: String(decoded.dropFirst(kind.count + 1)))
    }
}
