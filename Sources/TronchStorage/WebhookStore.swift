package import Foundation
package import TronchCore

/// A registered webhook endpoint. Its secret is kept sealed with the secrets key.
package struct WebhookEndpointRecord: Sendable, Hashable {
    package var id: UUID
    package var url: String
    package var events: [String]
    package var description: String?
    package var enabled: Bool
    package var sealedSecret: String
    /// Events up to this audit sequence happened before the endpoint existed and are not sent to it.
    package var startSequence: Int64
    package var createdAt: Date
    package var updatedAt: Date

    package init(
        id: UUID,
        url: String,
        events: [String],
        description: String?,
        enabled: Bool,
        sealedSecret: String,
        startSequence: Int64,
        createdAt: Date,
        updatedAt: Date
    ) {
        self.id = id
        self.url = url
        self.events = events
        self.description = description
        self.enabled = enabled
        self.sealedSecret = sealedSecret
        self.startSequence = startSequence
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// One event for one endpoint, and what became of it.
package struct WebhookDeliveryRecord: Sendable, Hashable {
    package enum Status: String, Sendable, Hashable, CaseIterable {
        case pending, delivered, failed
    }

    package var id: UUID
    package var endpointID: UUID
    /// The audit entry's id: the `webhook-id` of every attempt.
    package var eventID: UUID
    package var eventType: String
    package var sequence: Int64
    /// The JSON body sent, fixed at enqueue time.
    package var payload: String
    package var status: Status
    package var attempts: Int
    package var nextAttemptAt: Date?
    package var lastAttemptAt: Date?
    package var responseStatus: Int?
    package var error: String?
    package var createdAt: Date
    package var deliveredAt: Date?

    package init(
        id: UUID,
        endpointID: UUID,
        eventID: UUID,
        eventType: String,
        sequence: Int64,
        payload: String,
        status: Status = .pending,
        attempts: Int = 0,
        nextAttemptAt: Date?,
        lastAttemptAt: Date? = nil,
        responseStatus: Int? = nil,
        error: String? = nil,
        createdAt: Date,
        deliveredAt: Date? = nil
    ) {
        self.id = id
        self.endpointID = endpointID
        self.eventID = eventID
        self.eventType = eventType
        self.sequence = sequence
        self.payload = payload
        self.status = status
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt
        self.lastAttemptAt = lastAttemptAt
        self.responseStatus = responseStatus
        self.error = error
        self.createdAt = createdAt
        self.deliveredAt = deliveredAt
    }
}

/// The outcome of one delivery attempt.
package enum WebhookAttemptOutcome: Sendable, Hashable {
    case delivered(status: Int)
    case retry(at: Date, status: Int?, error: String?)
    case failed(status: Int?, error: String?)

    /// What the attempt made at `at` writes: the new status, next attempt, answer status, error and, once
    /// delivered, when.
    package func columns(at: Date) -> (status: WebhookDeliveryRecord.Status, next: Date?, response: Int?, error: String?, delivered: Date?) {
        switch self {
        case .delivered(let code): (.delivered, nil, code, nil, at)
        case .retry(let due, let code, let error): (.pending, due, code, error, nil)
        case .failed(let code, let error): (.failed, nil, code, error, nil)
        }
    }
}

/// Webhook endpoints and their deliveries. Events come from the audit log (the transactional outbox): a
/// cursor records how far it has been turned into deliveries.
package protocol WebhookStore: Sendable {
    func insertWebhook(_ record: WebhookEndpointRecord, audit: AuditEvent) async throws
    func webhook(id: UUID) async throws -> WebhookEndpointRecord?
    /// Oldest first, after `after` (an id), at most `limit + 1` (one more tells that another page exists).
    func webhooks(after: UUID?, limit: Int) async throws -> [WebhookEndpointRecord]
    /// Changes an endpoint in one transaction with its audit entry; nil when it does not exist.
    func updateWebhook(
        id: UUID,
        audit: AuditEvent,
        _ change: @escaping @Sendable (inout WebhookEndpointRecord) throws -> Void
    )
        async throws -> WebhookEndpointRecord?
    /// Removes an endpoint and its deliveries; false when it did not exist.
    func deleteWebhook(id: UUID, audit: AuditEvent) async throws -> Bool

    /// How far the audit log has been turned into deliveries (nil: never).
    func webhookCursor() async throws -> Int64?
    /// Stores `deliveries` and moves the cursor from `from` to `to`, in one transaction, only when the cursor
    /// still is `from` (another node may have done it); returns whether it did.
    func advanceWebhookCursor(from: Int64?, to: Int64, deliveries: [WebhookDeliveryRecord]) async throws -> Bool

    /// Leases up to `limit` pending deliveries due at `now` to this node until `leaseUntil`, oldest first.
    func claimWebhookDeliveries(now: Date, leaseUntil: Date, limit: Int) async throws -> [WebhookDeliveryRecord]
    /// Records an attempt and releases the lease.
    func recordWebhookAttempt(id: UUID, at: Date, outcome: WebhookAttemptOutcome) async throws
    /// An endpoint's deliveries, newest first, before `before` (an id), at most `limit + 1`.
    func webhookDeliveries(
        endpointID: UUID,
        status: WebhookDeliveryRecord.Status?,
        before: UUID?,
        limit: Int
    ) async throws
        -> [WebhookDeliveryRecord]
    /// Schedules a delivery of `endpointID` again now (pending, due now); nil when there is no such delivery.
    func redeliverWebhook(endpointID: UUID, deliveryID: UUID, now: Date) async throws -> WebhookDeliveryRecord?
}
