import Foundation
import Hummingbird
import TronchCore
import TronchStorage

/// `/api/v1/users`: accounts, the caller's own (`me`), password changes and unlocks.
struct UsersController {
    let users: UserService
    let maxBodySize: Int
    let allowQueryParameterKeys: Bool
    /// Removes a deleted user's memberships and entries.
    var authz: AuthzService?

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post(use: create)
        group.get(use: list)
        group.get("me", use: me)
        group.post("me/password", use: changePassword)
        group.get("{id}", use: show)
        group.patch("{id}", use: update)
        group.delete("{id}", use: delete)
        group.post("{id}/unlock", use: unlock)
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        var body = JSONObjectReader(
            try await request.jsonBody(maxSize: maxBodySize),
            allowed: ["username", "email", "password", "display_name", "role"]
        )
        let username = body.required("username")
        let email = body.required("email")
        let password = body.string("password").value
        let displayName = body.string("display_name").value
        let role = body.role("role") ?? .member
        try body.finish()
        let user = try await users.create(
            .init(username: username ?? "", email: email ?? "", password: password, displayName: displayName, role: role),
            by: principal,
            origin: context.origin(request)
        )
        return try Response.json(UserResponse(user), status: .created)
    }

    static let listParameters: Set<String> = ["limit", "cursor", "role", "status", "q"]

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        var parameters = ListParameters(request, known: Self.listParameters, allowQueryParameterKeys: allowQueryParameterKeys)
        var query = UserQuery()
        if let limit = parameters.limit() { query.limit = limit }
        if let cursor = parameters.text("cursor") {
            if let id = Cursor.decode(cursor, kind: "u") { query.after = id } else { parameters.fail("cursor", "is not a cursor this API returned") }
        }
        if let text = parameters["role"] {
            if let role = Role(rawValue: text) { query.role = role } else { parameters.fail("role", "must be admin, member or viewer") }
        }
        if let text = parameters["status"] {
            if let status = UserRecord.Status(rawValue: text) {
                query.status = status
            } else {
                parameters.fail("status", "must be active or disabled")
            }
        }
        if let search = parameters.text("q") {
            if search.unicodeScalars.count > 256 { parameters.fail("q", "must be at most 256 characters") } else { query.search = search }
        }
        try parameters.finish()
        let page = try await users.users(matching: query, by: principal)
        return try Response.json(
            ListResponse(data: page.users.map(UserResponse.init), nextCursor: page.nextCursor.map { Cursor.encode($0, kind: "u") })
        )
    }

    @Sendable func me(_ request: Request, context: AppRequestContext) async throws -> Response {
        try Response.json(UserResponse(try await users.me(try context.requirePrincipal())))
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        try Response.json(UserResponse(try await users.user(id: try Self.id(context), by: try context.requirePrincipal())))
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try Self.id(context)
        var body = JSONObjectReader(
            try await request.jsonBody(maxSize: maxBodySize),
            allowed: ["username", "email", "display_name", "role", "status", "password"]
        )
        var change = UserService.Change()
        change.username = body.notNull("username")
        change.email = body.notNull("email")
        change.displayName = body.string("display_name")
        change.role = body.role("role")
        if case .set(let text) = body.string("status") {
            if let status = UserRecord.Status(rawValue: text) { change.status = status } else { body.fail("status", "must be active or disabled") }
        } else if body.contains("status") && !body.hasErrors("status") {
            body.fail("status", "must be active or disabled")
        }
        change.password = body.notNull("password")
        try body.finish()
        let user = try await users.update(id: id, change, by: principal, origin: context.origin(request))
        return try Response.json(UserResponse(user))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let user = try await users.delete(id: try Self.id(context), by: principal, origin: context.origin(request))
        // The store removed the user's memberships and entries with the user; this node's snapshot follows.
        await authz?.directory.applyAfterChange(.principalForgotten(.user(user.id)))
        return try Response.json(UserResponse(user))
    }

    @Sendable func unlock(_ request: Request, context: AppRequestContext) async throws -> Response {
        let user = try await users.unlock(id: try Self.id(context), by: try context.requirePrincipal(), origin: context.origin(request))
        return try Response.json(UserResponse(user))
    }

    @Sendable func changePassword(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        var body = JSONObjectReader(try await request.jsonBody(maxSize: maxBodySize), allowed: ["current_password", "new_password"])
        let current = body.required("current_password")
        let new = body.required("new_password")
        try body.finish()
        try await users.changePassword(current: current ?? "", new: new ?? "", by: principal, origin: context.origin(request))
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    static func id(_ context: AppRequestContext) throws(DomainError) -> UUID {
        let text = context.parameters.get("id") ?? ""
        guard let id = UUID(strict: text) else { throw DomainError.invalid("id", "'\(text)' is not a user id (a UUID)") }
        return id
    }
}

extension JSONObjectReader {
    /// A string that must be present and not null.
    mutating func required(_ key: String) -> String? {
        switch string(key) {
        case .set(let value): return value
        case .clear: fail(key, "must not be null")
        case .unchanged: if !hasErrors(key) { fail(key, "is required") }
        }
        return nil
    }

    /// A string that may be absent but not null.
    mutating func notNull(_ key: String) -> String? {
        switch string(key) {
        case .set(let value): return value
        case .clear: fail(key, "must not be null (leave it out to keep the current value)")
        case .unchanged: break
        }
        return nil
    }

    /// `admin`, `member` or `viewer`.
    mutating func role(_ key: String) -> Role? {
        guard let text = notNull(key) else { return nil }
        guard let role = Role(rawValue: text) else {
            fail(key, "must be admin, member or viewer")
            return nil
        }
        return role
    }

    func hasErrors(_ key: String) -> Bool { errors.contains { $0.field == field(key) } }
}

extension Patch {
    /// The value when set, nil otherwise.
    var value: Value? {
        if case .set(let value) = self { return value }
        return nil
    }
}

/// A user as the API returns it: never the password hash, never the lock's arithmetic beyond `locked_until`.
struct UserResponse: Encodable {
    var user: UserRecord

    init(_ user: UserRecord) { self.user = user }

    enum CodingKeys: String, CodingKey {
        case id, username, email, role, status
        case displayName = "display_name"
        case lockedUntil = "locked_until"
        case mfaEnabled = "mfa_enabled"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case lastLoginAt = "last_login_at"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(user.id.lowercased, forKey: .id)
        try container.encode(user.username, forKey: .username)
        try container.encode(user.email.value, forKey: .email)
        try container.encode(user.displayName, forKey: .displayName)
        try container.encode(user.role.rawValue, forKey: .role)
        try container.encode(user.status.rawValue, forKey: .status)
        try container.encode(user.lockout.lockedUntil.map(Timestamp.format), forKey: .lockedUntil)
        try container.encode(user.mfaEnabled, forKey: .mfaEnabled)
        try container.encode(Timestamp.format(user.createdAt), forKey: .createdAt)
        try container.encode(Timestamp.format(user.updatedAt), forKey: .updatedAt)
        try container.encode(user.lastLoginAt.map(Timestamp.format), forKey: .lastLoginAt)
    }
}
