import Foundation
import Hummingbird
import TronchCore
import TronchStorage

/// `GET /api/v1/audit-logs`: the audit trail, newest first, filtered and paginated (scope `audit:read`).
struct AuditController {
    let store: any AuditStore
    let allowQueryParameterKeys: Bool

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.get(use: list)
    }

    static let parameters: Set<String> = [
        "limit", "cursor", "actor_id", "action", "target_type", "target_id", "outcome", "from", "to",
    ]

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requirePrincipal()
        var parameters = ListParameters(request, known: Self.parameters, allowQueryParameterKeys: allowQueryParameterKeys)
        var query = AuditQuery()
        if let limit = parameters.limit() { query.limit = limit }
        if let cursor = parameters.text("cursor") {
            if let value = Int64(cursor), value > 0 {
                query.before = value
            } else {
                parameters.fail("cursor", "is not a cursor this API returned")
            }
        }
        query.actorID = parameters.text("actor_id")
        query.action = parameters.text("action")
        query.targetType = parameters.text("target_type")
        query.targetID = parameters.text("target_id")
        if let outcome = parameters["outcome"] {
            if let value = AuditEvent.Outcome(rawValue: outcome) {
                query.outcome = value
            } else {
                parameters.fail("outcome", "must be success or failure")
            }
        }
        query.from = parameters.timestamp("from")
        query.to = parameters.timestamp("to")
        // `to` at or before `from` selects nothing: an empty page, not an error.
        try parameters.finish()
        let page = try await store.auditEntries(matching: query)
        return try Response.json(
            ListResponse(data: page.entries.map(AuditEntryResponse.init), nextCursor: page.nextCursor.map(String.init))
        )
    }
}

/// One entry as the API shows it.
struct AuditEntryResponse: Encodable {
    var entry: AuditEntry

    init(_ entry: AuditEntry) { self.entry = entry }

    enum CodingKeys: String, CodingKey {
        case id, sequence, time, actor, action, target, outcome, details, hash
        case requestID = "request_id"
        case clientIP = "client_ip"
        case userAgent = "user_agent"
        case previousHash = "previous_hash"
    }

    func encode(to encoder: any Encoder) throws {
        let event = entry.event
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(event.id.lowercased, forKey: .id)
        try container.encode(entry.sequence, forKey: .sequence)
        try container.encode(Timestamp.format(event.time), forKey: .time)
        let actor: JSONValue = ["kind": .string(event.actor.kind.rawValue), "id": event.actor.id.map(JSONValue.string) ?? .null]
        try container.encode(actor, forKey: .actor)
        try container.encode(event.action, forKey: .action)
        if event.targetType == nil && event.targetID == nil {
            try container.encodeNil(forKey: .target)
        } else {
            let target: JSONValue = [
                "type": event.targetType.map(JSONValue.string) ?? .null, "id": event.targetID.map(JSONValue.string) ?? .null,
            ]
            try container.encode(target, forKey: .target)
        }
        try container.encode(event.outcome.rawValue, forKey: .outcome)
        try container.encode(event.origin.requestID, forKey: .requestID)
        try container.encode(event.origin.clientIP, forKey: .clientIP)
        try container.encode(event.origin.userAgent, forKey: .userAgent)
        let details = (try? JSONParser.parse(Array(event.details.utf8))) ?? .object([:])
        try container.encode(details, forKey: .details)
        try container.encode(entry.previousHash, forKey: .previousHash)
        try container.encode(entry.hash, forKey: .hash)
    }
}
