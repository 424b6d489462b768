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
        case .forbidden, .mfaEnrollmentRequired: .forbidden
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .validationFailed, .malformedJSON: .badRequest
        case .unsupportedMediaType: .unsupportedMediaType
        case .payloadTooLarge: .contentTooLarge
        case .conflict: .conflict
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

    init(_ error: APIError, requestID: String) {
        self.type = "urn:tronch:problem:" + error.code.rawValue.lowercased().replacingOccurrences(of: "_", with: "-")
        self.title = error.status.reasonPhrase
        self.status = error.status.code
        self.detail = error.detail
        self.code = error.code.rawValue
        self.requestID = requestID
        self.errors = error.errors.isEmpty ? nil : error.errors
    }

    enum CodingKeys: String, CodingKey {
        case type, title, status, detail, code, errors
        case requestID = "request_id"
    }
}
