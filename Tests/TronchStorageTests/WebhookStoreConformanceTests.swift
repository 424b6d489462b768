import Foundation
import Testing
import TronchCore
import TronchStorage

/// Webhook endpoints, the outbox cursor and the delivery leases, on every backend.
@Suite struct WebhookStoreConformanceTests {
    static func endpoint(_ url: String = "https://hooks.example.com/a", start: Int64 = 0, at offset: Double = 0) -> WebhookEndpointRecord {
        WebhookEndpointRecord(
            id: UUIDv7.make(at: Fixtures.base.addingTimeInterval(offset)),
            url: url,
            events: ["key.*", "user.created"],
            description: "ünïcode",
            enabled: true,
            sealedSecret: "v1.k.sealed",
            startSequence: start,
            createdAt: Fixtures.base,
            updatedAt: Fixtures.base
        )
    }

    static func audit(_ action: String) -> AuditEvent { AuditEvent(time: Fixtures.base, actor: .system, action: action) }

    static func delivery(_ endpoint: WebhookEndpointRecord, sequence: Int64, due: Date = Fixtures.base) -> WebhookDeliveryRecord {
        WebhookDeliveryRecord(
            id: UUIDv7.make(at: Fixtures.base.addingTimeInterval(Double(sequence))),
            endpointID: endpoint.id,
            eventID: UUID(),
            eventType: "key.created",
            sequence: sequence,
            payload: #"{"type":"key.created"}"#,
            nextAttemptAt: due,
            createdAt: Fixtures.base
        )
    }

    @Test(arguments: StoreBackend.allCases)
    func endpointsRoundTripChangeAndGoWithTheirDeliveries(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let endpoint = Self.endpoint()
            try await store.insertWebhook(endpoint, audit: Self.audit(AuditAction.webhookCreated))
            #expect(try await store.webhook(id: endpoint.id) == endpoint)
            let other = Self.endpoint("https://hooks.example.com/b", at: 1)
            try await store.insertWebhook(other, audit: Self.audit(AuditAction.webhookCreated))
            #expect(try await store.webhooks(after: nil, limit: 1).map(\.id) == [endpoint.id, other.id], "one more than the page")
            #expect(try await store.webhooks(after: endpoint.id, limit: 10).map(\.id) == [other.id])
            let changed = try await store.updateWebhook(id: endpoint.id, audit: Self.audit(AuditAction.webhookUpdated)) {
                $0.enabled = false
                $0.events = ["*"]
                $0.description = nil
            }
            #expect(changed?.enabled == false && changed?.events == ["*"] && changed?.description == nil)
            #expect(try await store.webhook(id: endpoint.id) == changed)
            #expect(try await store.updateWebhook(id: UUID(), audit: Self.audit("x")) { _ in } == nil)
            #expect(try await store.advanceWebhookCursor(from: nil, to: 0, deliveries: [Self.delivery(endpoint, sequence: 1)]))
            #expect(try await store.deleteWebhook(id: endpoint.id, audit: Self.audit(AuditAction.webhookDeleted)))
            #expect(try await store.webhook(id: endpoint.id) == nil)
            #expect(try await store.webhookDeliveries(endpointID: endpoint.id, status: nil, before: nil, limit: 10).isEmpty)
            #expect(try await store.deleteWebhook(id: endpoint.id, audit: Self.audit(AuditAction.webhookDeleted)) == false)
            let actions = try await store.auditEntries(matching: AuditQuery()).entries.map(\.event.action)
            #expect(actions == ["webhook.deleted", "webhook.updated", "webhook.created", "webhook.created"], "each change with its entry")
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func theCursorMovesOnceAndItsDeliveriesWithIt(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let endpoint = Self.endpoint()
            try await store.insertWebhook(endpoint, audit: Self.audit(AuditAction.webhookCreated))
            #expect(try await store.webhookCursor() == nil)
            #expect(try await store.advanceWebhookCursor(from: nil, to: 5, deliveries: []))
            // Two nodes read the same stretch of the log: only one turns it into deliveries.
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await store.advanceWebhookCursor(from: 5, to: 7, deliveries: [Self.delivery(endpoint, sequence: 6)]) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            #expect(try await store.webhookCursor() == 7)
            #expect(try await store.advanceWebhookCursor(from: 5, to: 9, deliveries: []) == false, "a stale cursor moves nothing")
            #expect(try await store.webhookDeliveries(endpointID: endpoint.id, status: nil, before: nil, limit: 10).count == 1)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func deliveriesAreLeasedAttemptedAndRedelivered(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let endpoint = Self.endpoint()
            try await store.insertWebhook(endpoint, audit: Self.audit(AuditAction.webhookCreated))
            let now = Fixtures.base
            let first = Self.delivery(endpoint, sequence: 1)
            let later = Self.delivery(endpoint, sequence: 2, due: now.addingTimeInterval(60))
            #expect(try await store.advanceWebhookCursor(from: nil, to: 2, deliveries: [first, later]))
            // Leased to one claimer at a time; not due yet is not claimed.
            let claims = try await withThrowingTaskGroup(of: [WebhookDeliveryRecord].self) { group in
                for _ in 0..<3 {
                    group.addTask { try await store.claimWebhookDeliveries(now: now, leaseUntil: now.addingTimeInterval(30), limit: 10) }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            #expect(claims.map(\.id) == [first.id])
            #expect(claims.first?.payload == first.payload && claims.first?.eventID == first.eventID)
            #expect(
                try await store.claimWebhookDeliveries(now: now.addingTimeInterval(31), leaseUntil: now.addingTimeInterval(90), limit: 10).map(\.id)
                    == [first.id],
                "an expired lease is claimed again"
            )
            try await store.recordWebhookAttempt(
                id: first.id,
                at: now,
                outcome: .retry(at: now.addingTimeInterval(5), status: 500, error: "answered 500")
            )
            var read = try await store.webhookDeliveries(endpointID: endpoint.id, status: .pending, before: nil, limit: 10)
            #expect(read.map(\.id) == [later.id, first.id], "newest first")
            #expect(read[1].attempts == 1 && read[1].responseStatus == 500 && read[1].error == "answered 500")
            #expect(read[1].nextAttemptAt == now.addingTimeInterval(5) && read[1].lastAttemptAt == now)
            try await store.recordWebhookAttempt(id: first.id, at: now.addingTimeInterval(5), outcome: .delivered(status: 204))
            read = try await store.webhookDeliveries(endpointID: endpoint.id, status: .delivered, before: nil, limit: 10)
            #expect(read.map(\.id) == [first.id] && read[0].attempts == 2 && read[0].deliveredAt == now.addingTimeInterval(5))
            try await store.recordWebhookAttempt(id: later.id, at: now, outcome: .failed(status: nil, error: "refused"))
            #expect(try await store.webhookDeliveries(endpointID: endpoint.id, status: .failed, before: nil, limit: 10).map(\.id) == [later.id])
            let again = try await store.redeliverWebhook(endpointID: endpoint.id, deliveryID: later.id, now: now.addingTimeInterval(100))
            #expect(again?.status == .pending && again?.nextAttemptAt == now.addingTimeInterval(100) && again?.attempts == 1)
            #expect(try await store.redeliverWebhook(endpointID: UUID(), deliveryID: later.id, now: now) == nil, "another endpoint's")
            #expect(try await store.webhookDeliveries(endpointID: endpoint.id, status: nil, before: later.id, limit: 10).map(\.id) == [first.id])
        }
    }
}
