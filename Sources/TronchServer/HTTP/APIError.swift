import Foundation
package import Hummingbird
package import TronchCore

/// An error rendered as RFC 9457 problem+json by ``ProblemMiddleware``.
package struct APIError: Error, Sendable {
    package var code: ErrorCode
    package var detail: String
    package var errors: [FieldError]
    /// Extra response headers (`WWW-Authenticate`, `Allow`).
    package var headers: HTTPFields
    /// Extension members of the problem (RFC 9457 §3.2): `mfa_token` and `methods` of `MFA_REQUIRED`.
    package var members: [String: JSONValue] = [:]

    package init(_ code: ErrorCode, _ detail: String, errors: [FieldError] = [], headers: HTTPFields = [:]) {
        self.code = code
        self.detail = detail
        self.errors = errors
        self.headers = headers
    }

    package init(_ error: DomainError) {
        self.init(error.code, error.detail, errors: error.errors)
    }

    package var status: HTTPResponse.Status { Self.status(for: code) }

    package static func status(for code: ErrorCode) -> HTTPResponse.Status {
        switch code {
        case .unauthenticated, .invalidCredentials, .tokenInvalid, .sessionRevoked, .refreshTokenReused, .mfaRequired, .mfaInvalid:
            .unauthorized
        case .forbidden, .mfaEnrollmentRequired, .httpsRequired: .forbidden
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .validationFailed, .malformedJSON: .badRequest
        case .unsupportedMediaType: .unsupportedMediaType
        case .payloadTooLarge: .contentTooLarge
        case .conflict: .conflict
        case .idempotencyMismatch: .unprocessableContent
        case .rateLimited, .usageExceeded: .tooManyRequests
        case .serviceUnavailable: .serviceUnavailable
        case .internal: .internalServerError
        }
    }

    /// A 401 with the `WWW-Authenticate` challenge RFC 6750 asks for.
    package static func unauthenticated(_ detail: String, invalidToken: Bool) -> APIError {
        let challenge = invalidToken ? #"Bearer realm="tronch", error="invalid_token""# : #"Bearer realm="tronch""#
        return APIError(.unauthenticated, detail, headers: [.wwwAuthenticate: challenge])
    }

    /// Any other 401 (a refused login or token), with its challenge: every 401 carries one (RFC 9110).
    package static func unauthorized(_ code: ErrorCode, _ detail: String, invalidToken: Bool = false) -> APIError {
        let challenge = invalidToken ? #"Bearer realm="tronch", error="invalid_token""# : #"Bearer realm="tronch""#
        return APIError(code, detail, headers: [.wwwAuthenticate: challenge])
    }
}

/// The RFC 9457 body.
struct Problem: Encodable {
    var type: String
    var title: String
    var status: Int
    var detail: String
    var code: String
    var requestID: String
    var errors: [FieldError]?
    var members: [String: JSONValue]

    init(_ error: APIError, requestID: String) {
        self.type = "urn:tronch:problem:" + error.code.rawValue.lowercased().replacingOccurrences(of: "_", with: "-")
        self.title = error.status.reasonPhrase
        self.status = error.status.code
        self.detail = error.detail
        self.code = error.code.rawValue
        self.requestID = requestID
        self.errors = error.errors.isEmpty ? nil : error.errors
        self.members = error.members
    }

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(type, forKey: Key("type"))
        try container.encode(title, forKey: Key("title"))
        try container.encode(status, forKey: Key("status"))
        try container.encode(detail, forKey: Key("detail"))
        try container.encode(code, forKey: Key("code"))
        try container.encode(requestID, forKey: Key("request_id"))
        if let errors { try container.encode(errors, forKey: Key("errors")) }
        for (name, value) in members { try container.encode(value, forKey: Key(name)) }
    }
}
