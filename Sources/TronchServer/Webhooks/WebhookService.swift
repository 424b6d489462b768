package import Foundation
package import TronchCore
package import TronchStorage

/// Webhook endpoints: registering (the address checked, the secret drawn and sealed), changing, removing,
/// the delivery log and redelivery. Every change is audited in its transaction.
package struct WebhookService: Sendable {
    package let store: any WebhookStore & AuditStore
    let secrets: SecretBox
    let clock: WallClock
    let settings: WebhookSettings

    package init(store: any WebhookStore & AuditStore, secrets: SecretBox, clock: WallClock, settings: WebhookSettings) {
        self.store = store
        self.secrets = secrets
        self.clock = clock
        self.settings = settings
    }

    /// What a create or an update asks for.
    package struct Changes: Sendable {
        package var url: String?
        package var events: [String]?
        package var description: Patch<String> = .unchanged
        package var enabled: Bool?

        package init() {}
    }

    static func sealContext(_ id: UUID) -> String { "webhook_endpoints.secret:" + id.lowercased }

    /// The endpoint's secret, for signing.
    func secret(of record: WebhookEndpointRecord) throws -> [UInt8] {
        try secrets.open(record.sealedSecret, context: Self.sealContext(record.id))
    }

    /// Registers an endpoint; returns it with its `whsec_` secret, shown this once.
    package func create(
        _ changes: Changes,
        by principal: Principal,
        origin: RequestOrigin
    ) async throws
        -> (record: WebhookEndpointRecord, secret: String)
    {
        try validate(changes, creating: true)
        let now = clock.now
        let id = UUIDv7.make(at: now)
        let secret = WebhookSignature.newSecret()
        let record = WebhookEndpointRecord(
            id: id,
            url: changes.url ?? "",
            events: changes.events ?? [],
            description: changes.description.applied(to: nil),
            enabled: changes.enabled ?? true,
            sealedSecret: try secrets.seal(secret.bytes, context: Self.sealContext(id)),
            // Events from now on: those already in the log are not sent to a new endpoint.
            startSequence: try await store.auditBounds().head.sequence,
            createdAt: now,
            updatedAt: now
        )
        try await store.insertWebhook(
            record,
            audit: AuditEvent(
                time: now,
                actor: principal.auditActor,
                action: AuditAction.webhookCreated,
                targetType: "webhook",
                targetID: id.lowercased,
                origin: origin,
                details: Self.auditDetails(record)
            )
        )
        return (record, secret.text)
    }

    package func update(id: UUID, _ changes: Changes, by principal: Principal, origin: RequestOrigin) async throws -> WebhookEndpointRecord {
        try validate(changes, creating: false)
        let now = clock.now
        var fields = [String]()
        if changes.url != nil { fields.append("url") }
        if changes.events != nil { fields.append("events") }
        if !changes.description.isUnchanged { fields.append("description") }
        if changes.enabled != nil { fields.append("enabled") }
        let audit = AuditEvent(
            time: now,
            actor: principal.auditActor,
            action: AuditAction.webhookUpdated,
            targetType: "webhook",
            targetID: id.lowercased,
            origin: origin,
            details: ["fields": .array(fields.map(JSONValue.string))]
        )
        guard
            let record = try await store.updateWebhook(
                id: id,
                audit: audit,
                { record in
                    if let url = changes.url { record.url = url }
                    if let events = changes.events { record.events = events }
                    record.description = changes.description.applied(to: record.description)
                    if let enabled = changes.enabled { record.enabled = enabled }
                    record.updatedAt = now
                }
            )
        else { throw Self.notFound(id) }
        return record
    }

    package func delete(id: UUID, by principal: Principal, origin: RequestOrigin) async throws {
        let audit = AuditEvent(
            time: clock.now,
            actor: principal.auditActor,
            action: AuditAction.webhookDeleted,
            targetType: "webhook",
            targetID: id.lowercased,
            origin: origin
        )
        guard try await store.deleteWebhook(id: id, audit: audit) else { throw Self.notFound(id) }
    }

    package func webhook(id: UUID) async throws -> WebhookEndpointRecord {
        guard let record = try await store.webhook(id: id) else { throw Self.notFound(id) }
        return record
    }

    package func redeliver(endpointID: UUID, deliveryID: UUID) async throws -> WebhookDeliveryRecord {
        _ = try await webhook(id: endpointID)
        guard let delivery = try await store.redeliverWebhook(endpointID: endpointID, deliveryID: deliveryID, now: clock.now) else {
            throw DomainError(.notFound, "webhook \(endpointID.lowercased) has no delivery \(deliveryID.lowercased)")
        }
        return delivery
    }

    static func notFound(_ id: UUID) -> DomainError { DomainError(.notFound, "no webhook with id \(id.lowercased)") }

    func validate(_ changes: Changes, creating: Bool) throws(DomainError) {
        var errors = [FieldError]()
        if let url = changes.url {
            if case .failure(let refusal) = WebhookTarget.check(url, allowed: settings.allowedNetworks) {
                errors.append(FieldError(field: "url", message: refusal.message))
            }
        } else if creating {
            errors.append(FieldError(field: "url", message: "is required"))
        }
        if let events = changes.events {
            if events.isEmpty || events.count > 50 { errors.append(FieldError(field: "events", message: "must hold 1 to 50 event types")) }
            for (index, event) in events.enumerated() where !WebhookEvent.isPattern(event) {
                errors.append(
                    FieldError(field: "events[\(index)]", message: "'\(event)' is not an event type, '*' or a family such as 'key.*'")
                )
            }
            if Set(events).count != events.count { errors.append(FieldError(field: "events", message: "must not repeat an event")) }
        } else if creating {
            errors.append(FieldError(field: "events", message: "is required"))
        }
        if case .set(let text) = changes.description,
            text.isEmpty || text.unicodeScalars.count > 255
                || text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        {
            errors.append(FieldError(field: "description", message: "must be 1-255 characters without control characters"))
        }
        if !errors.isEmpty { throw .validation(errors) }
    }

    static func auditDetails(_ record: WebhookEndpointRecord) -> [String: JSONValue] {
        // The host only: a URL's path or query may hold the receiver's own token.
        let host = WebhookTarget.host(of: record.url) ?? ""
        return ["host": .string(host), "events": .array(record.events.map(JSONValue.string)), "enabled": .bool(record.enabled)]
    }
}
