import Foundation
import Synchronization
import Testing
import TronchCore
import TronchStorage

@testable import TronchServer

/// The node's authorization snapshot when a change made here cannot be read back: it denies, and a reload
/// that read the state before the change cannot end the denial with a snapshot that still allows.
@Suite struct AuthzDirectoryTests {
    @Test func aReloadThatReadBeforeARevokeCannotEndTheDenial() async throws {
        let store = try await HoldingAuthzStore()
        let user = PrincipalReference.user(UUID())
        let resource = ResourceName("doc:reports/q3")!
        let entry = ACLEntry(
            id: UUIDv7.make(at: Date()),
            resource: resource,
            principal: user,
            action: "read",
            effect: .allow,
            kind: .acl,
            createdAt: Timestamp.date(milliseconds: Timestamp.milliseconds(Date())),
            createdBy: "test"
        )
        try await store.base.insertEntry(entry, audit: [])
        let directory = AuthzDirectory(store: store, fallbackAllows: false)
        try await directory.reload()
        #expect(directory.check(user, action: "read", resource: resource).allowed)

        // A periodic reload reads the state with the entry, and is held before it installs it.
        let (reading, held) = store.holdNextState()
        let stale = Task { try await directory.reload() }
        var started = reading.makeAsyncIterator()
        await started.next()
        // Meanwhile the entry is revoked here, and the version cannot be read back: the node denies.
        _ = try await store.base.deleteEntry(id: entry.id) { _ in [] }
        store.failVersion.withLock { $0 = true }
        await directory.applyAfterChange(.entryRemoved(entry))
        #expect(!directory.check(user, action: "read", resource: resource).allowed)
        // The held reload finishes with what it read before the revoke: the denial stands.
        held.yield()
        try await stale.value
        #expect(!directory.check(user, action: "read", resource: resource).allowed, "no stale allow after a revoke")
        // A reload that begins now reads the revoked state and ends the denial with it.
        store.failVersion.withLock { $0 = false }
        try await directory.reload()
        #expect(directory.version == (try await store.base.authzVersion()))
        #expect(!directory.check(user, action: "read", resource: resource).allowed)
    }
}

/// An in-memory store whose next `authzState()` can be held after it has read, and whose `authzVersion()`
/// can fail as if the database had gone away.
final class HoldingAuthzStore: AuthzStore, Sendable {
    let base: SQLiteStore
    let failVersion = Mutex(false)
    private let hold = Mutex<(started: AsyncStream<Void>.Continuation, release: AsyncStream<Void>)?>(nil)

    init() async throws {
        base = try SQLiteStore.inMemory()
        try await base.migrateUp(to: nil)
    }

    /// Holds the next read of the state: the first stream says it has read, the continuation releases it.
    func holdNextState() -> (AsyncStream<Void>, AsyncStream<Void>.Continuation) {
        let (started, startedContinuation) = AsyncStream.makeStream(of: Void.self)
        let (release, releaseContinuation) = AsyncStream.makeStream(of: Void.self)
        hold.withLock { $0 = (startedContinuation, release) }
        return (started, releaseContinuation)
    }

    func authzState() async throws -> AuthzState {
        let state = try await base.authzState()
        let held = hold.withLock { hold in
            defer { hold = nil }
            return hold
        }
        if let held {
            held.started.yield()
            var release = held.release.makeAsyncIterator()
            await release.next()
        }
        return state
    }

    func authzVersion() async throws -> Int64 {
        if failVersion.withLock({ $0 }) { throw StorageError.unavailable("down") }
        return try await base.authzVersion()
    }

    func insertGroup(_ group: GroupRecord, audit: [AuditEvent]) async throws { try await base.insertGroup(group, audit: audit) }
    func group(id: UUID) async throws -> GroupRecord? { try await base.group(id: id) }
    func groups(matching query: GroupQuery) async throws -> [GroupRecord] { try await base.groups(matching: query) }
    func updateGroup(
        id: UUID,
        _ change: @escaping @Sendable (inout GroupRecord) throws -> Void,
        audit: @escaping @Sendable (GroupRecord) -> [AuditEvent]
    ) async throws -> (before: GroupRecord, after: GroupRecord) {
        try await base.updateGroup(id: id, change, audit: audit)
    }
    func deleteGroup(
        id: UUID,
        audit: @escaping @Sendable (GroupRecord, _ memberships: Int, _ entries: Int) -> [AuditEvent]
    ) async throws -> GroupRecord? {
        try await base.deleteGroup(id: id, audit: audit)
    }
    func addMember(
        _ membership: GroupMembership,
        validate: @escaping @Sendable (GroupGraph) throws -> Void,
        audit: [AuditEvent]
    ) async throws -> Bool {
        try await base.addMember(membership, validate: validate, audit: audit)
    }
    func removeMember(groupID: UUID, member: PrincipalReference, audit: [AuditEvent]) async throws -> Bool {
        try await base.removeMember(groupID: groupID, member: member, audit: audit)
    }
    func members(groupID: UUID, after: String?, limit: Int) async throws -> [GroupMembership] {
        try await base.members(groupID: groupID, after: after, limit: limit)
    }
    func insertEntry(_ entry: ACLEntry, audit: [AuditEvent]) async throws { try await base.insertEntry(entry, audit: audit) }
    func entry(id: UUID) async throws -> ACLEntry? { try await base.entry(id: id) }
    func entries(matching query: ACLQuery) async throws -> [ACLEntry] { try await base.entries(matching: query) }
    func deleteEntry(id: UUID, audit: @escaping @Sendable (ACLEntry) -> [AuditEvent]) async throws -> ACLEntry? {
        try await base.deleteEntry(id: id, audit: audit)
    }
    func forgetPrincipal(_ principal: PrincipalReference, audit: [AuditEvent]) async throws {
        try await base.forgetPrincipal(principal, audit: audit)
    }
}
