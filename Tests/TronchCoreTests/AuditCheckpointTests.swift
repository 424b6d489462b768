import Foundation
import Testing
import TronchCore

@Suite struct AuditCheckpointTests {
    static let old = SecretBox.Key(bytes: Array(repeating: 1, count: 32))!
    static let new = SecretBox.Key(bytes: Array(repeating: 2, count: 32))!
    static let time = Date(timeIntervalSince1970: 1_800_000_000)

    static func head(_ sequence: Int64) -> AuditHead {
        AuditHead(sequence: sequence, hash: String(repeating: String(sequence % 10), count: 64))
    }

    /// Three checkpoints, each after the one before.
    static func list(_ signer: AuditCheckpointSigner) -> [AuditCheckpoint] {
        var checkpoints = [AuditCheckpoint]()
        for sequence: Int64 in [3, 7, 12] {
            checkpoints.append(signer.sign(head(sequence), after: checkpoints.last, at: time.addingTimeInterval(Double(sequence))))
        }
        return checkpoints
    }

    @Test func aListOfCheckpointsVerifies() throws {
        let signer = AuditCheckpointSigner(secrets: SecretBox(current: Self.old))
        let checkpoints = Self.list(signer)
        #expect(checkpoints.map(\.previousSequence) == [0, 3, 7])
        #expect(try signer.verify(checkpoints).get() == checkpoints.last)
        #expect(try signer.verify([]).get() == nil)
        #expect(checkpoints.allSatisfy { $0.mac.count == 64 && $0.keyID == Self.old.id })
    }

    @Test func everyFieldIsCovered() {
        let signer = AuditCheckpointSigner(secrets: SecretBox(current: Self.old))
        let edits: [(inout AuditCheckpoint) -> Void] = [
            { $0.hash = String(repeating: "f", count: 64) }, { $0.time = $0.time.addingTimeInterval(1) },
            { $0.mac = String(repeating: "0", count: 64) },
        ]
        for edit in edits {
            var checkpoints = Self.list(signer)
            edit(&checkpoints[1])
            #expect(throws: AuditChain.Break.checkpointForged(sequence: 7)) { try signer.verify(checkpoints).get() }
        }
        // Moving a checkpoint to another entry, keeping the links, still breaks its HMAC.
        var moved = Self.list(signer)
        moved[2].sequence = 13
        #expect(throws: AuditChain.Break.checkpointForged(sequence: 13)) { try signer.verify(moved).get() }
    }

    @Test func aRemovedOrInsertedCheckpointShows() {
        let signer = AuditCheckpointSigner(secrets: SecretBox(current: Self.old))
        var removed = Self.list(signer)
        removed.remove(at: 1)
        #expect(throws: AuditChain.Break.checkpointUnlinked(sequence: 12)) { try signer.verify(removed).get() }
        // Relinking the next one to fill the gap needs the key: its HMAC covers the link and the previous HMAC.
        removed[1].previousSequence = 3
        #expect(throws: AuditChain.Break.checkpointForged(sequence: 12)) { try signer.verify(removed).get() }
        var first = Self.list(signer)
        first.removeFirst()
        #expect(throws: AuditChain.Break.checkpointUnlinked(sequence: 7)) { try signer.verify(first).get() }
    }

    @Test func anotherKeyCannotSign() {
        let signer = AuditCheckpointSigner(secrets: SecretBox(current: Self.old))
        let forger = AuditCheckpointSigner(secrets: SecretBox(current: Self.new))
        let forged = Self.list(forger)
        #expect(throws: AuditChain.Break.checkpointKeyUnknown(sequence: 3, keyID: Self.new.id)) { try signer.verify(forged).get() }
        // A forged checkpoint that claims the right key id fails its HMAC.
        var claimed = forged
        claimed[0].keyID = Self.old.id
        #expect(throws: AuditChain.Break.checkpointForged(sequence: 3)) { try signer.verify(claimed).get() }
    }

    @Test func checkpointsOfAPreviousSecretsKeyStillVerify() throws {
        let before = Self.list(AuditCheckpointSigner(secrets: SecretBox(current: Self.old)))
        let rotated = AuditCheckpointSigner(secrets: SecretBox(current: Self.new, previous: [Self.old]))
        let next = rotated.sign(Self.head(20), after: before.last, at: Self.time.addingTimeInterval(20))
        #expect(next.keyID == Self.new.id)
        #expect(try rotated.verify(before + [next]).get() == next)
        // Without the old key, its checkpoints cannot be checked, which is a failure rather than a pass.
        let forgetful = AuditCheckpointSigner(secrets: SecretBox(current: Self.new))
        #expect(throws: AuditChain.Break.checkpointKeyUnknown(sequence: 3, keyID: Self.old.id)) {
            try forgetful.verify(before + [next]).get()
        }
    }

    @Test func aCheckpointIsDueEveryNEntriesOrAfterTheInterval() {
        let signer = AuditCheckpointSigner(secrets: SecretBox(current: Self.old))
        let last = signer.sign(Self.head(10), after: nil, at: Self.time)
        func due(_ head: Int64, after seconds: Double, last: AuditCheckpoint? = last) -> Bool {
            AuditCheckpoint.isDue(head: Self.head(head), last: last, now: Self.time.addingTimeInterval(seconds), every: 100, interval: 60)
        }
        #expect(!due(0, after: 0, last: nil), "an empty log needs none")
        #expect(due(1, after: 0, last: nil), "the first entry gets one at once")
        #expect(!due(10, after: 3600), "nothing new")
        #expect(!due(109, after: 59))
        #expect(due(110, after: 1))
        #expect(due(11, after: 60))
    }
}
