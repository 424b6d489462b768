/// What a person may do on Tronch's own API.
///
/// `admin` holds every permission over everyone's keys, users and logs. `member` manages their own keys (as
/// `owner_id` `user:<id>`) and their own account and sessions. `viewer` reads their own keys and account.
/// A key owned by a user acts with at most its owner's role, narrowed by its own scopes.
package enum Role: String, Sendable, Hashable, CaseIterable, Codable {
    case admin, member, viewer

    /// The permissions the role grants on Tronch's API (an admin's also reach other people's resources).
    package var permissions: Set<Permission> {
        switch self {
        case .admin: Set(Permission.allCases)
        case .member: [.keysRead, .keysWrite]
        case .viewer: [.keysRead]
        }
    }

    /// The reserved scopes (Tronch's own) a key owned by a user of this role may hold: a member cannot mint a
    /// key with `admin` or `audit:read`, whatever the key that creates it holds. Other scopes (the customer's
    /// own, `orders:read`) are not Tronch's to limit.
    package var grantableScopes: [String] {
        switch self {
        case .admin: [Principal.adminScope]
        case .member: ["keys:read", "keys:write"]
        case .viewer: ["keys:read"]
        }
    }

    /// The scopes of this role's access tokens (their `scope` claim): an admin's `admin`; otherwise `*` (any
    /// scope of the customer's own API may go on the person's keys) and the role's share of Tronch's own.
    package var tokenScopes: [String] { self == .admin ? [Principal.adminScope] : ["*"] + grantableScopes }
}
