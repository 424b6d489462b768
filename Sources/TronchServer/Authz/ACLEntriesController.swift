import Foundation
import Hummingbird
import TronchCore
import TronchStorage

/// `/api/v1/acl-entries`: allow and deny entries on resources, and defaults for their descendants
/// (`authz:manage`).
struct ACLEntriesController {
    let authz: AuthzService
    let maxBodySize: Int
    let allowQueryParameterKeys: Bool

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post(use: create)
        group.get(use: list)
        group.get("{id}", use: show)
        group.delete("{id}", use: delete)
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        var body = JSONObjectReader(
            try await request.jsonBody(maxSize: maxBodySize),
            allowed: ["resource", "principal", "action", "effect", "kind"]
        )
        let resource = body.resource("resource")
        let subject = body.principal("principal")
        let action = body.action("action", wildcard: true)
        let effect = body.choice("effect", ACLEntry.Effect.self)
        let kind = body.choice("kind", ACLEntry.Kind.self, default: .acl)
        try body.finish()
        guard let resource, let subject, let action, let effect, let kind else { throw DomainError.invalid("body", "is incomplete") }
        let entry = try await authz.createEntry(
            .init(resource: resource, principal: subject, action: action, effect: effect, kind: kind),
            by: principal,
            origin: context.origin(request)
        )
        return try Response.json(EntryResponse(entry), status: .created)
    }

    static let listParameters: Set<String> = ["limit", "cursor", "resource", "include_ancestors", "principal"]

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requirePrincipal()
        var parameters = ListParameters(request, known: Self.listParameters, allowQueryParameterKeys: allowQueryParameterKeys)
        var query = ACLQuery()
        if let limit = parameters.limit() { query.limit = limit }
        if let cursor = parameters.text("cursor") {
            if let id = Cursor.decode(cursor, kind: "a") { query.after = id } else { parameters.fail("cursor", "is not a cursor this API returned") }
        }
        var ancestors = false
        if let text = parameters["include_ancestors"] {
            switch text {
            case "true": ancestors = true
            case "false": ancestors = false
            default: parameters.fail("include_ancestors", "must be true or false")
            }
        }
        if let text = parameters.text("resource") {
            if let resource = ResourceName(text) {
                query.resources = [resource] + (ancestors ? resource.ancestors : [])
            } else {
                parameters.fail("resource", ResourceName.problem(text) ?? "is not a resource")
            }
        } else if ancestors {
            parameters.fail("include_ancestors", "needs resource")
        }
        if let text = parameters.text("principal") {
            if let subject = PrincipalReference(text) {
                query.principal = subject
            } else {
                parameters.fail("principal", "must be user:<id>, group:<id> or key:<id>")
            }
        }
        try parameters.finish()
        let size = query.limit
        query.limit = size + 1
        let entries = try await authz.store.entries(matching: query)
        return try Response.json(ListResponse(fetched: entries, size: size, item: EntryResponse.init) { Cursor.encode($0.id, kind: "a") })
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requirePrincipal()
        let id = try Self.id(context)
        guard let entry = try await authz.store.entry(id: id) else { throw DomainError.entryNotFound(id.lowercased) }
        return try Response.json(EntryResponse(entry))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        try await authz.deleteEntry(id: try Self.id(context), by: principal, origin: context.origin(request))
        return Response(status: .noContent)
    }

    static func id(_ context: AppRequestContext) throws(DomainError) -> UUID {
        let text = context.parameters.get("id") ?? ""
        guard let id = UUID(strict: text) else { throw DomainError.invalid("id", "'\(text)' is not an entry id (a UUID)") }
        return id
    }
}

extension JSONObjectReader {
    mutating func resource(_ key: String) -> ResourceName? {
        guard let text = required(key) else { return nil }
        guard let resource = ResourceName(text) else {
            fail(key, ResourceName.problem(text) ?? "is not a resource")
            return nil
        }
        return resource
    }

    mutating func principal(_ key: String) -> PrincipalReference? {
        guard let text = required(key) else { return nil }
        guard let principal = PrincipalReference(text) else {
            fail(key, "must be user:<id>, group:<id> or key:<id>")
            return nil
        }
        return principal
    }

    mutating func action(_ key: String, wildcard: Bool) -> String? {
        guard let text = required(key) else { return nil }
        if let problem = ActionName.problem(text) {
            fail(key, problem)
            return nil
        }
        if text == "*" && !wildcard {
            fail(key, "must name one action ('*' is for entries)")
            return nil
        }
        return text
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ key: String, _ type: T.Type, default fallback: T? = nil) -> T?
    where T.RawValue == String {
        let allowed = T.allCases.map(\.rawValue).joined(separator: " or ")
        switch string(key) {
        case .set(let text):
            guard let value = T(rawValue: text) else {
                fail(key, "must be \(allowed)")
                return nil
            }
            return value
        case .clear:
            fail(key, "must be \(allowed)")
            return nil
        case .unchanged:
            if fallback == nil { fail(key, "is required") }
            return fallback
        }
    }
}

struct EntryResponse: Encodable {
    var entry: ACLEntry

    init(_ entry: ACLEntry) { self.entry = entry }

    enum CodingKeys: String, CodingKey {
        case id, resource, principal, action, effect, kind
        case createdAt = "created_at"
        case createdBy = "created_by"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(entry.id.lowercased, forKey: .id)
        try container.encode(entry.resource.text, forKey: .resource)
        try container.encode(entry.principal.description, forKey: .principal)
        try container.encode(entry.action, forKey: .action)
        try container.encode(entry.effect.rawValue, forKey: .effect)
        try container.encode(entry.kind.rawValue, forKey: .kind)
        try container.encode(Timestamp.format(entry.createdAt), forKey: .createdAt)
        try container.encode(entry.createdBy, forKey: .createdBy)
    }
}
