import Foundation
import Hummingbird
import TronchCore
import TronchStorage

/// `/api/v1/sessions`: a person's live sessions (an admin's view of anyone's), and signing one out.
struct SessionsController {
    let tokens: TokenService
    let allowQueryParameterKeys: Bool

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get(use: list)
        group.delete("{id}", use: end)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        var parameters = ListParameters(request, known: ["limit", "cursor", "user_id"], allowQueryParameterKeys: allowQueryParameterKeys)
        let limit = parameters.limit() ?? 50
        var after: UUID?
        if let cursor = parameters.text("cursor") {
            if let id = Cursor.decode(cursor, kind: "s") { after = id } else { parameters.fail("cursor", "is not a cursor this API returned") }
        }
        var userID = principal.user?.id
        if let text = parameters["user_id"] {
            if let id = UUID(strict: text) { userID = id } else { parameters.fail("user_id", "must be a user id (a UUID)") }
        }
        try parameters.finish()
        let isManager = principal.allows(.usersManage)
        if userID != principal.user?.id, !isManager {
            throw APIError(.forbidden, "only an administrator may list another user's sessions")
        }
        // A credential that belongs to no user (the root key) has no sessions of its own: an empty page.
        guard let userID else { return try Response.json(ListResponse<SessionResponse>(data: [], nextCursor: nil)) }
        let now = tokens.clock.now
        let page = try await tokens.store.sessions(userID: userID, liveAt: now, limit: limit, after: after)
        // Past its idle timeout a session is over, even before its absolute end.
        let idle = TokenService.seconds(tokens.settings.sessionIdleTimeout)
        return try Response.json(
            ListResponse(
                data: page.sessions.filter { $0.isLive(at: now, idleTimeout: idle) }.map(SessionResponse.init),
                nextCursor: page.nextCursor.map { Cursor.encode($0, kind: "s") }
            )
        )
    }

    @Sendable func end(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let text = context.parameters.get("id") ?? ""
        guard let id = UUID(strict: text) else { throw DomainError.invalid("id", "'\(text)' is not a session id (a UUID)") }
        guard let session = try await tokens.store.session(id: id),
            session.userID == principal.user?.id || principal.allows(.usersManage)
        else { throw DomainError(.notFound, "no session with id \(id.lowercased)") }
        _ = try await tokens.endSessions(
            [session.id],
            reason: "revoked",
            action: AuditAction.sessionRevoked,
            actor: principal.auditActor,
            origin: context.origin(request)
        )
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }
}

/// A session as the API returns it.
struct SessionResponse: Encodable {
    var session: SessionRecord

    init(_ session: SessionRecord) { self.session = session }

    enum CodingKeys: String, CodingKey {
        case id, ip, amr
        case userID = "user_id"
        case createdAt = "created_at"
        case lastSeenAt = "last_seen_at"
        case expiresAt = "expires_at"
        case userAgent = "user_agent"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(session.id.lowercased, forKey: .id)
        try container.encode(session.userID.lowercased, forKey: .userID)
        try container.encode(Timestamp.format(session.createdAt), forKey: .createdAt)
        try container.encode(Timestamp.format(session.lastSeenAt), forKey: .lastSeenAt)
        try container.encode(Timestamp.format(session.expiresAt), forKey: .expiresAt)
        try container.encode(session.ip, forKey: .ip)
        try container.encode(session.userAgent, forKey: .userAgent)
        try container.encode(session.amr, forKey: .amr)
    }
}
