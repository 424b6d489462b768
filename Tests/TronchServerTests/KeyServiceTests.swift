import Foundation
import Logging
import Synchronization
import Testing
import TronchCore
import TronchRateLimit
import TronchStorage

@testable import TronchServer

/// Counts digest lookups so tests can prove which verifications reach the store.
final class CountingStore: KeyStore, AuditStore, UsageStore, Sendable {
    let base: SQLiteStore
    private let lookups = Atomic<Int>(0)

    init() async throws {
        base = try SQLiteStore.inMemory()
        try await base.migrateUp(to: nil)
    }

    var digestLookups: Int { lookups.load(ordering: .relaxed) }

    func insert(_ record: KeyRecord, audit: AuditEvent?) async throws { try await base.insert(record, audit: audit) }
    func insert(batch records: [KeyRecord], audit: [AuditEvent]) async throws {
        try await base.insert(batch: records, audit: audit)
    }
    func keyCountsByPepper() async throws -> [PepperCount] { try await base.keyCountsByPepper() }
    func recordPepperRotation(previousID: String, fingerprint: (name: String, value: String), audit: AuditEvent) async throws {
        try await base.recordPepperRotation(previousID: previousID, fingerprint: fingerprint, audit: audit)
    }
    func replaceDigest(id: UUID, old: KeyDigest, new: KeyDigest, hashVersion: Int, pepperID: String?) async throws -> Bool {
        try await base.replaceDigest(id: id, old: old, new: new, hashVersion: hashVersion, pepperID: pepperID)
    }
    func insertIfEmpty(_ record: KeyRecord, audit: AuditEvent?) async throws -> Bool {
        try await base.insertIfEmpty(record, audit: audit)
    }
    func key(id: UUID) async throws -> KeyRecord? { try await base.key(id: id) }
    func key(digest: KeyDigest) async throws -> KeyRecord? {
        lookups.add(1, ordering: .relaxed)
        return try await base.key(digest: digest)
    }
    func keys(matching query: KeyQuery) async throws -> KeyPage { try await base.keys(matching: query) }
    func countKeys(matching query: KeyQuery) async throws -> Int { try await base.countKeys(matching: query) }
    func update(
        id: UUID,
        audit: AuditEvent?,
        _ change: @escaping @Sendable (inout KeyRecord) throws -> Void
    ) async throws
        -> KeyRecord
    {
        try await base.update(id: id, audit: audit, change)
    }
    func rotate(
        id: UUID,
        audit: AuditEvent?,
        _ plan: @escaping @Sendable (KeyRecord) throws -> (old: KeyRecord, new: KeyRecord)
    ) async throws -> (old: KeyRecord, new: KeyRecord) {
        try await base.rotate(id: id, audit: audit, plan)
    }
    func recordUse(_ lastUsed: [UUID: Date]) async throws { try await base.recordUse(lastUsed) }
    func keysDueExpiryReminder(now: Date, horizon: Date, limit: Int) async throws -> [KeyRecord] {
        try await base.keysDueExpiryReminder(now: now, horizon: horizon, limit: limit)
    }
    func recordExpiryReminder(id: UUID, expiresAt: Date, audit: AuditEvent) async throws -> Bool {
        try await base.recordExpiryReminder(id: id, expiresAt: expiresAt, audit: audit)
    }
    func spendCredits(id: UUID, cost: Int64, now: Date) async throws -> Credits.Spend? {
        try await base.spendCredits(id: id, cost: cost, now: now)
    }
    func appendAudit(_ events: [AuditEvent]) async throws -> [AuditEntry] { try await base.appendAudit(events) }
    func auditEntries(matching query: AuditQuery) async throws -> AuditPage { try await base.auditEntries(matching: query) }
    func auditChain(after sequence: Int64, limit: Int) async throws -> [AuditEntry] {
        try await base.auditChain(after: sequence, limit: limit)
    }
    func cutAudit(
        before cutoff: Date,
        record: @escaping @Sendable (_ removed: Int, _ checkpoint: AuditHead) -> AuditEvent
    ) async throws -> Int {
        try await base.cutAudit(before: cutoff, record: record)
    }
    func addUsage(_ counts: [UsageCount]) async throws { try await base.addUsage(counts) }
    func usage(keyID: UUID, from: Int64, to: Int64, bucket: Int64) async throws -> [UsageCount] {
        try await base.usage(keyID: keyID, from: from, to: to, bucket: bucket)
    }
    func pruneUsage(before minute: Int64) async throws -> Int { try await base.pruneUsage(before: minute) }
    func auditBounds() async throws -> (checkpoint: AuditHead, head: AuditHead) { try await base.auditBounds() }
    func auditCheckpoints() async throws -> [AuditCheckpoint] { try await base.auditCheckpoints() }
    func lastAuditCheckpoint() async throws -> AuditCheckpoint? { try await base.lastAuditCheckpoint() }
    func appendAuditCheckpoint(_ checkpoint: AuditCheckpoint) async throws -> Bool { try await base.appendAuditCheckpoint(checkpoint) }
}

@Suite struct KeyServiceTests {
    func service(
        _ store: CountingStore,
        clock: TestClock = TestClock(),
        negativeTTL: Duration = .seconds(5),
        imports: ImportedKeys = ImportedKeys(settings: nil)
    ) -> KeyService {
        KeyService(
            store: store,
            cache: KeyCache(ttl: .seconds(30), negativeTTL: negativeTTL, maxEntries: 1000),
            hasher: KeyHasher(pepper: Array(TestServer.pepper.utf8)),
            format: KeyFormat(prefix: "tronch")!,
            clock: clock.wallClock,
            limits: KeyLimits(),
            lastUsed: LastUsedRecorder(store: store, interval: .seconds(1), logger: Logger(label: "test")),
            rateLimits: RateLimits(limiter: LocalRateLimiter(), settings: RateLimitSettings()),
            imports: imports
        )
    }

    let admin = Principal(keyID: UUID(), scopes: ["admin"])

    @Test func garbageNeverReachesTheStore() async throws {
        let store = try await CountingStore()
        let keys = service(store)
        for garbage in ["", "x", "tronch_sk_live_" + String(repeating: "a", count: 38), String(repeating: "z", count: 10_000)] {
            #expect(try await keys.verify(garbage).code == .notFound)
        }
        #expect(store.digestLookups == 0)
    }

    @Test func anImportedSHA256IsUpgradedToTheHMACOnItsFirstSuccessfulVerification() async throws {
        let store = try await CountingStore()
        let keys = service(store, imports: ImportedKeys(settings: store.base))
        let secret = "legacy_" + String(repeating: "k3y", count: 10)
        let disabledSecret = "legacy_" + String(repeating: "d1s", count: 10)
        var disabled = KeySettings()
        disabled.enabled = false
        let imported = try await keys.importKeys(
            [
                .init(secret: .sha256(KeyHasher.sha256(secret)), environment: .live, settings: KeySettings()),
                .init(secret: .sha256(KeyHasher.sha256(disabledSecret)), environment: .live, settings: disabled),
            ],
            by: admin
        )
        #expect(imported.map(\.hashVersion) == [KeyHasher.importedSHA256Version, KeyHasher.importedSHA256Version])
        // A refused verification does not upgrade: only a key that proved itself gets Tronch's hash.
        #expect(try await keys.verify(disabledSecret).code == .disabled)
        #expect(try await store.base.key(id: imported[1].id)?.hashVersion == KeyHasher.importedSHA256Version)

        #expect(try await keys.verify(secret).code == .valid)
        let stored = try #require(try await store.base.key(id: imported[0].id))
        #expect(stored.hashVersion == KeyHasher.hmacVersion)
        #expect(stored.digest == keys.hasher.digest(secret))
        #expect(try await store.base.key(digest: KeyHasher.sha256(secret)) == nil, "the SHA-256 is gone")
        #expect(try await keys.verify(secret).code == .valid)
        // Knowing the SHA-256 is not knowing the key.
        #expect(try await keys.verify(KeyHasher.sha256(secret).hex).code == .notFound)
    }

    @Test func foreignFormatsAreLookedUpOnlyOnceImported() async throws {
        let store = try await CountingStore()
        let keys = service(store, imports: ImportedKeys(settings: store.base))
        let foreign = "sk_test_" + String(repeating: "Ab9", count: 10)
        #expect(try await keys.verify(foreign).code == .notFound)
        #expect(store.digestLookups == 0)
        _ = try await keys.importKeys([.init(secret: .plaintext(foreign), environment: .test, settings: KeySettings())], by: admin)
        #expect(try await keys.verify(foreign).code == .valid)
        // A second node learns of the import from the database.
        let other = ImportedKeys(settings: store.base)
        try await other.refresh()
        #expect(try await service(store, imports: other).verify(foreign).code == .valid)
    }

    @Test func knownKeysAreServedFromTheCache() async throws {
        let store = try await CountingStore()
        let keys = service(store)
        let issued = try await keys.create(KeySettings(), environment: .live, by: admin)
        for _ in 0..<10 { #expect(try await keys.verify(issued.secret).code == .valid) }
        #expect(store.digestLookups <= 1)
    }

    @Test func unknownKeysAreCachedBrieflyAndCreationClearsTheMiss() async throws {
        let store = try await CountingStore()
        let keys = service(store)
        let unknown = KeyFormat(prefix: "tronch")!.generate(environment: .live)
        for _ in 0..<5 { #expect(try await keys.verify(unknown).code == .notFound) }
        #expect(store.digestLookups == 1)

        let noNegativeCache = service(store, negativeTTL: .zero)
        for _ in 0..<3 { _ = try await noNegativeCache.verify(unknown) }
        #expect(store.digestLookups == 4)
    }

    @Test func everyWriteInvalidatesTheCache() async throws {
        let store = try await CountingStore()
        let keys = service(store)
        let issued = try await keys.create(KeySettings(), environment: .live, by: admin)
        #expect(try await keys.verify(issued.secret).code == .valid)
        var patch = KeyPatch()
        patch.enabled = false
        _ = try await keys.update(id: issued.record.id, patch, by: admin)
        #expect(try await keys.verify(issued.secret).code == .disabled)
        patch.enabled = true
        _ = try await keys.update(id: issued.record.id, patch, by: admin)
        #expect(try await keys.verify(issued.secret).code == .valid)
        let (_, successor) = try await keys.rotate(id: issued.record.id, gracePeriod: 0, expiresAt: .unchanged, by: admin)
        #expect(try await keys.verify(issued.secret).code == .revoked)
        #expect(try await keys.verify(successor.secret).code == .valid)
        _ = try await keys.revoke(id: successor.record.id, by: admin)
        #expect(try await keys.verify(successor.secret).code == .revoked)
    }

    @Test func usesAreRecordedInBatchesOffThePath() async throws {
        let store = try await CountingStore()
        let clock = TestClock()
        let keys = service(store, clock: clock)
        let issued = try await keys.create(KeySettings(), environment: .live, by: admin)
        _ = try await keys.verify(issued.secret)
        clock.advance(seconds: 10)
        _ = try await keys.verify(issued.secret)
        #expect(try await store.key(id: issued.record.id)?.lastUsedAt == nil, "nothing is written on the request path")
        #expect(keys.lastUsed.pendingCount == 1)
        await keys.lastUsed.flush()
        #expect(try await store.key(id: issued.record.id)?.lastUsedAt == clock.now)
        #expect(keys.lastUsed.pendingCount == 0)
    }
}

@Suite struct KeyCacheTests {
    let digest = KeyHasher(pepper: [1, 2, 3]).digest("a")

    @Test func aLookupThatRacedAWriteDoesNotStoreStaleData() {
        let cache = KeyCache(ttl: .seconds(30), negativeTTL: .seconds(5), maxEntries: 10)
        guard case .miss(let generation, _) = cache.lookup(digest) else {
            Issue.record("expected a miss")
            return
        }
        cache.invalidate(digest)  // a write happened while the store was being read
        cache.store(nil, for: digest, generation: generation)
        guard case .miss = cache.lookup(digest) else {
            Issue.record("a stale answer was cached")
            return
        }
    }

    @Test func entriesExpire() async throws {
        let cache = KeyCache(ttl: .milliseconds(20), negativeTTL: .milliseconds(20), maxEntries: 10)
        guard case .miss(let generation, _) = cache.lookup(digest) else { return }
        cache.store(nil, for: digest, generation: generation)
        guard case .hit(nil) = cache.lookup(digest) else {
            Issue.record("expected a cached miss")
            return
        }
        try await Task.sleep(for: .milliseconds(40))
        guard case .miss = cache.lookup(digest) else {
            Issue.record("expected expiry")
            return
        }
    }

    @Test func sizeIsBounded() {
        let cache = KeyCache(ttl: .seconds(30), negativeTTL: .seconds(30), maxEntries: 100)
        let hasher = KeyHasher(pepper: [9])
        for index in 0..<1000 {
            let digest = hasher.digest(String(index))
            if case .miss(let generation, _) = cache.lookup(digest) { cache.store(nil, for: digest, generation: generation) }
        }
        #expect(cache.count <= 100)
        #expect(cache.count > 50)
    }

    @Test(arguments: [100, 20_000]) func aKeyInUseSurvivesEviction(maxEntries: Int) {
        let cache = KeyCache(ttl: .seconds(30), negativeTTL: .seconds(30), maxEntries: maxEntries)
        let hasher = KeyHasher(pepper: [9])
        let hot = hasher.digest("hot")
        if case .miss(let generation, _) = cache.lookup(hot) { cache.store(nil, for: hot, generation: generation) }
        for index in 0..<(maxEntries * 5) {
            let digest = hasher.digest(String(index))
            if case .miss(let generation, _) = cache.lookup(digest) { cache.store(nil, for: digest, generation: generation) }
            guard case .hit = cache.lookup(hot) else {
                Issue.record("the key in use was evicted after \(index) insertions")
                return
            }
        }
        #expect(cache.count <= maxEntries)
        #expect(cache.count > maxEntries / 2)
    }
}
