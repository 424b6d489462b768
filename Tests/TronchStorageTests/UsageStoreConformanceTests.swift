import Foundation
import Testing
import TronchCore
import TronchStorage

@Suite struct UsageStoreConformanceTests {
    @Test(arguments: StoreBackend.allCases)
    func countersAddUpAndBucket(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let key = UUID()
            let other = UUID()
            let hour: Int64 = 1_800_000_000_000 - 1_800_000_000_000 % 3_600_000
            func count(_ id: UUID, _ minute: Int64, _ metric: String, _ value: Int64, route: String = "") -> UsageCount {
                UsageCount(UsageCounter(keyID: id, minute: minute, route: route, metric: metric), value)
            }
            try await store.addUsage([
                count(key, hour, "verify:VALID", 2), count(key, hour + 60_000, "verify:VALID", 3),
                count(key, hour + 3_600_000, "verify:RATE_LIMITED", 1), count(other, hour, "verify:VALID", 7),
                // The same counter twice in one batch adds up too.
                count(key, hour, "status:2xx", 1, route: "GET /api/v1/keys"), count(key, hour, "status:2xx", 1, route: "GET /api/v1/keys"),
            ])
            try await store.addUsage([count(key, hour, "verify:VALID", 10)])

            let minutes = try await store.usage(keyID: key, from: hour, to: hour + 7_200_000, bucket: 60_000)
            #expect(minutes.count == 4)
            #expect(minutes.first == count(key, hour, "verify:VALID", 12))
            let hours = try await store.usage(keyID: key, from: hour, to: hour + 7_200_000, bucket: 3_600_000)
            #expect(
                Set(hours) == [
                    count(key, hour, "status:2xx", 2, route: "GET /api/v1/keys"), count(key, hour, "verify:VALID", 15),
                    count(key, hour + 3_600_000, "verify:RATE_LIMITED", 1),
                ]
            )
            #expect(try await store.usage(keyID: key, from: hour + 3_600_000, to: hour + 7_200_000, bucket: 3_600_000).count == 1)

            #expect(try await store.pruneUsage(before: hour + 60_000) == 3)
            #expect(try await store.usage(keyID: other, from: 0, to: Int64.max / 2, bucket: 60_000).isEmpty)
        }
    }
}
