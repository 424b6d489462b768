import Foundation
import Logging
import Testing
import TronchCore
import TronchStorage
import TronchTestSupport

/// The audit log's contract, on every backend: one chain, entries only with the changes they record.
@Suite struct AuditStoreConformanceTests {
    static func event(_ action: String, target: UUID? = nil, actor: AuditActor = .system, at offset: Double = 0) -> AuditEvent {
        AuditEvent(
            time: Fixtures.base.addingTimeInterval(offset),
            actor: actor,
            action: action,
            targetType: target.map { _ in "key" },
            targetID: target?.lowercased,
            origin: RequestOrigin(requestID: "req_1", clientIP: "192.0.2.7", userAgent: "tests/1"),
            details: ["note": "ünïcode \"quoted\" / slash", "n": 1.5]
        )
    }

    static func verifiedChain(_ store: any Store) async throws -> [AuditEntry] {
        var entries = [AuditEntry]()
        var after: Int64 = 0
        while true {
            let batch = try await store.auditChain(after: after, limit: 7)
            if batch.isEmpty { break }
            entries += batch
            after = batch.last!.sequence
        }
        let bounds = try await store.auditBounds()
        let head = try AuditChain.verify(entries, from: bounds.checkpoint).get()
        #expect(head.sequence == bounds.checkpoint.sequence + Int64(entries.count))
        #expect(head == bounds.head)
        return entries
    }

    @Test(arguments: StoreBackend.allCases)
    func entriesRoundTripAndChain(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let appended = try await store.appendAudit([Self.event("one"), Self.event("two", at: 1)])
            #expect(appended.map(\.sequence) == [1, 2])
            #expect(appended[0].previousHash == AuditHead.genesis.hash)
            #expect(appended[1].previousHash == appended[0].hash)
            let read = try await Self.verifiedChain(store)
            #expect(read == appended, "every field, the details text included, reads back exactly")
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func entriesAreWrittenOnlyWithTheirChange(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let record = Fixtures.record()
            try await store.insert(record, audit: Self.event(AuditAction.keyCreated, target: record.id))
            // A duplicate insert rolls back, its entry with it.
            var duplicate = Fixtures.record()
            duplicate.id = record.id
            await #expect(throws: DomainError.self) {
                try await store.insert(duplicate, audit: Self.event(AuditAction.keyCreated, target: duplicate.id))
            }
            // A change that refuses writes neither the change nor its entry.
            await #expect(throws: DomainError.self) {
                _ = try await store.update(id: record.id, audit: Self.event(AuditAction.keyUpdated, target: record.id)) { _ in
                    throw DomainError(.conflict, "no")
                }
            }
            _ = try await store.update(id: record.id, audit: Self.event(AuditAction.keyRevoked, target: record.id)) { record in
                record.status = .revoked
            }
            let successor = Fixtures.record(at: 5)
            await #expect(throws: DomainError.self) {
                _ = try await store.rotate(id: UUID(), audit: Self.event(AuditAction.keyRotated)) { current in (current, successor) }
            }
            #expect(try await !store.insertIfEmpty(Fixtures.record(at: 9), audit: Self.event(AuditAction.rootKeyBootstrapped)))
            let entries = try await Self.verifiedChain(store)
            #expect(entries.map(\.event.action) == [AuditAction.keyCreated, AuditAction.keyRevoked])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func concurrentWritersBuildOneChain(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        if index % 2 == 0 {
                            let record = Fixtures.record(at: Int64(index))
                            try await store.insert(record, audit: Self.event(AuditAction.keyCreated, target: record.id))
                        } else {
                            try await store.appendAudit([Self.event(AuditAction.authenticationFailed)])
                        }
                    }
                }
                try await group.waitForAll()
            }
            let entries = try await Self.verifiedChain(store)
            #expect(entries.map(\.sequence) == Array(1...40))
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func readsFilterAndPageNewestFirst(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let target = UUID()
            let actor = AuditActor.key(UUID())
            var events = [AuditEvent]()
            for index in 0..<5 { events.append(Self.event(AuditAction.keyUpdated, target: target, actor: actor, at: Double(index))) }
            var failed = Self.event(AuditAction.authenticationFailed, at: 10)
            failed.outcome = .failure
            events.append(failed)
            try await store.appendAudit(events)

            var query = AuditQuery()
            query.limit = 2
            let first = try await store.auditEntries(matching: query)
            #expect(first.entries.map(\.sequence) == [6, 5])
            query.before = first.nextCursor
            let second = try await store.auditEntries(matching: query)
            #expect(second.entries.map(\.sequence) == [4, 3])

            var filtered = AuditQuery()
            filtered.targetID = target.lowercased
            filtered.actorID = actor.id
            filtered.action = AuditAction.keyUpdated
            filtered.from = Fixtures.base.addingTimeInterval(1)
            filtered.to = Fixtures.base.addingTimeInterval(4)
            #expect(try await store.auditEntries(matching: filtered).entries.map(\.sequence) == [4, 3, 2])
            var failures = AuditQuery()
            failures.outcome = .failure
            let onlyFailures = try await store.auditEntries(matching: failures)
            #expect(onlyFailures.entries.map(\.event.action) == [AuditAction.authenticationFailed])
            #expect(onlyFailures.nextCursor == nil)
        }
    }
}

extension AuditStoreConformanceTests {
    @Test(arguments: StoreBackend.allCases)
    func retentionCutsTheOldestAndKeepsTheChainVerifiable(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            // Days 0-4, then day 2 again (a node with a slow clock): the cut stops at the first entry kept.
            let days: [Double] = [0, 1, 2, 3, 2.5, 4]
            try await store.appendAudit(days.map { Self.event("day", at: $0 * 86_400) })
            let cutoff = Fixtures.base.addingTimeInterval(2 * 86_400)
            let removed = try await store.cutAudit(before: cutoff) { removed, checkpoint in
                AuditEvent(
                    time: cutoff,
                    actor: .system,
                    action: "audit.retention",
                    details: ["removed": .int(Int64(removed)), "checkpoint_sequence": .int(checkpoint.sequence)]
                )
            }
            #expect(removed == 2)
            let entries = try await Self.verifiedChain(store)
            #expect(entries.map(\.sequence) == [3, 4, 5, 6, 7])
            #expect(entries.last?.event.action == "audit.retention")
            #expect(try await store.auditBounds().checkpoint.sequence == 2)
            let nothing = try await store.cutAudit(before: Fixtures.base) { _, _ in AuditEvent(time: cutoff, actor: .system, action: "x") }
            #expect(nothing == 0)
            #expect(try await Self.verifiedChain(store).count == 5, "a cut of nothing records nothing")
        }
    }
}

extension AuditStoreConformanceTests {
    static let signer = AuditCheckpointSigner(secrets: SecretBox(current: SecretBox.Key(bytes: Array(repeating: 7, count: 32))!))

    @Test(arguments: StoreBackend.allCases)
    func checkpointsFormOneListAndReadBackExactly(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            #expect(try await store.lastAuditCheckpoint() == nil)
            #expect(try await store.auditCheckpoints().isEmpty)
            let entries = try await store.appendAudit((0..<5).map { Self.event("e\($0)", at: Double($0)) })
            let first = Self.signer.sign(AuditHead(sequence: 2, hash: entries[1].hash), after: nil, at: Fixtures.base)
            // The first must follow nothing; a checkpoint that claims a predecessor that is not there is refused.
            let orphan = Self.signer.sign(AuditHead(sequence: 4, hash: entries[3].hash), after: first, at: Fixtures.base)
            #expect(try await store.appendAuditCheckpoint(orphan) == false)
            #expect(try await store.appendAuditCheckpoint(first))
            #expect(try await store.appendAuditCheckpoint(first) == false, "the same one again")
            let stale = Self.signer.sign(AuditHead(sequence: 3, hash: entries[2].hash), after: nil, at: Fixtures.base)
            #expect(try await store.appendAuditCheckpoint(stale) == false, "one that ignores the newest")
            #expect(try await store.appendAuditCheckpoint(orphan))
            let read = try await store.auditCheckpoints()
            #expect(read == [first, orphan], "every field, the time to the millisecond, reads back exactly")
            #expect(try await store.lastAuditCheckpoint() == orphan)
            #expect(try Self.signer.verify(read).get() == orphan)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func racingCheckpointWritersLeaveOneList(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let entries = try await store.appendAudit((0..<8).map { Self.event("e\($0)", at: Double($0)) })
            // Eight writers, each building on the same newest checkpoint (none): exactly one wins.
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<8 {
                    let head = AuditHead(sequence: Int64(index + 1), hash: entries[index].hash)
                    group.addTask { try await store.appendAuditCheckpoint(Self.signer.sign(head, after: nil, at: Fixtures.base)) }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            #expect(try await store.auditCheckpoints().count == 1)
        }
    }
}

/// PostgreSQL refuses to change or remove audit entries, whoever asks.
@Suite struct PostgresAuditAppendOnlyTests {
    @Test(.enabled(if: TestPostgres.url != nil || TestPostgres.isRequired))
    func updatesDeletesAndTruncationAreRefused() async throws {
        let url = try await TestPostgres.freshSchemaURL()
        try await TestPostgres.withMigratedStore(url) { store in
            let entry = try await store.appendAudit([AuditStoreConformanceTests.event("one")])[0]
            let checkpoint = AuditStoreConformanceTests.signer.sign(AuditHead(sequence: 1, hash: entry.hash), after: nil, at: Fixtures.base)
            #expect(try await store.appendAuditCheckpoint(checkpoint))
        }
        for statement in [
            "UPDATE audit_log SET action = 'edited'", "DELETE FROM audit_log", "TRUNCATE audit_log",
            "UPDATE audit_checkpoints SET mac = ''", "DELETE FROM audit_checkpoints", "TRUNCATE audit_checkpoints",
        ] {
            await #expect(throws: (any Error).self, "\(statement)") { try await TestPostgres.execute(statement, on: url) }
        }
    }
}
