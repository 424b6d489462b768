import CoreMetrics
package import Foundation
package import TronchCore
package import TronchRateLimit
package import TronchStorage

/// The key lifecycle: create, change, revoke, rotate and verify, with the rules that protect it.
///
/// Controllers translate HTTP into calls here; the store does the I/O; the pure rules live in `TronchCore`.
package struct KeyService: Sendable {
    package let store: any KeyStore & AuditStore
    package let cache: KeyCache
    package let hasher: KeyHasher
    package let format: KeyFormat
    package let clock: WallClock
    package let limits: KeyLimits
    package let lastUsed: LastUsedRecorder
    package let rateLimits: RateLimits
    /// Counts verifications per key and minute (nil: not counted).
    package let usage: UsageRecorder?
    let metrics = KeyMetrics()
    /// Tells other nodes about writes (nil on a single node, where the TTL is the only bound needed).
    package let broadcast: (any CacheInvalidationBroadcast)?
    /// Whether imported keys widen the lookup.
    package let imports: ImportedKeys
    /// The owners of user-owned keys (nil: no user store, every key acts on its scopes alone).
    package let owners: UserDirectory?
    /// Seals and opens keys' signing secrets (nil: keys cannot sign).
    package let secrets: SecretBox?
    /// The nonces of signed requests seen recently.
    package let nonces: any NonceCache
    /// The pepper before a rotation: keys it hashed are still found, and re-keyed at their first use.
    package let previousHasher: KeyHasher?
    /// Samples refusals by a key's rate limit into audit entries (nil: none written).
    package let rateLimitedEvents: RateLimitedEvents?

    package init(
        store: any KeyStore & AuditStore,
        cache: KeyCache,
        hasher: KeyHasher,
        format: KeyFormat,
        clock: WallClock,
        limits: KeyLimits,
        lastUsed: LastUsedRecorder,
        rateLimits: RateLimits,
        usage: UsageRecorder? = nil,
        broadcast: (any CacheInvalidationBroadcast)? = nil,
        imports: ImportedKeys = ImportedKeys(settings: nil),
        owners: UserDirectory? = nil,
        secrets: SecretBox? = nil,
        nonces: any NonceCache = LocalNonceCache(),
        previousHasher: KeyHasher? = nil,
        rateLimitedEvents: RateLimitedEvents? = nil
    ) {
        self.store = store
        self.cache = cache
        self.hasher = hasher
        self.format = format
        self.clock = clock
        self.limits = limits
        self.lastUsed = lastUsed
        self.rateLimits = rateLimits
        self.usage = usage
        self.broadcast = broadcast
        self.imports = imports
        self.owners = owners
        self.secrets = secrets
        self.nonces = nonces
        self.previousHasher = previousHasher
        self.rateLimitedEvents = rateLimitedEvents
    }

    /// A new key and its secret, which exists nowhere else.
    package struct IssuedKey: Sendable {
        package var record: KeyRecord
        package var secret: String
        /// The key's request-signing secret, for a key that signs (shown once, like `secret`).
        package var signingSecret: String?
        /// The creator's key-creation limit after this key, when one applies.
        package var rateLimit: RateLimitDecision?
    }

    /// The outcome of a verification and the key it concerns (nil when not found).
    package struct Verification: Sendable {
        package var code: VerifyCode
        package var record: KeyRecord?
        /// The key's rate-limit state, when a limit applied and was checked.
        package var rateLimit: RateLimitDecision?
        /// Credits left after this verification (nil = unlimited, or not reached).
        package var remaining: Int64?

        package init(code: VerifyCode, record: KeyRecord?, rateLimit: RateLimitDecision? = nil, remaining: Int64? = nil) {
            self.code = code
            self.record = record
            self.rateLimit = rateLimit
            self.remaining = remaining ?? record?.settings.remaining
        }
    }

    // MARK: Verification

    /// The record behind a presented key: malformed keys are rejected without I/O, then the cache, then the
    /// store (whose answer, found or not, is cached). While the store is unreachable, an expired cache
    /// answer within the stale period (`cache.staleTtl`) is used instead of failing.
    ///
    /// Imported keys widen the search only once an import brought them: keys in another format, and keys
    /// known by a plain SHA-256 (looked up when the HMAC finds nothing; upgraded by ``check(_:scopes:clientIP:)``).
    package func lookup(_ key: String) async throws -> KeyRecord? {
        // Once upgraded, a key imported by its SHA-256 is found by its HMAC, whatever its format.
        if KeyFormat.parse(key) != nil || imports.foreignFormat || imports.sha256Hashes,
            let record = try await lookup(digest: hasher.digest(key)), record.hashVersion == hasher.version
        {
            return record
        }
        // During a pepper rotation: a key not yet re-keyed is found by the previous pepper's digest.
        if let previousHasher, KeyFormat.parse(key) != nil || imports.foreignFormat,
            let record = try await lookup(digest: previousHasher.digest(key)), record.hashVersion == KeyHasher.hmacVersion
        {
            return record
        }
        guard imports.sha256Hashes, key.utf8.count <= ImportedSecret.maxLength,
            let record = try await lookup(digest: KeyHasher.sha256(key)),
            record.hashVersion == KeyHasher.importedSHA256Version
        else { return nil }
        return record
    }

    /// The cache, then the store, for one digest.
    private func lookup(digest: KeyDigest) async throws -> KeyRecord? {
        switch cache.lookup(digest) {
        case .hit(let record):
            metrics.cacheHits.increment()
            return record
        case .miss(let generation, let stale):
            metrics.cacheMisses.increment()
            let record: KeyRecord?
            do {
                record = try await store.key(digest: digest)
            } catch StorageError.unavailable(let reason) {
                // The database is down: an answer cached a little while ago beats no answer at all.
                guard let stale else { throw StorageError.unavailable(reason) }
                return stale.record
            }
            cache.store(record, for: digest, generation: generation)
            return record
        }
    }

    /// Verifies a key for a request: status, expiry, address and scopes, then the key's rate limits, then
    /// its credits. A request refused by one check is not counted by the later ones.
    /// A key that signs its requests needs `signature`: the request it came with.
    package func verify(
        _ key: String,
        scopes: [String] = [],
        clientIP: IPAddress? = nil,
        cost: Int64 = 1,
        signature: SignatureEvidence? = nil
    ) async throws -> Verification {
        let verification = try await decide(key, scopes: scopes, clientIP: clientIP, cost: cost, signature: signature)
        metrics.verified(verification.code)
        if let record = verification.record, verification.code != .notFound {
            usage?.recordVerification(of: record.id, code: verification.code, at: clock.now)
        }
        return verification
    }

    private func decide(
        _ key: String,
        scopes: [String],
        clientIP: IPAddress?,
        cost: Int64,
        signature: SignatureEvidence?
    ) async throws -> Verification {
        var verification = try await check(key, scopes: scopes, clientIP: clientIP, signature: signature, signed: true)
        guard verification.code == .valid, let record = verification.record else { return verification }
        if let decision = try await rateLimits.verification(of: record, cost: cost) {
            verification.rateLimit = decision
            (decision.allowed ? metrics.rateLimitAllowed : metrics.rateLimitRefused).increment()
            if !decision.allowed {
                verification.code = .rateLimited
                rateLimitedEvents?.refused(record, decision: decision, at: clock.now)
                return verification
            }
        }
        // Credits last, and in the database: the one place every node agrees on a key's balance.
        if record.settings.remaining != nil || record.settings.refill != nil,
            let spend = try await store.spendCredits(id: record.id, cost: cost, now: clock.now)
        {
            verification.remaining = spend.balance.remaining
            if !spend.allowed { verification.code = .usageExceeded }
        }
        return verification
    }

    /// The checks that need no limiter: status, expiry, address, the signature (when `signed`: a
    /// verification for the key holder's API, not a call to Tronch's own), scopes.
    func check(
        _ key: String,
        scopes: [String],
        clientIP: IPAddress?,
        signature: SignatureEvidence? = nil,
        signed: Bool = false
    ) async throws -> Verification {
        var record = try await lookup(key)
        let now = clock.now
        let requirements = VerifyRequirements(scopes: scopes, clientIP: clientIP, now: now)
        var code = KeyVerifier.evaluateKey(record, requirements)
        if code == .valid, let found = record {
            if signed, found.signingSecret != nil { code = await signatureCode(found, signature, now: now) }
            if code == .valid { code = KeyVerifier.evaluateScopes(found, requirements) }
        }
        if let imported = record, imported.hashVersion == KeyHasher.importedSHA256Version, code == .valid {
            record = await upgradeDigest(of: imported, key: key)
        } else if let found = record, let pepper = found.pepperID, pepper != hasher.id, found.status == .active {
            // Made with the previous pepper (its id set by the rotation): re-keyed now that the key is known.
            record = await upgradeDigest(of: found, key: key)
        }
        // Every presentation of an existing key counts as a use, failed ones included: "who still sends the
        // old key?" is the question last_used_at answers after a rotation.
        if let record { lastUsed.record(record.id, at: now) }
        return Verification(code: code, record: record)
    }

    /// Authenticates a caller of Tronch's own API: the key must pass every check but scopes. The key's own
    /// rate limits and credits are for its use against the customer's API, so they do not apply here.
    package func authenticate(_ key: String, clientIP: IPAddress?) async throws -> Authentication {
        let verification = try await check(key, scopes: [], clientIP: clientIP)
        guard verification.code == .valid, let record = verification.record else {
            return .rejected(verification.code, keyID: verification.code == .notFound ? nil : verification.record?.id)
        }
        // A key a user owns acts with at most its owner's role; an owner who is gone or disabled disables it.
        var owner: UserIdentity?
        if let ownerID = UserRecord.id(fromOwner: record.settings.ownerID), let owners {
            guard let identity = try await owners.identity(of: ownerID) else { return .rejected(.disabled, keyID: record.id) }
            owner = identity
        }
        var principal = Principal(keyID: record.id, scopes: record.settings.scopes, user: owner)
        principal.keyPolicies = record.settings.ratelimits
        return .authenticated(principal)
    }

    package enum Authentication: Sendable {
        case authenticated(Principal)
        /// Why the key was refused, and which key it was when it exists.
        case rejected(VerifyCode, keyID: UUID?)
    }

    // MARK: Reads

    package func key(id: UUID) async throws -> KeyRecord {
        guard let record = try await store.key(id: id) else { throw DomainError.keyNotFound(id.lowercased) }
        return record
    }

    /// A key `principal` may see: a user who is not an admin sees only their own keys (another's is not found).
    package func key(id: UUID, visibleTo principal: Principal) async throws -> KeyRecord {
        let record = try await key(id: id)
        try Self.requireVisible(record, to: principal)
        return record
    }

    package func keys(matching query: KeyQuery) async throws -> KeyPage {
        try await store.keys(matching: query)
    }

    /// A list `principal` may see: a user who is not an admin lists their own keys only.
    package func keys(matching query: KeyQuery, visibleTo principal: Principal) async throws -> KeyPage {
        var query = query
        if let own = principal.ownKeysOnly {
            if let asked = query.ownerID, asked != own {
                throw DomainError(.forbidden, "you can list only your own keys (owner_id \(own))")
            }
            query.ownerID = own
        }
        return try await store.keys(matching: query)
    }

    // MARK: Writes

    /// Creates a key on behalf of `principal`.
    package func create(
        _ settings: KeySettings,
        environment: KeyEnvironment,
        signing: Bool = false,
        by principal: Principal,
        origin: RequestOrigin = .none
    ) async throws -> IssuedKey {
        let now = clock.now
        let settings = try Self.owned(settings, by: principal)
        try settings.validate(now: now, limits: limits)
        try Self.requireGrantable(settings.scopes, by: principal)
        // Counted once the request is known to be good, so a rejected request costs nothing.
        let decision = try await rateLimits.keyCreation(by: principal)
        if let decision, !decision.allowed {
            throw RateLimitRefusal(decision: decision, detail: "this key has created too many keys")
        }
        let secret = format.generate(environment: environment)
        var record = newRecord(
            secret: secret,
            environment: environment,
            settings: settings,
            now: now,
            createdBy: principal.reference
        )
        let signingSecret = try signing ? newSigningSecret(for: record.id) : nil
        record.signingSecret = signingSecret?.sealed
        let audit = AuditEvent(
            time: now,
            actor: principal.auditActor,
            action: AuditAction.keyCreated,
            targetType: "key",
            targetID: record.id.lowercased,
            origin: origin,
            details: Self.auditDetails(record)
        )
        try await store.insert(record, audit: audit)
        invalidate(record.digest)
        return IssuedKey(record: record, secret: secret, signingSecret: signingSecret?.secret, rateLimit: decision)
    }

    /// Creates the first key, with every permission, when the store holds no key at all.
    /// Returns the secret when it did, nil when keys already exist.
    package func bootstrapRootKey(secret presetSecret: String?) async throws -> String? {
        let secret = presetSecret ?? format.generate(environment: .live)
        let record = try Self.rootKeyRecord(secret: secret, hasher: hasher, now: clock.now)
        let audit = AuditEvent(
            time: record.createdAt,
            actor: .system,
            action: AuditAction.rootKeyBootstrapped,
            targetType: "key",
            targetID: record.id.lowercased,
            details: ["source": presetSecret == nil ? "generated" : "TRONCH_BOOTSTRAP_ROOT_KEY"]
        )
        guard try await store.insertIfEmpty(record, audit: audit) else { return nil }
        invalidate(record.digest)
        return secret
    }

    /// The record of a root key: named `root`, holding `admin`, created by `bootstrap`.
    package static func rootKeyRecord(secret: String, hasher: KeyHasher, now: Date) throws -> KeyRecord {
        guard let parsed = KeyFormat.parse(secret) else { throw DomainError.invalid("bootstrap.rootKey", "malformed") }
        var settings = KeySettings()
        settings.name = "root"
        settings.scopes = [Principal.adminScope]
        return newRecord(
            secret: secret,
            environment: parsed.environment,
            settings: settings,
            now: now,
            createdBy: "bootstrap",
            hasher: hasher
        )
    }

    package func update(
        id: UUID,
        _ patch: KeyPatch,
        by principal: Principal,
        origin: RequestOrigin = .none
    ) async throws -> KeyRecord {
        let now = clock.now
        let limits = self.limits
        let audit = AuditEvent(
            time: now,
            actor: principal.auditActor,
            action: AuditAction.keyUpdated,
            targetType: "key",
            targetID: id.lowercased,
            origin: origin,
            details: ["fields": .array(patch.fieldNames.map(JSONValue.string))]
        )
        let record = try await store.update(id: id, audit: audit) { record in
            guard record.status == .active else {
                throw DomainError(.conflict, "key \(id.lowercased) is revoked and cannot be changed")
            }
            try Self.requireManageable(record, by: principal)
            let settings = try Self.owned(patch.applied(to: record.settings), by: principal)
            try settings.validate(now: patch.expiresAt.isUnchanged ? nil : now, limits: limits)
            try Self.requireGrantable(settings.scopes, by: principal)
            guard settings != record.settings else { return }
            record.settings = settings
            record.updatedAt = now
        }
        invalidate(record.digest)
        return record
    }

    /// Revokes a key; revoking a revoked key changes nothing and succeeds.
    package func revoke(id: UUID, by principal: Principal, origin: RequestOrigin = .none) async throws -> KeyRecord {
        let now = clock.now
        let audit = AuditEvent(
            time: now,
            actor: principal.auditActor,
            action: AuditAction.keyRevoked,
            targetType: "key",
            targetID: id.lowercased,
            origin: origin
        )
        let record = try await store.update(id: id, audit: audit) { record in
            try Self.requireManageable(record, by: principal)
            guard record.status == .active else { return }
            record.status = .revoked
            record.revokedAt = now
            record.updatedAt = now
        }
        invalidate(record.digest)
        return record
    }

    /// Replaces a key by a new one with the same settings. The old key keeps working for `gracePeriod`
    /// seconds (never beyond its own expiry); zero revokes it at once.
    /// The successor signs its requests when `signing` says so, or (nil) when the old key did, with a new
    /// signing secret.
    package func rotate(
        id: UUID,
        gracePeriod: Int64,
        expiresAt: Patch<Date>,
        signing: Bool? = nil,
        by principal: Principal,
        origin: RequestOrigin = .none
    ) async throws -> (old: KeyRecord, new: IssuedKey) {
        let now = clock.now
        let limits = self.limits
        let service = self
        // A key's environment never changes, so the successor's secret can be drawn before the transaction.
        let environment = try await key(id: id).environment
        let secret = format.generate(environment: environment)
        // The successor's id is drawn here too, so the audit entry written with the rotation can name it.
        let successorID = UUIDv7.make(at: now)
        // Drawn before the transaction too; used only if the successor signs.
        let signingSecret = signing == false || (signing == nil && secrets == nil) ? nil : try newSigningSecret(for: successorID)
        let audit = AuditEvent(
            time: now,
            actor: principal.auditActor,
            action: AuditAction.keyRotated,
            targetType: "key",
            targetID: id.lowercased,
            origin: origin,
            details: ["successor_id": .string(successorID.lowercased), "grace_period_seconds": .int(gracePeriod)]
        )
        let (old, new) = try await store.rotate(id: id, audit: audit) { current in
            switch current.displayStatus(at: now) {
            case .revoked: throw DomainError(.conflict, "key \(id.lowercased) is revoked and cannot be rotated")
            case .expired: throw DomainError(.conflict, "key \(id.lowercased) has expired; create a new key instead")
            case .active: break
            }
            guard current.graceUntil == nil else {
                throw DomainError(
                    .conflict,
                    "key \(id.lowercased) was already rotated; rotate its successor instead"
                )
            }
            try Self.requireManageable(current, by: principal)
            var settings = current.settings
            settings.expiresAt = expiresAt.applied(to: settings.expiresAt)
            try settings.validate(now: expiresAt.isUnchanged ? nil : now, limits: limits)
            var successor = service.newRecord(
                secret: secret,
                environment: current.environment,
                settings: settings,
                now: now,
                createdBy: principal.reference
            )
            successor.id = successorID
            successor.rotatedFrom = current.id
            if signing ?? (current.signingSecret != nil) {
                guard let signingSecret else { throw DomainError(.serviceUnavailable, "this server cannot seal signing secrets") }
                successor.signingSecret = signingSecret.sealed
            }
            var old = current
            old.updatedAt = now
            if gracePeriod == 0 {
                old.status = .revoked
                old.revokedAt = now
            } else {
                let graceEnd = Timestamp.truncated(now.addingTimeInterval(TimeInterval(gracePeriod)))
                old.graceUntil = old.settings.expiresAt.map { min($0, graceEnd) } ?? graceEnd
            }
            return (old, successor)
        }
        invalidate(old.digest)
        invalidate(new.digest)
        return (old, IssuedKey(record: new, secret: secret, signingSecret: new.signingSecret == nil ? nil : signingSecret?.secret))
    }

    /// Forgets a written key here at once, and on other nodes as soon as they hear of it.
    func invalidate(_ digest: KeyDigest) {
        cache.invalidate(digest)
        broadcast?.invalidate(digest)
    }

    /// What an audit entry says about a new key: never its secret or digest, nor its meta (which is the
    /// customer's own data).
    static func auditDetails(_ record: KeyRecord) -> [String: JSONValue] {
        var details: [String: JSONValue] = [
            "environment": .string(record.environment.rawValue),
            "scopes": .array(record.settings.scopes.map(JSONValue.string)),
        ]
        if let name = record.settings.name { details["name"] = .string(name) }
        if let owner = record.settings.ownerID { details["owner_id"] = .string(owner) }
        return details
    }

    /// Records a security event that changes nothing else (a failed authentication, a denial). A failure to
    /// write it is logged by the caller; the request's answer does not depend on it.
    package func audit(_ event: AuditEvent) async throws {
        try await store.appendAudit([event])
    }

    // MARK: Rules

    func newRecord(
        secret: String,
        environment: KeyEnvironment,
        settings: KeySettings,
        now: Date,
        createdBy: String
    )
        -> KeyRecord
    {
        Self.newRecord(
            secret: secret,
            environment: environment,
            settings: settings,
            now: now,
            createdBy: createdBy,
            hasher: hasher
        )
    }

    /// A new active key's record: id from the creation time, digest and display hints from the secret.
    package static func newRecord(
        secret: String,
        environment: KeyEnvironment,
        settings: KeySettings,
        now: Date,
        createdBy: String,
        hasher: KeyHasher
    ) -> KeyRecord {
        let hints = KeyFormat.hints(for: secret)
        return KeyRecord(
            id: UUIDv7.make(at: now),
            digest: hasher.digest(secret),
            hashVersion: hasher.version,
            start: hints.start,
            end: hints.end,
            environment: environment,
            settings: settings,
            createdAt: now,
            createdBy: createdBy,
            pepperID: hasher.id
        )
    }

    static func requireGrantable(_ scopes: [String], by principal: Principal) throws(DomainError) {
        let missing = principal.ungrantable(scopes)
        guard missing.isEmpty else {
            throw DomainError(
                .forbidden,
                "a key cannot grant scopes it does not hold: \(missing.joined(separator: ", "))"
            )
        }
    }

    /// A user who is not an admin reaches only their own keys; another's is "not found", not "forbidden", so
    /// that ids cannot be probed.
    static func requireVisible(_ record: KeyRecord, to principal: Principal) throws(DomainError) {
        if let own = principal.ownKeysOnly, record.settings.ownerID != own { throw DomainError.keyNotFound(record.id.lowercased) }
    }

    /// The settings with the owner a user who is not an admin must give: themselves (by default, or refused).
    static func owned(_ settings: KeySettings, by principal: Principal) throws(DomainError) -> KeySettings {
        guard let own = principal.ownKeysOnly else { return settings }
        var settings = settings
        if settings.ownerID == nil { settings.ownerID = own }
        guard settings.ownerID == own else {
            throw DomainError(.forbidden, "you can own keys only yourself: owner_id must be \(own) or absent")
        }
        return settings
    }

    /// A principal may change, revoke or rotate only keys it can see and whose scopes it holds itself;
    /// otherwise a `keys:write` key could rotate the root key and receive its successor's secret.
    static func requireManageable(_ record: KeyRecord, by principal: Principal) throws(DomainError) {
        try requireVisible(record, to: principal)
        let missing = principal.ungrantable(record.settings.scopes)
        guard missing.isEmpty else {
            throw DomainError(
                .forbidden,
                "key \(record.id.lowercased) holds scopes this key does not: \(missing.joined(separator: ", "))"
            )
        }
    }
}
