import Foundation
import Testing
import TronchCore

struct AuditChainTests {
    func chain(_ count: Int) -> [AuditEntry] {
        var head = AuditHead.genesis
        var entries = [AuditEntry]()
        for index in 0..<count {
            let event = AuditEvent(
                time: Timestamp.date(milliseconds: 1_800_000_000_000 + Int64(index)),
                actor: .key(UUID()),
                action: AuditAction.keyCreated,
                targetType: "key",
                targetID: UUID().lowercased,
                origin: RequestOrigin(requestID: "req_\(index)", clientIP: "192.0.2.1", userAgent: "curl/8 \"quoted\""),
                details: ["index": .int(Int64(index)), "name": "ünïcode / slash"]
            )
            let entry = AuditChain.link(event, after: head)
            entries.append(entry)
            head = AuditHead(sequence: entry.sequence, hash: entry.hash)
        }
        return entries
    }

    @Test func anIntactChainVerifies() throws {
        let entries = chain(5)
        let head = try AuditChain.verify(entries, from: .genesis).get()
        #expect(head.sequence == 5 && head.hash == entries.last?.hash)
        #expect(entries.allSatisfy { $0.hash.count == 64 })
    }

    @Test func everyKindOfTamperingIsFound() {
        let entries = chain(5)
        var edited = entries
        edited[2].event.action = AuditAction.keyRevoked
        #expect(AuditChain.verify(edited, from: .genesis) == .failure(.altered(sequence: 3)))

        var details = entries
        details[1].event.details = #"{"index":1,"name":"someone else"}"#
        #expect(AuditChain.verify(details, from: .genesis) == .failure(.altered(sequence: 2)))

        var removed = entries
        removed.remove(at: 3)
        #expect(AuditChain.verify(removed, from: .genesis) == .failure(.gap(after: 3, next: 5)))

        // Rehashing an edited entry does not help: the next one no longer points at it.
        var rehashed = entries
        rehashed[2].event.outcome = .failure
        rehashed[2].hash = AuditChain.hash(rehashed[2].event, sequence: 3, previousHash: rehashed[2].previousHash)
        #expect(AuditChain.verify(rehashed, from: .genesis) == .failure(.unlinked(sequence: 4, expectedPrevious: rehashed[2].hash)))
    }

    @Test func aChainCanBeCheckedFromACheckpoint() throws {
        let entries = chain(6)
        let tail = Array(entries.dropFirst(3))
        #expect(try AuditChain.verify(tail, from: AuditHead(sequence: 3, hash: entries[2].hash)).get().sequence == 6)
        #expect(
            AuditChain.verify(tail, from: AuditHead(sequence: 3, hash: AuditHead.genesis.hash))
                == .failure(.unlinked(sequence: 4, expectedPrevious: AuditHead.genesis.hash))
        )
    }
}
