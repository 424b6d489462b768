package import Foundation
package import TronchCore

/// Which keys a list returns: every filter is optional and they combine with AND.
package struct KeyQuery: Sendable, Hashable {
    package var ownerID: String?
    package var environment: KeyEnvironment?
    package var status: DisplayStatus?
    /// Keys whose name starts with this text (case-sensitive).
    package var namePrefix: String?
    /// At most this many keys (1...100 through the API).
    package var limit: Int = 50
    /// Continue after this key (the previous page's `nextCursor`).
    package var after: UUID?
    /// The instant that separates `active` from `expired`.
    package var now: Date
    /// Only keys still working at `now` that stop working (expiry or end of a rotation's grace) by then.
    package var expiringBefore: Date?

    package init(
        ownerID: String? = nil,
        environment: KeyEnvironment? = nil,
        status: DisplayStatus? = nil,
        namePrefix: String? = nil,
        limit: Int = 50,
        after: UUID? = nil,
        now: Date
    ) {
        self.ownerID = ownerID
        self.environment = environment
        self.status = status
        self.namePrefix = namePrefix
        self.limit = limit
        self.after = after
        self.now = now
    }
}

/// One page of keys, newest first.
package struct KeyPage: Sendable, Hashable {
    package var keys: [KeyRecord]
    /// The last key's id when more keys may follow, otherwise nil.
    package var nextCursor: UUID?

    package init(keys: [KeyRecord], nextCursor: UUID?) {
        self.keys = keys
        self.nextCursor = nextCursor
    }
}

/// Where keys live. Every backend passes the same conformance suite; each method is one transaction.
///
/// Methods throw ``DomainError`` with `.conflict` for a duplicate id or digest and `.notFound` for a missing
/// key; any other error is a storage failure.
package protocol KeyStore: Sendable {
    /// Stores a new key, and `audit` (when given) in the same transaction: no change without its entry.
    func insert(_ record: KeyRecord, audit: AuditEvent?) async throws

    /// Stores many new keys, and the `audit` entries, in one transaction: all of them, or none when any
    /// key conflicts.
    func insert(batch records: [KeyRecord], audit: [AuditEvent]) async throws

    /// Replaces a key's stored digest (with its hash version and pepper) when it still is `old`: an imported
    /// key's foreign hash upgraded to Tronch's on its first successful verification, or a digest made with the
    /// previous pepper re-keyed with the current one. Returns whether it did.
    func replaceDigest(id: UUID, old: KeyDigest, new: KeyDigest, hashVersion: Int, pepperID: String?) async throws -> Bool

    /// How many keys (Tronch's HMAC digests) each pepper holds, revoked ones apart: what a pepper rotation
    /// waits on. A nil pepper id is a key stored before peppers had ids.
    func keyCountsByPepper() async throws -> [PepperCount]

    /// A pepper rotation, in one transaction: keys without a pepper id get `previousID` (they were made with
    /// the pepper being replaced), the setting `fingerprint` records the new pepper, and `audit` is appended.
    func recordPepperRotation(previousID: String, fingerprint: (name: String, value: String), audit: AuditEvent) async throws

    /// Stores `record` only when the store holds no key at all, atomically; returns whether it did.
    /// This is how the first root key is created exactly once, even with several nodes starting together.
    func insertIfEmpty(_ record: KeyRecord, audit: AuditEvent?) async throws -> Bool

    func key(id: UUID) async throws -> KeyRecord?

    /// The key whose HMAC is `digest`: the verification lookup.
    func key(digest: KeyDigest) async throws -> KeyRecord?

    func keys(matching query: KeyQuery) async throws -> KeyPage

    /// How many keys match `query`'s filters (its page size and cursor are ignored).
    func countKeys(matching query: KeyQuery) async throws -> Int

    /// Reads a key, lets `change` modify it, and writes it back, all in one transaction.
    /// `change` may throw to abort without writing. Returns the key as stored.
    /// `audit` is appended in the same transaction, unless `change` throws.
    func update(
        id: UUID,
        audit: AuditEvent?,
        _ change: @escaping @Sendable (inout KeyRecord) throws -> Void
    ) async throws -> KeyRecord

    /// Rotation in one transaction: `plan` receives the current key and returns it changed plus its
    /// successor, which is inserted. Returns both as stored.
    func rotate(
        id: UUID,
        audit: AuditEvent?,
        _ plan: @escaping @Sendable (KeyRecord) throws -> (old: KeyRecord, new: KeyRecord)
    ) async throws -> (old: KeyRecord, new: KeyRecord)

    /// Records when keys were last used; a use never moves `last_used_at` backwards.
    func recordUse(_ lastUsed: [UUID: Date]) async throws

    /// Spends a usage-limited key's credits by the rules of ``Credits/spend(_:cost:now:)``, refilling first
    /// when a refill fell due, in one transaction that holds the row, so concurrent spends on any number of
    /// nodes never overspend. Nil when no key has this id.
    func spendCredits(id: UUID, cost: Int64, now: Date) async throws -> Credits.Spend?

    /// Up to `limit` working keys (not revoked, not past a rotation's grace) whose `expires_at` falls after
    /// `now` and at or before `horizon`, and whose reminder for that expiry has not been recorded; soonest
    /// expiry first.
    func keysDueExpiryReminder(now: Date, horizon: Date, limit: Int) async throws -> [KeyRecord]

    /// Records that the key with `id` was reminded of its expiry `expiresAt`, and appends `audit`, in one
    /// transaction; false (and nothing written) when its expiry is no longer `expiresAt`, it was revoked, or
    /// another node recorded the reminder first. A later change of `expires_at` makes the key due again.
    func recordExpiryReminder(id: UUID, expiresAt: Date, audit: AuditEvent) async throws -> Bool
}

extension KeyStore {
    /// Many keys without audit entries: bulk loading (`tronch bench seed`), tests.
    package func insert(batch records: [KeyRecord]) async throws { try await insert(batch: records, audit: []) }

    /// Writes without an audit entry: bulk loading, tests.
    package func insert(_ record: KeyRecord) async throws { try await insert(record, audit: nil) }

    package func insertIfEmpty(_ record: KeyRecord) async throws -> Bool { try await insertIfEmpty(record, audit: nil) }

    package func update(id: UUID, _ change: @escaping @Sendable (inout KeyRecord) throws -> Void) async throws -> KeyRecord {
        try await update(id: id, audit: nil, change)
    }

    package func rotate(
        id: UUID,
        _ plan: @escaping @Sendable (KeyRecord) throws -> (old: KeyRecord, new: KeyRecord)
    ) async throws -> (old: KeyRecord, new: KeyRecord) {
        try await rotate(id: id, audit: nil, plan)
    }
}

/// Keys per pepper, revoked ones counted apart.
package struct PepperCount: Sendable, Hashable {
    package var pepperID: String?
    package var revoked: Bool
    package var count: Int

    package init(pepperID: String?, revoked: Bool, count: Int) {
        self.pepperID = pepperID
        self.revoked = revoked
        self.count = count
    }
}
