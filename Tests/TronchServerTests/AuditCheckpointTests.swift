import Foundation
import GRDB
import Logging
import Testing
import TronchCore
import TronchTestSupport

@testable import TronchServer
@testable import TronchStorage

/// Keyed checkpoints: written by the service over a chain it has checked, and what they show that the hash
/// chain alone cannot (a chain computed again after an edit, by someone who can write the database).
@Suite struct AuditCheckpointTests {
    static let key = SecretBox.Key(bytes: Array(repeating: 42, count: 32))!
    static let signer = AuditCheckpointSigner(secrets: SecretBox(current: key))

    static func append(_ store: SQLiteStore, _ count: Int, clock: TestClock) async throws {
        for index in 0..<count {
            try await store.appendAudit([AuditEvent(time: clock.now, actor: .system, action: "test.\(index)")])
        }
    }

    static func service(_ store: SQLiteStore, clock: TestClock, every: Int64 = 3) -> AuditCheckpointing {
        AuditCheckpointing(
            store: store,
            signer: signer,
            every: every,
            interval: .seconds(60),
            clock: clock.wallClock,
            logger: Logger(label: "test")
        )
    }

    /// What someone who can write the database file does: edits entry `sequence` and computes every later
    /// hash again, so that the chain links up.
    static func rewrite(_ store: SQLiteStore, editing sequence: Int64) async throws {
        try await store.writer.write { db in
            try db.execute(sql: "DROP TRIGGER IF EXISTS audit_log_no_update")
            let entries = try Row.fetchAll(db, sql: "SELECT * FROM audit_log WHERE sequence >= ? ORDER BY sequence", arguments: [sequence])
                .map(SQLiteStore.auditEntry)
            var head = AuditHead(sequence: entries[0].sequence - 1, hash: entries[0].previousHash)
            for var entry in entries {
                if entry.sequence == sequence { entry.event.action = "test.edited" }
                let linked = AuditChain.link(entry.event, after: head)
                try db.execute(
                    sql: "UPDATE audit_log SET action = ?, previous_hash = ?, hash = ? WHERE sequence = ?",
                    arguments: [entry.event.action, linked.previousHash, linked.hash, linked.sequence]
                )
                head = AuditHead(sequence: linked.sequence, hash: linked.hash)
            }
            try db.execute(sql: "UPDATE audit_head SET sequence = ?, hash = ? WHERE id = 1", arguments: [head.sequence, head.hash])
        }
    }

    @Test func theServiceWritesACheckpointEveryNEntriesOrAfterTheInterval() async throws {
        let store = try SQLiteStore.inMemory()
        try await store.migrateUp(to: nil)
        let clock = TestClock()
        let service = Self.service(store, clock: clock)
        #expect(try await service.checkpointOnce() == nil, "an empty log")
        try await Self.append(store, 4, clock: clock)
        let first = try #require(try await service.checkpointOnce())
        #expect(first.sequence == 4 && first.previousSequence == 0)
        #expect(try await service.checkpointOnce() == nil, "nothing new")
        try await Self.append(store, 2, clock: clock)
        #expect(try await service.checkpointOnce() == nil, "fewer than 3 new entries within the interval")
        clock.advance(seconds: 60)
        let second = try #require(try await service.checkpointOnce())
        #expect(second.sequence == 6 && second.previousSequence == 4)
        try await Self.append(store, 3, clock: clock)
        #expect(try await service.checkpointOnce()?.sequence == 9)
        let checkpoints = try await store.auditCheckpoints()
        #expect(try Self.signer.verify(checkpoints).get()?.sequence == 9)
        let report = try await AuditVerification.run(store: store) { Self.signer }.get()
        #expect(report.entries == 9 && report.checkpoints == 3 && report.checkpointsMatched == 3)
    }

    @Test func theServiceDoesNotSignABrokenChain() async throws {
        let store = try SQLiteStore.inMemory()
        try await store.migrateUp(to: nil)
        let clock = TestClock()
        try await Self.append(store, 3, clock: clock)
        let service = Self.service(store, clock: clock)
        #expect(try await service.checkpointOnce()?.sequence == 3)
        try await Self.append(store, 3, clock: clock)
        try await store.writer.write { db in
            try db.execute(sql: "DROP TRIGGER audit_log_no_update")
            try db.execute(sql: "UPDATE audit_log SET action = 'test.edited' WHERE sequence = 5")
        }
        #expect(try await service.checkpointOnce() == nil)
        // Nor one computed again below its last checkpoint.
        try await Self.rewrite(store, editing: 2)
        #expect(try await service.checkpointOnce() == nil)
        #expect(try await store.auditCheckpoints().map(\.sequence) == [3])
    }

    @Test func retentionBeyondTheLastCheckpointLeavesTheNextOneVerifiable() async throws {
        let store = try SQLiteStore.inMemory()
        try await store.migrateUp(to: nil)
        let clock = TestClock()
        try await Self.append(store, 3, clock: clock)
        let service = Self.service(store, clock: clock)
        #expect(try await service.checkpointOnce()?.sequence == 3)
        clock.advance(seconds: 10 * 86_400)
        try await Self.append(store, 3, clock: clock)
        let retention = AuditRetention(
            store: store,
            retention: .seconds(86_400),
            interval: .seconds(3600),
            clock: clock.wallClock,
            logger: Logger(label: "test")
        )
        #expect(try await retention.cutOnce() == 3)
        // Entries 1-3 are gone; the next checkpoint starts from the retention cut's checkpoint.
        #expect(try await service.checkpointOnce()?.sequence == 7)
        let report = try await AuditVerification.run(store: store) { Self.signer }.get()
        #expect(report.entries == 4 && report.checkpoints == 2 && report.checkpointsMatched == 1)
    }

    /// The attack the checkpoints exist for, through `tronch audit verify` and `tronch audit checkpoints`.
    @Test func verifyShowsAChainComputedAgainAndRemovedCheckpoints() async throws {
        let directory = try Tronch.temporaryDirectory()
        // The key outside the database, where a server of this data directory keeps it.
        try Data((Data(Self.key.bytes).base64EncodedString() + "\n").utf8).write(to: URL(fileURLWithPath: directory + "/secrets.key"))
        let path = directory + "/tronch.sqlite"
        let store = try SQLiteStore.open(path: path)
        try await store.migrateUp(to: nil)
        let clock = TestClock()
        try await Self.append(store, 6, clock: clock)
        let service = Self.service(store, clock: clock)
        #expect(try await service.checkpointOnce()?.sequence == 6)
        try await Self.append(store, 3, clock: clock)
        #expect(try await service.checkpointOnce()?.sequence == 9)

        let arguments = ["audit", "verify", "--data-dir", directory, "--database-url", "sqlite://\(path)"]
        let intact = try await Tronch.run(arguments)
        #expect(intact.status == 0, "\(intact.stderr)")
        #expect(intact.stdout.contains("9 entries") && intact.stdout.contains("2 keyed checkpoints valid"), "\(intact.stdout)")
        let exported = try await Tronch.run(["audit", "checkpoints", "--data-dir", directory, "--database-url", "sqlite://\(path)"])
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(exported.stdout.split(separator: "\n").count == 2)
        let file = directory + "/checkpoints.jsonl"
        try Data(exported.stdout.utf8).write(to: URL(fileURLWithPath: file))
        #expect(try await Tronch.run(arguments + ["--checkpoints", file]).status == 0)

        // Edit entry 2 and compute the chain again: every link holds, but not the hash the checkpoint signed.
        try await Self.rewrite(store, editing: 2)
        let chain = try await AuditVerification.walk(store, from: .genesis, to: try await store.auditBounds().head)
        #expect((try? chain.get())?.1 == 9, "the chain alone no longer shows the edit")
        let rewritten = try await Tronch.run(arguments)
        #expect(rewritten.status == 1)
        #expect(rewritten.stderr.contains("entry 6 no longer has the hash its keyed checkpoint signed"), "\(rewritten.stderr)")

        // Removing the checkpoints too (triggers dropped) leaves a log that looks as if it never had any;
        // the exported copy shows it.
        try await store.writer.write { db in
            try db.execute(sql: "DROP TRIGGER audit_checkpoints_no_delete")
            try db.execute(sql: "DELETE FROM audit_checkpoints")
        }
        let dropped = try await Tronch.run(arguments + ["--checkpoints", file])
        #expect(dropped.status == 1)
        #expect(dropped.stderr.contains("exported checkpoint at entry 6 is not in the database"), "\(dropped.stderr)")
        // A bad export file is a usage error, not a pass.
        try Data("{\"sequence\": 1}\n".utf8).write(to: URL(fileURLWithPath: file))
        let bad = try await Tronch.run(arguments + ["--checkpoints", file])
        #expect(bad.status != 0 && bad.stderr.contains("is not a checkpoint"), "\(bad.stderr)")
    }

    @Test func aChainRolledBackBelowACheckpointShows() async throws {
        let store = try SQLiteStore.inMemory()
        try await store.migrateUp(to: nil)
        let clock = TestClock()
        try await Self.append(store, 5, clock: clock)
        #expect(try await Self.service(store, clock: clock).checkpointOnce()?.sequence == 5)
        // Entries 4 and 5 removed and the head moved back, so the chain itself links up and ends at its head.
        try await store.writer.write { db in
            let hash = try String.fetchOne(db, sql: "SELECT hash FROM audit_log WHERE sequence = 3")!
            try db.execute(sql: "DELETE FROM audit_log WHERE sequence > 3")
            try db.execute(sql: "UPDATE audit_head SET sequence = 3, hash = ? WHERE id = 1", arguments: [hash])
        }
        let outcome = try await AuditVerification.run(store: store) { Self.signer }
        #expect(throws: AuditChain.Break.rolledBack(checkpoint: 5, head: 3)) { try outcome.get() }
    }

    @Test func checkpointsAreConfigurable() throws {
        let defaults = try Settings(reader: TestServer.reader([:]))
        #expect(defaults.auditCheckpointEvery == 1000 && defaults.auditCheckpointInterval == .seconds(3600))
        let set = try Settings(reader: TestServer.reader(["audit.checkpointEvery": "0", "audit.checkpointInterval": "5"]))
        #expect(set.auditCheckpointEvery == 0 && set.auditCheckpointInterval == .seconds(5))
        #expect(throws: ConfigurationError(key: "TRONCH_AUDIT_CHECKPOINT_EVERY", "")) {
            _ = try Settings(reader: TestServer.reader(["audit.checkpointEvery": "-1"]))
        }
    }
}
