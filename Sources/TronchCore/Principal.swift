#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// Permissions on Tronch's own API, each named by the scope that grants it.
package enum Permission: String, Sendable, CaseIterable {
    case keysRead = "keys:read"
    case keysWrite = "keys:write"
    case keysVerify = "keys:verify"
    case auditRead = "audit:read"
    case metricsRead = "metrics:read"
    /// Users, their roles and their locks (an admin's; everyone reads and changes their own account).
    case usersManage = "users:manage"
    /// RFC 7662 introspection of any token, for resource servers.
    case tokensIntrospect = "tokens:introspect"
    /// Groups, their members and ACL entries.
    case authzManage = "authz:manage"
    /// `POST /authz/check` and `check-batch`, for resource servers.
    case authzCheck = "authz:check"
}

/// A person acting through a request: a token's subject, or the user who owns the key that authenticated it.
package struct UserIdentity: Sendable, Hashable {
    package var id: UUID
    package var role: Role

    package init(id: UUID, role: Role) {
        self.id = id
        self.role = role
    }

    /// `user:<id>`: the owner id of this user's keys.
    package var reference: String { UserRecord.reference(id) }
}

/// Who is calling Tronch's own API: the key that authenticated the request, or a person's access token.
///
/// Tronch's own permissions live in reserved scopes (`admin`, `keys:…`, `audit:…`, `metrics:…`, `users:…`) that
/// only an explicit grant confers: the `*` wildcard, which a customer's key may hold for the customer's own API,
/// never makes a key a Tronch administrator, and never lets it mint one. `admin` is the superuser: every
/// permission, any scope to grant, any key to manage. Otherwise a principal holds a permission when one of its
/// scopes other than `*` covers it (`keys:*` covers `keys:read`), and may grant or manage only scopes it covers
/// itself, so no key can mint or rotate its way to more power.
///
/// A person's role bounds all of it: a key a user owns, or a user's access token, acts with at most what the
/// role allows (``Role/permissions``), narrowed by its scopes; and a principal of a user who is not an admin
/// reaches only that user's own keys (``ownKeysOnly``).
package struct Principal: Sendable, Hashable {
    package static let adminScope = "admin"

    /// The key that authenticated the request; nil for an access token.
    package var keyID: UUID?
    /// What the credential holds: a key's scopes, or an access token's `scope` claim.
    package var scopes: [String]
    /// The person acting, when there is one.
    package var user: UserIdentity?
    /// The login session of an access token.
    package var sessionID: UUID?
    /// How the person proved who they are (an access token's `amr`); empty for a key.
    package var amr: [String] = []
    /// The rate limits of the key that authenticated the request (its own `ratelimits`), spent by its calls.
    package var keyPolicies: [RateLimitPolicy] = []

    /// A key no user owns (a service's key, the root key).
    package init(keyID: UUID, scopes: [String]) {
        self.init(keyID: keyID, scopes: scopes, user: nil)
    }

    package init(keyID: UUID?, scopes: [String], user: UserIdentity?, sessionID: UUID? = nil) {
        self.keyID = keyID
        self.scopes = scopes
        self.user = user
        self.sessionID = sessionID
    }

    package var isAdmin: Bool { scopes.contains(Self.adminScope) && (user.map { $0.role == .admin } ?? true) }

    package func allows(_ permission: Permission) -> Bool {
        if isAdmin { return true }
        if let user, !user.role.permissions.contains(permission) { return false }
        return covers(permission.rawValue)
    }

    /// The scopes of `requested` this principal may not grant (empty when it may grant them all).
    package func ungrantable(_ requested: [String]) -> [String] {
        if isAdmin { return [] }
        return requested.filter { scope in
            if !covers(scope) { return true }
            // A person's reserved scopes stop at their role: a member's key never holds audit:read.
            if let user, Scope.isReserved(scope) { return !user.role.grantableScopes.contains { Scope.covers($0, scope) } }
            return false
        }
    }

    /// The owner id (`user:<id>`) whose keys alone this principal reaches; nil when it reaches every key.
    package var ownKeysOnly: String? {
        guard let user, user.role != .admin else { return nil }
        return user.reference
    }

    /// Whether this principal's scopes cover `scope`; reserved scopes need a grant other than `*`.
    private func covers(_ scope: String) -> Bool {
        if Scope.isReserved(scope) {
            return scopes.contains { $0 != "*" && Scope.covers($0, scope) }
        }
        return Scope.isCovered(scope, by: scopes)
    }

    /// The principal as recorded in `created_by`: the key's id, or `user:<id>` for an access token.
    package var reference: String { keyID?.lowercased ?? user?.reference ?? "unknown" }

    /// The principal in the audit log: the key, or the person of an access token.
    package var auditActor: AuditActor {
        if let keyID { return .key(keyID) }
        if let user { return .user(user.id) }
        return .anonymous
    }
}
