import Crypto

#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// Who caused an audited event.
package struct AuditActor: Sendable, Hashable {
    package enum Kind: String, Sendable, Hashable, CaseIterable {
        /// An API key (its id).
        case key
        /// A person, through an access token or a login (the user's id).
        case user
        /// Tronch itself: start-up, bootstrap, background work.
        case system
        /// A caller who presented no valid key.
        case anonymous
    }

    package var kind: Kind
    package var id: String?

    package init(kind: Kind, id: String?) {
        self.kind = kind
        self.id = id
    }

    package static func key(_ id: UUID) -> AuditActor { AuditActor(kind: .key, id: id.lowercased) }
    package static func user(_ id: UUID) -> AuditActor { AuditActor(kind: .user, id: id.lowercased) }
    package static let system = AuditActor(kind: .system, id: nil)
    package static let anonymous = AuditActor(kind: .anonymous, id: nil)
}

/// Where a request came from, for the audit trail.
package struct RequestOrigin: Sendable, Hashable {
    package var requestID: String?
    package var clientIP: String?
    package var userAgent: String?

    package init(requestID: String? = nil, clientIP: String? = nil, userAgent: String? = nil) {
        self.requestID = requestID
        self.clientIP = clientIP
        self.userAgent = userAgent
    }

    package static let none = RequestOrigin()
}

/// Something security-relevant that happened, before it takes its place in the chain.
///
/// `details` is kept as the canonical JSON text it was first encoded to: the chain hashes that text, so it
/// must never be re-encoded (a database that normalises JSON would change it).
package struct AuditEvent: Sendable, Hashable {
    package enum Outcome: String, Sendable, Hashable, CaseIterable {
        case success, failure
    }

    package var id: UUID
    package var time: Date
    package var actor: AuditActor
    package var action: String
    package var targetType: String?
    package var targetID: String?
    package var outcome: Outcome
    package var origin: RequestOrigin
    package var details: String

    package init(
        id: UUID? = nil,
        time: Date,
        actor: AuditActor,
        action: String,
        targetType: String? = nil,
        targetID: String? = nil,
        outcome: Outcome = .success,
        origin: RequestOrigin = .none,
        details: [String: JSONValue] = [:]
    ) {
        let time = Timestamp.truncated(time)
        self.init(
            id: id ?? UUIDv7.make(at: time),
            time: time,
            actor: actor,
            action: action,
            targetType: targetType,
            targetID: targetID,
            outcome: outcome,
            origin: origin,
            detailsText: (try? JSONValue.encodeCanonical(JSONValue.object(details))) ?? "{}"
        )
    }

    /// An event read back from storage, its details text as stored.
    package init(
        id: UUID,
        time: Date,
        actor: AuditActor,
        action: String,
        targetType: String?,
        targetID: String?,
        outcome: Outcome,
        origin: RequestOrigin,
        detailsText: String
    ) {
        self.id = id
        self.time = time
        self.actor = actor
        self.action = action
        self.targetType = targetType
        self.targetID = targetID
        self.outcome = outcome
        self.origin = origin
        self.details = detailsText
    }
}

/// Actions Tronch records; the names are part of the API (filters, alerts).
package enum AuditAction {
    package static let keyCreated = "key.created"
    package static let keyImported = "key.imported"
    package static let keyUpdated = "key.updated"
    package static let keyRevoked = "key.revoked"
    package static let keyRotated = "key.rotated"
    /// A key's `expires_at` is within TRONCH_EXPIRY_REMINDER_DAYS: once per expiry.
    package static let keyExpiring = "key.expiring"
    /// A key's verifications were refused by its rate limit: at most one entry per key and interval per node.
    package static let keyRateLimited = "key.rate_limited"
    package static let rootKeyBootstrapped = "root_key.bootstrapped"
    package static let authenticationFailed = "auth.failed"
    package static let permissionDenied = "auth.denied"
    package static let serverStarted = "server.started"
    package static let auditRetention = "audit.retention"
    package static let userCreated = "user.created"
    package static let userUpdated = "user.updated"
    package static let userDeleted = "user.deleted"
    package static let userRoleChanged = "user.role_changed"
    package static let userDisabled = "user.disabled"
    package static let userPasswordChanged = "user.password_changed"
    package static let userLocked = "user.locked"
    package static let userUnlocked = "user.unlocked"
    package static let login = "auth.login"
    package static let loginFailed = "auth.login_failed"
    package static let logout = "auth.logout"
    package static let refreshReuse = "auth.refresh_reuse"
    package static let sessionAnomaly = "auth.session_anomaly"
    package static let sessionRevoked = "session.revoked"
    package static let tokenRevoked = "token.revoked"
    package static let signingKeyCreated = "signing_key.created"
    package static let signingKeyRotated = "signing_key.rotated"
    package static let signingKeyRetired = "signing_key.retired"
    package static let secretsKeyRotated = "secrets_key.rotated"
    /// `tronch keys rotate-pepper`: keys move to a new pepper at their next use.
    package static let pepperRotated = "pepper.rotated"
    package static let webhookCreated = "webhook.created"
    package static let webhookUpdated = "webhook.updated"
    package static let webhookDeleted = "webhook.deleted"
    package static let mfaEnrolmentStarted = "mfa.enrolment_started"
    package static let mfaEnabled = "mfa.enabled"
    package static let mfaDisabled = "mfa.disabled"
    package static let mfaReset = "mfa.reset"
    package static let mfaRecoveryCodesRegenerated = "mfa.recovery_codes_regenerated"
    package static let mfaFailed = "auth.mfa_failed"
    package static let mfaChallenged = "auth.mfa_challenged"
    package static let stepUp = "auth.step_up"
    package static let groupCreated = "group.created"
    package static let groupUpdated = "group.updated"
    package static let groupDeleted = "group.deleted"
    package static let groupMemberAdded = "group.member_added"
    package static let groupMemberRemoved = "group.member_removed"
    package static let aclEntryCreated = "acl.entry_created"
    package static let aclEntryDeleted = "acl.entry_deleted"
    package static let authzDecision = "authz.decision"
    package static let authzPrincipalForgotten = "authz.principal_forgotten"
    /// A request an endpoint permission in report-only mode would have refused (it went through).
    package static let endpointWouldRefuse = "endpoint.would_refuse"
}

/// An event in its place in the chain: its sequence number, the previous entry's hash and its own.
package struct AuditEntry: Sendable, Hashable {
    package var sequence: Int64
    package var event: AuditEvent
    package var previousHash: String
    package var hash: String

    package init(sequence: Int64, event: AuditEvent, previousHash: String, hash: String) {
        self.sequence = sequence
        self.event = event
        self.previousHash = previousHash
        self.hash = hash
    }
}

/// The last link of a chain: where the next entry attaches.
package struct AuditHead: Sendable, Hashable {
    package var sequence: Int64
    package var hash: String

    package init(sequence: Int64, hash: String) {
        self.sequence = sequence
        self.hash = hash
    }

    /// The head of an empty chain.
    package static let genesis = AuditHead(sequence: 0, hash: String(repeating: "0", count: 64))
}

/// The hash chain that makes the audit log tamper-evident (CloudTrail's digest idea, per entry): each
/// entry's hash covers its canonical form and the previous entry's hash, so changing, removing or
/// reordering any entry breaks every link after it.
package enum AuditChain {
    /// The canonical form: a JSON array of strings (or null) in a fixed order, versioned. JSON string
    /// escaping is deterministic, so the same entry always gives the same bytes.
    package static func canonicalForm(_ event: AuditEvent, sequence: Int64, previousHash: String) -> [UInt8] {
        let fields: [String?] = [
            "tronch-audit-v1", String(sequence), previousHash, event.id.lowercased, Timestamp.format(event.time),
            event.actor.kind.rawValue, event.actor.id, event.action, event.targetType, event.targetID,
            event.outcome.rawValue, event.origin.requestID, event.origin.clientIP, event.origin.userAgent,
            event.details,
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return Array((try? encoder.encode(fields)) ?? Data())
    }

    package static func hash(_ event: AuditEvent, sequence: Int64, previousHash: String) -> String {
        SHA256.hash(data: canonicalForm(event, sequence: sequence, previousHash: previousHash)).hexEncoded
    }

    /// The entry that follows the head `(sequence, hash)`.
    package static func link(_ event: AuditEvent, after head: AuditHead) -> AuditEntry {
        let sequence = head.sequence + 1
        return AuditEntry(
            sequence: sequence,
            event: event,
            previousHash: head.hash,
            hash: hash(event, sequence: sequence, previousHash: head.hash)
        )
    }

    /// What is wrong with one link of the chain.
    package enum Break: Error, Sendable, Hashable, CustomStringConvertible {
        /// The entry's content no longer matches its hash: it was edited.
        case altered(sequence: Int64)
        /// The entry does not point at the one before it: an entry was removed, inserted or reordered.
        case unlinked(sequence: Int64, expectedPrevious: String)
        /// A sequence number is missing.
        case gap(after: Int64, next: Int64)
        /// The chain ends before the head the last append recorded: entries were removed from the end.
        case truncated(found: Int64, recorded: Int64)
        /// A keyed checkpoint does not follow the one before it: a checkpoint was removed or inserted.
        case checkpointUnlinked(sequence: Int64)
        /// A keyed checkpoint's HMAC does not match: it was made or changed without the key.
        case checkpointForged(sequence: Int64)
        /// A keyed checkpoint names a key this node does not hold, so it cannot be checked.
        case checkpointKeyUnknown(sequence: Int64, keyID: String)
        /// The entry a keyed checkpoint covers has another hash now: the chain was computed again after it.
        case rewritten(sequence: Int64)
        /// The chain ends below a keyed checkpoint (or an exported one): entries it covered are gone.
        case rolledBack(checkpoint: Int64, head: Int64)
        /// A checkpoint exported earlier is not in the database (or differs): the checkpoints were rewritten.
        case checkpointDropped(sequence: Int64)

        package var description: String {
            switch self {
            case .altered(let sequence): "entry \(sequence) was altered: its content does not match its hash"
            case .unlinked(let sequence, _): "entry \(sequence) does not follow the entry before it (removed or reordered)"
            case .gap(let after, let next): "entries \(after + 1)...\(next - 1) are missing"
            case .truncated(let found, let recorded):
                "the chain ends at entry \(found) but the recorded head is entry \(recorded): entries were removed from the end"
            case .checkpointUnlinked(let sequence):
                "the keyed checkpoint at entry \(sequence) does not follow the checkpoint before it (one was removed or inserted)"
            case .checkpointForged(let sequence):
                "the keyed checkpoint at entry \(sequence) does not match its HMAC: it was written or changed without the key"
            case .checkpointKeyUnknown(let sequence, let keyID):
                "the keyed checkpoint at entry \(sequence) was signed with secrets key \(keyID), which this node does not hold (keep old keys in TRONCH_SECRETS_PREVIOUS_KEYS or secrets.key)"
            case .rewritten(let sequence):
                "entry \(sequence) no longer has the hash its keyed checkpoint signed: the chain was computed again after an edit"
            case .rolledBack(let checkpoint, let head):
                "the chain ends at entry \(head), below the keyed checkpoint at entry \(checkpoint): entries were removed"
            case .checkpointDropped(let sequence):
                "the exported checkpoint at entry \(sequence) is not in the database as exported: the checkpoints were rewritten"
            }
        }
    }

    /// Checks consecutive entries (ascending), starting from `head` (the genesis, or the checkpoint a
    /// retention cut left behind). Returns the first break, or the new head when every link holds.
    package static func verify(
        _ entries: some Sequence<AuditEntry>,
        from head: AuditHead
    ) -> Result<AuditHead, Break> {
        var current = head
        for entry in entries {
            if entry.sequence != current.sequence + 1 {
                return .failure(.gap(after: current.sequence, next: entry.sequence))
            }
            if hash(entry.event, sequence: entry.sequence, previousHash: entry.previousHash) != entry.hash {
                return .failure(.altered(sequence: entry.sequence))
            }
            if entry.previousHash != current.hash {
                return .failure(.unlinked(sequence: entry.sequence, expectedPrevious: current.hash))
            }
            current = AuditHead(sequence: entry.sequence, hash: entry.hash)
        }
        return .success(current)
    }
}
