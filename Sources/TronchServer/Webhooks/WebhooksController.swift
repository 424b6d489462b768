import Foundation
import Hummingbird
import TronchCore
import TronchStorage

/// `/api/v1/webhooks`: endpoints, their delivery log, and redelivery. Administrators only.
struct WebhooksController {
    let webhooks: WebhookService
    let maxBodySize: Int
    let allowQueryParameterKeys: Bool

    func addRoutes(to group: RouterGroup<AppRequestContext>) {
        group.post(use: create)
        group.get(use: list)
        group.get("{id}", use: show)
        group.patch("{id}", use: update)
        group.delete("{id}", use: delete)
        group.get("{id}/deliveries", use: deliveries)
        group.post("{id}/deliveries/{delivery_id}/redeliver", use: redeliver)
    }

    static let fields: Set<String> = ["url", "events", "description", "enabled"]

    func changes(_ body: inout JSONObjectReader) -> WebhookService.Changes {
        var changes = WebhookService.Changes()
        switch body.string("url") {
        case .set(let url): changes.url = url
        case .clear: body.fail("url", "must not be null")
        case .unchanged: break
        }
        switch body.stringArray("events") {
        case .set(let events): changes.events = events
        case .clear: body.fail("events", "must not be null")
        case .unchanged: break
        }
        changes.description = body.string("description")
        switch body.bool("enabled") {
        case .set(let enabled): changes.enabled = enabled
        case .clear: body.fail("enabled", "must not be null")
        case .unchanged: break
        }
        return changes
    }

    @Sendable func create(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        var body = JSONObjectReader(try await request.jsonBody(maxSize: maxBodySize), allowed: Self.fields)
        let changes = changes(&body)
        try body.finish()
        let (record, secret) = try await webhooks.create(changes, by: principal, origin: context.origin(request))
        return try Response.json(WebhookResponse(record: record, secret: secret), status: .created)
    }

    @Sendable func list(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requirePrincipal()
        var parameters = ListParameters(request, known: ["limit", "cursor"], allowQueryParameterKeys: allowQueryParameterKeys)
        let limit = parameters.limit() ?? 50
        var after: UUID?
        if let cursor = parameters.text("cursor") {
            if let id = Cursor.decode(cursor, kind: "w") { after = id } else { parameters.fail("cursor", "is not a cursor this API returned") }
        }
        try parameters.finish()
        let records = try await webhooks.store.webhooks(after: after, limit: limit)
        return try Response.json(
            ListResponse(fetched: records, size: limit, item: { WebhookResponse(record: $0) }) { Cursor.encode($0.id, kind: "w") }
        )
    }

    @Sendable func show(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requirePrincipal()
        return try Response.json(WebhookResponse(record: try await webhooks.webhook(id: try Self.id(context, "id"))))
    }

    @Sendable func update(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try Self.id(context, "id")
        var body = JSONObjectReader(try await request.jsonBody(maxSize: maxBodySize), allowed: Self.fields)
        let changes = changes(&body)
        try body.finish()
        return try Response.json(WebhookResponse(record: try await webhooks.update(id: id, changes, by: principal, origin: context.origin(request))))
    }

    @Sendable func delete(_ request: Request, context: AppRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        try await webhooks.delete(id: try Self.id(context, "id"), by: principal, origin: context.origin(request))
        return Response(status: .noContent)
    }

    @Sendable func deliveries(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requirePrincipal()
        let id = try Self.id(context, "id")
        var parameters = ListParameters(request, known: ["limit", "cursor", "status"], allowQueryParameterKeys: allowQueryParameterKeys)
        let limit = parameters.limit() ?? 50
        var before: UUID?
        if let cursor = parameters.text("cursor") {
            if let delivery = Cursor.decode(cursor, kind: "d") {
                before = delivery
            } else {
                parameters.fail("cursor", "is not a cursor this API returned")
            }
        }
        var status: WebhookDeliveryRecord.Status?
        if let text = parameters["status"] {
            status = WebhookDeliveryRecord.Status(rawValue: text)
            if status == nil { parameters.fail("status", "must be pending, delivered or failed") }
        }
        try parameters.finish()
        _ = try await webhooks.webhook(id: id)
        let records = try await webhooks.store.webhookDeliveries(endpointID: id, status: status, before: before, limit: limit)
        return try Response.json(ListResponse(fetched: records, size: limit, item: DeliveryResponse.init) { Cursor.encode($0.id, kind: "d") })
    }

    @Sendable func redeliver(_ request: Request, context: AppRequestContext) async throws -> Response {
        try context.requirePrincipal()
        let delivery = try await webhooks.redeliver(endpointID: try Self.id(context, "id"), deliveryID: try Self.id(context, "delivery_id"))
        return try Response.json(DeliveryResponse(delivery), status: .accepted)
    }

    static func id(_ context: AppRequestContext, _ name: String) throws(DomainError) -> UUID {
        let text = context.parameters.get(name) ?? ""
        guard let id = UUID(strict: text) else {
            throw DomainError.invalid(name, "'\(text)' is not a \(name == "id" ? "webhook" : "delivery") id (a UUID)")
        }
        return id
    }
}

/// An endpoint as the API returns it; `secret` only in the answer to create.
struct WebhookResponse: Encodable {
    var record: WebhookEndpointRecord
    var secret: String?

    enum CodingKeys: String, CodingKey {
        case id, url, events, description, enabled, secret
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(record.id.lowercased, forKey: .id)
        try container.encode(record.url, forKey: .url)
        try container.encode(record.events, forKey: .events)
        try container.encode(record.description, forKey: .description)
        try container.encode(record.enabled, forKey: .enabled)
        try container.encode(Timestamp.format(record.createdAt), forKey: .createdAt)
        try container.encode(Timestamp.format(record.updatedAt), forKey: .updatedAt)
        if let secret { try container.encode(secret, forKey: .secret) }
    }
}

struct DeliveryResponse: Encodable {
    var record: WebhookDeliveryRecord

    init(_ record: WebhookDeliveryRecord) { self.record = record }

    enum CodingKeys: String, CodingKey {
        case id, status, attempts, error
        case endpointID = "endpoint_id"
        case eventID = "event_id"
        case eventType = "event_type"
        case nextAttemptAt = "next_attempt_at"
        case lastAttemptAt = "last_attempt_at"
        case responseStatus = "response_status"
        case createdAt = "created_at"
        case deliveredAt = "delivered_at"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(record.id.lowercased, forKey: .id)
        try container.encode(record.endpointID.lowercased, forKey: .endpointID)
        try container.encode(record.eventID.lowercased, forKey: .eventID)
        try container.encode(record.eventType, forKey: .eventType)
        try container.encode(record.status.rawValue, forKey: .status)
        try container.encode(record.attempts, forKey: .attempts)
        try container.encode(record.status == .pending ? record.nextAttemptAt.map(Timestamp.format) : nil, forKey: .nextAttemptAt)
        try container.encode(record.lastAttemptAt.map(Timestamp.format), forKey: .lastAttemptAt)
        try container.encode(record.responseStatus, forKey: .responseStatus)
        try container.encode(record.error, forKey: .error)
        try container.encode(Timestamp.format(record.createdAt), forKey: .createdAt)
        try container.encode(record.deliveredAt.map(Timestamp.format), forKey: .deliveredAt)
    }
}
