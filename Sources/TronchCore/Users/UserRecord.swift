#if canImport(FoundationEssentials)
package import FoundationEssentials
#else
package import Foundation
#endif

/// A person who can log in to Tronch.
package struct UserRecord: Sendable, Hashable {
    package enum Status: String, Sendable, Hashable, CaseIterable, Codable {
        case active, disabled
    }

    package var id: UUID
    /// Lower-cased; see ``Username``.
    package var username: String
    package var email: EmailAddress
    package var displayName: String?
    package var role: Role
    package var status: Status
    /// The PHC string of the password's hash; nil for a user who has no password yet (cannot log in).
    package var passwordHash: String?
    package var lockout: LockoutState
    package var mfaEnabled: Bool
    package var createdAt: Date
    package var updatedAt: Date
    package var lastLoginAt: Date?

    package init(
        id: UUID,
        username: String,
        email: EmailAddress,
        displayName: String? = nil,
        role: Role = .member,
        status: Status = .active,
        passwordHash: String? = nil,
        lockout: LockoutState = .init(),
        mfaEnabled: Bool = false,
        createdAt: Date,
        updatedAt: Date? = nil,
        lastLoginAt: Date? = nil
    ) {
        self.id = id
        self.username = username
        self.email = email
        self.displayName = displayName
        self.role = role
        self.status = status
        self.passwordHash = passwordHash
        self.lockout = lockout
        self.mfaEnabled = mfaEnabled
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.lastLoginAt = lastLoginAt
    }

    /// The principal reference of this user: `user:<id>`, also the `owner_id` of the keys they own.
    package var reference: String { Self.reference(id) }

    package static func reference(_ id: UUID) -> String { "user:" + id.lowercased }

    /// The user id in an `owner_id` of the form `user:<id>`, nil for any other owner.
    package static func id(fromOwner owner: String?) -> UUID? {
        guard let owner, owner.hasPrefix("user:") else { return nil }
        return UUID(strict: String(owner.dropFirst(5)))
    }
}

/// Display names: at most 128 characters (code points), no control characters, not empty.
package enum DisplayName {
    package static let maxLength = 128

    package static func problem(_ text: String) -> String? {
        if text.isEmpty { return "must not be empty (omit it or send null)" }
        if text.unicodeScalars.count > maxLength { return "must be at most \(maxLength) characters" }
        if text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            return "must not contain control characters"
        }
        return nil
    }
}
