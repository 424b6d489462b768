package import AsyncHTTPClient
import Foundation
package import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
package import TronchCore
package import TronchStorage

/// Turns audit entries into webhook deliveries and delivers them, on every node.
///
/// The audit log is the outbox: each change writes its entry in its own transaction, and a cursor (moved
/// with the deliveries it yields, in one transaction that only one node can win) records how far the log
/// has been read. Deliveries are leased to one node at a time, signed (Standard Webhooks), sent only to
/// addresses that pass the SSRF check at that moment, and retried on a schedule until they succeed or
/// run out of attempts.
package struct WebhookDispatcher: Service {
    let store: any WebhookStore & AuditStore
    let webhooks: WebhookService
    let settings: WebhookSettings
    let clock: WallClock
    let logger: Logger
    private let delivered = Counter(label: "tronch_webhook_deliveries_total", dimensions: [("outcome", "delivered")])
    private let retried = Counter(label: "tronch_webhook_deliveries_total", dimensions: [("outcome", "retry")])
    private let failed = Counter(label: "tronch_webhook_deliveries_total", dimensions: [("outcome", "failed")])

    package init(store: any WebhookStore & AuditStore, webhooks: WebhookService, settings: WebhookSettings, clock: WallClock, logger: Logger) {
        self.store = store
        self.webhooks = webhooks
        self.settings = settings
        self.clock = clock
        self.logger = logger
    }

    package func run() async throws {
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout = .init(connect: .seconds(5), read: .seconds(Int64(settings.timeout.components.seconds)))
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        await Periodic.run(every: settings.pollInterval, logger: logger, failure: "webhook dispatch failed; retrying") {
            try await enqueueOnce()
            try await deliverOnce(client: client)
        }
        try? await client.shutdown()
    }

    /// Reads the audit log past the cursor into deliveries; returns how many were made.
    @discardableResult
    package func enqueueOnce() async throws -> Int {
        let head = try await store.auditBounds().head.sequence
        guard let cursor = try await store.webhookCursor() else {
            // The first run starts from now, or from the oldest endpoint's creation if one was made before it:
            // the past is not replayed to anyone, and an endpoint's first events are not skipped.
            let start = try await store.webhooks(after: nil, limit: 100).map(\.startSequence).min().map { min($0, head) } ?? head
            _ = try await store.advanceWebhookCursor(from: nil, to: start, deliveries: [])
            return 0
        }
        guard head > cursor else { return 0 }
        var endpoints = [WebhookEndpointRecord]()
        var after: UUID?
        repeat {
            let page = try await store.webhooks(after: after, limit: 100)
            endpoints += page.prefix(100)
            after = page.count > 100 ? page[99].id : nil
        } while after != nil
        endpoints = endpoints.filter(\.enabled)
        let entries = endpoints.isEmpty ? [] : try await store.auditChain(after: cursor, limit: 500)
        let now = clock.now
        var deliveries = [WebhookDeliveryRecord]()
        for entry in entries where WebhookEvent.isType(entry.event.action) {
            let payload = try Self.payload(entry)
            for endpoint in endpoints where entry.sequence > endpoint.startSequence && WebhookEvent.matches(endpoint.events, entry.event.action) {
                deliveries.append(
                    WebhookDeliveryRecord(
                        id: UUIDv7.make(at: now),
                        endpointID: endpoint.id,
                        eventID: entry.event.id,
                        eventType: entry.event.action,
                        sequence: entry.sequence,
                        payload: payload,
                        nextAttemptAt: now,
                        createdAt: now
                    )
                )
            }
        }
        // With no endpoint (or entries cut by retention), the cursor jumps to the head.
        let to = entries.last?.sequence ?? head
        return try await store.advanceWebhookCursor(from: cursor, to: to, deliveries: deliveries) ? deliveries.count : 0
    }

    /// Attempts the deliveries due now; returns how many were attempted.
    @discardableResult
    package func deliverOnce(client: HTTPClient) async throws -> Int {
        guard settings.enabled else { return 0 }
        let now = clock.now
        let lease = now.addingTimeInterval(Double(settings.timeout.components.seconds) * 2 + 30)
        let due = try await store.claimWebhookDeliveries(now: now, leaseUntil: lease, limit: 20)
        await withTaskGroup(of: Void.self) { group in
            for delivery in due { group.addTask { await attempt(delivery, client: client) } }
        }
        return due.count
    }

    func attempt(_ delivery: WebhookDeliveryRecord, client: HTTPClient) async {
        let outcome: WebhookAttemptOutcome
        let started = clock.now
        do {
            guard let endpoint = try await store.webhook(id: delivery.endpointID) else { return }
            // A disabled endpoint gets nothing, retries included: they end here (a redelivery can send them later).
            let (status, error) = endpoint.enabled ? await post(delivery, to: endpoint, client: client) : (nil, "the endpoint is disabled")
            if let status, (200..<300).contains(status) {
                outcome = .delivered(status: status)
            } else if !endpoint.enabled {
                outcome = .failed(status: nil, error: error)
            } else if let delay = WebhookEvent.retryDelay(after: delivery.attempts + 1, maxAttempts: settings.maxAttempts) {
                outcome = .retry(at: started.addingTimeInterval(delay), status: status, error: error)
            } else {
                outcome = .failed(status: status, error: error)
            }
            try await store.recordWebhookAttempt(id: delivery.id, at: started, outcome: outcome)
        } catch {
            logger.warning("could not record a webhook attempt", metadata: ["delivery": "\(delivery.id)", "error": "\(error)"])
            return
        }
        switch outcome {
        case .delivered: delivered.increment()
        case .retry: retried.increment()
        case .failed:
            failed.increment()
            logger.warning("a webhook delivery failed for good", metadata: ["delivery": "\(delivery.id)", "endpoint": "\(delivery.endpointID)"])
        }
    }

    /// One POST: the answer's status, or why there was none.
    func post(_ delivery: WebhookDeliveryRecord, to endpoint: WebhookEndpointRecord, client: HTTPClient) async -> (Int?, String?) {
        let host: String
        switch WebhookTarget.check(endpoint.url, allowed: settings.allowedNetworks) {
        case .success(let checked): host = checked
        case .failure(let refusal): return (nil, "refused: the URL \(refusal.message)")
        }
        // The name is resolved again before every attempt: an address it now points to must pass too.
        if IPAddress(host) == nil {
            let addresses = await Self.resolve(host)
            guard !addresses.isEmpty else { return (nil, "\(host) does not resolve") }
            if let bad = addresses.first(where: { WebhookTarget.refusal($0, allowed: settings.allowedNetworks) != nil }) {
                return (
                    nil, "refused: \(host) resolves to \(bad.description), \(WebhookTarget.refusal(bad, allowed: settings.allowedNetworks)!) address"
                )
            }
        }
        do {
            let key = try webhooks.secret(of: endpoint)
            let body = Array(delivery.payload.utf8)
            let timestamp = Int64(clock.now.timeIntervalSince1970)
            var request = HTTPClientRequest(url: endpoint.url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "Tronch-Webhooks/1")
            request.headers.add(name: "webhook-id", value: delivery.eventID.lowercased)
            request.headers.add(name: "webhook-timestamp", value: String(timestamp))
            request.headers.add(
                name: "webhook-signature",
                value: WebhookSignature.sign(id: delivery.eventID.lowercased, timestamp: timestamp, body: body, key: key)
            )
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await client.execute(request, timeout: .seconds(Int64(settings.timeout.components.seconds)))
            _ = try? await response.body.collect(upTo: 64 * 1024)
            return (Int(response.status.code), (200..<300).contains(response.status.code) ? nil : "answered \(response.status.code)")
        } catch {
            return (nil, String(describing: error).prefix(500).description)
        }
    }

    /// Every address `host` resolves to (A and AAAA), off the event loops.
    static func resolve(_ host: String) async -> [IPAddress] {
        (try? await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var result: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [IPAddress]() }
            defer { freeaddrinfo(first) }
            var addresses = [IPAddress]()
            var cursor: UnsafeMutablePointer<addrinfo>? = first
            while let info = cursor {
                if let address = info.pointee.ai_addr {
                    var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
                    if getnameinfo(address, info.pointee.ai_addrlen, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0,
                        let parsed = IPAddress(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
                    {
                        addresses.append(parsed)
                    }
                }
                cursor = info.pointee.ai_next
            }
            return addresses
        }) ?? []
    }

    /// The body sent: the event's type and time, and the audit entry as the audit API shows it.
    static func payload(_ entry: AuditEntry) throws -> String {
        let event = entry.event
        let details = (try? JSONParser.parse(Array(event.details.utf8))) ?? .object([:])
        let target: JSONValue =
            if let type = event.targetType { .object(["type": .string(type), "id": event.targetID.map(JSONValue.string) ?? .null]) } else { .null }
        let data: JSONValue = .object([
            "id": .string(event.id.lowercased), "sequence": .int(entry.sequence),
            "actor": .object(["kind": .string(event.actor.kind.rawValue), "id": event.actor.id.map(JSONValue.string) ?? .null]),
            "target": target, "outcome": .string(event.outcome.rawValue), "details": details,
            "request_id": event.origin.requestID.map(JSONValue.string) ?? .null,
        ])
        return try JSONValue.encodeCanonical(
            JSONValue.object(["type": .string(event.action), "timestamp": .string(Timestamp.format(event.time)), "data": data])
        )
    }
}
