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
}

/// Who is calling Tronch's own API: the key that authenticated the request.
///
/// Tronch's own permissions live in reserved scopes (`admin`, `keys:…`, `audit:…`, `metrics:…`) that only an explicit
/// grant confers: the `*` wildcard, which a customer's key may hold for the customer's own API, never makes
/// a key a Tronch administrator, and never lets it mint one. `admin` is the superuser: every permission, any
/// scope to grant, any key to manage. Otherwise a principal holds a permission when one of its scopes other
/// than `*` covers it (`keys:*` covers `keys:read`), and may grant or manage only scopes it covers itself, so
/// no key can mint or rotate its way to more power.
package struct Principal: Sendable, Hashable {
    package static let adminScope = "admin"

    package var keyID: UUID
    package var scopes: [String]

    package init(keyID: UUID, scopes: [String]) {
        self.keyID = keyID
        self.scopes = scopes
    }

    package var isAdmin: Bool { scopes.contains(Self.adminScope) }

    package func allows(_ permission: Permission) -> Bool {
        isAdmin || covers(permission.rawValue)
    }

    /// The scopes of `requested` this principal may not grant (empty when it may grant them all).
    package func ungrantable(_ requested: [String]) -> [String] {
        isAdmin ? [] : requested.filter { !covers($0) }
    }

    /// Whether this principal's scopes cover `scope`; reserved scopes need a grant other than `*`.
    private func covers(_ scope: String) -> Bool {
        if Scope.isReserved(scope) {
            return scopes.contains { $0 != "*" && Scope.covers($0, scope) }
        }
        return Scope.isCovered(scope, by: scopes)
    }

    /// The principal as recorded in `created_by`.
    package var reference: String { keyID.lowercased }
}
