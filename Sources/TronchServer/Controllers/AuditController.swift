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
        try context.require(.auditRead)
        let parameters = request.uri.queryParameters
        var errors = [FieldError]()
        for (name, _) in parameters {
            let name = String(name)
            if !Self.parameters.contains(name) && !(allowQueryParameterKeys && name == AuthenticationMiddleware.queryParameter) {
                errors.append(FieldError(field: name, message: "is not a known query parameter"))
            }
        }
        var query = AuditQuery()
        if let limit = parameters["limit"] {
            if let value = Int(limit), (1...100).contains(value) {
                query.limit = value
            } else {
                errors.append(FieldError(field: "limit", message: "must be an integer from 1 to 100"))
            }
        }
        if let cursor = parameters["cursor"] {
            if let value = Int64(cursor), value > 0 {
                query.before = value
            } else {
                errors.append(FieldError(field: "cursor", message: "is not a cursor this API returned"))
            }
        }
        query.actorID = parameters["actor_id"].map(String.init)
        query.action = parameters["action"].map(String.init)
        query.targetType = parameters["target_type"].map(String.init)
        query.targetID = parameters["target_id"].map(String.init)
        if let outcome = parameters["outcome"] {
            if let value = AuditEvent.Outcome(rawValue: String(outcome)) {
                query.outcome = value
            } else {
                errors.append(FieldError(field: "outcome", message: "must be success or failure"))
            }
        }
        for (name, assign) in [("from", { (date: Date) in query.from = date }), ("to", { query.to = $0 })] {
            guard let text = parameters[name[...]] else { continue }
            if let date = Timestamp.parse(String(text)) {
                assign(date)
            } else {
                errors.append(FieldError(field: name, message: "must be an RFC 3339 timestamp"))
            }
        }
        if let from = query.from, let to = query.to, from >= to {
            errors.append(FieldError(field: "to", message: "must be after from"))
        }
        if !errors.isEmpty { throw DomainError.validation(errors) }
        let page = try await store.auditEntries(matching: query)
        return try Response.json(
            AuditListResponse(data: page.entries.map(AuditEntryResponse.init), nextCursor: page.nextCursor.map(String.init))
        )
    }
}

struct AuditListResponse: Encodable {
    var data: [AuditEntryResponse]
    var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case data
        case nextCursor = "next_cursor"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(data, forKey: .data)
        try container.encode(nextCursor, forKey: .nextCursor)
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

    struct Actor: Encodable {
        var kind: String
        var id: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(kind, forKey: .kind)
            try container.encode(id, forKey: .id)
        }

        enum CodingKeys: String, CodingKey { case kind, id }
    }

    struct Target: Encodable {
        var type: String?
        var id: String?

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(type, forKey: .type)
            try container.encode(id, forKey: .id)
        }

        enum CodingKeys: String, CodingKey { case type, id }
    }

    func encode(to encoder: any Encoder) throws {
        let event = entry.event
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(event.id.lowercased, forKey: .id)
        try container.encode(entry.sequence, forKey: .sequence)
        try container.encode(Timestamp.format(event.time), forKey: .time)
        try container.encode(Actor(kind: event.actor.kind.rawValue, id: event.actor.id), forKey: .actor)
        try container.encode(event.action, forKey: .action)
        if event.targetType == nil && event.targetID == nil {
            try container.encodeNil(forKey: .target)
        } else {
            try container.encode(Target(type: event.targetType, id: event.targetID), forKey: .target)
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
