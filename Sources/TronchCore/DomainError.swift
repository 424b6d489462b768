/// Stable machine codes of every error Tronch reports; part of the public API contract.
package enum ErrorCode: String, Sendable, Codable, CaseIterable {
    case unauthenticated = "UNAUTHENTICATED"
    case forbidden = "FORBIDDEN"
    case notFound = "NOT_FOUND"
    case methodNotAllowed = "METHOD_NOT_ALLOWED"
    case validationFailed = "VALIDATION_FAILED"
    case malformedJSON = "MALFORMED_JSON"
    case unsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
    case payloadTooLarge = "PAYLOAD_TOO_LARGE"
    case conflict = "CONFLICT"
    case rateLimited = "RATE_LIMITED"
    /// A key's credits are spent (forward auth's answer for the `USAGE_EXCEEDED` verification code).
    case usageExceeded = "USAGE_EXCEEDED"
    case serviceUnavailable = "SERVICE_UNAVAILABLE"
    case `internal` = "INTERNAL"
    /// A login refused, whatever the reason (unknown user, wrong password, disabled, locked): one answer for all.
    case invalidCredentials = "INVALID_CREDENTIALS"
    /// An access or refresh token that is malformed, unknown, expired or revoked (RFC 6750 `invalid_token`).
    case tokenInvalid = "TOKEN_INVALID"
    /// A refresh token whose session has ended.
    case sessionRevoked = "SESSION_REVOKED"
    /// A refresh token presented a second time: its whole family and session are gone.
    case refreshTokenReused = "REFRESH_TOKEN_REUSED"
    case mfaRequired = "MFA_REQUIRED"
    case mfaInvalid = "MFA_INVALID"
    case mfaEnrollmentRequired = "MFA_ENROLLMENT_REQUIRED"
    /// An `Idempotency-Key` used again for another request (another method, path or body).
    case idempotencyMismatch = "IDEMPOTENCY_MISMATCH"
    /// A plain-HTTP request to a server that takes HTTPS only (`TRONCH_REQUIRE_HTTPS=refuse`).
    case httpsRequired = "HTTPS_REQUIRED"
}

/// One invalid input field and why (an `Error` too, so validators can return `Result<_, FieldError>`).
package struct FieldError: Error, Sendable, Hashable, Codable {
    package var field: String
    package var message: String

    package init(field: String, message: String) {
        self.field = field
        self.message = message
    }
}

/// An error the domain can name: it carries a stable code and a message fit for the client.
package struct DomainError: Error, Sendable, Hashable {
    package var code: ErrorCode
    package var detail: String
    package var errors: [FieldError]

    package init(_ code: ErrorCode, _ detail: String, errors: [FieldError] = []) {
        self.code = code
        self.detail = detail
        self.errors = errors
    }

    package static func validation(_ errors: [FieldError]) -> DomainError {
        let detail = errors.count == 1 ? "\(errors[0].field): \(errors[0].message)" : "\(errors.count) fields are invalid"
        return DomainError(.validationFailed, detail, errors: errors)
    }

    package static func invalid(_ field: String, _ message: String) -> DomainError {
        validation([FieldError(field: field, message: message)])
    }

    package static func keyNotFound(_ id: String) -> DomainError {
        DomainError(.notFound, "no key with id \(id)")
    }

    package static func userNotFound(_ id: String) -> DomainError {
        DomainError(.notFound, "no user with id \(id)")
    }

    /// A second user with the same username or e-mail address (`field`).
    package static func userConflict(_ field: String) -> DomainError {
        DomainError(.conflict, "a user with this \(field) already exists", errors: [FieldError(field: field, message: "is taken")])
    }

    package static func groupNotFound(_ id: String) -> DomainError { DomainError(.notFound, "no group with id \(id)") }

    package static var groupNameTaken: DomainError {
        DomainError(.conflict, "a group with this name already exists", errors: [FieldError(field: "name", message: "is taken")])
    }

    package static func entryNotFound(_ id: String) -> DomainError { DomainError(.notFound, "no ACL entry with id \(id)") }

    /// An entry equal to another on resource, principal, action, effect and kind.
    package static var duplicateEntry: DomainError {
        DomainError(.conflict, "an entry with the same resource, principal, action, effect and kind already exists")
    }
}
