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
}

/// Who is calling Tronch's own API: the key that authenticated the request.
///
/// The `admin` scope (or `*`) is the superuser: every permission, any scope to grant, any key to manage.
/// Otherwise a principal holds a permission when one of its scopes covers it (`keys:*` covers `keys:read`),
/// and may only grant or manage scopes it covers itself, so no key can mint or rotate its way to more power.
package struct Principal: Sendable, Hashable {
    package static let adminScope = "admin"

    package var keyID: UUID
    package var scopes: [String]

    package init(keyID: UUID, scopes: [String]) {
        self.keyID = keyID
        self.scopes = scopes
    }

    package var isAdmin: Bool { scopes.contains(Self.adminScope) || scopes.contains("*") }

    package func allows(_ permission: Permission) -> Bool {
        isAdmin || Scope.isCovered(permission.rawValue, by: scopes)
    }

    /// The scopes of `requested` this principal may not grant (empty when it may grant them all).
    package func ungrantable(_ requested: [String]) -> [String] {
        isAdmin ? [] : Scope.uncovered(requested, by: scopes)
    }

    /// The principal as recorded in `created_by`.
    package var reference: String { keyID.lowercased }
}
