import Foundation
import HTTPTypes
import HummingbirdTesting
import Logging
import Testing
import TronchCore
import TronchStorage
import TronchTestSupport

@testable import TronchServer

/// Webhooks end to end: registered by an administrator, a key change delivered to a real receiver on
/// loopback (allowed by configuration), signed, retried after a failure, listed and redelivered.
@Suite struct WebhookTests {
    /// A receiver that answers 500 to the first request and 200 to the others, and prints every request
    /// (headers and body) as JSON once it has `count` of them or `seconds` have passed.
    static let receiver = """
        import http.server, json, sys, time
        port, count, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
        seen = []
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                seen.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body, "path": self.path})
                self.send_response(500 if len(seen) == 1 else 200); self.send_header("Content-Length", "0"); self.end_headers()
            def log_message(self, *args): pass
        server = http.server.HTTPServer(("127.0.0.1", port), Handler)
        server.timeout = 0.2
        deadline = time.time() + seconds
        while len(seen) < count and time.time() < deadline: server.handle_request()
        print(json.dumps(seen))
        """

    struct Received: Decodable {
        var headers: [String: String]
        var body: String
        var path: String
    }

    @Test(arguments: ServerBackend.all) func aKeyChangeIsDeliveredSignedOnce(backend: ServerBackend) async throws {
        let port = try Tronch.freePort()
        let receiving = Task {
            try await ChildProcess.run("/usr/bin/env", ["python3", "-c", Self.receiver, String(port), "3", "70"], timeout: .seconds(90))
        }
        let server = try await TestServer.on(backend, config: ["webhooks.allowedNetworks": "127.0.0.0/8"])
        try await server.run(.live) { api async throws in
            let created = try await api.request(
                .post,
                "/api/v1/webhooks",
                json: ["url": .string("http://127.0.0.1:\(port)/hooks/tronch"), "events": ["key.created", "user.*"], "description": "billing"]
            )
            #expect(created.status == .created, "\(created.json)")
            let secret = try #require(created["secret"]?.string)
            let id = try #require(created["id"]?.string)
            #expect(try await api.request(.get, "/api/v1/webhooks/\(id)")["secret"] == nil, "the secret is shown once")
            let key = try await api.createKey(["name": "billing key"])
            _ = try await api.request(.delete, "/api/v1/keys/\(key["id"]!.string!)")  // key.revoked: not subscribed
            // The first attempt is answered 500; the retry is due 5 s later on the server's clock.
            var deliveries = APIResponse(status: .ok, headers: [:], json: .null)
            for _ in 0..<300 {
                deliveries = try await api.request(.get, "/api/v1/webhooks/\(id)/deliveries")
                if deliveries["data"]?.array?.first?["attempts"] == 1 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(deliveries["data"]?.array?.count == 1, "one subscribed event, one delivery: \(deliveries.json)")
            let first = try #require(deliveries["data"]?.array?.first)
            #expect(first["status"] == "pending" && first["response_status"] == 500 && first["event_type"] == "key.created")
            server.clock.advance(seconds: 6)
            var status: JSONValue?
            // Up to 30 s: a loaded machine (two test runs at once) has been seen to need more than 10.
            for _ in 0..<300 {
                status = try await api.request(.get, "/api/v1/webhooks/\(id)/deliveries")["data"]?.array?.first?["status"]
                if status == "delivered" { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(status == "delivered")
            let redelivered = try await api.request(.post, "/api/v1/webhooks/\(id)/deliveries/\(first["id"]!.string!)/redeliver")
            #expect(redelivered.status == .accepted && redelivered["status"] == "pending")
            // The receiver saw three requests: the refused one, the retry, the redelivery; all the same event.
            let output = try await receiving.value
            let seen = try JSONDecoder().decode([Received].self, from: Data(output.stdout.utf8))
            #expect(seen.count == 3, "\(output.stdout) \(output.stderr)")
            let key32 = try #require(WebhookSignature.key(of: secret))
            for request in seen {
                #expect(request.path == "/hooks/tronch")
                #expect(request.headers["webhook-id"] == first["event_id"]?.string)
                let timestamp = try #require(Int64(request.headers["webhook-timestamp"] ?? ""))
                let expected = WebhookSignature.sign(
                    id: request.headers["webhook-id"]!,
                    timestamp: timestamp,
                    body: Array(request.body.utf8),
                    key: key32
                )
                #expect(request.headers["webhook-signature"] == expected, "signed with the endpoint's secret")
                let body = try JSONDecoder().decode(JSONValue.self, from: Data(request.body.utf8))
                #expect(body["type"] == "key.created")
                #expect(body["data"]?["target"]?["id"] == key["id"])
                #expect(body["data"]?["details"]?["name"] == "billing key")
            }
        }
    }

    @Test func privateAddressesAreRefused() async throws {
        try await TestServer().run { api async throws in
            for url in ["http://127.0.0.1:9/", "http://169.254.169.254/latest/meta-data", "http://[::1]/", "http://10.1.2.3/", "http://localhost/"] {
                let refused = try await api.request(.post, "/api/v1/webhooks", json: ["url": .string(url), "events": ["*"]])
                #expect(refused.status == .badRequest, "\(url)")
                #expect(refused.json["errors"]?.array?.first?["field"] == "url", "\(url): \(refused.json)")
            }
            let bad = try await api.request(
                .post,
                "/api/v1/webhooks",
                json: ["url": "https://hooks.example.com/", "events": ["key.*", "nope", "key.*"]]
            )
            #expect(Set(bad.json["errors"]?.array?.compactMap { $0["field"]?.string } ?? []) == ["events[1]", "events"])
            let good = try await api.request(.post, "/api/v1/webhooks", json: ["url": "https://hooks.example.com/", "events": ["*"]])
            #expect(good.status == .created)
            let id = good["id"]!.string!
            let moved = try await api.request(.patch, "/api/v1/webhooks/\(id)", json: ["url": "http://192.168.0.10/"])
            #expect(moved.status == .badRequest, "a change is checked like a registration")
            let disabled = try await api.request(.patch, "/api/v1/webhooks/\(id)", json: ["enabled": false, "description": "paused"])
            #expect(disabled["enabled"] == false && disabled["description"] == "paused" && disabled["url"] == "https://hooks.example.com/")
            // Administrators only.
            let reader = try await api.createKey(["scopes": ["keys:read"]])["key"]!.string!
            #expect(try await api.request(.get, "/api/v1/webhooks", key: reader).status == .forbidden)
            #expect(try await api.request(.get, "/api/v1/webhooks")["data"]?.array?.count == 1)
            #expect(try await api.request(.delete, "/api/v1/webhooks/\(id)").status == .noContent)
            #expect(try await api.request(.get, "/api/v1/webhooks/\(id)").status == .notFound)
            #expect(try await api.request(.get, "/api/v1/webhooks/not-a-uuid").status == .badRequest)
        }
    }
}

/// The two events that no request writes: `key.expiring`, written by a service days before a key expires,
/// and `key.rate_limited`, sampled from refused verifications.
@Suite struct KeyEventTests {
    @Test(arguments: ServerBackend.all) func remindersAndRefusalsBecomeEvents(backend: ServerBackend) async throws {
        let server = try await TestServer.on(
            backend,
            config: ["webhooks.allowedNetworks": "127.0.0.0/8", "expiryReminder.interval": "0.2", "expiryReminder.days": "7"]
        )
        try await server.run(.live) { api async throws in
            let hook = try await api.request(
                .post,
                "/api/v1/webhooks",
                json: ["url": "http://127.0.0.1:9/", "events": ["key.expiring", "key.rate_limited"]]
            )
            #expect(hook.status == .created)
            let expires = Timestamp.format(server.clock.now.addingTimeInterval(3 * 86_400))
            let key = try await api.createKey([
                "name": "expiring", "expires_at": .string(expires), "ratelimits": [["name": "api", "limit": 1, "period_seconds": 3600]],
            ])
            let id = try #require(key["id"]?.string)
            _ = try await api.createKey(["name": "later", "expires_at": .string(Timestamp.format(server.clock.now.addingTimeInterval(30 * 86_400)))])
            for _ in 0..<4 { _ = try await api.verify(key["key"]!.string!) }
            #expect(try await api.verify(key["key"]!.string!)["code"] == "RATE_LIMITED")

            var events = [JSONValue]()
            for _ in 0..<100 {
                events = try await api.request(.get, "/api/v1/audit-logs?target_id=\(id)")["data"]?.array ?? []
                if events.contains(where: { $0["action"] == "key.expiring" }) && events.contains(where: { $0["action"] == "key.rate_limited" }) {
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            let expiring = events.filter { $0["action"] == "key.expiring" }
            #expect(expiring.count == 1, "\(events)")
            #expect(expiring.first?["details"]?["expires_at"] == .string(expires) && expiring.first?["details"]?["name"] == "expiring")
            #expect(expiring.first?["details"]?["expires_in_seconds"]?.int.map { (259_000...259_200).contains($0) } == true)
            let limited = events.filter { $0["action"] == "key.rate_limited" }
            #expect(limited.count == 1, "one entry per key and minute, however many refusals: \(events)")
            #expect(limited.first?["details"]?["refused"] == 1 && limited.first?["details"]?["policy"]?["name"] == "api")
            #expect(limited.first?["outcome"] == "failure")

            // Later passes write nothing more for that expiry; a refusal after the interval reports those in between.
            try await Task.sleep(for: .milliseconds(600))
            server.clock.advance(seconds: 61)
            _ = try await api.verify(key["key"]!.string!)
            var refused: JSONValue?
            for _ in 0..<100 {
                let page = try await api.request(.get, "/api/v1/audit-logs?target_id=\(id)&action=key.rate_limited")["data"]?.array ?? []
                if page.count == 2 {
                    refused = page.first?["details"]?["refused"]
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(refused == 4, "the 3 refusals in the first minute that wrote nothing, and this one")
            let all = try await api.request(.get, "/api/v1/audit-logs?action=key.expiring")["data"]?.array ?? []
            #expect(all.count == 1, "the key expiring in 30 days is not due; nor is the first again")

            var types = Set<String>()
            for _ in 0..<100 {
                let deliveries = try await api.request(.get, "/api/v1/webhooks/\(hook["id"]!.string!)/deliveries")["data"]?.array ?? []
                types = Set(deliveries.compactMap { $0["event_type"]?.string })
                if types.count == 2 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(types == ["key.expiring", "key.rate_limited"])
        }
    }

    @Test func refusalsAreSampledPerKey() throws {
        let events = RateLimitedEvents(store: try SQLiteStore.inMemory(), interval: .seconds(60), logger: Logger(label: "test"))
        let (a, b) = (UUID(), UUID())
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(events.due(a, at: start) == 0)
        #expect(events.due(a, at: start.addingTimeInterval(1)) == nil)
        #expect(events.due(b, at: start.addingTimeInterval(2)) == 0, "keys are sampled apart")
        #expect(events.due(a, at: start.addingTimeInterval(59)) == nil)
        #expect(events.due(a, at: start.addingTimeInterval(61)) == 2)
        #expect(events.due(a, at: start.addingTimeInterval(62)) == nil)
    }
}
