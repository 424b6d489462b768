import Crypto

#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// A keyed checkpoint of the audit chain: an HMAC, under a key the database never holds, over a head of the
/// chain and the checkpoint before it.
///
/// The hash chain alone shows edits only to someone who cannot write the database: whoever can may edit an
/// entry and compute every later hash again. A checkpoint cannot be computed again without the key, and each
/// one covers the one before it, so an edit below a checkpoint, a removed checkpoint or a chain rolled back
/// below one shows (Vault's HMAC'd audit fields and CloudTrail's signed digest files make the same move).
package struct AuditCheckpoint: Sendable, Hashable {
    /// The chain head it covers: the entry's sequence and hash.
    package var sequence: Int64
    package var hash: String
    /// The checkpoint before it (0 for the first).
    package var previousSequence: Int64
    /// Which key signed it (the secrets key's id).
    package var keyID: String
    package var time: Date
    /// HMAC-SHA-256 in hex over the fields above and the previous checkpoint's `mac`.
    package var mac: String

    package init(sequence: Int64, hash: String, previousSequence: Int64, keyID: String, time: Date, mac: String) {
        self.sequence = sequence
        self.hash = hash
        self.previousSequence = previousSequence
        self.keyID = keyID
        self.time = time
        self.mac = mac
    }

    package var head: AuditHead { AuditHead(sequence: sequence, hash: hash) }
}

/// Signs and checks ``AuditCheckpoint``s with keys derived from the secrets keys (HKDF-SHA-256), so no other
/// secret needs distributing: the current key signs, older ones (kept after a rotation) still check.
package struct AuditCheckpointSigner: Sendable {
    private let current: (id: String, key: SymmetricKey)
    private let keys: [String: SymmetricKey]

    package init(secrets: SecretBox) {
        func derived(_ key: SecretBox.Key) -> (String, SymmetricKey) {
            let derived = HKDF<SHA256>.deriveKey(
                inputKeyMaterial: SymmetricKey(data: key.bytes),
                salt: Array("tronch".utf8),
                info: Array("tronch audit checkpoint v1".utf8),
                outputByteCount: 32
            )
            return (key.id, derived)
        }
        current = derived(secrets.current)
        keys = Dictionary(([secrets.current] + secrets.previous).map(derived)) { first, _ in first }
    }

    package var keyID: String { current.id }

    /// The checkpoint of `head`, following `previous` (nil for the first).
    package func sign(_ head: AuditHead, after previous: AuditCheckpoint?, at time: Date) -> AuditCheckpoint {
        var checkpoint = AuditCheckpoint(
            sequence: head.sequence,
            hash: head.hash,
            previousSequence: previous?.sequence ?? 0,
            keyID: current.id,
            time: Timestamp.truncated(time),
            mac: ""
        )
        checkpoint.mac = Self.mac(checkpoint, previousMAC: previous?.mac ?? "", key: current.key)
        return checkpoint
    }

    /// The first thing wrong with `checkpoints` (ascending, the whole list), or the last one when all hold.
    package func verify(_ checkpoints: [AuditCheckpoint]) -> Result<AuditCheckpoint?, AuditChain.Break> {
        var previous: AuditCheckpoint?
        for checkpoint in checkpoints {
            guard checkpoint.previousSequence == (previous?.sequence ?? 0), checkpoint.sequence > checkpoint.previousSequence
            else { return .failure(.checkpointUnlinked(sequence: checkpoint.sequence)) }
            guard let key = keys[checkpoint.keyID] else {
                return .failure(.checkpointKeyUnknown(sequence: checkpoint.sequence, keyID: checkpoint.keyID))
            }
            let expected = Self.mac(checkpoint, previousMAC: previous?.mac ?? "", key: key)
            guard ConstantTime.equal(expected, checkpoint.mac) else {
                return .failure(.checkpointForged(sequence: checkpoint.sequence))
            }
            previous = checkpoint
        }
        return .success(previous)
    }

    static func mac(_ checkpoint: AuditCheckpoint, previousMAC: String, key: SymmetricKey) -> String {
        let text = [
            "tronch-audit-checkpoint-v1", String(checkpoint.sequence), checkpoint.hash, String(checkpoint.previousSequence),
            previousMAC, checkpoint.keyID, Timestamp.format(checkpoint.time),
        ].joined(separator: "\n")
        return HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key).hexEncoded
    }
}

extension AuditCheckpoint {
    /// Whether a checkpoint is due: `every` entries since the last one, or any new entry once `interval` has
    /// passed since it (so a quiet log is covered too).
    package static func isDue(
        head: AuditHead,
        last: AuditCheckpoint?,
        now: Date,
        every: Int64,
        interval: TimeInterval
    ) -> Bool {
        let since = head.sequence - (last?.sequence ?? 0)
        guard since > 0 else { return false }
        guard let last else { return true }
        return since >= every || now.timeIntervalSince(last.time) >= interval
    }
}
