/// Who is calling your API, as Tronch established it.
public struct TronchIdentity: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// A Tronch key, verified by Tronch.
        case key
        /// A person, by a Tronch access token verified locally against Tronch's public keys.
        case user
    }

    public var kind: Kind
    /// The key's id or the person's id.
    public var id: String
    /// The key's owner (`owner_id`), for a key.
    public var ownerID: String?
    /// The key's scopes, or the token's `scope` claim.
    public var scopes: [String]
    /// The person's role (`admin`, `member`, `viewer`), for a token.
    public var role: String?
    /// The token's session, for a token.
    public var sessionID: String?
    /// The key's environment (`live`, `test`), for a key.
    public var environment: String?

    public init(
        kind: Kind,
        id: String,
        ownerID: String? = nil,
        scopes: [String],
        role: String? = nil,
        sessionID: String? = nil,
        environment: String? = nil
    ) {
        self.kind = kind
        self.id = id
        self.ownerID = ownerID
        self.scopes = scopes
        self.role = role
        self.sessionID = sessionID
        self.environment = environment
    }
}
