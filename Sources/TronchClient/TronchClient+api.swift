import Foundation
import NIOHTTP1

// MARK: Keys

extension TronchClient {
    /// Creates a key; the answer holds its secret, shown only this once (`keys:write`).
    public func createKey(_ creation: KeyCreation = KeyCreation()) async throws -> CreatedKey {
        try await send(.POST, "/api/v1/keys", body: creation)
    }

    public func key(id: String) async throws -> Key {
        try await send(.GET, "/api/v1/keys/\(Self.path(id))")
    }

    /// One page of keys, newest first (`keys:read`).
    public func keys(ownerId: String? = nil, limit: Int = 50, cursor: String? = nil) async throws -> KeyPage {
        var query = [("limit", String(limit))]
        if let ownerId { query.append(("owner_id", ownerId)) }
        if let cursor { query.append(("cursor", cursor)) }
        return try await send(.GET, "/api/v1/keys", query: query)
    }

    /// Revokes a key at once; revoking a revoked key changes nothing.
    @discardableResult
    public func revokeKey(id: String) async throws -> Key {
        try await send(.DELETE, "/api/v1/keys/\(Self.path(id))")
    }

    /// Replaces a key: the answer is the new key and its secret; the old one keeps working for `gracePeriod` seconds.
    public func rotateKey(id: String, gracePeriod: Int = 0) async throws -> CreatedKey {
        struct Rotation: Encodable { var gracePeriodSeconds: Int }
        return try await send(.POST, "/api/v1/keys/\(Self.path(id))/rotate", body: Rotation(gracePeriodSeconds: gracePeriod))
    }

    /// Checks a key presented to your API: its status, scopes, rate limits and credits (`keys:verify`).
    /// A refused key is an answer (`valid` false, with its `code`), not an error.
    public func verify(_ key: String, scopes: [String] = [], ip: String? = nil, cost: Int? = nil) async throws -> Verification {
        struct Request: Encodable {
            var key: String
            var scopes: [String]?
            var ip: String?
            var cost: Int?
        }
        return try await send(.POST, "/api/v1/keys/verify", body: Request(key: key, scopes: scopes.isEmpty ? nil : scopes, ip: ip, cost: cost))
    }
}

// MARK: People and tokens

extension TronchClient {
    /// Logs a person in. A person with a second factor gets a ``TronchError`` with code `MFA_REQUIRED`, whose
    /// `mfaToken` goes to ``completeMFA(token:code:)`` with their code.
    public func login(username: String, password: String) async throws -> Tokens {
        struct Login: Encodable {
            var username: String
            var password: String
        }
        return try await send(.POST, "/api/v1/auth/login", body: Login(username: username, password: password), authenticated: false)
    }

    /// Finishes a login with a TOTP code or a recovery code.
    public func completeMFA(token: String, code: String) async throws -> Tokens {
        struct Completion: Encodable {
            var mfaToken: String
            var code: String
        }
        return try await send(.POST, "/api/v1/auth/mfa", body: Completion(mfaToken: token, code: code), authenticated: false)
    }

    /// The next pair of tokens; the refresh token given is used up.
    public func refresh(_ refreshToken: String) async throws -> Tokens {
        struct Refresh: Encodable { var refreshToken: String }
        return try await send(.POST, "/api/v1/auth/refresh", body: Refresh(refreshToken: refreshToken), authenticated: false)
    }

    /// Ends the session of the access token this client holds.
    public func logout() async throws {
        let _: Empty = try await send(.POST, "/api/v1/auth/logout", body: Empty())
    }

    /// The caller's own account.
    public func me() async throws -> User {
        try await send(.GET, "/api/v1/users/me")
    }

    /// Creates an account (`users:manage`).
    public func createUser(_ creation: UserCreation) async throws -> User {
        try await send(.POST, "/api/v1/users", body: creation)
    }

    /// The public keys that sign access tokens (`/.well-known/jwks.json`), as JSON: what a verifier caches.
    public func jwks() async throws -> [UInt8] {
        let (status, body) = try await exchange(.GET, "/.well-known/jwks.json", query: [], body: Empty?.none, authenticated: false)
        guard status == 200 else { throw TronchError(status: status, body: body) }
        return body
    }
}

// MARK: Permissions

extension TronchClient {
    /// Whether `principal` (`user:<id>`, `group:<id>`, `key:<id>`) may do `action` on `resource` (`authz:check`).
    public func check(principal: String, action: String, resource: String) async throws -> AuthzDecision {
        struct Check: Encodable {
            var principal: String
            var action: String
            var resource: String
        }
        return try await send(.POST, "/api/v1/authz/check", body: Check(principal: principal, action: action, resource: resource))
    }
}
