import Foundation
import Testing
import TronchCore
import TronchStorage

/// The storage contract. Every backend in ``StoreBackend`` runs every test here, unchanged.
@Suite struct KeyStoreConformanceTests {
    @Test(arguments: StoreBackend.allCases)
    func insertedKeysRoundTripExactly(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let record = try Fixtures.fullRecord()
            try await store.insert(record)
            #expect(try await store.key(id: record.id) == record)
            #expect(try await store.key(digest: record.digest) == record)
            let minimal = Fixtures.record(owner: nil, name: nil)
            try await store.insert(minimal)
            #expect(try await store.key(id: minimal.id) == minimal)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func unknownKeysAreNil(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            #expect(try await store.key(id: UUID()) == nil)
            #expect(try await store.key(digest: Fixtures.hasher.digest("nope")) == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func duplicateIdsAndDigestsConflict(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let record = Fixtures.record()
            try await store.insert(record)
            var sameID = Fixtures.record()
            sameID.id = record.id
            var sameDigest = Fixtures.record()
            sameDigest.digest = record.digest
            for duplicate in [sameID, sameDigest] {
                await #expect(throws: DomainError.self) { try await store.insert(duplicate) }
                do {
                    try await store.insert(duplicate)
                } catch let error as DomainError {
                    #expect(error.code == .conflict)
                }
            }
            #expect(try await store.keys(matching: KeyQuery(now: Fixtures.base)).keys.count == 1)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func insertIfEmptyInsertsOnlyIntoAnEmptyStore(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let first = Fixtures.record()
            #expect(try await store.insertIfEmpty(first))
            #expect(try await store.insertIfEmpty(Fixtures.record()) == false)
            #expect(try await store.keys(matching: KeyQuery(now: Fixtures.base)).keys.map(\.id) == [first.id])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func concurrentBootstrapsCreateOneKey(backend: StoreBackend) async throws {
        guard backend != .sqliteMemory else { return }  // one connection: nothing can race
        try await backend.withStore { store async throws in
            let results = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<8 { group.addTask { try await store.insertIfEmpty(Fixtures.record()) } }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(results.filter { $0 }.count == 1)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func listsNewestFirstAndPagesWithoutGapsOrRepeats(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            var inserted = [KeyRecord]()
            for offset in 0..<23 {
                let record = Fixtures.record(at: Int64(offset))
                try await store.insert(record)
                inserted.append(record)
            }
            var seen = [UUID]()
            var cursor: UUID?
            var pages = 0
            repeat {
                let page = try await store.keys(matching: KeyQuery(limit: 5, after: cursor, now: Fixtures.base))
                #expect(page.keys.count <= 5)
                seen += page.keys.map(\.id)
                cursor = page.nextCursor
                pages += 1
            } while cursor != nil
            #expect(pages == 5)
            #expect(seen == inserted.reversed().map(\.id))
            let exact = try await store.keys(matching: KeyQuery(limit: 23, now: Fixtures.base))
            #expect(exact.keys.count == 23)
            #expect(exact.nextCursor == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func filtersCombine(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let now = Fixtures.base.addingTimeInterval(1000)
            let a = Fixtures.record(at: 1, owner: "alice", name: "Billing key")
            let b = Fixtures.record(at: 2, owner: "alice", name: "billing_%x", environment: .test)
            let c = Fixtures.record(at: 3, owner: "bob", name: "Billing other") {
                $0.status = .revoked
                $0.revokedAt = Fixtures.base
            }
            let d = Fixtures.record(at: 4, owner: "bob", name: "expired") { $0.settings.expiresAt = now }
            let e = Fixtures.record(at: 5, owner: "bob", name: "graced") { $0.graceUntil = now.addingTimeInterval(-1) }
            let f = Fixtures.record(at: 6, owner: "carol", name: nil) { $0.settings.expiresAt = now.addingTimeInterval(1) }
            for record in [a, b, c, d, e, f] { try await store.insert(record) }

            func ids(_ change: (inout KeyQuery) -> Void) async throws -> [UUID] {
                var query = KeyQuery(now: now)
                change(&query)
                return try await store.keys(matching: query).keys.map(\.id)
            }
            #expect(try await ids { $0.ownerID = "alice" } == [b.id, a.id])
            #expect(try await ids { $0.environment = .test } == [b.id])
            #expect(try await ids { $0.status = .revoked } == [c.id])
            #expect(try await ids { $0.status = .expired } == [e.id, d.id])
            #expect(try await ids { $0.status = .active } == [f.id, b.id, a.id])
            #expect(try await ids { $0.namePrefix = "Billing" } == [c.id, a.id])
            #expect(try await ids { $0.namePrefix = "billing_%" } == [b.id])
            #expect(try await ids { $0.namePrefix = "b%" } == [])
            #expect(
                try await ids {
                    $0.ownerID = "bob"
                    $0.status = .active
                } == []
            )
            #expect(try await ids { $0.ownerID = "nobody" } == [])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func updateWritesWhatTheClosureChanged(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let record = Fixtures.record()
            try await store.insert(record)
            let updated = try await store.update(id: record.id) { record in
                record.settings.name = "renamed"
                record.settings.meta = ["k": .string("v")]
                record.status = .revoked
                record.revokedAt = Fixtures.base.addingTimeInterval(2)
                record.updatedAt = Fixtures.base.addingTimeInterval(2)
            }
            #expect(updated.settings.name == "renamed")
            #expect(try await store.key(id: record.id) == updated)
            #expect(try await store.key(digest: record.digest) == updated)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aThrowingUpdateChangesNothing(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let record = Fixtures.record()
            try await store.insert(record)
            await #expect(throws: DomainError.self) {
                _ = try await store.update(id: record.id) { record in
                    record.settings.name = "half-written"
                    throw DomainError(.conflict, "abort")
                }
            }
            #expect(try await store.key(id: record.id) == record)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func updatingAMissingKeyIsNotFound(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            do {
                _ = try await store.update(id: UUID()) { _ in }
                Issue.record("expected NOT_FOUND")
            } catch let error as DomainError {
                #expect(error.code == .notFound)
            }
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func rotationWritesBothKeysOrNeither(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let old = Fixtures.record()
            try await store.insert(old)
            let successor = Fixtures.record(at: 10) { $0.rotatedFrom = old.id }
            let (changedOld, new) = try await store.rotate(id: old.id) { current in
                var changed = current
                changed.graceUntil = Fixtures.base.addingTimeInterval(60)
                return (changed, successor)
            }
            #expect(try await store.key(id: old.id) == changedOld)
            #expect(try await store.key(id: successor.id) == new)
            #expect(new.rotatedFrom == old.id)

            // A plan whose successor collides with an existing key rolls the old key's change back too.
            let another = Fixtures.record(at: 20)
            try await store.insert(another)
            await #expect(throws: DomainError.self) {
                _ = try await store.rotate(id: another.id) { current in
                    var changed = current
                    changed.status = .revoked
                    var clash = Fixtures.record(at: 30)
                    clash.digest = old.digest
                    return (changed, clash)
                }
            }
            #expect(try await store.key(id: another.id) == another)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func recordedUseNeverMovesBackwards(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let one = Fixtures.record(at: 1)
            let two = Fixtures.record(at: 2)
            try await store.insert(one)
            try await store.insert(two)
            let later = Fixtures.base.addingTimeInterval(100)
            try await store.recordUse([one.id: later, two.id: later])
            try await store.recordUse([one.id: Fixtures.base.addingTimeInterval(50), UUID(): later])
            #expect(try await store.key(id: one.id)?.lastUsedAt == later)
            #expect(try await store.key(id: two.id)?.lastUsedAt == later)
            #expect(try await store.key(id: one.id)?.updatedAt == one.updatedAt)
            try await store.recordUse([:])
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func creditsAreSpentAtomicallyAndRefilled(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            var limited = Fixtures.record(at: 1)
            limited.settings.remaining = 50
            limited.settings.refill = Refill(interval: .daily, amount: 7)
            try await store.insert(limited)
            let unlimited = Fixtures.record(at: 2)
            try await store.insert(unlimited)
            let now = Fixtures.base
            let limitedID = limited.id

            // Concurrent spends never overspend: exactly 50 of 80 single-credit spends succeed.
            let allowed = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<80 { group.addTask { try await store.spendCredits(id: limitedID, cost: 1, now: now)?.allowed ?? false } }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(allowed == 50)
            #expect(try await store.key(id: limited.id)?.settings.remaining == 0)
            #expect(try await store.spendCredits(id: limited.id, cost: 1, now: now)?.allowed == false)

            // The next day's first use tops the key up to the refill amount, once.
            let tomorrow = now.addingTimeInterval(86_400)
            let refilled = try #require(try await store.spendCredits(id: limited.id, cost: 2, now: tomorrow))
            #expect(refilled.allowed && refilled.balance.remaining == 5 && refilled.balance.refilledAt == tomorrow)
            #expect(try await store.spendCredits(id: limited.id, cost: 6, now: tomorrow)?.allowed == false)
            #expect(try await store.spendCredits(id: limited.id, cost: 5, now: tomorrow.addingTimeInterval(60))?.balance.remaining == 0)
            #expect(try await store.key(id: limited.id)?.settings.remaining == 0)

            let free = try await store.spendCredits(id: unlimited.id, cost: 1_000, now: now)
            #expect(free?.allowed == true && free?.balance.remaining == nil)
            #expect(try await store.spendCredits(id: UUID(), cost: 1, now: now) == nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func settingsAreClaimedOnce(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            #expect(try await store.claimSetting("fingerprint", value: "first") == "first")
            #expect(try await store.claimSetting("fingerprint", value: "second") == "first")
            #expect(try await store.claimSetting("other", value: "x") == "x")
        }
    }
}

/// Bulk insertion (seeding, imports) is all-or-nothing on every backend.
@Suite struct BatchInsertConformanceTests {
    @Test(arguments: StoreBackend.allCases)
    func aBatchIsStoredWhole(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            var batch = (0..<2500).map { Fixtures.record(at: Int64($0), owner: $0 % 2 == 0 ? "even" : nil) }
            batch[3] = try Fixtures.fullRecord()
            try await store.insert(batch: batch)
            let page = try await store.keys(matching: KeyQuery(limit: 1000, now: Fixtures.base))
            #expect(page.keys.count == 1000)
            #expect(try await store.key(digest: batch[3].digest) == batch[3])
            #expect(try await store.key(id: batch[2499].id) == batch[2499])
            #expect(try await store.keys(matching: KeyQuery(ownerID: "even", limit: 1000, now: Fixtures.base)).nextCursor != nil)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aBatchCarriesItsAuditEntriesOrNone(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let batch = (0..<3).map { Fixtures.record(at: Int64($0)) }
            let audit = batch.map { AuditStoreConformanceTests.event("key.imported", target: $0.id) }
            try await store.insert(batch: batch, audit: audit)
            let chain = try await AuditStoreConformanceTests.verifiedChain(store)
            #expect(chain.map(\.event.targetID) == batch.map(\.id.lowercased))

            var conflicting = (3..<6).map { Fixtures.record(at: Int64($0)) }
            conflicting[2].digest = batch[0].digest
            await #expect(throws: DomainError.self) {
                try await store.insert(batch: conflicting, audit: conflicting.map { AuditStoreConformanceTests.event("key.imported", target: $0.id) })
            }
            #expect(try await store.auditBounds().head.sequence == 3, "no entry without its keys")
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aDigestIsReplacedOnlyWhenItIsStillTheOldOne(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let record = Fixtures.record()
            let other = Fixtures.record(at: 1)
            try await store.insert(batch: [record, other])
            let upgraded = KeyDigest(w0: 1, w1: 2, w2: 3, w3: 4)
            #expect(try await store.replaceDigest(id: record.id, old: record.digest, new: upgraded, hashVersion: 1, pepperID: "p2"))
            #expect(try await store.key(digest: upgraded)?.id == record.id)
            #expect(try await store.key(digest: upgraded)?.pepperID == "p2", "the pepper it was re-keyed with")
            #expect(try await store.key(digest: record.digest) == nil)
            // A second node racing the same upgrade finds the old digest gone and changes nothing.
            #expect(try await !store.replaceDigest(id: record.id, old: record.digest, new: upgraded, hashVersion: 1, pepperID: "p2"))
            await #expect(throws: DomainError.self) {
                try await store.replaceDigest(id: record.id, old: upgraded, new: other.digest, hashVersion: 1, pepperID: "p2")
            }
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aConflictRollsBackTheWholeBatch(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let existing = Fixtures.record()
            try await store.insert(existing)
            var batch = (0..<1500).map { Fixtures.record(at: Int64($0 + 1)) }
            batch[1200].digest = existing.digest
            do {
                try await store.insert(batch: batch)
                Issue.record("expected a conflict")
            } catch let error as DomainError {
                #expect(error.code == .conflict)
            }
            #expect(try await store.keys(matching: KeyQuery(limit: 100, now: Fixtures.base)).keys.map(\.id) == [existing.id])
        }
    }
}

extension KeyStoreConformanceTests {
    @Test(arguments: StoreBackend.allCases)
    func keysAboutToStopWorkingAreFoundAndCounted(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let now = Fixtures.base
            let day: Double = 86_400
            let soon = Fixtures.record(at: 1) { $0.settings.expiresAt = now.addingTimeInterval(3 * day) }
            let later = Fixtures.record(at: 2) { $0.settings.expiresAt = now.addingTimeInterval(10 * day) }
            let revoked = Fixtures.record(at: 3) {
                $0.settings.expiresAt = now.addingTimeInterval(2 * day)
                $0.status = .revoked
                $0.revokedAt = now
            }
            let grace = Fixtures.record(at: 4) { $0.graceUntil = now.addingTimeInterval(day) }
            let gone = Fixtures.record(at: 5) { $0.settings.expiresAt = now.addingTimeInterval(-day) }
            let forever = Fixtures.record(at: 6)
            for record in [soon, later, revoked, grace, gone, forever] { try await store.insert(record) }

            var query = KeyQuery(now: now)
            query.expiringBefore = now.addingTimeInterval(7 * day)
            #expect(try await store.keys(matching: query).keys.map(\.id) == [grace.id, soon.id])
            #expect(try await store.countKeys(matching: query) == 2)
            #expect(try await store.countKeys(matching: KeyQuery(status: .active, now: now)) == 4)
            #expect(try await store.countKeys(matching: KeyQuery(status: .expired, now: now)) == 1)
            #expect(try await store.countKeys(matching: KeyQuery(status: .revoked, now: now)) == 1)
            #expect(try await store.countKeys(matching: KeyQuery(ownerID: "nobody", now: now)) == 0)
        }
    }

    @Test(arguments: StoreBackend.allCases)
    func aPepperRotationLabelsTheKeysItMovesFrom(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let legacy = Fixtures.record()
            let labelled = Fixtures.record(at: 1) { $0.pepperID = "newpepper" }
            let revoked = Fixtures.record(at: 2) { $0.status = .revoked }
            try await store.insert(batch: [legacy, labelled, revoked])
            #expect(
                Set(try await store.keyCountsByPepper())
                    == [
                        PepperCount(pepperID: nil, revoked: false, count: 1), PepperCount(pepperID: nil, revoked: true, count: 1),
                        PepperCount(pepperID: "newpepper", revoked: false, count: 1),
                    ]
            )
            try await store.recordPepperRotation(
                previousID: "oldpepper",
                fingerprint: ("pepper_fingerprint", "f2"),
                audit: AuditEvent(time: Fixtures.base, actor: .system, action: AuditAction.pepperRotated)
            )
            #expect(try await store.key(id: legacy.id)?.pepperID == "oldpepper", "keys without an id were the old pepper's")
            #expect(try await store.key(id: labelled.id)?.pepperID == "newpepper", "labelled keys keep theirs")
            #expect(try await store.setting("pepper_fingerprint") == "f2")
            #expect(try await store.auditEntries(matching: AuditQuery()).entries.first?.event.action == AuditAction.pepperRotated)
        }
    }
}

extension KeyStoreConformanceTests {
    @Test(arguments: StoreBackend.allCases)
    func aKeyIsRemindedOnceOfEachExpiry(backend: StoreBackend) async throws {
        try await backend.withStore { store async throws in
            let now = Fixtures.base
            let day: Double = 86_400
            let soon = Fixtures.record(at: 1) { $0.settings.expiresAt = now.addingTimeInterval(3 * day) }
            let sooner = Fixtures.record(at: 2) { $0.settings.expiresAt = now.addingTimeInterval(day) }
            let later = Fixtures.record(at: 3) { $0.settings.expiresAt = now.addingTimeInterval(10 * day) }
            let revoked = Fixtures.record(at: 4) {
                $0.settings.expiresAt = now.addingTimeInterval(2 * day)
                $0.status = .revoked
                $0.revokedAt = now
            }
            let gone = Fixtures.record(at: 5) { $0.settings.expiresAt = now.addingTimeInterval(-day) }
            let forever = Fixtures.record(at: 6)
            for record in [soon, sooner, later, revoked, gone, forever] { try await store.insert(record) }
            let horizon = now.addingTimeInterval(7 * day)
            func reminder(_ record: KeyRecord) -> AuditEvent {
                AuditEvent(time: now, actor: .system, action: AuditAction.keyExpiring, targetType: "key", targetID: record.id.lowercased)
            }

            #expect(try await store.keysDueExpiryReminder(now: now, horizon: horizon, limit: 10).map(\.id) == [sooner.id, soon.id])
            #expect(try await store.keysDueExpiryReminder(now: now, horizon: horizon, limit: 1).map(\.id) == [sooner.id])
            #expect(try await store.recordExpiryReminder(id: soon.id, expiresAt: soon.settings.expiresAt!, audit: reminder(soon)))
            #expect(
                try await !store.recordExpiryReminder(id: soon.id, expiresAt: soon.settings.expiresAt!, audit: reminder(soon)),
                "a second node finds it done"
            )
            #expect(
                try await !store.recordExpiryReminder(id: sooner.id, expiresAt: now, audit: reminder(sooner)),
                "an expiry that changed since it was read is not recorded"
            )
            #expect(try await !store.recordExpiryReminder(id: revoked.id, expiresAt: revoked.settings.expiresAt!, audit: reminder(revoked)))
            #expect(try await store.keysDueExpiryReminder(now: now, horizon: horizon, limit: 10).map(\.id) == [sooner.id])
            let entries = try await store.auditEntries(matching: AuditQuery()).entries
            #expect(entries.map(\.event.targetID) == [soon.id.lowercased], "one entry, written with the reminder")

            // A new expiry is reminded again.
            _ = try await store.update(id: soon.id) { $0.settings.expiresAt = now.addingTimeInterval(5 * day) }
            #expect(try await store.keysDueExpiryReminder(now: now, horizon: horizon, limit: 10).map(\.id) == [sooner.id, soon.id])
        }
    }
}
