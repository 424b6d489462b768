import Foundation
import HTTPTypes
import Logging
import Testing
import TronchCore
import TronchStorage

@testable import TronchServer

/// Usage analytics: counted off the request path, rolled up per minute, read back per key.
@Suite struct UsageAnalyticsTests {
    @Test(arguments: ServerBackend.all) func verificationsAndRequestsAreCountedPerKey(backend: ServerBackend) async throws {
        let server = try await TestServer.on(backend)
        try await server.run { api async throws in
            let customer = try await api.createKey(["scopes": ["a"], "ratelimits": [["name": "m", "limit": 2, "period_seconds": 60]]])
            let customerKey = try #require(customer["key"]?.string)
            let id = try #require(customer["id"]?.string)
            for _ in 0..<3 { _ = try await api.verify(customerKey) }
            _ = try await api.verify(customerKey, scopes: ["b"])
            // The customer's key used on Tronch's own API: a denial and an unknown route.
            _ = try await api.request(.get, "/api/v1/keys", key: customerKey)
            try await Task.sleep(for: .milliseconds(400))

            let report = try await api.request(.get, "/api/v1/keys/\(id)/usage?granularity=minute")
            #expect(report.status == .ok)
            #expect(report["key_id"]?.string == id)
            #expect(report["granularity"] == "minute")
            #expect(report["totals"]?["verifications"] == ["VALID": 2, "RATE_LIMITED": 1, "INSUFFICIENT_SCOPES": 1])
            #expect(report["totals"]?["requests"] == ["4xx": 1])
            #expect(report["totals"]?["endpoints"] == ["GET /api/v1/keys": 1])
            #expect(report["series"]?.array?.count == 1)
            #expect(report["latency_ms"]?["p50"]?.int != nil)

            // The root key made the verify calls: its own requests are counted too.
            let rootID = try #require(try await api.request(.get, "/api/v1/keys?name_prefix=root")["data"]?.array?.first?["id"]?.string)
            try await Task.sleep(for: .milliseconds(300))
            let rootReport = try await api.request(.get, "/api/v1/keys/\(rootID)/usage")
            #expect((rootReport["totals"]?["endpoints"]?["POST /api/v1/keys/verify"]?.int ?? 0) >= 4)

            let backwards = try await api.request(.get, "/api/v1/keys/\(id)/usage?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z")
            #expect(backwards.status == .ok)
            #expect(backwards["series"] == [])
            for bad in ["granularity=week", "from=2000-01-01T00:00:00Z&granularity=minute", "x=1"] {
                #expect(try await api.request(.get, "/api/v1/keys/\(id)/usage?\(bad)").status == .badRequest, "\(bad)")
            }
            #expect(try await api.request(.get, "/api/v1/keys/\(UUID().uuidString)/usage").status == .notFound)
        }
    }

    /// A store that never answers in time: recording must neither block nor grow without bound.
    struct FailingStore: UsageStore {
        func addUsage(_ counts: [UsageCount]) async throws { throw StorageError.unavailable("down") }
        func usage(keyID: UUID, from: Int64, to: Int64, bucket: Int64) async throws -> [UsageCount] { [] }
        func pruneUsage(before minute: Int64) async throws -> Int { 0 }
    }

    @Test func aFullQueueDropsAndCountsInsteadOfBlocking() async {
        let recorder = UsageRecorder(
            store: FailingStore(),
            interval: .seconds(3600),
            capacity: 100,
            retention: nil,
            clock: .system,
            logger: Logger(label: "t")
        )
        for _ in 0..<150 { recorder.recordVerification(of: UUID(), code: .valid, at: Date()) }
        #expect(recorder.pendingCount == 100)
        #expect(recorder.drops == 50)
        await recorder.flush()
        #expect(recorder.pendingCount == 100, "a failed flush keeps what it can for the next attempt")
        let key = UUID()
        recorder.recordVerification(of: key, code: .valid, at: Date())
        #expect(recorder.drops == 51)
    }

    @Test func aGracefulStopFlushesWhatWasCounted() async throws {
        let directory = try Tronch.temporaryDirectory()
        let server = TestServer(config: ["database.url": "sqlite://\(directory)/usage.sqlite", "usage.flushInterval": "3600"])
        let id = try await server.run { api async throws -> String in
            let created = try await api.createKey()
            _ = try await api.verify(created["key"]!.string!)
            return created["id"]!.string!
        }
        let store = try SQLiteStore.open(path: "\(directory)/usage.sqlite")
        let counts = try await store.usage(keyID: UUID(uuidString: id)!, from: 0, to: Int64.max / 2, bucket: 60_000)
        #expect(counts.map(\.count) == [1])
    }
}
