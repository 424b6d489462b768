import Foundation
import Testing
import TronchCore

@testable import TronchServer

/// The ring of signing keys under overlapping reloads: start-up's, the periodic one's and a rotation's.
@Suite struct SigningKeysTests {
    let secrets = SecretBox(current: SecretBox.Key(bytes: (0..<32).map { _ in UInt8.random(in: 0...255) })!)

    /// Seen in CI as a login answering 503 "no signing key is loaded yet": the periodic reload read the keys
    /// before start-up stored the first one, finished after start-up's reload, and put back the empty set.
    @Test func aReloadThatBeganEarlierNeverUndoesALaterOne() async throws {
        let first = try SigningKeys.generate(.es256, state: .active, secrets: secrets, now: Date())
        let keys = SigningKeys()
        let (reading, reader) = AsyncStream.makeStream(of: Void.self)
        let (gate, release) = AsyncStream.makeStream(of: [SigningKeyRecord].self)
        // The periodic reload: it reads the empty set, then is held before it builds.
        let stale = Task { [secrets] in
            try await keys.reload(secrets: secrets) {
                reader.yield()
                var held = gate.makeAsyncIterator()
                return await held.next() ?? []
            }
        }
        var started = reading.makeAsyncIterator()
        await started.next()
        // Start-up stores the first key and reloads; it finishes first.
        try await keys.reload(secrets: secrets) { [first] }
        #expect(keys.current.active?.kid == first.kid)
        // The held reload finishes last with what it read before the key existed.
        release.yield([])
        try await stale.value
        #expect(keys.current.active?.kid == first.kid, "the later read's ring stays")
        #expect(keys.current.records == [first])
    }

    @Test func aRotationReplacesTheActiveKeyAndKeepsThePreviousOneVerifying() async throws {
        let old = try SigningKeys.generate(.es256, state: .active, secrets: secrets, now: Date())
        var passive = old
        passive.state = .passive
        let new = try SigningKeys.generate(.es256, state: .active, secrets: secrets, now: Date())
        let keys = SigningKeys()
        try await keys.reload(secrets: secrets) { [old] }
        try await keys.reload(secrets: secrets) { [new, passive] }
        #expect(keys.current.active?.kid == new.kid)
        #expect(Set(keys.current.verifiers.keys) == [old.kid, new.kid])
        // Reading the same set again changes nothing.
        try await keys.reload(secrets: secrets) { [new, passive] }
        #expect(keys.current.active?.kid == new.kid)
    }
}
