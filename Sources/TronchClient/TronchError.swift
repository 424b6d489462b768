import Foundation

/// An answer that was not a success: the server's problem (RFC 9457) with its stable `code`, or a client-side
/// failure to read the answer (`UNEXPECTED_ANSWER`).
public struct TronchError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The HTTP status.
    public var status: Int
    /// Tronch's stable code (`VALIDATION_FAILED`, `UNAUTHENTICATED`, `MFA_REQUIRED`, `RATE_LIMITED`, …).
    public var code: String
    public var detail: String?
    /// The request id to quote when reporting a problem.
    public var requestID: String?
    /// The fields a `400` names, with why each was refused.
    public var errors: [FieldError]
    /// For `MFA_REQUIRED`: the token that ``TronchClient/completeMFA(token:code:)`` takes with a code.
    public var mfaToken: String?

    public struct FieldError: Sendable, Hashable, Decodable {
        public var field: String
        public var message: String
    }

    public init(status: Int, code: String, detail: String? = nil) {
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = []
    }

    init(status: Int, body: [UInt8]) {
        struct Problem: Decodable {
            var code: String?
            var detail: String?
            var requestId: String?
            var errors: [FieldError]?
            var mfaToken: String?
        }
        let problem = try? TronchClient.decoder.decode(Problem.self, from: Data(body))
        self.init(status: status, code: problem?.code ?? "HTTP_\(status)", detail: problem?.detail)
        requestID = problem?.requestId
        errors = problem?.errors ?? []
        mfaToken = problem?.mfaToken
    }

    public var description: String {
        "\(status) \(code)" + (detail.map { ": \($0)" } ?? "") + (requestID.map { " (request \($0))" } ?? "")
    }
}
