import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Prometheus
import Testing
import TronchCore
import TronchStorage

@testable import TronchServer

@Suite struct MetricsTests {
    func text(_ client: APIClient, key: String? = TestServer.rootKey) async throws -> (HTTPResponse.Status, String) {
        var headers = HTTPFields()
        if let key { headers[.authorization] = "Bearer \(key)" }
        let response = try await client.client.executeRequest(uri: "/api/v1/metrics", method: .get, headers: headers, body: nil)
        return (response.status, String(buffer: response.body))
    }

    @Test func prometheusTextWithTronchsCounters() async throws {
        try await TestServer().run { api async throws in
            let key = try await api.createKey()["key"]!.string!
            _ = try await api.verify(key)
            _ = try await api.verify("tronch_sk_live_nonsense")
            let (status, body) = try await text(api)
            #expect(status == .ok)
            #expect(body.contains(#"tronch_verifications_total{code="VALID"}"#))
            #expect(body.contains(#"tronch_verifications_total{code="NOT_FOUND"}"#))
            #expect(body.contains("tronch_cache_misses_total"))
            #expect(body.contains(#"tronch_ratelimit_decisions_total{decision="allowed"}"#))
            #expect(body.contains(#"tronch_build_info{version=""#))
            #expect(body.contains("/api/v1/keys/verify"), "HTTP metrics by route pattern")
            #expect(!body.contains(key), "no secret in metrics")
        }
    }

    @Test func accessIsConfigurable() async throws {
        try await TestServer().run { api async throws in
            #expect(try await text(api, key: nil).0 == .unauthorized)
            let reader = try await api.createKey(["scopes": ["keys:read"]])["key"]!.string!
            #expect(try await text(api, key: reader).0 == .forbidden)
            let scraper = try await api.createKey(["scopes": ["metrics:read"]])["key"]!.string!
            #expect(try await text(api, key: scraper).0 == .ok)
        }
        try await TestServer(config: ["metrics.access": "open"]).run { api async throws in
            #expect(try await text(api, key: nil).0 == .ok)
        }
        try await TestServer(config: ["metrics.access": "off"]).run { api async throws in
            #expect(try await text(api).0 == .notFound)
        }
    }
}

@Suite struct ExpiringKeysTests {
    @Test(arguments: ServerBackend.all) func keysExpiringSoonAreListedAndGauged(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend, config: ["metrics.access": "open"])
        try await server.run { api async throws in
            let soon = try await api.createKey(["name": "soon", "expires_at": "2027-01-20T00:00:00Z"])
            _ = try await api.createKey(["name": "later", "expires_at": "2027-03-01T00:00:00Z"])
            let listed = try await api.request(.get, "/api/v1/keys?expiring_within=7d")
            #expect(listed["data"]?.array?.map { $0["id"] } == [soon["id"]])
            #expect(try await api.request(.get, "/api/v1/keys?expiring_within=5w").status == .badRequest)
            #expect(try await api.request(.get, "/api/v1/keys?expiring_within=0").status == .badRequest)
        }
    }

    @Test func theStatisticsServiceFillsTheGauges() async throws {
        let store = try TronchStorage.SQLiteStore.inMemory()
        try await store.migrateUp(to: nil)
        let clock = TestClock()
        MetricsExport.bootstrap()
        try await KeyStatistics(store: store, clock: clock.wallClock, logger: .init(label: "t")).update()
        let text = MetricsExport.registry.emitToString()
        #expect(text.contains(#"tronch_keys{status="active"}"#))
        #expect(text.contains("tronch_keys_expiring_soon"))
    }
}
