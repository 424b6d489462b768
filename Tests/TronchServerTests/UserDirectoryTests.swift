import Foundation
import Synchronization
import Testing
import TronchCore

@testable import TronchServer

/// The short cache of key owners: a change made on this node must be seen by the next request, even when a
/// read that began before the change finishes after it.
@Suite struct UserDirectoryTests {
    static func user(role: Role, mfa: Bool = false) -> UserRecord {
        UserRecord(
            id: UUID(uuidString: "01a24a9a-2a70-7ff5-be89-e8e256da4919")!,
            username: "ria",
            email: try! EmailAddress.parse("ria@example.com").get(),
            role: role,
            mfaEnabled: mfa,
            createdAt: Date()
        )
    }

    @Test func aReadUnderWayWhenTheUserChangesIsNotKept() async throws {
        let stored = Mutex(Self.user(role: .admin, mfa: true))
        let reads = Atomic<Int>(0)
        let (reading, reader) = AsyncStream.makeStream(of: Void.self)
        let (gate, release) = AsyncStream.makeStream(of: Void.self)
        let directory = UserDirectory(ttl: .seconds(60)) { _ in
            let user = stored.withLock { $0 }
            // The first read is held after it has read, as if the request's task were suspended.
            if reads.add(1, ordering: .relaxed).newValue == 1 {
                reader.yield()
                var held = gate.makeAsyncIterator()
                await held.next()
            }
            return user
        }
        let id = Self.user(role: .admin).id
        let early = Task { try await directory.identity(of: id) }
        var started = reading.makeAsyncIterator()
        await started.next()
        // An administrator demotes the user and resets their second factor on this node meanwhile.
        stored.withLock { $0 = Self.user(role: .viewer, mfa: false) }
        directory.invalidate(id)
        release.yield()
        #expect(try await early.value?.role == .admin, "the held read answers its own request with what it read")
        #expect(try await directory.identity(of: id)?.role == .viewer, "but is not what the next request sees")
        #expect(try await directory.mfaEnabled(id) == false)
        #expect(reads.load(ordering: .relaxed) == 2)
    }

    @Test func answersAreKeptForTheirTimeAndDisabledUsersHaveNoIdentity() async throws {
        let stored = Mutex(Self.user(role: .member))
        let reads = Atomic<Int>(0)
        let directory = UserDirectory(ttl: .seconds(60)) { _ in
            reads.add(1, ordering: .relaxed)
            return stored.withLock { $0 }
        }
        let id = Self.user(role: .member).id
        #expect(try await directory.identity(of: id)?.role == .member)
        stored.withLock { $0.status = .disabled }
        #expect(try await directory.identity(of: id)?.role == .member, "cached: another node's change waits for the time")
        #expect(reads.load(ordering: .relaxed) == 1)
        directory.invalidate(id)
        #expect(try await directory.identity(of: id) == nil, "a disabled user's keys act for nobody")
    }
}
