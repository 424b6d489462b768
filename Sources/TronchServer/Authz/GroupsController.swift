import Foundation
import Hummingbird
import TronchCore
import TronchStorage

/// `/api/v1/groups`: groups and their direct members (`authz:manage`).
struct GroupsController {
    let authz: AuthzService
    let maxBodySize: Int
    let allowQueryParameterKeys: Bool

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post(use: create)
        group.get(use: list)
        group.get("{id}", use: show)
        group.patch("{id}", use: update)
        group.delete("{id}", use: delete)
        group.get("{id}/members", use: members)
        group.put("{id}/members/{principal}", use: addMember)
        group.delete("{id}/members/{principal}", use: removeMember)
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        var body = JSONObjectReader(try await request.jsonBody(maxSize: maxBodySize), allowed: ["name", "description", "mfa_required"])
        let name = body.required("name")
        let description = body.string("description").value
        let mfaRequired = body.bool("mfa_required").value ?? false
        try body.finish()
        let group = try await authz.createGroup(
            .init(name: name ?? "", description: description, mfaRequired: mfaRequired),
            by: principal,
            origin: context.origin(request)
        )
        return try Response.json(GroupResponse(group), status: .created)
    }

    static let listParameters: Set<String> = ["limit", "cursor", "q"]

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requirePrincipal()
        var parameters = ListParameters(request, known: Self.listParameters, allowQueryParameterKeys: allowQueryParameterKeys)
        var query = GroupQuery()
        if let limit = parameters.limit() { query.limit = limit }
        if let cursor = parameters.text("cursor") {
            if let id = Cursor.decode(cursor, kind: "g") { query.after = id } else { parameters.fail("cursor", "is not a cursor this API returned") }
        }
        if let search = parameters.text("q") {
            if search.unicodeScalars.count > 256 { parameters.fail("q", "must be at most 256 characters") } else { query.search = search }
        }
        try parameters.finish()
        let size = query.limit
        query.limit = size + 1
        let groups = try await authz.store.groups(matching: query)
        return try Response.json(ListResponse(fetched: groups, size: size, item: GroupResponse.init) { Cursor.encode($0.id, kind: "g") })
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requirePrincipal()
        let id = try Self.id(context)
        guard let group = try await authz.store.group(id: id) else { throw DomainError.groupNotFound(id.lowercased) }
        return try Response.json(GroupResponse(group))
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try Self.id(context)
        var body = JSONObjectReader(try await request.jsonBody(maxSize: maxBodySize), allowed: ["name", "description", "mfa_required"])
        let name = body.notNull("name")
        let description = body.string("description")
        var mfaRequired: Bool?
        switch body.bool("mfa_required") {
        case .set(let value): mfaRequired = value
        case .clear: body.fail("mfa_required", "must not be null")
        case .unchanged: break
        }
        try body.finish()
        let group = try await authz.updateGroup(
            id: id,
            .init(name: name, description: description, mfaRequired: mfaRequired),
            by: principal,
            origin: context.origin(request)
        )
        return try Response.json(GroupResponse(group))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        try await authz.deleteGroup(id: try Self.id(context), by: principal, origin: context.origin(request))
        return Response(status: .noContent)
    }

    static let memberParameters: Set<String> = ["limit", "cursor"]

    @Sendable func members(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requirePrincipal()
        let id = try Self.id(context)
        var parameters = ListParameters(request, known: Self.memberParameters, allowQueryParameterKeys: allowQueryParameterKeys)
        let limit = parameters.limit() ?? 50
        var after: String?
        if let cursor = parameters.text("cursor") {
            if let member = MemberCursor.decode(cursor) {
                after = member.description
            } else {
                parameters.fail("cursor", "is not a cursor this API returned")
            }
        }
        try parameters.finish()
        let members = try await authz.store.members(groupID: id, after: after, limit: limit + 1)
        let page = Array(members.prefix(limit))
        return try Response.json(
            ListResponse(
                data: page.map(MemberResponse.init),
                nextCursor: members.count > limit ? page.last.map { MemberCursor.encode($0.member) } : nil
            )
        )
    }

    @Sendable func addMember(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try Self.id(context)
        let member = try Self.member(context)
        let added = try await authz.addMember(member, to: id, by: principal, origin: context.origin(request))
        return Response(status: added ? .created : .noContent)
    }

    @Sendable func removeMember(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try Self.id(context)
        let member = try Self.member(context)
        guard try await authz.removeMember(member, from: id, by: principal, origin: context.origin(request)) else {
            throw DomainError(.notFound, "\(member) is not a member of group \(id.lowercased)")
        }
        return Response(status: .noContent)
    }

    static func id(_ context: AppRequestContext) throws(DomainError) -> UUID {
        let text = context.parameters.get("id") ?? ""
        guard let id = UUID(strict: text) else { throw DomainError.invalid("id", "'\(text)' is not a group id (a UUID)") }
        return id
    }

    static func member(_ context: AppRequestContext) throws(DomainError) -> PrincipalReference {
        // Clients that encode every reserved character send `user%3A…`: the same member.
        let text = context.parameters.get("principal").map { $0.removingPercentEncoding ?? $0 } ?? ""
        guard let member = PrincipalReference(text), member.groupID != nil || member.isUser else {
            throw DomainError.invalid("principal", "'\(text)' is not a member: user:<id> or group:<id>")
        }
        return member
    }
}

/// A member list's cursor: the last member's reference.
enum MemberCursor {
    static func encode(_ member: PrincipalReference) -> String { Cursor.encode(member.id, kind: "m" + member.kind) }

    static func decode(_ cursor: String) -> PrincipalReference? {
        if let id = Cursor.decode(cursor, kind: "muser") { return .user(id) }
        if let id = Cursor.decode(cursor, kind: "mgroup") { return .group(id) }
        return nil
    }
}

extension PrincipalReference {
    var isUser: Bool { if case .user = self { true } else { false } }
}

struct GroupResponse: Encodable {
    var group: GroupRecord

    init(_ group: GroupRecord) { self.group = group }

    enum CodingKeys: String, CodingKey {
        case id, name, description
        case mfaRequired = "mfa_required"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(group.id.lowercased, forKey: .id)
        try container.encode(group.name, forKey: .name)
        try container.encode(group.description, forKey: .description)
        try container.encode(group.mfaRequired, forKey: .mfaRequired)
        try container.encode(Timestamp.format(group.createdAt), forKey: .createdAt)
        try container.encode(Timestamp.format(group.updatedAt), forKey: .updatedAt)
    }
}

struct MemberResponse: Encodable {
    var membership: GroupMembership

    init(_ membership: GroupMembership) { self.membership = membership }

    enum CodingKeys: String, CodingKey {
        case principal, type
        case addedAt = "added_at"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(membership.member.description, forKey: .principal)
        try container.encode(membership.member.kind, forKey: .type)
        try container.encode(Timestamp.format(membership.createdAt), forKey: .addedAt)
    }
}
